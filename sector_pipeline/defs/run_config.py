"""Dagster run config generated from the pure settings dataclasses: one source of truth for every default.

`run_config_class(AlertConfig, fixed=...)` returns a `dg.Config` whose fields are the dataclass's fields, with
the same names, types and defaults:

- scalar fields (bool, int, float, str, and their optional forms) are exposed as they are;
- a tuple of strings becomes a list of strings;
- a dict field is flattened into one field per key, `<field>_<key>` (RankingConfig.weights {5: .25, ...} gives
  `weights_5d`-style names through `key_names`), because Dagster's launchpad edits scalars best;
- `fixed` lists the fields a run may not change (a calendar that must match the universe file, the column a
  book reads): they keep the dataclass default, and `test_run_config.py` checks that every field is either
  exposed or listed here, so a new setting cannot be forgotten.

`to_config(**overrides)` on the generated class rebuilds the dataclass (its own checks run there).
"""

import dataclasses
import types
import typing
from typing import Any, Callable, Mapping, Optional, Union

import dagster as dg

_SCALARS = (bool, int, float, str)


def _exposed_type(hint: Any) -> Any | None:
    """The config type of a dataclass field's type hint, or None when it cannot be a plain config field."""
    if hint in _SCALARS:
        return hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return Optional[inner] if inner in _SCALARS else None
    if origin is tuple and args and args[0] is str:
        return list[str]
    return None


def run_config_class(settings: type, *, name: str, description: str, fixed: tuple[str, ...] = (),
                     key_names: Mapping[str, Callable[[Any], str]] | None = None) -> type[dg.Config]:
    """A dg.Config class exposing `settings`' fields (module docstring); `key_names` names flattened dict keys."""
    hints = typing.get_type_hints(settings)
    defaults = settings()
    annotations: dict[str, Any] = {}
    values: dict[str, Any] = {}
    flattened: dict[str, dict[str, Any]] = {}  # dict field -> {config field name: key}
    for field in dataclasses.fields(settings):
        if field.name in fixed:
            continue
        default = getattr(defaults, field.name)
        hint = hints[field.name]
        if isinstance(default, dict):
            naming = (key_names or {}).get(field.name, lambda key, name=field.name: f"{name}_{key}")
            flattened[field.name] = {}
            for key, value in default.items():
                flat = naming(key)
                annotations[flat] = type(value)
                values[flat] = value
                flattened[field.name][flat] = key
            continue
        exposed = _exposed_type(hint)
        if exposed is None:
            raise TypeError(f"{settings.__name__}.{field.name} ({hint}) cannot be run config: list it in `fixed`")
        annotations[field.name] = exposed
        values[field.name] = list(default) if isinstance(default, tuple) else default

    def to_config(self: dg.Config, **overrides: Any) -> Any:
        given = self.model_dump()
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(settings):
            if field.name in flattened:
                kwargs[field.name] = {key: given[flat] for flat, key in flattened[field.name].items()}
            elif field.name in given:
                value = given[field.name]
                kwargs[field.name] = tuple(value) if isinstance(value, list) else value
        return settings(**{**kwargs, **overrides})

    namespace = {"__annotations__": annotations, **values, "to_config": to_config, "__doc__": description,
                 "__module__": __name__}
    cls = type(name, (dg.Config,), namespace)
    cls.fixed_fields = fixed  # type: ignore[attr-defined]
    cls.settings_class = settings  # type: ignore[attr-defined]
    return cls
