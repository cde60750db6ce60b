"""The code location's single entry point (workspace.yaml loads it): `dagster dev` in the repo root."""

import os

from sector_pipeline.defs import build_definitions
from sector_pipeline.settings import Settings

# A run over a partition range plans every asset of the run once per partition of the range, the unpartitioned
# ones included: 42 assets x 28 years = 1,176 "planned" events, about 30 s of SQLite bookkeeping before the
# first step of a backfill. With this Dagster setting each asset gets one planned event naming its partitions.
# Dagster's caveat: a partition of a failed run then shows as missing, not failed (the run itself shows the
# failure). Read when the run is created, i.e. in the process that loaded these definitions (the CLI); set it in
# the environment of `dagster dev` too for backfills launched from the UI (README).
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")

defs = build_definitions(Settings.from_env())
