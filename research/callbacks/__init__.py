"""The trainer callbacks of the research runs (registered by `--include-package research.callbacks`)."""
