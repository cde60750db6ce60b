"""The report's interactive charts: heatmaps that show each cell's value on hover, and the relative rotation
graph with its tails and a date slider.

Plain inline SVG plus one small script written for this report (`SCRIPT`): no charting library, no CDN,
nothing fetched, so the HTML file works offline and from a mail attachment. The heatmaps are drawn in Python
from the same matrix and the same colour scale as the static PNG (`pictures.HeatmapView`); the rotation graph
is drawn by the script from the points embedded as JSON, so that moving the slider redraws it.
Every text from the data is escaped (HTML attributes) or JSON-encoded with `<` written as `\\u003c`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Sequence

import numpy as np
import polars as pl

from sector_pipeline.report.charts import QUADRANTS, RRG_TAIL_POINTS, SECTOR_COLORS, rotation_limits
from sector_pipeline.report.figures import MISSING_FACE, text_color
from sector_pipeline.report.heatmaps import format_value
from sector_pipeline.report.pictures import HeatmapView

LABEL_WIDTH = 210          # px left of the cells for "XLC  Communication Services"
CELLS_WIDTH = 900          # px the cells of a heatmap may take
ROW_HEIGHT = 22
RRG_SIZE = 560             # px of the square rotation plot
RRG_POINTS = 52            # points of history the slider moves over (a year of weekly points)


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hex(rgba: Sequence[float]) -> str:
    r, g, b = (int(round(255 * c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _column_label(column: object) -> str:
    return column.isoformat() if isinstance(column, dt.date) else str(column)


def value_format(view: HeatmapView) -> str:
    if view.name == "sector_returns":
        return "{:+.1f}%"
    return view.spec.value_format if view.spec is not None else "{:+.2f}"


def heatmap_svg(view: HeatmapView) -> str:
    """The heatmap as an SVG grid: one rect per cell, coloured as in the PNG, its value in `data-t` for the hover.

    Rows and columns are those of the PNG (sorted the same way); missing cells are grey and say n/a.
    """
    matrix = view.matrix
    n_rows, n_cols = matrix.values.shape
    cell_w = max(6.0, min(64.0, CELLS_WIDTH / max(n_cols, 1)))
    top = 34 if view.name == "sector_returns" else 8
    bottom = 8 if view.name == "sector_returns" else 26
    width = LABEL_WIDTH + n_cols * cell_w + 70
    height = top + n_rows * ROW_HEIGHT + bottom
    rgba = view.colours()
    fmt = value_format(view)
    parts = [f'<svg class="hm" data-heatmap="{_attr(view.name)}" width="{width:.0f}" height="{height}" '
             f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{_attr(view.title)}">']
    for i, label in enumerate(matrix.row_labels):
        y = top + i * ROW_HEIGHT
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + ROW_HEIGHT * 0.68:.1f}" text-anchor="end">'
                     f"{_attr(label)}</text>")
        for j, column in enumerate(matrix.columns):
            value = matrix.values[i, j]
            shown = "n/a (no value yet)" if np.isnan(value) else format_value(fmt, float(value))
            fill = MISSING_FACE if np.isnan(value) else _hex(rgba[i, j])
            parts.append(f'<rect class="c" x="{LABEL_WIDTH + j * cell_w:.1f}" y="{y}" width="{cell_w:.1f}" '
                         f'height="{ROW_HEIGHT}" fill="{fill}" data-row="{_attr(matrix.rows[i])}" '
                         f'data-col="{_attr(_column_label(column))}" '
                         f'data-t="{_attr(f"{label}, {_column_label(column)}: {shown}")}"/>')
            if view.name == "sector_returns":   # wide cells: the value is printed, as in the PNG
                ink = "#555" if np.isnan(value) else text_color(tuple(rgba[i, j]))
                parts.append(f'<text class="v" x="{LABEL_WIDTH + (j + 0.5) * cell_w:.1f}" '
                             f'y="{y + ROW_HEIGHT * 0.68:.1f}" text-anchor="middle" fill="{ink}">'
                             f'{"n/a" if np.isnan(value) else _attr(shown)}</text>')
        last = matrix.values[i, -1] if n_cols else np.nan
        if view.name != "sector_returns":   # the pictured date's value, as printed right of the PNG
            parts.append(f'<text x="{LABEL_WIDTH + n_cols * cell_w + 6:.1f}" y="{y + ROW_HEIGHT * 0.68:.1f}">'
                         f'{"n/a" if np.isnan(last) else _attr(format_value(fmt, float(last)))}</text>')
    if view.name == "sector_returns":
        for j, column in enumerate(matrix.columns):
            parts.append(f'<text x="{LABEL_WIDTH + (j + 0.5) * cell_w:.1f}" y="{top - 10}" text-anchor="middle" '
                         f'font-weight="bold">{_attr(column)}</text>')
    else:
        every = max(1, round(80 / cell_w))   # a date label every ~80 px, counted back from the pictured date
        for j in range(n_cols - 1, -1, -every):
            parts.append(f'<text x="{LABEL_WIDTH + (j + 0.5) * cell_w:.1f}" y="{top + n_rows * ROW_HEIGHT + 16}" '
                         f'text-anchor="middle" class="small">{_attr(_column_label(matrix.columns[j])[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _json_for_script(payload: object) -> str:
    """JSON safe inside a <script> element: no `</script>` or `<!--` can be formed by the data."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def rotation_payload(history: pl.DataFrame, *, tail: int = RRG_TAIL_POINTS) -> dict[str, object]:
    """The rotation explorer's data: the dates, a square window around 100 holding every point, each sector's
    points aligned with the dates (null while it warms up) and its quadrant per date."""
    valid = history.filter(pl.col("rs_ratio").is_not_null() & pl.col("rs_momentum").is_not_null())
    dates = sorted(history.get_column("date").unique().to_list())
    index = {d: k for k, d in enumerate(dates)}
    sectors = []
    for k, ticker in enumerate(sorted(history.get_column("ticker").unique().to_list())):
        rows = history.filter(pl.col("ticker") == ticker)
        points: list[list[float] | None] = [None] * len(dates)
        quadrants: list[str | None] = [None] * len(dates)
        for row in rows.iter_rows(named=True):
            if row["rs_ratio"] is not None and row["rs_momentum"] is not None:
                points[index[row["date"]]] = [round(row["rs_ratio"], 3), round(row["rs_momentum"], 3)]
                quadrants[index[row["date"]]] = row.get("quadrant")
        names = rows.get_column("sector").drop_nulls()
        sectors.append({"ticker": ticker, "sector": names[-1] if names.len() else "",
                        "color": SECTOR_COLORS[k % len(SECTOR_COLORS)], "points": points, "quadrants": quadrants})
    return {"dates": [d.isoformat() for d in dates], "half": round(rotation_limits(valid), 3), "tail": tail,
            "quadrants": {name: [sx, sy, face, text] for name, (sx, sy, face, text) in QUADRANTS.items()},
            "sectors": sectors}


def rotation_explorer(history: pl.DataFrame, *, frequency: str = "weekly", tail: int = RRG_TAIL_POINTS) -> str:
    """The rotation graph with a date slider over `history` (rows of marts.relative_rotation, several dates)."""
    payload = rotation_payload(history, tail=tail)
    dates = payload["dates"]
    if not dates:
        return '<p class="empty">no rotation points yet: every sector is warming up</p>'
    last = len(dates) - 1
    return (
        f'<div class="rrg" data-frequency="{_attr(frequency)}">'
        '<div class="rrg-controls">'
        f'<label for="rrg-slider">{"week ending" if frequency == "weekly" else "session"}</label> '
        f'<input type="range" id="rrg-slider" min="0" max="{last}" value="{last}" step="1"> '
        f'<output id="rrg-date" for="rrg-slider">{_attr(dates[-1])}</output> '
        '<button type="button" id="rrg-play">play</button></div>'
        f'<div class="rrg-body"><svg id="rrg-svg" width="{RRG_SIZE}" height="{RRG_SIZE}" '
        f'viewBox="0 0 {RRG_SIZE} {RRG_SIZE}" role="img" aria-label="relative rotation graph"></svg>'
        '<ul id="rrg-legend" class="rrg-legend"></ul></div>'
        f'<script type="application/json" id="rrg-data">{_json_for_script(payload)}</script></div>'
    )


# The one script of the report: a tooltip for every element with data-t, and the rotation explorer.
SCRIPT = """
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  document.addEventListener("mousemove", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("[data-t]") : null;
    if (!target) { tip.hidden = true; return; }
    tip.textContent = target.getAttribute("data-t");
    tip.hidden = false;
    tip.style.left = (event.pageX + 14) + "px";
    tip.style.top = (event.pageY + 14) + "px";
  });

  var holder = document.getElementById("rrg-data");
  if (!holder) { return; }
  var data = JSON.parse(holder.textContent);
  var svg = document.getElementById("rrg-svg"), slider = document.getElementById("rrg-slider");
  var output = document.getElementById("rrg-date"), legend = document.getElementById("rrg-legend");
  var play = document.getElementById("rrg-play");
  var size = svg.viewBox.baseVal.width, pad = 58, inner = size - 2 * pad;
  var low = 100 - data.half, high = 100 + data.half;
  function x(v) { return pad + (v - low) / (high - low) * inner; }
  function y(v) { return pad + (high - v) / (high - low) * inner; }
  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\"": "&quot;"}[c];
    });
  }
  function fixed(v) { return v.toFixed(2); }

  function draw(i) {
    var parts = [], items = [];
    Object.keys(data.quadrants).forEach(function (name) {
      var q = data.quadrants[name], left = q[0] > 0 ? x(100) : pad, top = q[1] > 0 ? pad : y(100);
      parts.push('<rect x="' + left + '" y="' + top + '" width="' + inner / 2 + '" height="' + inner / 2 +
                 '" fill="' + q[2] + '"/>');
      parts.push('<text class="quadrant" x="' + (q[0] > 0 ? pad + inner - 6 : pad + 6) + '" y="' +
                 (q[1] > 0 ? pad + 16 : pad + inner - 8) + '" text-anchor="' + (q[0] > 0 ? "end" : "start") +
                 '" fill="' + q[3] + '">' + name.toUpperCase() + '</text>');
    });
    parts.push('<line x1="' + x(100) + '" y1="' + pad + '" x2="' + x(100) + '" y2="' + (pad + inner) +
               '" stroke="#666"/><line x1="' + pad + '" y1="' + y(100) + '" x2="' + (pad + inner) + '" y2="' +
               y(100) + '" stroke="#666"/>');
    [low, 100, high].forEach(function (v) {
      parts.push('<text class="small" x="' + x(v) + '" y="' + (pad + inner + 14) + '" text-anchor="middle">' +
                 fixed(v) + '</text><text class="small" x="' + (pad - 4) + '" y="' + (y(v) + 4) +
                 '" text-anchor="end">' + fixed(v) + '</text>');
    });
    parts.push('<text x="' + (pad + inner / 2) + '" y="' + (size - 8) + '" text-anchor="middle">RS-Ratio</text>' +
               '<text x="12" y="' + (pad + inner / 2) + '" text-anchor="middle" transform="rotate(-90 12 ' +
               (pad + inner / 2) + ')">RS-Momentum</text>');
    data.sectors.forEach(function (s) {
      var head = s.points[i];
      if (!head) {
        items.push('<li class="warming">' + esc(s.ticker) + " " + esc(s.sector) + ": no point yet</li>");
        return;
      }
      var tail = [];
      for (var k = Math.max(0, i - data.tail + 1); k <= i; k++) { if (s.points[k]) { tail.push(s.points[k]); } }
      parts.push('<polyline fill="none" stroke="' + s.color + '" stroke-width="1.5" stroke-opacity="0.75" points="' +
                 tail.map(function (p) { return x(p[0]) + "," + y(p[1]); }).join(" ") + '"/>');
      tail.slice(0, -1).forEach(function (p) {
        parts.push('<circle cx="' + x(p[0]) + '" cy="' + y(p[1]) + '" r="2.5" fill="' + s.color + '"/>');
      });
      var quadrant = s.quadrants[i] || "";
      var text = s.ticker + " " + s.sector + ", " + data.dates[i] + ": RS-Ratio " + fixed(head[0]) +
                 ", RS-Momentum " + fixed(head[1]) + (quadrant ? " (" + quadrant + ")" : "");
      parts.push('<circle class="head" cx="' + x(head[0]) + '" cy="' + y(head[1]) + '" r="6" fill="' + s.color +
                 '" stroke="#fff" data-ticker="' + esc(s.ticker) + '" data-rs-ratio="' + head[0] +
                 '" data-rs-momentum="' + head[1] + '" data-t="' + esc(text) + '"/>');
      parts.push('<text class="label" x="' + (x(head[0]) + 8) + '" y="' + (y(head[1]) - 6) + '" fill="' + s.color +
                 '">' + esc(s.ticker) + '</text>');
      items.push('<li data-ticker="' + esc(s.ticker) + '"><span class="swatch" style="background:' + s.color +
                 '"></span>' + esc(s.ticker) + " " + esc(s.sector) + (quadrant ? " (" + esc(quadrant) + ")" : "") +
                 "</li>");
    });
    svg.innerHTML = parts.join("");
    legend.innerHTML = items.join("");
    output.textContent = data.dates[i];
  }

  var timer = null;
  slider.addEventListener("input", function () { draw(Number(slider.value)); });
  play.addEventListener("click", function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
    if (Number(slider.value) >= data.dates.length - 1) { slider.value = 0; }
    play.textContent = "pause";
    timer = setInterval(function () {
      if (Number(slider.value) >= data.dates.length - 1) {
        clearInterval(timer); timer = null; play.textContent = "play"; return;
      }
      slider.value = Number(slider.value) + 1;
      draw(Number(slider.value));
    }, 400);
  });
  draw(Number(slider.value));
})();
"""

CSS = """
.tip{position:absolute;z-index:10;pointer-events:none;background:#222;color:#fff;padding:3px 7px;border-radius:3px;
font-size:12px;white-space:nowrap}
svg.hm{max-width:100%;height:auto;font-size:12px}svg.hm rect.c:hover{stroke:#000;stroke-width:1.5}
svg.hm text.v{pointer-events:none}
svg .small{font-size:10px;fill:#444}
.rrg-controls{margin:6px 0}.rrg-controls input{width:320px;vertical-align:middle}
.rrg-body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
#rrg-svg{font-size:12px;border:1px solid #eee}#rrg-svg .quadrant{font-weight:bold;font-size:13px}
#rrg-svg .label{font-weight:bold;font-size:11px}
.rrg-legend{list-style:none;padding:0;margin:0;font-size:.9em}.rrg-legend li{margin:2px 0}
.rrg-legend .warming{color:#777;font-style:italic}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:5px}
"""
