"""Count matrices as users bring them: plain, nf-core, featureCounts and GEO tables, one truth.

The committed fixtures (tests/unit/fixtures/countfiles) carry each format's real header and the
same synthetic counts; the edge cases are written to tmp_path from the truth below.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from needs import unavailable

from bloodsig.core.countfiles import (
    FORMATS,
    bam_sample_ids,
    check_damaged,
    read_count_table,
    read_geo_annotation,
)
from bloodsig.core.errors import InputError
from bloodsig.core.geneids import normalise_gene_ids, probable_symbol

FIX = Path(__file__).parent / "fixtures" / "countfiles"
ANNOT = FIX / "Human.GRCh38.p13.annot.tsv"
# ensembl, entrez, symbol -> counts in S1, S2, S3: the values every fixture holds
TRUTH = pd.DataFrame(
    [["ENSG00000223972", "100287102", "DDX11L1", 2, 6, 4],
     ["ENSG00000227232", "653635", "WASH7P", 45, 65, 69],
     ["ENSG00000278267", "102466751", "MIR6859-1", 0, 1, 0],
     ["ENSG00000243485", "100302278", "MIR1302-2HG", 3, 0, 2],
     ["ENSG00000002586", "4267", "CD99", 120, 98, 143],
     ["ENSG00000075624", "60", "ACTB", 5021, 4870, 5533]],
    columns=["ensembl", "entrez", "symbol", "S1", "S2", "S3"])
FIXTURES = {  # file -> (format, id kind)
    "plain_short_header.tsv": ("plain", "symbol"),
    "plain_empty_cell.tsv": ("plain", "ensembl"),
    "salmon.merged.gene_counts.tsv": ("nfcore", "ensembl"),
    "rsem.merged.gene_counts.tsv": ("nfcore", "ensembl"),
    "featureCounts.txt": ("featurecounts", "ensembl"),
    "GSE000001_raw_counts_GRCh38.p13_NCBI.tsv": ("geo", "entrez"),
}


def truth(kind: str) -> pd.DataFrame:
    return TRUTH.set_index(kind)[["S1", "S2", "S3"]].astype(np.int64)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_format_gives_the_same_counts(name):
    fmt, kind = FIXTURES[name]
    table = read_count_table(FIX / name)
    assert (table.format, table.id_kind) == (fmt, kind)
    assert table.notes[0].startswith(f"format {fmt} (detected")
    assert table.counts.index.name == "gene_id"
    assert (table.counts.dtypes == np.int64).all()
    expected = truth(kind)
    expected.columns = table.counts.columns  # GEO's columns are GSM accessions
    pd.testing.assert_frame_equal(table.counts, expected, check_names=False)


def test_a_named_format_reads_the_same_and_one_that_does_not_fit_is_refused():
    t = read_count_table(FIX / "featureCounts.txt", fmt="featurecounts")
    assert t.notes[0] == "format featurecounts (as configured)"
    with pytest.raises(InputError, match="format nfcore needs a header starting gene_id") as e:
        read_count_table(FIX / "featureCounts.txt", fmt="nfcore")
    assert e.value.row == 2  # the header, after featureCounts' comment line
    with pytest.raises(InputError, match="format geo needs a header starting GeneID"):
        read_count_table(FIX / "plain_short_header.tsv", fmt="geo")
    with pytest.raises(InputError, match="unknown count format 'excel'"):
        read_count_table(FIX / "plain_short_header.tsv", fmt="excel")
    assert FORMATS == ("plain", "nfcore", "featurecounts", "geo")


def test_salmon_estimates_are_rounded_half_to_even_and_counted():
    t = read_count_table(FIX / "salmon.merged.gene_counts.tsv")
    note = next(n for n in t.notes if n.startswith("rounded"))
    assert "rounded 13 non-integer estimated counts (nf-core salmon/tximport)" in note
    assert note.endswith("largest change 0.5")
    # 2.5 -> 2 and 4869.5 -> 4870 (half to even, R's round()); 3.5 -> 4
    assert t.counts.loc["ENSG00000223972"].tolist() == [2, 6, 4]
    assert t.counts.loc["ENSG00000075624", "S2"] == 4870
    assert t.gene_names["ENSG00000002586"] == "CD99"
    assert t.gene_names.index.equals(t.counts.index)


def test_a_gene_id_gene_name_table_under_another_name_is_plain_and_refuses_estimates(tmp_path):
    f = shutil.copy(FIX / "salmon.merged.gene_counts.tsv", tmp_path / "my_counts.tsv")
    with pytest.raises(InputError, match="non-integer count 2.5 .*name the format nfcore") as e:
        read_count_table(f)
    assert (e.value.row, e.value.column) == (2, "S1")
    t = read_count_table(f, fmt="nfcore")
    pd.testing.assert_frame_equal(t.counts, truth("ensembl"), check_names=False)
    tpm = shutil.copy(f, tmp_path / "salmon.merged.gene_tpm.tsv")
    with pytest.raises(InputError, match="TPM table, not counts"):
        read_count_table(tpm, fmt="nfcore")


def test_versions_stripped_and_par_y_copies_handled(tmp_path):
    t = read_count_table(FIX / "featureCounts.txt")
    assert "stripped Ensembl version suffixes from 7 ids" in t.notes
    assert "1 GENCODE _PAR_Y rows: 1 all-zero copies of their chrX gene dropped" in t.notes
    assert not t.counts.index.str.contains(r"\.|PAR").any()
    f = write(tmp_path / "par.tsv", ["gene_id\tA\tB", "ENSG00000002586.20\t5\t6",
                                     "ENSG00000002586.20_PAR_Y\t1\t0",
                                     "ENSG00000182162.11_PAR_Y\t0\t0"])
    t = read_count_table(f)
    assert t.counts.index.tolist() == ["ENSG00000002586", "ENSG00000002586_PAR_Y",
                                       "ENSG00000182162_PAR_Y"]
    assert t.counts.loc["ENSG00000002586_PAR_Y"].tolist() == [1, 0]
    assert any("2 kept under their own id" in n for n in t.notes)


def test_two_versions_of_one_gene_are_refused_with_both_lines(tmp_path):
    f = write(tmp_path / "c.tsv", ["gene_id\tA", "ENSG00000223972.5\t1", "ENSG00000075624.17\t2",
                                   "ENSG00000223972.6\t3"])
    with pytest.raises(InputError, match="duplicated gene id 'ENSG00000223972' on lines "
                       "2, 4 \\(Ensembl ids are compared without their version") as e:
        read_count_table(f)
    assert (e.value.row, e.value.column) == (4, "gene_id")


def test_spreadsheet_damaged_symbols_are_listed_with_lines(tmp_path):
    f = write(tmp_path / "c.tsv", ["symbol\tA\tB", "1-Mar\t1\t2", "ACTB\t9\t9", "Sep-07\t3\t4",
                                   "1-Dec\t0\t1", "2.31E+13\t5\t5", "MARCHF2\t1\t1"])
    t = read_count_table(f)
    d = t.damaged_symbols
    assert d["line"].tolist() == [2, 4, 5, 6]
    assert d["value"].tolist() == ["1-Mar", "Sep-07", "1-Dec", "2.31E+13"]
    assert d["probable_symbol"].iloc[0] == "MARCHF1 (MARCH1) or MTARC1 (MARC1)"
    assert d["probable_symbol"].iloc[1] == "SEPTIN7 (SEPT7)"
    assert d["probable_symbol"].iloc[2] == "DELEC1 (DEC1)"
    assert "1-Mar" in t.counts.index  # kept as it is, and said
    assert any(n.startswith("4 gene symbols look damaged") and "1-Mar on line 2" in n
               for n in t.notes)
    assert check_damaged(t, refuse=False)[1] == "line 4: Sep-07 (probably SEPTIN7 (SEPT7))"
    with pytest.raises(InputError, match="'1-Mar' was damaged by a spreadsheet") as e:
        check_damaged(t)
    assert (e.value.path, e.value.row, e.value.column) == (str(f), 2, "symbol")
    assert check_damaged(read_count_table(FIX / "plain_short_header.tsv")) == []
    assert probable_symbol("15-Sep") == "SELENOF (SEP15)"
    assert probable_symbol("MARCH1") == ""


def test_duplicated_symbols_are_summed_or_refused(tmp_path):
    f = write(tmp_path / "c.tsv", ["\tA\tB", "TBCE\t1\t2", "ACTB\t5\t5", "TBCE\t10\t20",
                                   "HSPA14\t1\t1", "HSPA14\t2\t2", "TBCE\t100\t0"])
    t = read_count_table(f)
    assert t.counts.index.tolist() == ["TBCE", "ACTB", "HSPA14"]
    assert t.counts.loc["TBCE"].tolist() == [111, 22]
    assert t.counts.loc["HSPA14"].tolist() == [3, 3]
    assert any(n.startswith("summed 2 duplicated symbols (5 rows): TBCE (lines 2, 4, 7)")
               for n in t.notes)
    with pytest.raises(InputError, match="duplicated gene symbol 'TBCE' on lines 2, 4, 7") as e:
        read_count_table(f, duplicates="refuse")
    assert (e.value.row, e.value.column) == (4, "gene ids")


def test_duplicated_entrez_ids_are_refused_whatever_the_policy(tmp_path):
    f = write(tmp_path / "g.tsv", ["GeneID\tGSM1\tGSM2", "60\t1\t1", "4267\t2\t2", "60\t3\t3"])
    with pytest.raises(InputError, match="gene id '60' on lines 2, 4"):
        read_count_table(f, duplicates="sum")


def test_featurecounts_bam_paths_become_sample_ids():
    t = read_count_table(FIX / "featureCounts.txt")
    assert t.counts.columns.tolist() == ["S1", "S2", "S3"]
    assert t.annotation.loc["ENSG00000002586", "chromosome"] == "chrX"
    assert t.annotation.loc["ENSG00000075624", "length"] == 1685
    assert t.gene_names is None
    cols = ["/data/run1/S1_L001.sorted.bam", "results/star/S2/Aligned.sortedByCoord.out.bam",
            "S10Aligned.sortedByCoord.out.bam"]
    assert bam_sample_ids(cols, ["S10", "S1", "S2"]) == ["S1", "S2", "S10"]
    t = read_count_table(FIX / "featureCounts.txt", sample_ids=["S3", "S2", "S1"])
    assert t.counts.columns.tolist() == ["S1", "S2", "S3"]


def test_featurecounts_columns_that_match_no_sample_or_several_are_refused():
    bam = "/data/star/S1.Aligned.sortedByCoord.out.bam"
    with pytest.raises(InputError, match="matches no sample id of the sample sheet") as e:
        read_count_table(FIX / "featureCounts.txt", sample_ids=["S2", "S3", "P1"])
    assert e.value.column == bam
    with pytest.raises(InputError, match=r"matches several sample ids \(A, B\)"):
        bam_sample_ids(["x/A/B_1.bam"], ["A", "B"])
    with pytest.raises(InputError, match="'a/S1.bam' and 'b/S1.bam' are both sample 'S1'"):
        bam_sample_ids(["a/S1.bam", "b/S1.bam"])


def test_geo_annotation_maps_ncbi_names_to_ensembl_style():
    a = read_geo_annotation(ANNOT)
    assert a.columns.tolist() == ["gene_name", "gene_type", "chromosome", "length"]
    t = read_count_table(FIX / "GSE000001_raw_counts_GRCh38.p13_NCBI.tsv", annot_path=ANNOT)
    ann = t.annotation
    assert ann.loc["4267"].tolist() == ["CD99", "protein_coding", "X", 1548]
    assert ann.loc["100287102", "gene_type"] == "pseudogene"
    assert ann.loc["60", "chromosome"] == "7"
    assert t.gene_names["60"] == "ACTB"
    assert "annotation from Human.GRCh38.p13.annot.tsv: 6 of 6 genes found" in t.notes
    with pytest.raises(InputError, match="keyed by NCBI GeneID; the count ids are symbol"):
        read_count_table(FIX / "plain_short_header.tsv", annot_path=ANNOT)


def test_empty_header_cell_short_header_and_gzip(tmp_path):
    short = read_count_table(FIX / "plain_short_header.tsv")
    assert short.counts.columns.tolist() == ["S1", "S2", "S3"]
    assert any("one field fewer" in n for n in short.notes)
    empty = read_count_table(FIX / "plain_empty_cell.tsv")
    assert empty.counts.columns.tolist() == ["S1", "S2", "S3"]
    gz = tmp_path / "counts.txt.gz"
    gz.write_bytes(gzip.compress((FIX / "plain_short_header.tsv").read_bytes()))
    pd.testing.assert_frame_equal(read_count_table(gz).counts, short.counts)
    quoted = write(tmp_path / "q.csv", ['"","S1","S2"', '"ACTB",1,2', '"CD99",3,4'])
    assert read_count_table(quoted).counts.loc["CD99"].tolist() == [3, 4]


@pytest.mark.parametrize("cell, problem", [
    ("NA", "missing value"), ("", "missing value"), ("-3", "negative count -3"),
    ("x1", "non-numeric value 'x1'"), ("inf", "non-numeric value 'inf'"),
    ("1.5", "non-integer count 1.5")])
def test_bad_values_are_refused_naming_line_and_column(tmp_path, cell, problem):
    f = write(tmp_path / "c.tsv", ["gene_id\tA\tB", "ACTB\t1\t2", f"CD99\t4\t{cell}"])
    with pytest.raises(InputError, match=problem) as e:
        read_count_table(f)
    assert (e.value.path, e.value.row, e.value.column) == (f, 3, "B")


def test_table_shape_errors(tmp_path):
    f = write(tmp_path / "dup.tsv", ["gene_id\tA\tA", "ACTB\t1\t2"])
    with pytest.raises(InputError, match="duplicated sample id") as e:
        read_count_table(f)
    assert e.value.column == "A"
    f = write(tmp_path / "ragged.tsv", ["gene_id\tA\tB", "ACTB\t1\t2", "CD99\t1"])
    with pytest.raises(InputError, match="has 2 fields where the header gives 3") as e:
        read_count_table(f)
    assert e.value.row == 3
    with pytest.raises(InputError, match="not found"):
        read_count_table(tmp_path / "absent.tsv")
    with pytest.raises(InputError, match="empty"):
        read_count_table(write(tmp_path / "empty.tsv", [""]))


def test_star_and_htseq_summary_rows_are_not_genes(tmp_path):
    f = write(tmp_path / "c.tsv", ["\tA", "N_unmapped\t50", "N_multimapping\t4", "ACTB\t1",
                                   "CD99\t2", "__no_feature\t9"])
    t = read_count_table(f)
    assert t.counts.index.tolist() == ["ACTB", "CD99"]
    assert any(n.startswith("dropped 3 rows that are not genes") for n in t.notes)


def test_minority_ids_of_another_kind_are_kept_and_said():
    counts = pd.DataFrame({"A": [1, 2, 3]}, index=["ENSG00000223972.5", "ENSG00000075624",
                                                    "ERCC-00002"])
    res = normalise_gene_ids(counts, [2, 3, 4])
    assert res.kind == "ensembl"
    assert res.counts.index.tolist() == ["ENSG00000223972", "ENSG00000075624", "ERCC-00002"]
    assert "1 ids of another kind kept as they are (e.g. ERCC-00002)" in res.notes[0]


def test_real_gse127530_matrix(refdata):
    path = refdata / "real_blood" / "GSE127530" / "fixed_combinedCounts.txt.gz"
    if not path.is_file():
        unavailable(f"{path} not found")
    t = read_count_table(path)
    assert t.counts.shape == (25342, 45)
    assert (t.format, t.id_kind) == ("plain", "symbol")
    assert t.counts.columns[0] == "S17-D1-3hr_S6"
    assert t.counts.loc["WASH7P"].iloc[:3].tolist() == [45, 65, 69]
    assert len(t.damaged_symbols) == 0
