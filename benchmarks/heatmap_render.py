"""CPU seconds per heatmap picture, and what importing the definitions costs: run by hand, before and after a
change to the rendering.

    python -m benchmarks.heatmap_render WAREHOUSE.duckdb [--repeat 3]

Reads the marts of a warehouse (any run that materialized the marts), renders each picture of the
`heatmaps` group for the latest session `repeat` times and prints the CPU seconds of the first render (which
pays matplotlib's import and font loading) and the median of the others. A separate interpreter measures the
import of `sector_pipeline.definitions` and says whether it loaded matplotlib.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

IMPORT_PROBE = (
    "import sys, time; t = time.process_time(); import sector_pipeline.definitions; "
    "print(round(time.process_time() - t, 2), 'matplotlib' in sys.modules)"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    probe = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
    seconds, loaded = probe.stdout.split()
    print(f"import sector_pipeline.definitions: {seconds} CPU-s, matplotlib imported: {loaded}")

    from sector_pipeline.report.marts import MartsReader, available_dates
    from sector_pipeline.report.pictures import HEATMAPS, render_picture

    with MartsReader(args.warehouse) as reader:
        bounds = available_dates(reader)
        if bounds is None:
            raise SystemExit(f"{args.warehouse} holds no marts")
        date = bounds[1]
        total_first = total_median = 0.0
        print(f"pictures of {date}: first render (imports, fonts) / median of the next {args.repeat - 1}, CPU-s")
        for name in HEATMAPS:
            times, size = [], 0
            for _ in range(args.repeat):
                start = time.process_time()
                size = len(render_picture(name, reader, date).png)
                times.append(time.process_time() - start)
            median = statistics.median(times[1:]) if len(times) > 1 else times[0]
            total_first += times[0]
            total_median += median
            print(f"  {name:30s} {times[0]:6.2f} {median:6.2f}   {size / 1024:6.1f} KB")
        print(f"  {'total':30s} {total_first:6.2f} {total_median:6.2f}")


if __name__ == "__main__":
    main()
