"""`python -m sector_pipeline.report --date 2024-06-28 [--published DIR | --warehouse FILE] [--out FILE]`

Writes a self-contained HTML report of one date (heatmaps, sentiment gauges, alerts, top and bottom sectors,
rotation graph), read-only from the published marts by default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from sector_pipeline.report import marts
from sector_pipeline.report.html import (
    RECENT_SESSIONS,
    collect,
    render_html,
    write_report,
)
from sector_pipeline.settings import PREFIX, Settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date like 2024-06-28, got {text!r}") from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sector_pipeline.report",
        description="Self-contained HTML report of one date from the sector rotation marts.")
    parser.add_argument("--date", type=_date, help="session to report (default: the latest available)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--published", metavar="DIR",
                       help=f"folder of the published marts (default: ${PREFIX}PUBLISHED or "
                            f"{Settings.published_dir})")
    where.add_argument("--warehouse", metavar="FILE",
                       help="read the pipeline's DuckDB warehouse instead (read-only; fails while a run writes)")
    parser.add_argument("--out", metavar="FILE", help="HTML file (default: data/reports/report_<date>.html)")
    parser.add_argument("--recent-sessions", type=int, default=RECENT_SESSIONS,
                        help=f"sessions of recent alerts before the date (default {RECENT_SESSIONS})")
    parser.add_argument("--rotation-frequency", choices=("weekly", "daily"), default="weekly",
                        help="points of the rotation graph (default weekly)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.warehouse:
            reader = marts.MartsReader(args.warehouse)
        else:
            directory = args.published or os.environ.get(PREFIX + "PUBLISHED", Settings.published_dir)
            reader = marts.MartsReader.published(directory)
        with reader:
            date = args.date
            if date is None:
                bounds = marts.available_dates(reader)
                if bounds is None:
                    raise marts.ReportDataError(f"{reader.path} holds no sessions in marts.market_overview")
                date = bounds[1]
            inputs = collect(reader, date, database=str(reader.path), recent_sessions=args.recent_sessions,
                             rotation_frequency=args.rotation_frequency)
    except marts.ReportDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"data/reports/report_{date.isoformat()}.html")
    path = write_report(render_html(inputs), out)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB) for {date.isoformat()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
