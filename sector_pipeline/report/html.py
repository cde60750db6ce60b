"""The self-contained HTML report of one date: pictures inline (base64 PNG), interactive charts as inline SVG with
one inline script (interactive.py), inline CSS, nothing external.

Every text that comes from data (sector names, alert messages, readings, paths) goes through `esc`.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import polars as pl

from sector_pipeline.report import interactive, marts
from sector_pipeline.report.figures import is_synthetic, source_text
from sector_pipeline.report.heatmaps import SENTIMENT_BAND, SENTIMENT_EXTREME
from sector_pipeline.report.marts import Queryable
from sector_pipeline.report.pictures import CHARTS, HEATMAPS, HeatmapView, Picture, heatmap_view, render_picture

RECENT_SESSIONS = 20
TOP_N = 3


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows for one date, read from the marts."""

    date: dt.date
    source: str | None
    database: str
    overview: dict[str, object]
    sentiment: pl.DataFrame
    alerts_today: pl.DataFrame
    alerts_recent: pl.DataFrame
    recent_from: dt.date
    sectors: pl.DataFrame
    pictures: dict[str, Picture] = field(default_factory=dict)
    heatmaps: dict[str, HeatmapView] = field(default_factory=dict)   # the interactive versions' data
    rotation_history: pl.DataFrame | None = None                     # the rotation explorer's points
    rotation_frequency: str = "weekly"
    strategy: StrategyInputs | None = None


@dataclass(frozen=True)
class StrategyInputs:
    """The strategy section: each book's performance to date, latest weights, and the signals' skill."""

    performance: pl.DataFrame   # marts.strategy_performance as of the date, one row per book
    weights: pl.DataFrame       # each book's last decision on or before the date (marts.allocations)
    skill: pl.DataFrame         # each signal's latest marts.skill row


def collect_strategy(db: Queryable, date: dt.date) -> StrategyInputs:
    return StrategyInputs(performance=marts.performance_on(db, date), weights=marts.latest_allocations(db, date),
                          skill=marts.skill_on(db, date))


def collect(db: Queryable, date: dt.date, *, database: str = "", recent_sessions: int = RECENT_SESSIONS,
            rotation_frequency: str = "weekly") -> ReportInputs:
    """Read and render everything for `date`; a date that is not a session of the marts raises ReportDataError."""
    marts.require_session(db, date)
    overview = marts.market_overview_on(db, date).row(0, named=True)
    days = marts.sessions_up_to(db, date, recent_sessions + 1)
    recent_from = days[0]
    views = {name: heatmap_view(name, db, date) for name in HEATMAPS}
    pictures = {name: view.render() for name, view in views.items()}
    pictures.update({name: render_picture(name, db, date, rotation_frequency=rotation_frequency) for name in CHARTS})
    return ReportInputs(
        date=date,
        source=overview.get("source"),
        database=database,
        overview=overview,
        sentiment=marts.sentiment_between(db, date, date),
        alerts_today=marts.alerts_between(db, date, date),
        alerts_recent=marts.alerts_between(db, recent_from, date - dt.timedelta(days=1)),
        recent_from=recent_from,
        sectors=marts.sector_table_on(db, date),
        pictures=pictures,
        heatmaps=views,
        rotation_history=marts.rotation_history(db, date, frequency=rotation_frequency,
                                                points=interactive.RRG_POINTS),
        rotation_frequency=rotation_frequency,
        strategy=collect_strategy(db, date),
    )


# --- formatting -----------------------------------------------------------------------------------------


def _num(fmt: str) -> Callable[[object], str]:
    return lambda v: "n/a" if v is None else fmt.format(v)


def _table(frame: pl.DataFrame, columns: Sequence[tuple[str, str, Callable[[object], str] | None]], *,
           css_class: str = "", row_class: Callable[[dict], str] | None = None, empty: str = "none") -> str:
    """An HTML table of `frame`: columns = (column, header, formatter); every cell escaped."""
    if frame.is_empty():
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(header)}</th>" for _, header, _ in columns)
    body = []
    for row in frame.iter_rows(named=True):
        cells = []
        for column, _, fmt in columns:
            value = row.get(column)
            text = fmt(value) if fmt else ("n/a" if value is None else str(value))
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f'<td class="{"num" if numeric else ""}">{esc(text)}</td>')
        cls = row_class(row) if row_class else ""
        body.append(f'<tr class="{esc(cls)}">' + "".join(cells) + "</tr>")
    return f'<table class="{esc(css_class)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _figure(picture: Picture, caption: str) -> str:
    return (f'<figure><img src="{picture.data_uri()}" alt="{esc(picture.title)} {esc(picture.date)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _static(picture: Picture) -> str:
    """The PNG of an interactive chart, folded: the same picture as on the Dagster asset, for printing or mail."""
    return (f"<details><summary>Static picture (PNG, as on the Dagster asset)</summary>"
            f'<img src="{picture.data_uri()}" alt="{esc(picture.title)} {esc(picture.date)}"></details>')


def _interactive_heatmap(view: HeatmapView, picture: Picture, caption: str) -> str:
    return (f'<figure class="interactive"><div class="chart-title">{esc(view.title)}: {esc(view.date)}</div>'
            f"{interactive.heatmap_svg(view)}"
            f"<figcaption>{esc(caption)} Hover a cell for its value.</figcaption>{_static(picture)}</figure>")


ALERT_COLUMNS = [
    ("date", "date", None),
    ("tier", "tier", None),
    ("alert_type", "type", None),
    ("dimension", "dimension", lambda v: v or "all sectors"),
    ("value", "value", _num("{:+.3f}")),
    ("threshold", "threshold", _num("{:.3f}")),
    ("message", "message", None),
]
SECTOR_COLUMNS = [
    ("composite_rank", "rank", _num("{:.0f}")),
    ("ticker", "ticker", None),
    ("sector", "sector", None),
    ("composite_score", "composite score (z)", _num("{:+.2f}")),
    ("relative_strength_change_20d_pct", "RS vs SPY, 20D change", _num("{:+.2f} %")),
    ("sri_total_score", "SRI total (0-400)", _num("{:.0f}")),
    ("sri_rank", "SRI rank", _num("{:.0f}")),
    ("rs_ratio", "RS-Ratio", _num("{:.2f}")),
    ("rs_momentum", "RS-Momentum", _num("{:.2f}")),
]
PERFORMANCE_COLUMNS = [
    ("book", "book", None),
    ("total_return_pct", "total return", _num("{:+.1f} %")),
    ("cagr_pct", "CAGR", _num("{:+.1f} %")),
    ("annualised_volatility_pct", "volatility", _num("{:.1f} %")),
    ("sharpe", "Sharpe", _num("{:+.2f}")),
    ("max_drawdown_pct", "max drawdown", _num("{:.1f} %")),
    ("average_annual_turnover", "turnover / year", _num("{:.2f}")),
    ("total_cost_pct", "costs", _num("{:.2f} %")),
    ("hit_rate_vs_benchmark", "sessions beating SPY", _num("{:.0%}")),
]
SKILL_COLUMNS = [
    ("signal", "signal", lambda v: {"model": "model (prediction_strength)", "momentum": "momentum baseline",
                                    "composite": "composite baseline"}.get(v, v)),
    ("ic_mean", "mean rank IC", _num("{:+.3f}")),
    ("ic_t_stat_non_overlapping", "IC t-stat (non-overlapping)", _num("{:+.2f}")),
    ("non_overlapping_dates", "non-overlapping periods", _num("{}")),
    ("ic_t_stat", "IC t-stat (daily, overlapping)", _num("{:+.2f}")),
    ("hit_rate_pooled", "hit rate", _num("{:.0%}")),
    ("dates_evaluated", "dates evaluated", _num("{}")),
    ("date", "as of", None),
]
SENTIMENT_COLUMNS = [
    ("label", "dimension", None),
    ("score", "score", _num("{:+.3f}")),
    ("band", f"band (±{SENTIMENT_BAND:g})", None),
    ("interpretation", "reading", None),
    ("top_contributors", "top contributors", None),
]

CAPTIONS = {
    "sector_returns": "Total return per window in %. Each column has its own colour limit (shown in its header), "
                      "centred on 0 %: red below, green above. Rows sorted by the 20-session return.",
    "relative_strength_change_20d": "Change of sector price / SPY price over 20 sessions, %, last 60 sessions. "
                                    "Diverging scale centred on 0 with symmetric limits (98th percentile of |value|).",
    "composite_score": "Weighted z-score of 5/20/60-session relative performance (0 = cross-sectional average), "
                       "last 60 sessions; diverging scale centred on 0.",
    "sri_total": "Sector Rotation Index total (0-400), last 60 sessions; diverging scale centred on 200, the "
                 "neutral middle (every component at 50).",
    "sentiment": "The four sentiment scores, last 120 sessions, fixed scale -1..+1 (the colour bar marks the "
                 f"±{SENTIMENT_BAND:g} bands).",
    "sentiment_gauges": f"Each dimension's score on -1..+1 with the ±{SENTIMENT_BAND:g} bands (red negative, grey "
                        f"neutral, green positive) and the ±{SENTIMENT_EXTREME:g} extreme lines.",
    "rotation_graph": "RS-Ratio (x) against RS-Momentum (y), both centred on 100; tails show the last 5 points, "
                      "the big dot is the latest.",
    "rotation_explorer": "RS-Ratio (x) against RS-Momentum (y), both centred on 100, on a window that holds every "
                         "point of the year: move the slider (or press play) to see the rotation week by week; "
                         "tails show the last 5 points, hover a dot for its values.",
    "equity_drawdown": "Equity of each book from the same start (on a log scale once it spans more than a factor "
                       "of 3) and its drawdown from the running peak, in %. Decisions at a close trade at the next "
                       "close; costs included.",
}

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:16px 24px;color:#1d1d1d;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}
.synthetic{background:#fde8ec;border:2px solid #b00020;color:#b00020;font-weight:bold;padding:8px 12px;
border-radius:4px;margin:8px 0}
.source{color:#333;margin:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #ddd;border-radius:4px;padding:8px 12px;min-width:140px}
.card .k{font-size:.8em;color:#555}.card .v{font-size:1.2em;font-weight:bold}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
table.alerts td:first-child{white-space:nowrap}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.CRITICAL td:nth-child(2){color:#fff;background:#b00020;font-weight:bold}
tr.HIGH td:nth-child(2){background:#f4a261;font-weight:bold}
tr.MEDIUM td:nth-child(2){background:#ffe08a}
tr.top td{background:#eef8ee}tr.bottom td{background:#fbeeee}
figure{margin:12px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444}
.empty{color:#555;font-style:italic}
.two{display:flex;flex-wrap:wrap;gap:24px}.two>div{flex:1 1 420px}
footer{margin-top:2em;font-size:.8em;color:#666;border-top:1px solid #ddd;padding-top:.5em}
.chart-title{font-weight:bold;margin:4px 0}details summary{cursor:pointer;color:#333;font-size:.9em}
.skill-reading{border-left:4px solid #b26b00;background:#fff6e5;padding:6px 10px;margin:8px 0}
""" + interactive.CSS


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{value:+.2f} %"


def _cards(overview: dict[str, object]) -> str:
    o = overview
    items = [
        (f"{o.get('benchmark') or 'benchmark'} 1D", _pct(o.get("benchmark_return_1d_pct"))),
        (f"{o.get('benchmark') or 'benchmark'} 20D", _pct(o.get("benchmark_return_20d_pct"))),
        (f"{o.get('benchmark') or 'benchmark'} YTD", _pct(o.get("benchmark_return_ytd_pct"))),
        ("sectors up today", f"{o.get('sectors_up_1d', 'n/a')} of {o.get('sectors_with_return_1d', 'n/a')}"),
        ("sectors ranked", "n/a" if o.get("sectors_ranked") is None else str(o.get("sectors_ranked"))),
        ("alerts today (C / H / M)",
         f"{o.get('critical_alerts', 0)} / {o.get('high_alerts', 0)} / {o.get('medium_alerts', 0)}"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>' for k, v in items
    ) + "</div>"


def _weights_table(weights: pl.DataFrame) -> str:
    """Sectors x books: each book's latest target weight in %, its decision date in the header."""
    if weights.is_empty():
        return '<p class="empty">no allocation yet: the model trains after about a year of history</p>'
    books = [b for b in marts.BOOKS if b in set(weights.get_column("book").to_list())]
    decided = dict(weights.group_by("book").agg(pl.col("date").max()).iter_rows())
    sectors = weights.select("ticker", "sector").unique(subset="ticker").sort("ticker")
    by_cell = {(r["book"], r["ticker"]): r["weight"] for r in weights.iter_rows(named=True)}
    head = "<th>ticker</th><th>sector</th>" + "".join(
        f"<th>{esc(b)}<br><small>{esc(decided[b])}</small></th>" for b in books)
    body = []
    for ticker, sector in sectors.iter_rows():
        cells = "".join(f'<td class="num">{esc(_num("{:.1%}")(by_cell.get((b, ticker))))}</td>' for b in books)
        body.append(f'<tr><td class="">{esc(ticker)}</td><td class="">{esc(sector)}</td>{cells}</tr>')
    return f'<table class="weights"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _strategy_section(inputs: ReportInputs) -> list[str]:
    strategy = inputs.strategy
    parts = ["<h2>Strategy: predictions, allocations and backtest</h2>"]
    if strategy is None or (strategy.skill.is_empty() and strategy.performance.is_empty()
                            and strategy.weights.is_empty()):
        return [*parts, '<p class="empty">no strategy output yet: the walk-forward model trains after about a '
                        "year of history (strategy.min_training_dates), then the books and the backtest start</p>"]
    model = strategy.skill.filter(pl.col("signal") == "model") if not strategy.skill.is_empty() else strategy.skill
    periods = model.item(0, "non_overlapping_dates") if model.height else None
    t_stat = model.item(0, "ic_t_stat_non_overlapping") if model.height else None
    horizon = model.item(0, "horizon_sessions") if model.height else None
    parts += [
        "<h3>Out-of-sample skill of the model and its baselines</h3>",
        (f'<p class="skill-reading"><b>Model skill:</b> {esc(marts.skill_reading(periods, t_stat))}.</p>'),
        (f"<p>Rank IC: Spearman correlation across sectors between a signal and the sectors' forward "
         f"{esc(horizon or 'h')}-session return relative to SPY, measured only on dates after the model was "
         "trained. Daily ICs overlap (consecutive outcomes share most of their returns), so the t-stat of "
         "non-overlapping periods is the honest one.</p>"),
        _table(strategy.skill, SKILL_COLUMNS, css_class="skill", empty="no skill measured yet"),
        "<h3>Equity and drawdown</h3>",
    ]
    if "equity_drawdown" in inputs.pictures:
        parts.append(_figure(inputs.pictures["equity_drawdown"], CAPTIONS["equity_drawdown"]))
    as_of = strategy.performance.item(0, "date") if strategy.performance.height else None
    parts += [
        f"<h3>Performance from the start to {esc(as_of or inputs.date)}</h3>",
        _table(strategy.performance, PERFORMANCE_COLUMNS, css_class="performance", empty="no backtest yet"),
        "<h3>Current weights per book</h3>",
        ("<p>Target weights of each book's latest decision (the header gives its date): <b>model</b> and "
         "<b>composite</b> follow seed article 000's rule (top third +5 points up to the cap, bottom third -5 points "
         "down to 1 %, middle toward equal weight), <b>momentum_top3</b> holds the top 3 by 60-session "
         "momentum, <b>equal_weight</b> 1/N.</p>"),
        _weights_table(strategy.weights),
    ]
    return parts


def render_html(inputs: ReportInputs, *, generated_at: dt.datetime | None = None) -> str:
    """The report as one HTML string (no external resource)."""
    generated = (generated_at or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    d = inputs.date.isoformat()
    ranked = inputs.sectors.filter(pl.col("composite_rank").is_not_null())
    top = ranked.head(TOP_N)
    bottom = ranked.tail(TOP_N).reverse() if ranked.height > TOP_N else ranked.clear()
    n_ranked = ranked.height
    unranked = inputs.sectors.filter(pl.col("composite_rank").is_null()).get_column("ticker").to_list()

    def sector_class(row: dict) -> str:
        rank = row.get("composite_rank")
        if rank is None:
            return ""
        return "top" if rank <= TOP_N else "bottom" if rank > n_ranked - TOP_N else ""

    p = inputs.pictures
    banner = (f'<div class="synthetic">{esc(source_text(inputs.source))}. Every number and picture in this '
              "report comes from the seeded synthetic market used for offline runs and tests.</div>"
              if is_synthetic(inputs.source) else f'<p class="source">{esc(source_text(inputs.source))}</p>')
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Sector rotation report {esc(d)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Sector rotation report: {esc(d)}</h1>",
        banner,
        f'<p class="source">Read-only from <code>{esc(inputs.database)}</code> (marts schema).</p>',
        "<h2>Market overview</h2>",
        _cards(inputs.overview),
        (f"<p>Leaders (composite rank 1-3): <b>{esc(inputs.overview.get('leaders') or 'n/a')}</b>; "
         f"laggards: <b>{esc(inputs.overview.get('laggards') or 'n/a')}</b>.</p>"),
        "<h2>Top and bottom sectors</h2>",
        '<div class="two"><div><h3>Top</h3>',
        _table(top, SECTOR_COLUMNS, css_class="sectors top-sectors", empty="no ranked sector on this date"),
        "</div><div><h3>Bottom</h3>",
        _table(bottom, SECTOR_COLUMNS, css_class="sectors bottom-sectors",
               empty="not enough ranked sectors on this date"),
        "</div></div>",
        (f"<p>Not ranked yet (warming up): {esc(', '.join(unranked))}.</p>" if unranked else ""),
        "<details><summary>All sectors</summary>",
        _table(inputs.sectors, SECTOR_COLUMNS, css_class="sectors all-sectors", row_class=sector_class,
               empty="no sector rows on this date"),
        "</details>",
        "<h2>Sentiment</h2>",
        _figure(p["sentiment_gauges"], CAPTIONS["sentiment_gauges"]),
        _table(inputs.sentiment, SENTIMENT_COLUMNS, css_class="sentiment",
               empty="no sentiment scores on this date (rankings still warming up)"),
        f"<h2>Alerts on {esc(d)}</h2>",
        _table(inputs.alerts_today, ALERT_COLUMNS, css_class="alerts alerts-today",
               row_class=lambda r: r["tier"], empty=f"no alert raised on {d}"),
        f"<h2>Recent alerts ({esc(inputs.recent_from.isoformat())} .. the session before {esc(d)})</h2>",
        _table(inputs.alerts_recent, ALERT_COLUMNS, css_class="alerts alerts-recent",
               row_class=lambda r: r["tier"], empty="no alert in the previous sessions"),
        *_strategy_section(inputs),
        "<h2>Heatmaps</h2>",
        *(_interactive_heatmap(inputs.heatmaps[name], p[name], CAPTIONS[name]) if name in inputs.heatmaps
          else _figure(p[name], CAPTIONS[name]) for name in HEATMAPS),
        "<h2>Relative rotation</h2>",
        *(((f"<figure class=\"interactive\">"
            f"{interactive.rotation_explorer(inputs.rotation_history, frequency=inputs.rotation_frequency)}"
            f"<figcaption>{esc(CAPTIONS['rotation_explorer'])}</figcaption>{_static(p['rotation_graph'])}"
            "</figure>"),) if inputs.rotation_history is not None
          else (_figure(p["rotation_graph"], CAPTIONS["rotation_graph"]),)),
        "<footer>",
        (f"Generated {esc(generated)} by <code>python -m sector_pipeline.report</code>. "
         "Colour scales: diverging maps are centred on zero with symmetric limits (the SRI total on 200); "
         "hatched grey cells marked n/a have no value yet (warming up, not ranked). See docs/report.md."),
        "</footer>",
        '<div id="tip" class="tip" hidden></div>',
        f"<script>{interactive.SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part)


def write_report(html_text: str, out: str | Path) -> Path:
    """Write atomically (temp file + rename): a reader never sees half a report."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html_text)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a report is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
