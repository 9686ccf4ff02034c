"""Metric lookup by name and JSON-lines result logging.

Configs and the CLI refer to metrics by string name, so they go through this registry
instead of importing functions. ``append_jsonl`` is the single place results are written,
so numpy values never leak into (and break) the JSON logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from gancluster.errors import GanclusterError
from gancluster.metrics import clustering

MetricFn = Callable[..., float]
F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, MetricFn] = {}

__all__ = ["append_jsonl", "get_metric", "list_metrics", "register_metric"]


def register_metric(name: str) -> Callable[[F], F]:
    """Decorator registering a ``metric(y_true, y_pred) -> float`` under ``name``.

    Registering a different function under a taken name raises ``ValueError`` (a bug, not a
    user error); re-registering the same function (e.g. on module reload) is allowed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"metric name must be a non-empty string, got {name!r}")

    def decorator(fn: F) -> F:
        existing = _REGISTRY.get(name)
        if existing is not None and _qualname(existing) != _qualname(fn):
            raise ValueError(f"metric {name!r} is already registered to {_qualname(existing)}")
        _REGISTRY[name] = fn
        return fn

    return decorator


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def get_metric(name: str) -> MetricFn:
    """The metric registered under ``name``; unknown names list the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(list_metrics()) or "(none)"
        raise GanclusterError(f"unknown metric {name!r}; known metrics: {known}") from None


def list_metrics() -> list[str]:
    """Registered metric names, sorted."""
    return sorted(_REGISTRY)


def _to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays (and Paths, tuples, sets) into plain Python."""
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, str) else k: _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [_to_jsonable(v) for v in sorted(obj, key=repr)]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path``, creating parent directories.

    Numpy values are converted to Python types. Non-finite floats are written as
    ``NaN``/``Infinity`` (Python's ``json`` reads them back) so a diverged run is still
    logged. The line is flushed before returning so a crash loses at most the current line.
    """
    if not isinstance(record, dict):
        raise TypeError(f"record must be a dict, got {type(record).__name__}")
    line = json.dumps(_to_jsonable(record), allow_nan=True)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()


# --- built-in clustering metrics ------------------------------------------------------------

register_metric("acc")(clustering.cluster_acc)
register_metric("purity")(clustering.purity)
register_metric("nmi")(clustering.nmi)
register_metric("ari")(clustering.ari)


@register_metric("nmi_geometric")
def nmi_geometric(y_true: clustering.LabelsLike, y_pred: clustering.LabelsLike) -> float:
    """NMI normalised by the geometric mean of the entropies (older papers' convention)."""
    return clustering.nmi(y_true, y_pred, average="geometric")

