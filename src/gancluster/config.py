"""Typed configs: dataclasses that reject unknown keys and wrong types.

Every component owns one small dataclass. ``from_dict`` is the single door from JSON/YAML/CLI into
them, so a typo (``betan: 10``) fails loudly instead of silently using a default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import ConfigError

T = TypeVar("T")


def check_type(name: str, value: Any, annotation: Any) -> Any:
    """``value`` checked against ``annotation`` (ConfigError naming ``name`` if it does not fit).

    Returns the value coerced where that is lossless (int -> float, list -> tuple, numpy scalar ->
    Python scalar).
    """
    return _check_type(name, value, annotation)


def _check_type(name: str, value: Any, annotation: Any) -> Any:
    """Coerce ``value`` to ``annotation`` where it is lossless (int -> float, list -> tuple)."""
    if isinstance(value, np.generic):  # numpy scalars (e.g. from a grid search) count as Python ones
        value = value.item()
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(name, value, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{name}: {value!r} matches none of {annotation}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{name}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {type(value).__name__} {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{name}: expected {len(args)} values, got {len(value)}")
            return tuple(_check_type(name, v, a) for v, a in zip(value, args))
        inner = args[0] if args else Any
        out = [_check_type(name, v, inner) for v in value]
        return tuple(out) if origin is tuple else out
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {type(value).__name__} {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where or cls.__name__}: unknown key(s) {unknown}; known keys are {sorted(fields)}"
        )
    kwargs = {}
    for key, value in data.items():
        label = f"{where}.{key}" if where else key
        kwargs[key] = _check_type(label, value, hints[key])
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(obj)))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML mapping; never executes code (yaml.safe_load)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parser errors vary by format
        detail = " ".join(str(exc).split())  # YAML's messages span lines; the CLI prints one
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:] or 'JSON'}: {detail}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data


def require(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds."""
    if not condition:
        raise ConfigError(message)
