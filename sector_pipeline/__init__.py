"""sector_pipeline: S&P 500 sector rotation analytics as Dagster software-defined assets."""

__version__ = "0.1.0"
