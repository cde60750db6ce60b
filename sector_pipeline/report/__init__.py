"""Pictures and the HTML report of the marts: heatmaps, sentiment gauges, rotation graph. No Dagster.

- `marts.py`     read-only loaders (published copy or warehouse)
- `heatmaps.py`  matrix data-prep and heatmap rendering (PNG bytes)
- `charts.py`    sentiment gauges and the relative rotation graph
- `pictures.py`  named pictures of a date, shared by the Dagster assets and the report
- `html.py`      the self-contained HTML report; `python -m sector_pipeline.report --help`
"""
