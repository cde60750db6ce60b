"""Signals: features, composite rankings, sentiment, alerts, the Sector Rotation Index, relative rotation.

Pure Polars functions (frames in, frame out, no Dagster). Each takes the full stored history up to the
end of the window it is asked for and uses past data only, so a date's value never depends on how many
dates are computed in one run (docs/signals.md).
"""
