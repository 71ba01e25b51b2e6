"""Ports of published statistical methods (limma, edgeR's TMM, sva, DESeq2, survival, DeLong,
WGCNA, lowess, Benjamini-Hochberg): functions on numpy and pandas that know no stage or file."""
