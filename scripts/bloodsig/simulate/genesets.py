"""Gene-set collections (GMT) with planted enrichment, and their truth table.

- pathways.gmt: Hallmark- and KEGG-style sets; a few are made mostly of planted up- or
  down-regulated genes, the rest are decoys of random genes.
- go_bp.gmt: GO-style terms grouped in themes; the terms of a theme are overlapping subsets of
  one pool of genes, so an enrichment map shows them as clusters.
- immune_signatures.gmt: nine top-50-like immune-stimulation signatures, each built around
  one subgroup's module, so signature scores separate the planted subgroups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cohort import Biology

PLANTED_PATHWAYS = {
    "up": ("HALLMARK_INFLAMMATORY_RESPONSE", "HALLMARK_TNFA_SIGNALING_VIA_NFKB",
           "HALLMARK_COMPLEMENT", "KEGG_LYSOSOME"),
    "down": ("KEGG_RIBOSOME", "HALLMARK_MYC_TARGETS_V1",
             "KEGG_T_CELL_RECEPTOR_SIGNALING_PATHWAY", "KEGG_OXIDATIVE_PHOSPHORYLATION"),
}
DECOY_PATHWAYS = (
    "HALLMARK_HYPOXIA", "HALLMARK_CHOLESTEROL_HOMEOSTASIS", "HALLMARK_MITOTIC_SPINDLE",
    "HALLMARK_WNT_BETA_CATENIN_SIGNALING", "HALLMARK_TGF_BETA_SIGNALING",
    "HALLMARK_IL6_JAK_STAT3_SIGNALING", "HALLMARK_DNA_REPAIR", "HALLMARK_G2M_CHECKPOINT",
    "HALLMARK_APOPTOSIS", "HALLMARK_NOTCH_SIGNALING", "HALLMARK_ADIPOGENESIS",
    "HALLMARK_ESTROGEN_RESPONSE_EARLY", "HALLMARK_ANDROGEN_RESPONSE",
    "HALLMARK_MYOGENESIS", "HALLMARK_PROTEIN_SECRETION", "HALLMARK_INTERFERON_ALPHA_RESPONSE",
    "HALLMARK_APICAL_JUNCTION", "HALLMARK_HEDGEHOG_SIGNALING", "HALLMARK_HEME_METABOLISM",
    "HALLMARK_UNFOLDED_PROTEIN_RESPONSE", "HALLMARK_PI3K_AKT_MTOR_SIGNALING",
    "HALLMARK_E2F_TARGETS", "HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION",
    "HALLMARK_FATTY_ACID_METABOLISM", "HALLMARK_GLYCOLYSIS", "HALLMARK_KRAS_SIGNALING_UP",
    "KEGG_GLYCOLYSIS_GLUCONEOGENESIS", "KEGG_CITRATE_CYCLE_TCA_CYCLE", "KEGG_PURINE_METABOLISM",
    "KEGG_PYRIMIDINE_METABOLISM", "KEGG_MAPK_SIGNALING_PATHWAY", "KEGG_ERBB_SIGNALING_PATHWAY",
    "KEGG_CALCIUM_SIGNALING_PATHWAY", "KEGG_CHEMOKINE_SIGNALING_PATHWAY",
    "KEGG_PHOSPHATIDYLINOSITOL_SIGNALING_SYSTEM", "KEGG_CELL_CYCLE", "KEGG_P53_SIGNALING_PATHWAY",
    "KEGG_UBIQUITIN_MEDIATED_PROTEOLYSIS", "KEGG_SPLICEOSOME", "KEGG_PROTEASOME",
    "KEGG_FOCAL_ADHESION", "KEGG_ECM_RECEPTOR_INTERACTION", "KEGG_ADHERENS_JUNCTION",
    "KEGG_AXON_GUIDANCE", "KEGG_INSULIN_SIGNALING_PATHWAY", "KEGG_PEROXISOME",
    "KEGG_ALZHEIMERS_DISEASE", "KEGG_HUNTINGTONS_DISEASE",
    "KEGG_AMYOTROPHIC_LATERAL_SCLEROSIS_ALS", "KEGG_PARKINSONS_DISEASE",
    "KEGG_NATURAL_KILLER_CELL_MEDIATED_CYTOTOXICITY", "KEGG_B_CELL_RECEPTOR_SIGNALING_PATHWAY",
)
GO_THEMES = {  # theme -> (direction, terms)
    "neutrophil": ("up", ("GOBP_NEUTROPHIL_DEGRANULATION", "GOBP_NEUTROPHIL_ACTIVATION",
                          "GOBP_NEUTROPHIL_MEDIATED_IMMUNITY", "GOBP_GRANULOCYTE_CHEMOTAXIS",
                          "GOBP_LEUKOCYTE_MIGRATION")),
    "inflammation": ("up", ("GOBP_INFLAMMATORY_RESPONSE", "GOBP_RESPONSE_TO_INTERLEUKIN_1",
                            "GOBP_ACUTE_INFLAMMATORY_RESPONSE",
                            "GOBP_POSITIVE_REGULATION_OF_CYTOKINE_PRODUCTION",
                            "GOBP_POSITIVE_REGULATION_OF_NF_KAPPAB_SIGNALING")),
    "translation": ("down", ("GOBP_CYTOPLASMIC_TRANSLATION", "GOBP_RIBOSOME_BIOGENESIS",
                             "GOBP_RRNA_PROCESSING", "GOBP_TRANSLATIONAL_INITIATION",
                             "GOBP_NCRNA_PROCESSING")),
    "t_cell": ("none", ("GOBP_T_CELL_ACTIVATION", "GOBP_T_CELL_DIFFERENTIATION",
                        "GOBP_LYMPHOCYTE_PROLIFERATION", "GOBP_ALPHA_BETA_T_CELL_ACTIVATION")),
    "splicing": ("none", ("GOBP_RNA_SPLICING", "GOBP_MRNA_PROCESSING",
                          "GOBP_REGULATION_OF_MRNA_SPLICING_VIA_SPLICEOSOME",
                          "GOBP_SPLICEOSOMAL_SNRNP_ASSEMBLY")),
    "cell_cycle": ("none", ("GOBP_CELL_CYCLE_G2_M_PHASE_TRANSITION", "GOBP_CHROMOSOME_SEGREGATION",
                            "GOBP_DNA_REPLICATION", "GOBP_MITOTIC_NUCLEAR_DIVISION")),
    "mitochondrion": ("none", ("GOBP_MITOCHONDRIAL_RESPIRATORY_CHAIN_COMPLEX_ASSEMBLY",
                               "GOBP_AEROBIC_RESPIRATION", "GOBP_MITOCHONDRIAL_TRANSLATION",
                               "GOBP_ATP_SYNTHESIS_COUPLED_ELECTRON_TRANSPORT")),
    "synapse": ("none", ("GOBP_SYNAPSE_ORGANIZATION", "GOBP_AXONOGENESIS",
                         "GOBP_REGULATION_OF_TRANS_SYNAPTIC_SIGNALING",
                         "GOBP_NEUROTRANSMITTER_SECRETION")),
}
IMMUNE_SIGNATURES = {  # signature -> subgroup whose module it is built on
    "IL4": "non_inflammatory", "IL10": "non_inflammatory", "IL15": "inflammatory",
    "NOD2": "inflammatory", "TLR2_1": "inflammatory", "VITAMIN_A": "non_inflammatory",
    "VITAMIN_D": "non_inflammatory", "IFN_BETA": "inflammatory", "IFN_GAMMA": "inflammatory",
}
PLANTED_SHARE = (0.6, 0.8)  # share of a planted set drawn from planted genes


def _gmt(sets: dict[str, list[str]], url: str) -> str:
    return "".join(f"{name}\t{url}{name}\t" + "\t".join(genes) + "\n"
                   for name, genes in sets.items())


def _mixed_set(pool: np.ndarray, others: np.ndarray, size: int, share: float,
               rng: np.random.Generator) -> np.ndarray:
    """`size` distinct rows, a `share` of them from `pool` and the rest from `others`."""
    k = min(int(round(share * size)), len(pool))
    return np.concatenate([rng.choice(pool, k, replace=False),
                           rng.choice(others, size - k, replace=False)])


def make_genesets(bio: Biology, rng: np.random.Generator) -> tuple[dict[str, str], pd.DataFrame]:
    """The three GMT texts by file name, and the truth table (set_name, collection, direction,
    planted)."""
    names = bio.genes["gene_name"].to_numpy()
    role = bio.genes["role"].to_numpy()
    gtype = bio.genes["gene_type"].to_numpy()
    planted = {"up": np.flatnonzero(bio.planted_log2fc > 0),
               "down": np.flatnonzero(bio.planted_log2fc < 0)}
    # Gene sets are built from coding background genes that carry no planted effect.
    neutral = np.flatnonzero((role == "background") & (bio.mechanism == "")
                             & (gtype == "protein_coding"))
    truth = []

    pathways = {}
    for direction, set_names in PLANTED_PATHWAYS.items():
        for name in set_names:
            size = int(rng.integers(25, 151))
            share = rng.uniform(*PLANTED_SHARE)
            pathways[name] = names[_mixed_set(planted[direction], neutral, size, share, rng)]
            truth.append((name, "pathways", direction, True))
    for name in DECOY_PATHWAYS:
        size = int(np.clip(np.exp(rng.normal(np.log(80), 0.6)), 15, 300))
        pathways[name] = names[rng.choice(neutral, size, replace=False)]
        truth.append((name, "pathways", "none", False))
    pathways = dict(sorted(pathways.items()))

    go = {}
    for direction, terms in GO_THEMES.values():
        pool_size = int(rng.integers(60, 121))
        pool = (_mixed_set(planted[direction], neutral, pool_size, 0.75, rng)
                if direction != "none" else rng.choice(neutral, pool_size, replace=False))
        for term in terms:
            members = rng.choice(pool, int(rng.uniform(0.3, 0.8) * pool_size), replace=False)
            extra = rng.choice(neutral, int(rng.integers(2, 10)), replace=False)
            go[term] = names[np.unique(np.concatenate([members, extra]))]
            truth.append((term, "go_bp", direction, direction != "none"))
    go = dict(sorted(go.items()))

    immune = {}
    for name, subgroup in IMMUNE_SIGNATURES.items():
        module = np.flatnonzero(role == subgroup)
        immune[name] = names[_mixed_set(module, neutral, 50, 0.4, rng)]
        truth.append((name, "immune_signatures", subgroup, True))

    texts = {
        "pathways.gmt": _gmt(pathways, "http://www.gsea-msigdb.org/gsea/msigdb/cards/"),
        "go_bp.gmt": _gmt(go, "http://amigo.geneontology.org/amigo/search/ontology?q="),
        "immune_signatures.gmt": _gmt(immune, "bloodsig:immune_signature:"),
    }
    table = pd.DataFrame(truth, columns=["set_name", "collection", "direction", "planted"])
    return texts, table
