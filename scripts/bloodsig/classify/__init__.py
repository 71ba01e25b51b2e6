"""The `classify` stage: case-control classifiers and small XGBoost gene panels.

features (labels, patient-grouped splits, gene sets) -> algorithms (the seven classifiers
compared) and panel_selection (RFE panels, nested CV) -> models (scoring a cohort, saved
models).

The reference study (2025 whole-blood ALS) compared seven classifiers on one split, built
XGBoost panels by recursive feature elimination (RFE) on the residual expression of the DEGs
and validated them on an external cohort. This package follows that design and fixes two
faults of the published code:

* importance is recomputed after every elimination step, as the mean normalised total gain
  of the CV-fold models (the published code ranked the genes once, with the importance of
  the last CV fold only);
* the panel AUC it reported was computed on the samples that chose the panel; `nested_cv`
  runs the whole selection inside each outer fold, so the honest estimate sits beside it.
  The DEG filters themselves come from the de stage on all samples: that (smaller)
  optimism is not removed.

Features are each cohort's expression standardised per gene within the cohort (z-scores):
trees only see the order within a gene, so this changes nothing for training, and it puts an
external cohort (other library preparation, other depth) on the discovery cohort's scale.
Samples are scored as a cohort, not one by one.

Patients, not samples, are the unit of every split: repeat samples of one patient (config
`samples.patient_column`) are always on one side of a fold or of the test split, as a model
that has seen a patient's other sample scores it too well. Small cohorts: every stratified CV
uses min(configured folds, patients of the smallest class) folds and says so; a class with
fewer than `MIN_PER_CLASS` patients is refused; tables carry a `reliability` column that
marks held-out sets of fewer than `MIN_TEST_N` samples and panels of at most
`MAX_SMALL_PANEL` genes.
"""
