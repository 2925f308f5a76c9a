"""The converged runs (issue 11): lane plans and their runner, the page of their results, and
the analyses of their run folders (per-corpus selection, checkpoint averaging, dictionary
coverage)."""
