"""The `survival` stage: survival prognosis from blood expression plus clinical variables.

inputs (rule survival_inputs) -> selection (survival_select) -> models (survival_models,
survival_splits); the statistics are in bloodsig.stats.survival and
bloodsig.stats.discrimination.

Among cases with survival data (one sample per patient):

1. `survival_cases`, `input_gene_report`, `model_expression`: edgeR's filterByExpr, then mean
   CPM and detection filters, protein-coding genes present in the external cohort; TMM
   log2-CPM with technical covariates regressed out (limma removeBatchEffect, clinical
   variables protected), each gene standardised within its cohort;
2. `select_genes`: per-gene log-rank screen on a median split, co-expression hubs
   (`bloodsig.stats.coexpression`, WGCNA-like), stepwise Cox by AIC with the clinical variables
   always in, and XGBoost-Cox (censoring encoded as negative times) tuned by cross-validated
   C-index, its top genes by gain;
3. `final_models`: Cox models clinical only, clinical + stepwise genes, clinical + XGBoost
   genes; C-index with 95% CI and Kang et al. (2015) tests of correlated C-indices; risk
   groups with Kaplan-Meier medians and pairwise log-rank tests, internally and externally;
4. `split_evaluation`: time-dependent AUC (IPCW, as timeROC) over seeded train/test splits,
   with the genes as selected on all cases ("fixed") and re-selected inside each training
   set ("honest"), and paired Wilcoxon tests against the clinical model (Bonferroni over
   time points).
"""
