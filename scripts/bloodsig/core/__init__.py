"""Shared by every stage: errors, readers and writers, the rule-script frame, sample and unit
sheets, cohorts and count files, gene ids and annotation, gene-set files, config checks,
provenance and benchmark records."""
