"""The study report results/report.html: one self-contained page (data, figures and scripts
embedded; it opens from disk with no network) of every stage that ran, organised as the
reference study presents its results. `build.report_page` is the entry point."""
