"""The `cells` stage: blood cell proportions, supplied or estimated from RNA, validated, and
made fit for a model."""
