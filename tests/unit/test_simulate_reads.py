"""Tests for bloodsig.simulate.reads: the synthetic genome, its GTF/FASTA, and the read pairs."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pysam
import pytest

from bloodsig.simulate.reads import (
    TRUSEQ_ADAPTER1,
    TRUSEQ_ADAPTER2,
    make_genome,
    reverse_complement,
    sample_from_path,
    simulate_read_pairs,
    write_fastq_pair,
)

K = 25  # k-mer for exact placement of reads; unique in a random genome of this size
READ_LENGTH = 75


@pytest.fixture(scope="module")
def genes() -> pd.DataFrame:
    chroms = ["1", "2", "X", "Y", "MT"] * 8
    return pd.DataFrame({
        "gene_id": [f"ENSG{i:011d}" for i in range(len(chroms))],
        "gene_name": [f"GENE{i}" for i in range(len(chroms))],
        "gene_type": ["protein_coding", "lncRNA"] * (len(chroms) // 2),
        "chromosome": chroms,
    })


@pytest.fixture(scope="module")
def genome(genes):
    return make_genome(genes, np.random.default_rng(11))


@pytest.fixture(scope="module")
def counts(genome) -> pd.Series:
    ids = genome.genes["gene_id"]
    rng = np.random.default_rng(5)
    # Include a gene with no fragments and genes missing from the series (count 0)
    values = rng.integers(0, 400, len(ids))
    values[0] = 0
    return pd.Series(values, index=ids)[:-3]


def _read_fasta(path) -> dict[str, list[str]]:
    records: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
            records[name] = []
        else:
            records[name].append(line)
    return records


def _read_gtf(path) -> pd.DataFrame:
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 9, line
        attrs = dict(re.findall(r'(\w+) "([^"]*)";', fields[8]))
        rows.append({"seqname": fields[0], "feature": fields[2], "start": int(fields[3]),
                     "end": int(fields[4]), "strand": fields[6], **attrs})
    return pd.DataFrame(rows)


def _read_fastq(path) -> tuple[list[str], list[str], list[str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) % 4 == 0
    assert all(plus == "+" for plus in lines[2::4])
    return lines[0::4], lines[1::4], lines[3::4]


def _kmer_index(genome) -> dict[str, tuple[str, int]]:
    """Sense K-mer -> (gene, strand of the read relative to the transcript)."""
    index: dict[str, tuple[str, int]] = {}
    for gene_id, tx in genome.transcripts.items():
        for strand, seq in ((1, tx), (-1, reverse_complement(tx))):
            for i in range(len(seq) - K + 1):
                assert seq[i:i + K] not in index, "k-mer not unique in the test genome"
                index[seq[i:i + K]] = (gene_id, strand)
    return index


def test_fasta_and_gtf_describe_the_genome(genome, genes, tmp_path):
    genome.write(tmp_path / "g.fa", tmp_path / "g.gtf")
    fasta = _read_fasta(tmp_path / "g.fa")
    assert list(fasta) == ["1", "2", "X", "Y", "MT"]
    for name, lines in fasta.items():
        assert all(len(line) == 60 for line in lines[:-1]) and 0 < len(lines[-1]) <= 60
        seq = "".join(lines)
        assert seq == genome.chromosomes[name]
        assert set(seq) == set("ACGT")
        gc = (seq.count("G") + seq.count("C")) / len(seq)
        assert 0.42 < gc < 0.48

    gtf = _read_gtf(tmp_path / "g.gtf")
    assert set(gtf["feature"]) == {"gene", "transcript", "exon"}
    assert set(gtf["strand"]) == {"+", "-"}
    for col in ("gene_id", "gene_name", "gene_type", "gene_biotype"):
        assert gtf[col].notna().all() and (gtf[col] != "").all(), col
    assert (gtf["gene_type"] == gtf["gene_biotype"]).all()
    assert gtf.loc[gtf["feature"] != "gene", "transcript_id"].notna().all()
    lengths = {name: len(seq) for name, seq in genome.chromosomes.items()}
    assert (gtf["start"] >= 1).all() and (gtf["start"] <= gtf["end"]).all()
    assert (gtf["end"] <= gtf["seqname"].map(lengths)).all()

    gene_lines = gtf[gtf["feature"] == "gene"].set_index("gene_id")
    assert sorted(gene_lines.index) == sorted(genes["gene_id"])
    expected = genes.set_index("gene_id")
    assert (gene_lines["gene_name"] == expected["gene_name"].reindex(gene_lines.index)).all()
    assert (gene_lines["seqname"] == expected["chromosome"].reindex(gene_lines.index)).all()
    for gene_id, ex in gtf[gtf["feature"] == "exon"].groupby("gene_id"):
        g = gene_lines.loc[gene_id]
        assert ex["start"].min() == g["start"] and ex["end"].max() == g["end"]
        assert (ex["strand"] == g["strand"]).all()
        # Spliced sequence from FASTA + GTF is the transcript; introns are GT..AG, 80-500 bp
        ex = ex.sort_values("start")
        contig = genome.chromosomes[g["seqname"]]
        spliced = "".join(contig[s - 1:e] for s, e in zip(ex["start"], ex["end"], strict=True))
        introns = [contig[e:s - 1] for e, s in zip(ex["end"][:-1], ex["start"][1:], strict=True)]
        if g["strand"] == "-":
            spliced = reverse_complement(spliced)
            introns = [reverse_complement(i) for i in introns]
        assert spliced == genome.transcripts[gene_id]
        assert 400 <= len(spliced) <= 2500
        assert all(i.startswith("GT") and i.endswith("AG") and 80 <= len(i) <= 500
                   for i in introns)
        assert 1 <= len(ex) <= 6
        assert g["seqname"] != "MT" or len(ex) == 1
        # Exon numbers follow the transcript 5'->3'
        numbers = ex["exon_number"].astype(int).to_numpy()
        assert list(numbers) == (list(range(1, len(ex) + 1)) if g["strand"] == "+"
                                 else list(range(len(ex), 0, -1)))


def test_gene_table_is_the_truth(genome, genes):
    table = genome.gene_table()
    assert list(table.columns[:8]) == ["gene_id", "gene_name", "gene_type", "chromosome",
                                       "start", "end", "strand", "exonic_length"]
    assert sorted(table["gene_id"]) == sorted(genes["gene_id"])
    assert set(table["strand"]) == {"+", "-"}
    assert (table["exonic_length"] == table["gene_id"].map(
        lambda g: len(genome.transcripts[g]))).all()
    assert table["n_exons"].max() > 1
    # Genes do not overlap within a contig
    for _, chrom in table.groupby("chromosome"):
        chrom = chrom.sort_values("start")
        assert (chrom["start"].to_numpy()[1:] > chrom["end"].to_numpy()[:-1]).all()


def test_length_column_sets_exonic_length(genes):
    with_length = genes.assign(length=[100, 800, 5000, np.nan, 1234] * 8)
    table = make_genome(with_length, np.random.default_rng(1)).gene_table().set_index("gene_id")
    expected = with_length.set_index("gene_id")["length"].clip(400, 2500)
    known = expected.notna()
    assert (table.loc[known[known].index, "exonic_length"] == expected[known]).all()


def test_chry_sequence_is_unique(genome):
    other = "".join(seq for name, seq in genome.chromosomes.items() if name != "Y")
    other_kmers = {other[i:i + K] for i in range(len(other) - K + 1)}
    other_rc = reverse_complement(other)
    other_kmers |= {other_rc[i:i + K] for i in range(len(other_rc) - K + 1)}
    y_genes = genome.genes.loc[genome.genes["chromosome"] == "Y", "gene_id"]
    for gene_id in y_genes:
        tx = genome.transcripts[gene_id]
        assert not any(tx[i:i + K] in other_kmers for i in range(len(tx) - K + 1))


def test_make_genome_rejects_bad_tables(genes):
    with pytest.raises(ValueError, match="chromosome"):
        make_genome(genes.drop(columns="chromosome"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="duplicated"):
        make_genome(pd.concat([genes, genes.iloc[:1]]), np.random.default_rng(0))


def test_fastq_files_are_the_simulated_pairs(genome, counts, tmp_path):
    r1, r2 = tmp_path / "S07_R1.fastq.gz", tmp_path / "S07_R2.fastq.gz"
    write_fastq_pair(genome, counts, np.random.default_rng(3), r1, r2)
    reads = simulate_read_pairs(genome, counts, np.random.default_rng(3))
    names1, seq1, qual1 = _read_fastq(r1)
    names2, seq2, qual2 = _read_fastq(r2)
    n = int(counts.sum())
    assert len(names1) == len(names2) == n
    assert names1[:2] == ["@S07:1/1", "@S07:2/1"]
    assert [m[:-2] for m in names1] == [m[:-2] for m in names2]
    assert all(m.endswith("/2") for m in names2)
    assert seq1 == [row.tobytes().decode() for row in reads.seq1]
    assert qual2 == [row.tobytes().decode() for row in reads.qual2]
    assert all(len(s) == len(q) == READ_LENGTH for s, q in zip(seq2, qual1, strict=True))
    assert (reads.qual1.min() >= 33 + 2) and (reads.qual1.max() <= 33 + 41)


@pytest.mark.parametrize("seed", [3])
def test_same_seed_same_bytes(genes, counts, tmp_path, seed):
    outputs = []
    for run in ("a", "b", "c"):
        rng = np.random.default_rng(seed if run != "c" else seed + 1)
        genome = make_genome(genes, rng)
        d = tmp_path / run
        genome.write(d / "g.fa", d / "g.gtf")
        write_fastq_pair(genome, counts, rng, d / "S_R1.fastq.gz", d / "S_R2.fastq.gz")
        outputs.append([(d / f).read_bytes() for f in
                        ("g.fa", "g.gtf", "S_R1.fastq.gz", "S_R2.fastq.gz")])
    assert outputs[0] == outputs[1]
    assert all(x != y for x, y in zip(outputs[0], outputs[2], strict=True))


def test_reads_are_transcript_substrings_with_planted_errors(genome, counts):
    error_rate = 0.01
    reads = simulate_read_pairs(genome, counts, np.random.default_rng(8), error_rate=error_rate)
    clean = simulate_read_pairs(genome, counts, np.random.default_rng(8), error_rate=0.0)
    # Errors are the only difference between the two runs
    assert (reads.qual1 == clean.qual1).all() and (reads.length == clean.length).all()
    assert reads.r1_antisense.all()
    for i in range(200):  # a handful of pairs, exactly: R1 antisense, R2 sense, then adapter
        tx = genome.transcripts[clean.gene_id[i]]
        s, f = clean.start[i], clean.length[i]
        r1 = (reverse_complement(tx[s:s + f]) + TRUSEQ_ADAPTER1)[:READ_LENGTH]
        r2 = (tx[s:s + f] + TRUSEQ_ADAPTER2)[:READ_LENGTH]
        n1 = min(READ_LENGTH, f + len(TRUSEQ_ADAPTER1))
        assert clean.seq1[i].tobytes().decode()[:n1] == r1
        assert clean.seq2[i].tobytes().decode()[:n1] == r2
    for seq, clean_seq, qual in ((reads.seq1, clean.seq1, reads.qual1),
                                 (reads.seq2, clean.seq2, reads.qual2)):
        wrong = seq != clean_seq
        assert 0.9 * error_rate < wrong.mean() < 1.1 * error_rate
        # Errors sit where the quality is low
        assert qual[wrong].mean() - 33 < 20 < qual[~wrong].mean() - 33
        assert np.isin(seq, np.frombuffer(b"ACGT", np.uint8)).all()


def test_fragment_starts_cover_the_whole_transcript(genes):
    genome = make_genome(genes.assign(length=400), np.random.default_rng(2))
    counts = pd.Series(200, index=genome.genes["gene_id"])
    reads = simulate_read_pairs(genome, counts, np.random.default_rng(2), fragment_mean=390,
                                fragment_sd=0, short_fraction=0.0)
    assert (reads.length == 390).all()
    assert set(reads.start) == set(range(11))  # every start, first to last, occurs


def test_adapter_fraction_matches_planted_short_fragments(genome, counts, tmp_path):
    r1, r2 = tmp_path / "a_R1.fastq.gz", tmp_path / "a_R2.fastq.gz"
    write_fastq_pair(genome, counts, np.random.default_rng(4), r1, r2, error_rate=0.0)
    reads = simulate_read_pairs(genome, counts, np.random.default_rng(4), error_rate=0.0)
    n = len(reads.length)
    short = reads.length < READ_LENGTH
    assert abs(short.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    # A read holds the adapter's first 12 bases iff its insert leaves room for them
    for path, adapter in ((r1, TRUSEQ_ADAPTER1), (r2, TRUSEQ_ADAPTER2)):
        _, seqs, _ = _read_fastq(path)
        has = np.array([adapter[:12] in s for s in seqs])
        room = reads.length <= READ_LENGTH - 12
        assert (has == room).mean() > 0.999
        assert room.mean() > 0.02


@pytest.mark.parametrize(("strandedness", "lo", "hi"),
                         [("reverse", 0.95, 1.0), ("forward", 0.0, 0.05),
                          ("unstranded", 0.45, 0.55)])
def test_reads_map_back_to_their_genes(genome, counts, tmp_path, strandedness, lo, hi):
    r1, r2 = tmp_path / "m_R1.fastq.gz", tmp_path / "m_R2.fastq.gz"
    write_fastq_pair(genome, counts, np.random.default_rng(9), r1, r2,
                     strandedness=strandedness)
    index = _kmer_index(genome)
    _, seqs1, _ = _read_fastq(r1)
    _, seqs2, _ = _read_fastq(r2)
    hits1 = [index.get(s[:K]) for s in seqs1]
    hits2 = [index.get(s[:K]) for s in seqs2]
    placed = [(a, b) for a, b in zip(hits1, hits2, strict=True) if a and b]
    assert len(placed) > 0.97 * len(seqs1)  # the rest have an error in their first K bases
    # Mates come from the same gene on opposite strands
    assert all(a[0] == b[0] and a[1] == -b[1] for a, b in placed)
    antisense = np.mean([a[1] == -1 for a, _ in placed])
    assert lo <= antisense <= hi
    per_gene = pd.Series([a[0] for a, _ in placed]).value_counts()
    expected = counts[counts > 0]
    assert set(per_gene.index) == set(expected.index)
    missed = expected - per_gene.reindex(expected.index)
    assert ((missed >= 0) & (missed <= np.maximum(2, 0.05 * expected))).all()


def test_error_free_counts_are_exact(genome, counts, tmp_path):
    r1, r2 = tmp_path / "e_R1.fastq.gz", tmp_path / "e_R2.fastq.gz"
    write_fastq_pair(genome, counts, np.random.default_rng(2), r1, r2, error_rate=0.0)
    index = _kmer_index(genome)
    _, seqs1, _ = _read_fastq(r1)
    per_gene = pd.Series([index[s[:K]][0] for s in seqs1]).value_counts()
    expected = counts[counts > 0]
    pd.testing.assert_series_equal(per_gene.reindex(expected.index), expected,
                                   check_names=False, check_dtype=False)


def test_qualities_look_like_illumina(genome, counts):
    reads = simulate_read_pairs(genome, counts, np.random.default_rng(6))
    for qual in (reads.qual1, reads.qual2):
        q = qual.astype(int) - 33
        per_cycle = q.mean(axis=0)
        assert per_cycle[5:15].mean() > per_cycle[-10:].mean() + 2
        assert per_cycle[0] < per_cycle[10]
        assert 30 < q.mean() < 38
        low_tail = (q[:, -5:] < 15).all(axis=1).mean()
        assert 0.01 < low_tail < 0.1
    assert reads.qual2.mean() < reads.qual1.mean()


def test_pysam_reads_the_fastq(genome, counts, tmp_path):
    r1, r2 = tmp_path / "p_R1.fastq.gz", tmp_path / "p_R2.fastq.gz"
    write_fastq_pair(genome, counts, np.random.default_rng(1), r1, r2, sample="P1")
    for path, mate in ((r1, 1), (r2, 2)):
        with pysam.FastxFile(str(path)) as fh:
            records = list(fh)
        assert len(records) == counts.sum()
        assert records[0].name == f"P1:1/{mate}"
        assert len(records[-1].sequence) == READ_LENGTH
        assert len(records[-1].get_quality_array()) == READ_LENGTH


def test_bad_fragment_input_is_refused(genome, counts, tmp_path):
    rng = np.random.default_rng(0)
    out = tmp_path / "x_R1.fastq.gz", tmp_path / "x_R2.fastq.gz"
    with pytest.raises(ValueError, match="not in the genome"):
        write_fastq_pair(genome, pd.Series({"ENSGNOPE": 3}), rng, *out)
    with pytest.raises(ValueError, match="non-negative integer"):
        write_fastq_pair(genome, counts.astype(float) - 0.5, rng, *out)
    with pytest.raises(ValueError, match="strandedness"):
        write_fastq_pair(genome, counts, rng, *out, strandedness="sense")
    assert not any(tmp_path.iterdir())


def test_sample_name_from_path():
    assert sample_from_path("/x/S01_R1.fastq.gz") == "S01"
    assert sample_from_path("pt-3.1.fq.gz") == "pt-3"
    assert sample_from_path("ctrl_1_R1.fastq") == "ctrl_1"
