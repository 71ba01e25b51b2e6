"""The shared frame of every rule script: logging to the rule's log and one clear error.

A bloodsig InputError becomes a single line on stderr (and in the log) naming the file,
row or column, and a non-zero exit; warnings go to the log and to stderr; other exceptions
keep their traceback for debugging.
"""

from __future__ import annotations

import logging
import sys

from threadpoolctl import threadpool_limits

from .errors import InputError
from .io import setup_logging


def run(main, smk) -> None:
    """Run `main(smk)` with logging sent to the rule's log (smk.log[0] if present)."""
    log_path = smk.log[0] if len(smk.log) else None
    logger = setup_logging(log_path)
    if log_path:
        logger.addHandler(_terminal_warnings())
    try:
        # BLAS may use only the rule's threads: oversubscribed OpenBLAS stalls eigen-solves.
        threads = max(int(getattr(smk, "threads", 1)), 1)
        if "numba" in sys.modules:  # the library's numba kernels (parallel loops) too
            numba = sys.modules["numba"]
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        with threadpool_limits(limits=threads):
            main(smk)
    except InputError as e:
        logger.error("%s", e)
        logging.shutdown()
        print(f"bloodsig: error: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        logger.exception("unexpected failure in rule %s", getattr(smk, "rule", "?"))
        raise


def _terminal_warnings() -> logging.Handler:
    """Warnings also go to stderr, where the user running Snakemake sees them (one line
    each, continuation lines indented), not only to the rule's log."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(lambda record: record.levelno == logging.WARNING)
    handler.setFormatter(_Indented("bloodsig: warning: %(message)s"))
    return handler


class _Indented(logging.Formatter):
    def format(self, record):
        return super().format(record).replace("\n", "\n    ")
