"""How well the signals find the regimes planted in the synthetic market, over 1999-2026, for several seeds.

    python benchmarks/regime_detection.py            # seeds 42 and 7
    python benchmarks/regime_detection.py 1 2 3

Runs the pure signal functions (features -> rankings -> sentiment -> alerts) on the whole synthetic
history and prints the figures of sector_pipeline.signals.evaluation.regime_detection per seed.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from sector_pipeline.ingest.load import Window, daily_regimes
from sector_pipeline.signals.alerts import detect_alerts
from sector_pipeline.signals.evaluation import as_staging, regime_detection, sentiment_signals
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.universe import load_universe


def evaluate(seed: int, start: dt.date = dt.date(1999, 1, 4), end: dt.date = dt.date(2026, 11, 21)) -> dict[str, float]:
    universe = load_universe()
    source = SyntheticSource(universe, seed=seed)
    window = Window.of(start, end)
    rankings, _, scores = sentiment_signals(as_staging(source.fetch_prices(universe.instruments, start, end)),
                                            universe)
    frames = detect_alerts(scores.lazy(), rankings.lazy(), universe.characteristics())
    alerts, conditions = frames.alerts.collect(), frames.conditions.collect()
    regimes = daily_regimes(source.regimes(start, end), window, source.name)
    report = regime_detection(scores, alerts, regimes, conditions=conditions)
    # HIGH alerts read 10-session means of scores built on 60-session performance: they come weeks after a
    # switch, so detection is also measured over 60 sessions (docs/signals.md)
    later = regime_detection(scores, alerts, regimes, horizon=60)
    report.update({f"{name}_60": later[name] for name in ("high_detection", "high_false_alarm", "high_detection_chance")
                   if name in later})
    for tier, count in alerts.group_by("tier").len().iter_rows():
        report[f"alerts_{tier}"] = float(count)
    return report


def main() -> int:
    seeds = [int(a) for a in sys.argv[1:]] or [42, 7]
    reports = {}
    for seed in seeds:
        started = time.perf_counter()
        reports[seed] = evaluate(seed)
        print(f"seed {seed}: computed in {time.perf_counter() - started:.1f} s")
    names = sorted({k for r in reports.values() for k in r})
    print(f"{'figure':52s}" + "".join(f"{'seed ' + str(s):>10s}" for s in seeds))
    for name in names:
        print(f"{name:52s}" + "".join(f"{reports[s].get(name, float('nan')):10.3f}" for s in seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
