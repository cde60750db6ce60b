"""Contracts of the bookkeeping tables: the incremental assets' change log, the alert outbox, the publication
manifest."""

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts.core import table_config
from sector_pipeline.vocabulary import ALERT_TYPES, DELIVERY_STATES, DIMENSIONS, TIERS


class TableChanges(pa.DataFrameModel):
    """One row per write that changed a table: which dates changed, for the assets that read the table."""

    seq: int = pa.Field(ge=1, description="Order of the write, 1, 2, ... across all tables")
    table_name: str = pa.Field(description="The table written (schema.table)")
    changed_from: dt.date = pa.Field(description="First date whose rows differ from what was stored")
    changed_through: dt.date = pa.Field(description="Last such date")
    rows_written: int = pa.Field(ge=0, description="Rows the write inserted")
    run_id: str = pa.Field(description="The Dagster run that wrote them")
    written_at: pl.Datetime("us", "UTC") = pa.Field(description="When (TIMESTAMP WITH TIME ZONE)")

    Config = table_config("meta.table_changes", "seq")


class ConsumedChanges(pa.DataFrameModel):
    """For each asset and each of its inputs, the last change of the input the asset has read."""

    consumer: str = pa.Field(description="The reading asset's table (or asset) name")
    input_table: str = pa.Field(description="The input table")
    seq: int = pa.Field(ge=0, description=(
        "The input's last change (meta.table_changes.seq) already consumed; 0: the input had none yet"))

    Config = table_config("meta.consumed_changes", "consumer", "input_table")


class PublishManifest(pa.DataFrameModel):
    """What a publication holds (in the published copy only): one row per marts table or view."""

    published_at: pl.Datetime("us", "UTC") = pa.Field(description="When the copy was written")
    run_id: str = pa.Field(description="The Dagster run that published it")
    object_name: str = pa.Field(description="marts table or view name")
    object_type: str = pa.Field(isin=["table", "view"], description="table or view")
    row_count: int = pa.Field(ge=0, description="Rows in the object when published")
    min_date: Optional[dt.date] = pa.Field(nullable=True, description="First date in the object")
    max_date: Optional[dt.date] = pa.Field(nullable=True, description="Last date in the object")

    Config = table_config("marts.publish_manifest", "object_name")


class AlertOutbox(pa.DataFrameModel):
    """Every alert's webhook delivery state (sector_pipeline/notify.py): sent once accepted, resent until then."""

    alert_id: str = pa.Field(description="Stable id of the alert: a hash of its date, type and dimension")
    date: dt.date = pa.Field(description="The session the alert's condition started (signals.alerts.date)")
    tier: str = pa.Field(isin=list(TIERS), description="CRITICAL, HIGH or MEDIUM")
    alert_type: str = pa.Field(isin=list(ALERT_TYPES), description="The alert's type (signals.alerts.alert_type)")
    dimension: Optional[str] = pa.Field(isin=list(DIMENSIONS), nullable=True,
                                        description="The sentiment dimension; NULL for rotation velocity")
    state: str = pa.Field(isin=list(DELIVERY_STATES),
                          description="pending, delivered, 'not sent: too old' or withdrawn")
    attempts: int = pa.Field(ge=0, description="POSTs that carried this alert, over all runs")
    last_error: Optional[str] = pa.Field(nullable=True, description="Why the last attempt failed (NULL once delivered)")
    queued_at_utc: pl.Datetime("us") = pa.Field(description="When the alert entered the outbox (UTC)")
    last_attempt_at_utc: Optional[pl.Datetime("us")] = pa.Field(nullable=True, description="Last POST (UTC)")
    delivered_at_utc: Optional[pl.Datetime("us")] = pa.Field(nullable=True,
                                                             description="When the hook accepted it (UTC)")

    Config = table_config("signals.alert_outbox", "alert_id")


MODELS = (TableChanges, ConsumedChanges, AlertOutbox, PublishManifest)
