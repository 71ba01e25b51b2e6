"""Tests for bloodsig.core.gtf: gene annotation from a GTF (ids, names, types, spans, lengths)."""

from __future__ import annotations

import pytest

from bloodsig.core.errors import InputError
from bloodsig.core.gtf import gene_annotation, union_length

ATTR = 'gene_id "{g}"; transcript_id "{t}"; gene_name "{n}"; gene_biotype "{b}";'


def _line(chrom, feature, start, end, strand, attrs):
    return "\t".join([chrom, "test", feature, str(start), str(end), ".", strand, ".", attrs])


@pytest.fixture
def gtf(tmp_path):
    a = ATTR.format(g="G1", t="T1", n="ALPHA", b="protein_coding")
    a2 = ATTR.format(g="G1", t="T2", n="ALPHA", b="protein_coding")
    b = 'gene_id "G2"; transcript_id "T3";'
    lines = [
        "#!genome-build test",
        _line("1", "gene", 100, 400, "+", 'gene_id "G1";'),
        _line("1", "exon", 100, 200, "+", a),        # 101 bp
        _line("1", "exon", 300, 400, "+", a),        # 101 bp
        _line("1", "exon", 150, 250, "+", a2),       # overlaps the first: union 100-250
        _line("2", "exon", 10, 19, "-", b),
        _line("2", "exon", 20, 29, "-", b),          # adjacent: 20 bp in all
    ]
    path = tmp_path / "genes.gtf"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gene_annotation(gtf):
    genes = gene_annotation(gtf).set_index("gene_id")
    assert list(genes.index) == ["G1", "G2"]
    assert genes.loc["G1", "length"] == (250 - 100 + 1) + (400 - 300 + 1)
    assert genes.loc["G2", "length"] == 20
    assert genes.loc["G1", ["gene_name", "gene_type", "chromosome", "start", "end", "strand"]
                     ].tolist() == ["ALPHA", "protein_coding", "1", 100, 400, "+"]
    # no gene_name / type: the id and 'unknown'
    assert genes.loc["G2", ["gene_name", "gene_type", "strand"]].tolist() == ["G2", "unknown",
                                                                               "-"]


def test_union_length_matches_brute_force():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    gene = pd.Series(rng.integers(0, 20, 300).astype(str))
    start = pd.Series(rng.integers(1, 2000, 300))
    end = start + rng.integers(0, 300, 300)
    got = union_length(gene, start, end)
    for g in gene.unique():
        covered = set()
        for s, e in zip(start[gene == g], end[gene == g], strict=True):
            covered.update(range(s, e + 1))
        assert got[g] == len(covered)


def test_missing_attribute_names_line(gtf):
    text = gtf.read_text().replace('gene_id "G1"; transcript_id "T1"', 'transcript_id "T1"', 1)
    gtf.write_text(text)
    with pytest.raises(InputError, match=r"genes.gtf, row 3, column 'attributes'.*'gene_id'"):
        gene_annotation(gtf)


def test_other_attribute_and_bad_lines(gtf, tmp_path):
    with pytest.raises(InputError, match="no 'gene_symbol' attribute"):
        gene_annotation(gtf, attribute="gene_symbol")
    bad = tmp_path / "bad.gtf"
    bad.write_text(_line("1", "exon", 200, 100, "+", 'gene_id "A";') + "\n")
    with pytest.raises(InputError, match="row 1, column 'start'"):
        gene_annotation(bad)
    with pytest.raises(InputError, match="no 'CDS' lines"):
        gene_annotation(gtf, feature="CDS")
