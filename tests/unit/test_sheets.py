"""Sample/unit sheets and count matrices: bad input is refused naming file, row and column."""

from pathlib import Path

import pandas as pd
import pytest

from bloodsig.core.cohort import load_count_cohort
from bloodsig.core.errors import InputError
from bloodsig.core.io import read_counts
from bloodsig.core.sheets import load_samples, load_schema, load_units

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(ROOT / "config/schemas/samples.schema.yaml")
UNITS_SCHEMA = load_schema(ROOT / "config/schemas/units.schema.yaml")
SHEET = {"id_column": "sample_id", "group_column": "group", "case": "ALS", "control": "control",
         "sex_column": "sex", "female": "female", "male": "male", "other_groups": []}

GOOD = """sample_id\tpatient_id\tgroup\tsex\tage\tbatch
S1\tP1\tALS\tmale\t61\tB1
S2\tP2\tcontrol\tfemale\t55\tB1
S3\tP3\tALS\tfemale\t70.5\tB2
"""


def write(tmp_path, text, name="samples.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(path, *fragments, loader=None):
    loader = loader or (lambda p: load_samples(p, SCHEMA, SHEET))
    with pytest.raises(InputError) as err:
        loader(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_good_sheet_loads_in_file_order(tmp_path):
    df = load_samples(write(tmp_path, GOOD), SCHEMA, SHEET)
    assert list(df.index) == ["S1", "S2", "S3"]
    assert df.loc["S3", "age"] == 70.5


def test_committed_template_sheets_validate():
    df = load_samples(ROOT / "config/samples.tsv", SCHEMA, SHEET)
    assert len(df) >= 4 and set(df["group"]) == {"ALS", "control"}
    units = load_units(ROOT / "config/units.tsv", UNITS_SCHEMA)
    assert set(units["sample_id"]) <= set(df.index)


def test_duplicated_sample_id(tmp_path):
    path = write(tmp_path, GOOD + "S2\tP9\tALS\tmale\t40\tB1\n")
    refused(path, "duplicated sample id 'S2'", "row 5", "column 'sample_id'")


def test_age_as_text(tmp_path):
    path = write(tmp_path, GOOD.replace("\t55\t", "\tfifty\t"))
    refused(path, "row 3", "column 'age'", "'fifty'")


def test_case_without_group(tmp_path):
    path = write(tmp_path, GOOD.replace("S3\tP3\tALS", "S3\tP3\t"))
    refused(path, "row 4", "column 'group'", "no group")


def test_unknown_group_value(tmp_path):
    path = write(tmp_path, GOOD.replace("control", "ctrl"))
    refused(path, "row 3", "column 'group'", "'ctrl'")


def test_missing_required_column(tmp_path):
    path = write(tmp_path, GOOD.replace("\tgroup", "\tstatus"))
    refused(path, "column 'group'", "lacks required")


def test_minimal_sheet_id_and_group_only(tmp_path):
    df = load_samples(write(tmp_path, "sample_id\tgroup\nS1\tALS\nS2\tcontrol\n"), SCHEMA,
                      SHEET)
    assert list(df.columns) == ["sample_id", "group"]


def test_sex_may_be_absent_or_empty_but_not_wrong(tmp_path):
    no_sex = GOOD.replace("\tsex", "\tgender")
    assert len(load_samples(write(tmp_path, no_sex), SCHEMA, SHEET)) == 3
    empty = GOOD.replace("\tfemale\t55", "\t\t55")
    assert load_samples(write(tmp_path, empty), SCHEMA, SHEET)["sex"].isna().sum() == 1
    refused(write(tmp_path, GOOD.replace("\tfemale\t55", "\tF?\t55")), "row 3",
            "column 'sex'", "'F?'")


def test_other_groups_listed_are_kept(tmp_path):
    text = GOOD + "S4\tP4\tmimic\tmale\t50\tB2\n"
    refused(write(tmp_path, text), "row 5", "'mimic'", "samples.other_groups")
    df = load_samples(write(tmp_path, text), SCHEMA, {**SHEET, "other_groups": ["mimic"]})
    assert df.loc["S4", "group"] == "mimic"


def test_survival_time_not_positive(tmp_path):
    text = "sample_id\tgroup\tsex\tsurvival_time\nS1\tALS\tmale\t0\nS2\tcontrol\tmale\t\n"
    refused(write(tmp_path, text), "row 2", "column 'survival_time'")


def test_units_unknown_column_and_duplicate(tmp_path):
    bad = write(tmp_path, "sample_id\tunit\tfq1\tlane\nS1\tL1\ta.fq.gz\t1\n", "units.tsv")
    refused(bad, "unknown column", loader=lambda p: load_units(p, UNITS_SCHEMA))
    dup = write(tmp_path, "sample_id\tunit\tfq1\nS1\tL1\ta.fq.gz\nS1\tL1\tb.fq.gz\n", "u2.tsv")
    refused(dup, "row 3", "listed twice", loader=lambda p: load_units(p, UNITS_SCHEMA))


@pytest.mark.parametrize("cell, fragment", [
    ("3.5", "non-integer count 3.5"),
    ("-2", "negative count -2"),
    ("", "missing value (NaN)"),
    ("abc", "non-numeric value 'abc'"),
])
def test_bad_count_values(tmp_path, cell, fragment):
    text = f"gene_id\tS1\tS2\nG1\t10\t{cell}\nG2\t3\t4\n"
    message = refused(write(tmp_path, text, "counts.tsv"), fragment, "column 'S2'",
                      loader=read_counts)
    assert "G1" in message


def test_duplicated_gene_id(tmp_path):
    text = "gene_id\tS1\nG1\t1\nG2\t2\nG1\t3\n"
    refused(write(tmp_path, text, "counts.tsv"), "duplicated gene id 'G1'", "row 4",
            loader=read_counts)


def cohort_files(tmp_path, samples_text=GOOD, count_samples=("S1", "S2", "S3")):
    counts = pd.DataFrame({"gene_id": ["G1", "G2"]} | {s: [5, 7] for s in count_samples})
    counts.to_csv(tmp_path / "counts.tsv", sep="\t", index=False)
    pd.DataFrame({"gene_id": ["G2", "G1"], "gene_name": ["B", "A"], "gene_type": "protein_coding",
                  "chromosome": "1", "length": [100, 200]}).to_csv(tmp_path / "genes.tsv",
                                                                   sep="\t", index=False)
    write(tmp_path, samples_text)
    return [tmp_path / n for n in ("counts.tsv", "samples.tsv")]


def load_cohort(files, **kwargs):
    return load_count_cohort(*files, SCHEMA, SHEET, **kwargs)


def test_count_cohort_aligned(tmp_path):
    files = cohort_files(tmp_path, count_samples=("S3", "S1", "S2"))
    counts, genes, samples = load_cohort(files, annotation_path=tmp_path / "genes.tsv")
    assert list(samples.index) == ["S3", "S1", "S2"]
    assert list(genes.index) == ["G1", "G2"] and genes.loc["G1", "gene_name"] == "A"
    assert genes.loc["G2", "length"] == 100


def test_count_cohort_without_annotation_invents_nothing(tmp_path):
    counts, genes, _ = load_cohort(cohort_files(tmp_path))
    assert list(genes["gene_name"]) == ["G1", "G2"]  # symbols name themselves
    assert genes[["gene_type", "chromosome", "length"]].isna().all().all()


def test_partial_annotation_and_versioned_ids(tmp_path):
    files = cohort_files(tmp_path)
    counts = pd.DataFrame({"gene_id": ["ENSG00000000003.15", "ENSG00000000005.6"], "S1": [1, 2],
                           "S2": [3, 4], "S3": [5, 6]})
    counts.to_csv(files[0], sep="\t", index=False)
    pd.DataFrame({"gene_id": ["ENSG00000000003.14"], "gene_name": ["TSPAN6"]}).to_csv(
        tmp_path / "genes.tsv", sep="\t", index=False)
    _, genes, _ = load_cohort(files, annotation_path=tmp_path / "genes.tsv")
    assert list(genes.index) == ["ENSG00000000003", "ENSG00000000005"]
    assert genes.loc["ENSG00000000003", "gene_name"] == "TSPAN6"
    assert genes.loc["ENSG00000000005", "gene_name"] == "ENSG00000000005"
    assert genes["gene_type"].isna().all()


def test_sheet_id_spelling_hint(tmp_path):
    files = cohort_files(tmp_path, GOOD.replace("S1\t", "X.1\t"), ("X-1", "S2", "S3"))
    with pytest.raises(InputError, match="the other file has 'X.1'"):
        load_cohort(files)


def test_sample_in_counts_not_in_sheet(tmp_path):
    files = cohort_files(tmp_path, count_samples=("S1", "S2", "S3", "S4"))
    with pytest.raises(InputError, match="sample 'S4' is in the count matrix but not in"):
        load_cohort(files)


def test_sample_in_sheet_not_in_counts(tmp_path):
    files = cohort_files(tmp_path, count_samples=("S1", "S2"))
    with pytest.raises(InputError, match="sample 'S3' is in the sample sheet but not"):
        load_cohort(files)


def test_gtf_annotation_and_gtf_without_names(tmp_path, caplog):
    files = cohort_files(tmp_path)
    pd.DataFrame({"gene_id": ["ENSG00000000003.15", "ENSG00000000005.6"], "S1": [1, 2],
                  "S2": [3, 4], "S3": [5, 6]}).to_csv(files[0], sep="\t", index=False)
    line = ('chrX\tEnsembl\texon\t{s}\t{e}\t.\t-\t.\tgene_id "{g}"; gene_version "15";{n} '
            'gene_biotype "protein_coding";\n')
    rows = [("ENSG00000000003", 100, 199), ("ENSG00000000003", 150, 249),
            ("ENSG00000000005", 500, 509)]
    named = "".join(line.format(s=s, e=e, g=g, n=' gene_name "TSPAN6";' if i < 2 else
                                ' gene_name "TNMD";') for i, (g, s, e) in enumerate(rows))
    (tmp_path / "named.gtf").write_text(named)
    _, genes, _ = load_cohort(files, gtf_path=tmp_path / "named.gtf")
    assert genes.loc["ENSG00000000003"].tolist() == ["TSPAN6", "protein_coding", "chrX", 150]
    assert genes.loc["ENSG00000000005", "length"] == 10
    (tmp_path / "nameless.gtf").write_text("".join(line.format(s=s, e=e, g=g, n="")
                                                   for g, s, e in rows))
    _, genes, _ = load_cohort(files, gtf_path=tmp_path / "nameless.gtf")
    assert genes["gene_type"].eq("protein_coding").all()
    assert list(genes["gene_name"]) == list(genes.index)  # ids stand in; nothing invented
    warning = [r.getMessage() for r in caplog.records if "gene_name" in r.getMessage()]
    assert warning and "nameless.gtf" in warning[0] and "column 'attributes'" in warning[0]


def test_damaged_symbols_reported_or_refused(tmp_path, caplog):
    files = cohort_files(tmp_path)
    (tmp_path / "counts.tsv").write_text("gene\tS1\tS2\tS3\nTP53\t1\t2\t3\n1-Mar\t4\t5\t6\n"
                                         "SEPT7\t1\t1\t1\n7-Sep\t2\t2\t2\n")
    counts, _, _ = load_cohort(files)
    assert "1-Mar" in counts.index
    warning = next(r.getMessage() for r in caplog.records if "spreadsheet" in r.getMessage())
    assert "line 3: 1-Mar" in warning and "line 5: 7-Sep" in warning
    message = refused(files[0], "row 3", "1-Mar",
                      loader=lambda p: load_cohort(files, damaged_symbols="refuse"))
    assert "column 'gene'" in message
