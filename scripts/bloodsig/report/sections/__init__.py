"""The sections of the study report, in the order the reference study presents its results.

Each `*_section(res, cfg)` reads the files of one stage from a `Results` and returns a
`Section`: its settings (thresholds, n), its figures and tables, and its caveats. A stage that
did not run gives a section that says so. `cfg` holds the config sections of the stages
(as the report rule passes them).
"""
