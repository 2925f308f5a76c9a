"""The one markdown table writer (results tables, benchmark reports)."""
from typing import Iterable, Sequence


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """
    A GitHub markdown table, without a trailing newline. Cells are written with `str`;
    a `|` inside a cell is escaped. Raises `ValueError` for a row of another width.
    """
    header = [str(cell) for cell in header]

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    lines = [line(header), "|" + "|".join("---" for _ in header) + "|"]
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise ValueError(f"markdown table row {number} has {len(row)} cells, header {len(header)}")
        lines.append(line(row))
    return "\n".join(lines)
