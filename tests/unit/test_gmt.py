"""GMT reading, identifier mapping and universe reconciliation."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.core.gmt import load_collection, map_ids, read_gmt, read_id_map, restrict


def _write(path, text):
    path.write_text(text)
    return path


def test_read_gmt_sets_descriptions_and_duplicates_within_a_set(tmp_path):
    path = _write(tmp_path / "a.gmt", "SET_A\thttp://a\tG1\tG2\tG1\t\n\nSET_B\tdesc\tG3\n")
    sets, desc = read_gmt(path)
    assert sets == {"SET_A": ("G1", "G2"), "SET_B": ("G3",)}
    assert desc == {"SET_A": "http://a", "SET_B": "desc"}


def test_read_gmt_gzip(tmp_path):
    path = tmp_path / "a.gmt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("S\td\tX\tY\n")
    assert read_gmt(path)[0] == {"S": ("X", "Y")}


@pytest.mark.parametrize("text, match", [
    ("A\td\tG1\nB\td\tG2\nA\td\tG3\n", r"row 3: gene set 'A' is defined twice \(rows 1 and 3\)"),
    ("A\td\tG1\nB\td\n", r"row 2: gene set 'B' has no genes"),
    ("A\td\tG1\nB\td\t\t\n", r"row 2: gene set 'B' has no genes"),
    ("\n\n", "has no gene sets"),
])
def test_read_gmt_refuses_bad_files(tmp_path, text, match):
    path = _write(tmp_path / "bad.gmt", text)
    with pytest.raises(InputError, match=match) as err:
        read_gmt(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_gmt(tmp_path / "none.gmt")


def test_restrict_and_no_overlap_message(tmp_path):
    sets = {"A": ("1", "2", "3"), "B": ("4",)}
    assert restrict(sets, ["2", "3", "9"]) == {"A": ("2", "3")}
    with pytest.raises(InputError, match="no gene of this collection.*look like 1, 2, 3.*id_map"):
        restrict(sets, ["TP53", "GAPDH"], path="sets.gmt")


def test_id_map_translates_entrez_to_symbols(tmp_path):
    gmt = _write(tmp_path / "e.gmt", "S1\td\t7157\t2597\t999999\nS2\td\t999998\n")
    idmap = _write(tmp_path / "map.tsv", "entrez\tsymbol\n7157\tTP53\n2597\tGAPDH\n1\t\n")
    mapping = read_id_map(idmap, "entrez", "symbol")
    assert mapping.to_dict() == {"7157": "TP53", "2597": "GAPDH"}
    assert map_ids({"S1": ("7157", "2597", "999999")}, mapping) == {"S1": ("TP53", "GAPDH")}
    spec = {"id_map": str(idmap), "id_from": "entrez", "id_to": "symbol"}
    sets, _ = load_collection({"gmt": str(gmt), **spec})
    assert sets == {"S1": ("TP53", "GAPDH")}  # S2 has no mapped gene and is dropped
    with pytest.raises(InputError, match="lacks required column"):
        read_id_map(idmap, "ensembl", "symbol")
    other = _write(tmp_path / "o.gmt", "S1\td\tENSG1\n")
    with pytest.raises(InputError, match="no identifier of the collection is in the id map"):
        load_collection({"gmt": str(other), **spec})


def test_id_map_keeps_one_to_many():
    mapping = pd.Series(["A", "B"], index=["1", "1"])
    assert map_ids({"S": ("1", "2")}, mapping) == {"S": ("A", "B")}
