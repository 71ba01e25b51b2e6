"""The `subtypes` stage: immune subtypes of patients and their longitudinal follow-up."""
