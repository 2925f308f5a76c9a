"""
The one error class for bad input files and documents.

Every reader of the project (corpus TSV files, PubTator files, dictionaries, BioCreative
eval files, metrics files, predictor input lines) raises `InputFormatError`, whose message
starts with the place of the problem: `path:line: message`, `path: message` when no line
applies, or just the message for an input without a file (a document given to
`predict_json`).
"""
from typing import Optional


class InputFormatError(ValueError):
    """
    Bad input. A `ValueError`, so callers that caught `ValueError` keep working.

    # Parameters

    message : `str`
        What is wrong, without the place.
    path : `str`, optional
        The file (or `<lines>` for lines given in memory).
    line : `int`, optional
        The 1-based line number in `path`.
    """

    def __init__(self, message: str, path: Optional[str] = None, line: Optional[int] = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(f"{self.where}: {message}" if self.where else message)

    @property
    def where(self) -> str:
        """`path:line`, `path`, or `""`."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path
