"""The `de` stage: one analysis from counts to tables, its technical covariates, confounding
checks, the sex-stratified comparison and qPCR validation of DEGs."""
