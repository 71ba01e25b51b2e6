"""The `survival` stage: cases, gene selection, final models and their evaluation (the
statistics themselves are in bloodsig.stats.survival)."""
