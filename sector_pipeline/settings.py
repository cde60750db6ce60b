"""The one helper that turns the environment into settings; read once when the definitions load.

Environment variables (all optional):
  SECTOR_PIPELINE_SOURCE     synthetic (default) | yfinance | csv
  SECTOR_PIPELINE_UNIVERSE   path of a universe TOML file (default: the packaged S&P 500 sectors)
  SECTOR_PIPELINE_CSV_DIR    directory of the csv source
  SECTOR_PIPELINE_SEED       seed of the synthetic market (default 42)
  SECTOR_PIPELINE_WAREHOUSE  DuckDB file (default data/warehouse.duckdb, relative to the working directory)
  SECTOR_PIPELINE_PUBLISHED  folder of the published marts (default data/published)
  SECTOR_PIPELINE_REPORTS    folder of rendered heatmaps and reports (default data/reports)
  SECTOR_PIPELINE_SQL_DIR    SQL models directory (default: dbt_like_sql/ of this checkout)
  SECTOR_PIPELINE_ALERT_WEBHOOK  URL that receives new alerts as a JSON POST (default: none)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from sector_pipeline.errors import ConfigurationError
from sector_pipeline.universe import load_universe

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "SECTOR_PIPELINE_"


@dataclass(frozen=True)
class Settings:
    source: str = "synthetic"
    universe_path: str | None = None
    csv_dir: str | None = None
    seed: int = 42
    warehouse_path: str = "data/warehouse.duckdb"
    sql_dir: str = str(PROJECT_ROOT / "dbt_like_sql")
    alert_webhook_url: str | None = None
    published_dir: str = "data/published"
    reports_dir: str = "data/reports"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        seed_text = env.get(PREFIX + "SEED", "42")
        try:
            seed = int(seed_text)
        except ValueError as exc:
            raise ConfigurationError(f"{PREFIX}SEED must be a whole number, got {seed_text!r}") from exc
        settings = cls(
            source=env.get(PREFIX + "SOURCE", "synthetic").strip().lower(),
            universe_path=env.get(PREFIX + "UNIVERSE") or None,
            csv_dir=env.get(PREFIX + "CSV_DIR") or None,
            seed=seed,
            warehouse_path=env.get(PREFIX + "WAREHOUSE", cls.warehouse_path),
            sql_dir=env.get(PREFIX + "SQL_DIR", cls.sql_dir),
            alert_webhook_url=env.get(PREFIX + "ALERT_WEBHOOK") or None,
            published_dir=env.get(PREFIX + "PUBLISHED", cls.published_dir),
            reports_dir=env.get(PREFIX + "REPORTS", cls.reports_dir),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Fail now, with a clear message, rather than at the first run: bad universe, webhook or SQL dir.

        The source and its settings are checked where its resource is chosen (defs.resources).
        """
        load_universe(self.universe_path)
        if self.alert_webhook_url and not self.alert_webhook_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"{PREFIX}ALERT_WEBHOOK must be an http(s) URL, got {self.alert_webhook_url!r}")
        if not Path(self.sql_dir).is_dir():
            raise ConfigurationError(f"SQL models directory {self.sql_dir} does not exist")
