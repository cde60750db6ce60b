"""Prediction and allocation stage (seed article 000): walk-forward model, out-of-sample skill, allocation rule,
backtest.

Pure code (Polars frames in and out, numpy and scikit-learn at the edges), no Dagster; wired as assets in
sector_pipeline/defs/strategy_assets.py. docs/strategy.md has the definitions and the measured figures.
"""
