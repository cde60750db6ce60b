"""The code location's single entry point (workspace.yaml loads it): `dagster dev` in the repo root."""

from sector_pipeline.defs import build_definitions
from sector_pipeline.settings import Settings

defs = build_definitions(Settings.from_env())
