"""Tables as Markdown, so a row can be found, quoted and cited like any sentence."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: object) -> str:
    return " ".join(str(value or "").split()).replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """The first row is the header; short rows are padded, empty rows dropped."""
    cleaned = [[_cell(v) for v in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return ""
    width = max(len(row) for row in cleaned)
    padded = [row + [""] * (width - len(row)) for row in cleaned]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in padded[1:]]
    return "\n".join(lines)
