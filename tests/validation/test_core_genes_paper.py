"""Core genes on the reference ALS study's own DEG tables (als_paper/ source data): the
study's overlap counts and its 288 (primary) / 282 (adjusted) core genes with their log2FCs."""

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import coregenes as cg


@pytest.mark.parametrize("blood_file, ref_file, counts", [
    ("Fig6abcd_input__all_deg_sig.tsv", "log2fc_df__log2fc_df_noAdj.tsv", (473, 1864, 288)),
    ("Fig6abcd_input__DEG_filtered.tsv", "log2fc_df__log2fc_df_yesAdj.tsv", (472, 1782, 282)),
])
def test_study_core_genes(refdata, blood_file, ref_file, counts):
    d = refdata / "als_paper"

    def read(name):
        return pd.read_csv(d / name, sep="\t")

    blood = cg.deg_table(read(blood_file), "gene_symbol", "logFC", "adj.P.Val")
    tissues = {"neurons": cg.deg_table(read("neuron_spinal_cord__TDP43_deg_sig_strong.tsv"),
                                       "gene_name", "log2FoldChange", "padj"),
               "spinal_cord": cg.deg_table(read("neuron_spinal_cord__PM_DEG_filter_strong.tsv"),
                                           "gene_name", "log2FoldChange", "FDR")}
    core, table, _ = cg.core_genes(blood, tissues, fdr=0.01, min_abs_logfc=0.1)
    n = dict(zip(table["list"], table["n_genes"], strict=True))
    assert (n["blood & neurons"], n["blood & spinal_cord"], n["core"]) == counts
    ref = read(ref_file).set_index("gene_name")
    core = core.set_index("gene_name").loc[ref.index]
    for ours, theirs in (("logFC_blood", "log2FoldChange_blood"),
                         ("logFC_neurons", "log2FoldChange_neurons"),
                         ("logFC_spinal_cord", "log2FoldChange_spinal_cord"),
                         ("mean_logFC", "log2FoldChange_average")):
        np.testing.assert_allclose(core[ours], ref[theirs], atol=1e-12)
