"""Equity curves of the backtested strategies as a small PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen before pyplot loads)
import polars as pl  # noqa: E402
from PIL import Image  # noqa: E402

from sector_pipeline.strategy.config import STRATEGIES  # noqa: E402


def equity_curves_png(backtest: pl.DataFrame, *, title: str = "Equity (log scale)", width_px: int = 600,
                      height_px: int = 300, dpi: int = 80) -> bytes:
    """A width_px x height_px PNG of each strategy's equity curve, log scale."""
    figure, axes = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    try:
        for name in STRATEGIES:
            curve = backtest.filter(pl.col("strategy") == name).sort("date")
            # at most ~one point per pixel column (the last session always kept)
            every = max(1, curve.height // width_px)
            curve = curve.filter((pl.int_range(pl.len()) % every == 0) | (pl.int_range(pl.len()) == pl.len() - 1))
            if curve.height:
                axes.plot(curve.get_column("date").to_list(), curve.get_column("equity").to_list(), label=name,
                          linewidth=1.0 if name != "benchmark" else 1.4,
                          color="black" if name == "benchmark" else None)
        axes.set_yscale("log")
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, linewidth=0.3)
        axes.legend(fontsize=6, loc="upper left", frameon=False)
        figure.tight_layout()
        rendered = io.BytesIO()
        figure.savefig(rendered, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    # A 64-colour palette PNG is ~4x smaller than matplotlib's RGBA one and looks the same for line charts;
    # the picture is stored in the event log of every materialization that shows it.
    rendered.seek(0)
    small = io.BytesIO()
    Image.open(rendered).convert("RGB").quantize(colors=64).save(small, format="PNG", optimize=True)
    return small.getvalue()


def markdown_image(png: bytes, alt: str = "equity curves") -> str:
    """The PNG inlined as a markdown image (data URI), which the Dagster UI renders in metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
