"""Helpers that turn frames into Dagster metadata (markdown previews)."""


import dagster as dg
import polars as pl


def markdown_table(frame: pl.DataFrame, max_rows: int = 25) -> dg.MetadataValue:
    """A markdown table of the first `max_rows` rows (floats to 4 decimals) for the asset's metadata."""
    if frame.is_empty():
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(max_rows)

    def cell(value: object) -> str:
        if value is None:
            return "∅"
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()]
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows} more rows_")
    return dg.MetadataValue.md("\n".join(lines))
