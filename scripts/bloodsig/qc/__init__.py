"""Expression QC of a count matrix (the `expression_qc` stage)."""
