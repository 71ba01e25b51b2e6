"""The `classify` stage: case-control classifiers, XGBoost gene panels, scoring of external
cohorts and saved models."""
