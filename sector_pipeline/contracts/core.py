"""A table's contract and the one check every table gets from it. Pure code: Polars and pandera, no Dagster.

A contract is what a stored table promises its readers: a description, its grain (the columns that name a
row), and per column a DuckDB type, a description, whether it may be NULL and the values it may take. It is
declared once, as a pandera model (Python-written tables) or as a .yml beside the SQL model (SQL tables), and
everything else is generated from it: the column list the code writes, the column schema the UI shows, and
`check_contract`, the blocking check of the table.

Why `check_contract` evaluates the rules itself instead of calling pandera's `validate`: pandera runs one
query per check, about 80 ms for a 30-column table of 500 rows (measured); a nightly run checks ~45 tables.
Here every rule of a table is one boolean expression and all of them run in one Polars pass (~1 ms on 500
rows). The rules are pandera's own objects, translated one by one (`_value_rule`); a rule that cannot be
translated (a custom pandera check) is evaluated by pandera on the same frame, so no rule is ever skipped.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pandera.polars as pa
import polars as pl

from sector_pipeline.errors import ConfigurationError


class ContractError(ConfigurationError):
    """A contract is missing or malformed (unknown table, bad .yml, unknown type or rule)."""


# DuckDB types and the Polars types DuckDB returns for them (and writes from them): one table both ways.
DUCKDB_TYPES: dict[str, pl.DataType] = {
    "DATE": pl.Date(),
    "VARCHAR": pl.String(),
    "DOUBLE": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "TINYINT": pl.Int8(),
    "BOOLEAN": pl.Boolean(),
    "VARCHAR[]": pl.List(pl.String()),
    "DOUBLE[]": pl.List(pl.Float64()),
    "TIMESTAMP": pl.Datetime("us"),
    # DuckDB returns a TIMESTAMPTZ in the session's time zone: any zone is the same instant (see _same_type).
    "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"),
}


def polars_type(duckdb_type: str) -> pl.DataType:
    try:
        return DUCKDB_TYPES[duckdb_type.strip().upper()]
    except KeyError:
        raise ContractError(f"unknown column type {duckdb_type!r}; known: {', '.join(DUCKDB_TYPES)}") from None


def duckdb_type(dtype: pl.DataType) -> str:
    for name, known in DUCKDB_TYPES.items():
        if _same_type(dtype, known):
            return name
    raise ContractError(f"no DuckDB type for Polars type {dtype}")


def _type_name(dtype: pl.DataType) -> str:
    try:
        return duckdb_type(dtype)
    except ContractError:
        return str(dtype)


def _same_type(actual: pl.DataType, expected: pl.DataType) -> bool:
    if isinstance(expected, pl.Datetime) and isinstance(actual, pl.Datetime):
        return actual.time_unit == expected.time_unit and (actual.time_zone is None) == (expected.time_zone is None)
    return actual == expected


@dataclass(frozen=True)
class Contract:
    """What a stored table promises; `schema` holds the columns (type, nullable, rules, description)."""

    table: str
    description: str
    schema: pa.DataFrameSchema
    grain: tuple[str, ...]
    # False where a repeated grain is a fact worth keeping, not an error: raw tables store rows as received
    # (validation quarantines the duplicates), the quarantine keeps every rejected copy.
    grain_unique: bool = True
    # Raw tables store what the source sent, NaN included; every other float column holds NULL, never NaN or
    # infinity, where a value is not defined (docs/signals.md).
    allows_nan: bool = False
    materialized: str = "table"
    declared_in: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.columns)

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        """{column: Polars type}: what the code writes (`frame.cast(contract.polars_schema)`)."""
        return {name: column_dtype(column) for name, column in self.schema.columns.items()}

    def description_of(self, column: str) -> str:
        return self.schema.columns[column].description or ""

    def column_schema(self) -> list[tuple[str, str, str]]:
        """(name, DuckDB type, description) per column, in table order: the column schema of the UI."""
        return [(name, duckdb_type(column_dtype(column)), column.description or "")
                for name, column in self.schema.columns.items()]


def column_dtype(column: pa.Column) -> pl.DataType:
    """The Polars type of a pandera column."""
    dtype = column.dtype.type  # pandera's polars engine wraps the Polars type
    return dtype() if isinstance(dtype, type) else dtype


def table_config(name: str, *grain: str, grain_unique: bool = True, allows_nan: bool = False) -> type:
    """The pandera Config of a contract's model: `Config = table_config("signals.features", "date", "ticker")`.

    A unique grain is pandera's own Config.unique (so `Model.validate` enforces it too); a grain that may repeat
    (raw tables, the quarantine) and the raw tables' NaN go in Config.metadata.
    """
    metadata = {"allows_nan": allows_nan}
    if grain_unique:
        return type("Config", (), {"name": name, "unique": list(grain), "metadata": metadata})
    return type("Config", (), {"name": name, "metadata": {**metadata, "grain": list(grain)}})


def from_model(model: type[pa.DataFrameModel]) -> Contract:
    """The contract of a pandera model whose Config comes from `table_config`."""
    schema = model.to_schema()
    metadata = model.__config__.metadata or {}  # pandera keeps Config.metadata on the model, not the schema
    unique = tuple(schema.unique or ())
    grain = unique or tuple(metadata.get("grain", ()))
    if not schema.name or "." not in schema.name or not grain:
        raise ContractError(f"{model.__name__}: its Config must name the table (schema.table) and its grain")
    return Contract(table=schema.name, description=" ".join((schema.description or "").split()),
                    schema=schema, grain=grain, grain_unique=bool(unique),
                    allows_nan=bool(metadata.get("allows_nan", False)),
                    declared_in=f"{model.__module__}.{model.__name__}")


@dataclass(frozen=True)
class ContractCheck:
    """The verdict of `check_contract`: failing_rows has a `reason` column, then the frame's columns."""

    passed: bool
    failing_rows: pl.DataFrame
    summary: str
    rows_checked: int = 0
    failures: Mapping[str, int] = field(default_factory=dict)  # reason -> rows (or 1 for a structural one)


# Pandera's built-in checks and the Polars test each stands for: (statistics) -> (column -> passes).
_TRANSLATED: dict[str, Callable[..., Callable[[pl.Expr], pl.Expr]]] = {
    "greater_than": lambda min_value: lambda c: c > min_value,
    "greater_than_or_equal_to": lambda min_value: lambda c: c >= min_value,
    "less_than": lambda max_value: lambda c: c < max_value,
    "less_than_or_equal_to": lambda max_value: lambda c: c <= max_value,
    "equal_to": lambda value: lambda c: c == value,
    "not_equal_to": lambda value: lambda c: c != value,
    "in_range": lambda min_value, max_value, include_min=True, include_max=True: lambda c: c.is_between(
        min_value, max_value, closed={(True, True): "both", (True, False): "left", (False, True): "right",
                                      (False, False): "none"}[(include_min, include_max)]),
    "isin": lambda allowed_values: lambda c: c.is_in(list(allowed_values)),
    "notin": lambda forbidden_values: lambda c: ~c.is_in(list(forbidden_values)),
    "str_length": lambda min_value=None, max_value=None, exact_value=None: lambda c: c.str.len_chars().is_between(
        exact_value if exact_value is not None else (min_value if min_value is not None else 0),
        exact_value if exact_value is not None else (max_value if max_value is not None else 2**62)),
}
_SHORT = {"greater_than": "gt", "greater_than_or_equal_to": "ge", "less_than": "lt", "less_than_or_equal_to": "le",
          "equal_to": "eq", "not_equal_to": "ne"}


def rule_text(check: pa.Check) -> str:
    """A readable rule: ge(0), in_range(0, 100), isin(['daily', 'weekly']), or a custom check's name."""
    stats = dict(check.statistics or {})
    if check.name == "in_range":
        return f"in_range({stats['min_value']}, {stats['max_value']})"
    if check.name in ("isin", "notin"):
        values = stats.get("allowed_values", stats.get("forbidden_values"))
        return f"{check.name}({sorted(values, key=str)})"
    if check.name in _SHORT:
        return f"{_SHORT[check.name]}({next(iter(stats.values()))})"
    given = ", ".join(f"{key}={value}" for key, value in stats.items() if value is not None)
    return f"{check.name}({given})" if given else str(check.name)


@dataclass(frozen=True)
class _Rule:
    reason: str
    fails: pl.Expr | None = None       # a boolean expression over the frame: True where a row breaks the rule
    # a rule computed by a function of the whole frame: pandera's own checks, the grain
    evaluate: Callable[[pl.DataFrame], pl.Series] | None = None


def _duplicated_keys(keys: list[str]) -> Callable[[pl.DataFrame], pl.Series]:
    """The rows whose grain key occurs more than once.

    Every write is checked, so the usual answer "none" must be cheap: a 64-bit hash of each row's key (one per
    column, combined) is sorted and its neighbours compared, 8 bytes a row. On the 8.1 million rows of a
    500-member rotation that is 0.7 s and ~100 MB, where `is_duplicated` over the key struct took 3 s and
    1.8 GB at its peak. Only rows sharing a hash are then compared exactly, so a collision never reports a
    duplicate.
    A key the contract declares nullable (an alert without a dimension) takes part as NULL, one value.
    """
    exact = pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])
    hashed = functools.reduce(operator.xor, (pl.col(key).hash(seed=i) for i, key in enumerate(keys)))

    def evaluate(frame: pl.DataFrame) -> pl.Series:
        hashes = frame.select(hashed).to_series().sort()
        if not (hashes.slice(1) == hashes.slice(0, max(frame.height - 1, 0))).any():
            return pl.repeat(False, frame.height, eager=True)
        shared = hashes.filter(hashes.is_duplicated())
        rows = frame.select(hashed.is_in(shared.implode())).to_series().arg_true()
        duplicated = frame[rows].select(exact.is_duplicated()).to_series()
        return pl.repeat(False, frame.height, eager=True).scatter(rows, duplicated)

    return evaluate


def _value_rule(table: str, column: str, check: pa.Check, is_float: bool) -> _Rule:
    reason = f"{table}.{column}: {rule_text(check)}"
    translate = _TRANSLATED.get(str(check.name))
    if translate is not None:
        # A value rule speaks of values: NULL is the nullable rule's business (pandera ignores it too), NaN the
        # finite rule's (Polars orders NaN above every number, so `le` would also flag it).
        value = pl.col(column)
        fails = (~translate(**dict(check.statistics or {}))(value)).fill_null(False)
        return _Rule(reason, fails=fails & ~value.is_nan() if is_float else fails)
    return _Rule(reason, evaluate=lambda frame: _pandera_fails(check, frame, column))


def _pandera_fails(check: pa.Check, frame: pl.DataFrame, column: str | None) -> pl.Series:
    output = check(frame.lazy(), column).check_output
    output = output.collect() if isinstance(output, pl.LazyFrame) else output
    passes = output.to_series(0) if isinstance(output, pl.DataFrame) else output
    if column is not None:
        passes = passes | frame.get_column(column).is_null()
    return ~passes.fill_null(False)


def _rules(contract: Contract, usable: set[str]) -> list[_Rule]:
    table, rules = contract.table, []
    keys = [k for k in contract.grain if k in usable]
    if contract.grain_unique and len(keys) == len(contract.grain):
        rules.append(_Rule(f"{table}: grain ({', '.join(keys)}) not unique", evaluate=_duplicated_keys(keys)))
    for name, column in contract.schema.columns.items():
        if name not in usable:
            continue
        value = pl.col(name)
        is_float = column_dtype(column).is_float()
        if not column.nullable:
            # pandera counts a NaN in a non-nullable float column as null: so do we.
            rules.append(_Rule(f"{table}.{name}: not null" + (" (grain key)" if name in keys else ""),
                               fails=(value.is_null() | value.is_nan()) if is_float else value.is_null()))
        if is_float and not contract.allows_nan:
            rules.append(_Rule(f"{table}.{name}: finite (NULL, never NaN or infinity)",
                               fails=(value.is_nan() | value.is_infinite()).fill_null(False)))
        rules.extend(_value_rule(table, name, check, is_float) for check in column.checks)
    for check in contract.schema.checks:  # rules across columns (ingest models)
        rules.append(_Rule(f"{table}: {rule_text(check)}",
                           evaluate=lambda frame, c=check: _pandera_fails(c, frame, None)))
    return rules


def _structure(contract: Contract, frame: pl.DataFrame) -> tuple[list[str], set[str]]:
    """Problems with the frame's columns (missing, unexpected, wrong type) and the columns fit to check."""
    problems, usable = [], set()
    expected = contract.polars_schema
    for name, dtype in expected.items():
        if name not in frame.schema:
            problems.append(f"{contract.table}.{name}: missing column ({duckdb_type(dtype)} expected)")
        elif not _same_type(frame.schema[name], dtype):
            problems.append(f"{contract.table}.{name}: type {duckdb_type(dtype)} expected, found "
                            f"{_type_name(frame.schema[name])}")
        else:
            usable.add(name)
    problems += [f"{contract.table}.{name}: unexpected column (not in the contract)"
                 for name in frame.columns if name not in expected]
    # The order of the columns is not a rule here: the warehouse inserts by name.
    return problems, usable


def run_check(contract: Contract, frame: pl.DataFrame | pl.LazyFrame) -> ContractCheck:
    """`check_contract` for a resolved contract (see contracts/__init__.py)."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    problems, usable = _structure(contract, frame)
    rules = _rules(contract, usable)
    native = [r for r in rules if r.fails is not None]
    masks: dict[str, pl.Series] = {}
    if native and frame.height:
        # One pass answers "does any row break any rule?"; the row masks are built only for the rules broken.
        broken = frame.select(r.fails.any().alias(str(i)) for i, r in enumerate(native)).row(0)
        chosen = [r for r, hit in zip(native, broken) if hit]
        if chosen:
            masks.update(zip((r.reason for r in chosen),
                             frame.select(r.fails.alias(str(i)) for i, r in enumerate(chosen)).iter_columns()))
    for rule in rules:
        if rule.evaluate is not None and frame.height:
            mask = rule.evaluate(frame)
            if mask.any():
                masks[rule.reason] = mask
    failures = {problem: 1 for problem in problems}
    failures.update({reason: int(mask.sum()) for reason, mask in masks.items()})
    failing = _failing_rows(frame, masks, problems)
    return ContractCheck(passed=not failures, failing_rows=failing,
                         summary=_summary(contract, frame, failures, failing.height - len(problems)),
                         rows_checked=frame.height, failures=failures)


def _failing_rows(frame: pl.DataFrame, masks: Mapping[str, pl.Series], problems: list[str]) -> pl.DataFrame:
    reason_schema = {"reason": pl.String(), **frame.schema}
    parts = []
    if problems:
        parts.append(pl.DataFrame({"reason": problems}, schema={"reason": pl.String()})
                     .with_columns(pl.lit(None, dtype=d).alias(n) for n, d in frame.schema.items()))
    if masks:
        reasons = pl.DataFrame({str(i): m for i, m in enumerate(masks.values())})
        labels = list(masks)
        reason = pl.concat_str([pl.when(pl.col(str(i))).then(pl.lit(label)) for i, label in enumerate(labels)],
                               separator="; ", ignore_nulls=True)
        flagged = frame.with_columns(reasons.select(reason.alias("reason")).to_series())
        parts.append(flagged.filter(pl.col("reason") != "").select("reason", *frame.columns))
    if not parts:
        return pl.DataFrame(schema=reason_schema)
    return pl.concat(parts, how="vertical").select(list(reason_schema))


def _summary(contract: Contract, frame: pl.DataFrame, failures: Mapping[str, int], rows: int) -> str:
    if not failures:
        return (f"{contract.table}: {frame.height} rows pass the contract (grain {', '.join(contract.grain)}; "
                f"{len(contract.columns)} columns)")
    listed = "; ".join(f"{reason} ({n} row{'s' if n != 1 else ''})" for reason, n in failures.items())
    return f"{contract.table}: {len(failures)} rule(s) broken, {rows} of {frame.height} rows fail: {listed}"

