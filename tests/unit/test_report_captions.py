"""Report captions are reStructuredText: one that docutils warns about (e.g. `|logFC|`, an
undefined substitution) becomes an error box in `snakemake --report`."""

import io
from pathlib import Path

import docutils.core
import pytest

CAPTIONS = sorted((Path(__file__).resolve().parents[2] / "resources/report").glob("*.rst"))


@pytest.mark.parametrize("caption", CAPTIONS, ids=[c.name for c in CAPTIONS])
def test_caption_renders_without_docutils_messages(caption):
    messages = io.StringIO()
    docutils.core.publish_string(caption.read_text(), writer_name="html", settings_overrides={
        "warning_stream": messages, "report_level": 2})
    assert messages.getvalue() == ""


def test_a_bad_caption_is_caught():
    messages = io.StringIO()
    docutils.core.publish_string("genes with |logFC| above 1", writer_name="html",
                                 settings_overrides={"warning_stream": messages,
                                                     "report_level": 2})
    assert "Undefined substitution" in messages.getvalue()
