"""Gene catalogue of the demo cohorts: Ensembl-like ids, real-looking symbols, types, lengths.

The catalogue holds the real genes the pipeline looks for by name (globins, XIST, chrY,
mitochondrial, cell-type markers, immune-subtype genes) and fills the rest with synthetic
symbols in the style of HGNC names. A `role` column tells the simulator what each gene is;
it is internal and never written to genes.tsv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELL_TYPES = ("CD8T", "CD4T", "NK", "Bcell", "Mono", "Neu")

# The 13 haemoglobin genes, with their real chromosomes (alpha cluster chr16, beta chr11).
GLOBINS = {
    "HBA1": "16", "HBA2": "16", "HBZ": "16", "HBM": "16", "HBQ1": "16", "HBAP1": "16",
    "HBZP1": "16", "HBB": "11", "HBD": "11", "HBG1": "11", "HBG2": "11", "HBE1": "11",
    "HBBP1": "11",
}
GLOBIN_PSEUDOGENES = ("HBAP1", "HBZP1", "HBBP1")
CHRY_GENES = ("RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "USP9Y", "ZFY", "NLGN4Y", "TXLNGY",
              "PRKY")
MT_GENES = ("MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3", "MT-ND3",
            "MT-ND4L", "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB")
MARKERS = {
    "CD8T": ("CD8A", "CD8B", "GZMK", "CRTAM", "KLRC4", "CD160"),
    "CD4T": ("CD4", "IL7R", "CCR7", "CD40LG", "TCF7", "LEF1", "MAL", "CD28"),
    "NK": ("NKG7", "GNLY", "KLRD1", "KLRF1", "NCAM1", "PRF1", "SH2D1B", "KIR2DL1"),
    "Bcell": ("MS4A1", "CD79A", "CD79B", "CD19", "CD22", "BANK1", "PAX5", "FCRLA", "VPREB3"),
    "Mono": ("CD14", "LYZ", "FCN1", "CSF1R", "VCAN", "CD68", "LILRB2", "MS4A7", "CST3"),
    "Neu": ("FCGR3B", "CXCR2", "CSF3R", "CXCR1", "FPR1", "MME", "CEACAM8", "S100A12", "MMP9"),
}
MARKERS_PER_TYPE = 20  # named markers topped up with synthetic ones
# Immune-subtype genes (PBMC ALS study): Th1/Th17/IL-1 axis vs B-cell/plasma-cell axis.
INFLAMMATORY = ("IL1A", "IL1B", "IL6", "CCL2", "TNF", "CXCL8", "IL23A", "IL17A", "IL17F", "RORC",
                "IFNG", "TBX21", "STAT4", "IL12B", "CCL3", "CCL4", "CXCL10", "PTGS2", "NLRP3",
                "IL18", "CCR6", "IL21", "SOCS3", "OSM")
NON_INFLAMMATORY = ("TNFSF13", "TNFRSF17", "CYP4F2", "TNFRSF13B", "TNFRSF13C", "MZB1", "JCHAIN",
                    "CD38", "XBP1", "PRDM1", "IGHM", "IGKC", "TNFSF13B", "POU2AF1", "FCRL5")
SUBGROUP_MODULE_SIZE = {"inflammatory": 40, "non_inflammatory": 30}

# Rough share of genes per chromosome (after the human annotation), for the synthetic genes.
_CHROM_WEIGHTS = {
    "1": 2050, "2": 1250, "3": 1070, "4": 750, "5": 880, "6": 1040, "7": 920, "8": 680,
    "9": 780, "10": 730, "11": 1300, "12": 1030, "13": 320, "14": 610, "15": 600, "16": 850,
    "17": 1180, "18": 270, "19": 1470, "20": 540, "21": 230, "22": 440, "X": 840,
}
_CHROM_ORDER = [str(i) for i in range(1, 23)] + ["X", "Y", "MT"]
# Name families of coding genes: (prefix, largest number) as in HGNC, plus a few patterned ones.
_PC_FAMILIES = (("ZNF", 850), ("TMEM", 270), ("CCDC", 190), ("ANKRD", 65), ("LRRC", 75),
                ("RNF", 225), ("KLHL", 42), ("WDR", 97), ("TBC1D", 32), ("DNAJC", 30),
                ("PPP1R", 37), ("ZBTB", 49), ("TRIM", 75), ("ABHD", 18), ("SNX", 33),
                ("TTC", 39), ("RBM", 48), ("MRPL", 58), ("PRR", 36), ("SPATA", 33),
                ("GPR", 185), ("ARHGAP", 45), ("PCDHB", 19), ("ADAMTS", 20), ("CDC", 45),
                ("NUP", 214), ("USP", 54), ("KCNJ", 16), ("IFT", 172), ("FBXO", 48))
_LETTERS = np.array(list("ABCDEFGHJKLMNPQRST"))


def _synthetic_symbols(n_pc: int, n_lnc: int, n_mir: int, reserved: set[str],
                       rng: np.random.Generator) -> tuple[list[str], list[str], list[str]]:
    """Draw unique HGNC-style symbols for protein-coding genes, lncRNAs and miRNAs."""
    used = set(reserved)

    def draw(make, n):
        out: list[str] = []
        while len(out) < n:
            for name in make(2 * (n - len(out)) + 10):
                if name not in used:
                    used.add(name)
                    out.append(name)
                    if len(out) == n:
                        break
        return out

    def pc(k):
        # Mostly numbered families; then SLC25A12-, OR5A1-, C3orf52-, FAM120B- and LOC-style.
        kind = rng.choice(6, size=k, p=[0.45, 0.1, 0.1, 0.1, 0.1, 0.15])
        fam = rng.integers(0, len(_PC_FAMILIES), size=k)
        a, b = rng.integers(1, 10**6, size=(2, k))
        letter = _LETTERS[rng.integers(0, len(_LETTERS), size=k)]
        names = []
        for t, f, i, j, c in zip(kind, fam, a, b, letter, strict=True):
            prefix, top = _PC_FAMILIES[f]
            names.append([f"{prefix}{i % top + 1}", f"SLC{i % 50 + 1}A{j % 20 + 1}",
                          f"OR{i % 14 + 1}{c}{j % 12 + 1}", f"C{i % 22 + 1}orf{j % 200 + 1}",
                          f"FAM{i % 240 + 3}{c if j % 2 else ''}",
                          f"LOC{i % 900_000 + 100_000}"][t])
        return names

    pcs = draw(pc, n_pc)
    n_as = n_lnc // 4  # antisense transcripts named after a neighbouring coding gene

    def lnc(k):
        # LINC01234 or clone-based names (AC012345.2) as Ensembl gives unnamed lncRNAs.
        i = rng.integers(0, 10**6, size=k)
        clone = rng.choice(["AC", "AL", "AP"], size=k)
        return [f"LINC{n % 2900 + 100:05d}" if n % 3 == 0 else f"{c}{n % 300_000:06d}.{n % 3 + 1}"
                for n, c in zip(i, clone, strict=True)]

    def antisense(k):
        return [f"{pcs[i]}-AS1" for i in rng.integers(0, len(pcs), size=k)]

    def mir(k):
        num = rng.integers(100, 6000, size=k)
        suffix = rng.choice(["", "", "", "A", "B"], size=k)
        return [f"MIR{i}{s}" for i, s in zip(num, suffix, strict=True)]

    return pcs, draw(lnc, n_lnc - n_as) + draw(antisense, n_as), draw(mir, n_mir)


def make_genes(n_genes: int, rng: np.random.Generator) -> pd.DataFrame:
    """Build the gene catalogue: one row per gene, sorted by chromosome and position.

    Columns: gene_id (ENSG + 11 digits), gene_name, gene_type, chromosome, length (exonic bp),
    entrez_id (Entrez-like string, for the CMap gene space) and role (internal).
    """
    named: list[tuple[str, str, str, str]] = []  # (symbol, type, chromosome, role)
    named += [(g, "transcribed_unprocessed_pseudogene" if g in GLOBIN_PSEUDOGENES
               else "protein_coding", c, "globin") for g, c in GLOBINS.items()]
    named.append(("XIST", "lncRNA", "X", "xist"))
    named += [(g, "protein_coding", "Y", "chrY") for g in CHRY_GENES]
    named += [(g, "protein_coding", "MT", "mt") for g in MT_GENES]
    for cell, genes in MARKERS.items():
        named += [(g, "protein_coding", "", f"marker:{cell}") for g in genes]
    named += [(g, "protein_coding", "", "inflammatory") for g in INFLAMMATORY]
    named += [(g, "protein_coding", "", "non_inflammatory") for g in NON_INFLAMMATORY]

    n_free = n_genes - len(named)
    if n_free < 2000:
        raise ValueError(f"n_genes={n_genes} is too small for the catalogue (need >= "
                         f"{len(named) + 2000})")
    n_mir = int(round(0.05 * n_genes))
    n_lnc = int(round(0.25 * n_genes)) - 1  # XIST is the other lncRNA
    n_pc = n_free - n_mir - n_lnc
    pcs, lncs, mirs = _synthetic_symbols(n_pc, n_lnc, n_mir, {g[0] for g in named}, rng)
    free = ([(g, "protein_coding", "", "background") for g in pcs]
            + [(g, "lncRNA", "", "background") for g in lncs]
            + [(g, "miRNA", "", "background") for g in mirs])

    # Synthetic markers: top each cell type up to MARKERS_PER_TYPE with background coding genes.
    free_roles = np.array([f[3] for f in free], dtype=object)
    pc_idx = rng.permutation(n_pc)
    start = 0
    for cell, genes in MARKERS.items():
        k = MARKERS_PER_TYPE - len(genes)
        free_roles[pc_idx[start:start + k]] = f"marker:{cell}"
        start += k
    for group, named_genes in (("inflammatory", INFLAMMATORY),
                               ("non_inflammatory", NON_INFLAMMATORY)):
        k = SUBGROUP_MODULE_SIZE[group] - len(named_genes)
        free_roles[pc_idx[start:start + k]] = group
        start += k

    df = pd.DataFrame(named + free, columns=["gene_name", "gene_type", "chromosome", "role"])
    df.loc[len(named):, "role"] = free_roles
    chroms = np.array(list(_CHROM_WEIGHTS))
    weights = np.array(list(_CHROM_WEIGHTS.values()), dtype=float)
    unplaced = (df["chromosome"] == "").to_numpy()
    df.loc[unplaced, "chromosome"] = rng.choice(chroms, size=unplaced.sum(),
                                                p=weights / weights.sum())

    # Exonic lengths: coding ~2.5 kb, lncRNA ~1.2 kb, miRNA precursors ~80 bp (log-normal).
    median = df["gene_type"].map({"protein_coding": 2500, "lncRNA": 1200, "miRNA": 80}).fillna(
        900).to_numpy(dtype=float)
    sd = np.where(df["gene_type"] == "miRNA", 0.15, 0.6)
    df["length"] = np.maximum(np.round(median * np.exp(rng.normal(0, sd))), 60).astype(np.int64)
    df.loc[df["chromosome"] == "MT", "length"] = rng.integers(300, 1800, size=len(MT_GENES))

    # Order along the genome (random positions), then assign sorted Ensembl-like ids.
    position = rng.random(len(df))
    rank = df["chromosome"].map({c: i for i, c in enumerate(_CHROM_ORDER)}).to_numpy()
    df = df.iloc[np.lexsort((position, rank))].reset_index(drop=True)
    ids = np.sort(rng.choice(np.arange(3, 290_000), size=len(df), replace=False))
    df.insert(0, "gene_id", [f"ENSG{i:011d}" for i in rng.permutation(ids)])
    entrez = rng.choice(np.arange(1, 150_000), size=len(df), replace=False)
    df["entrez_id"] = [str(i) for i in entrez]
    return df[["gene_id", "gene_name", "gene_type", "chromosome", "length", "entrez_id", "role"]]
