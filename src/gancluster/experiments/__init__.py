"""Experiments that reproduce a paper's tables as functions returning rows (benchmarks/ prints them),
and the packaged run configs (``*.yaml``: method, data, params) that ``gancluster train --config NAME``
finds by name, e.g. ``cifar2-70``."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def packaged_configs() -> dict[str, Path]:
    """Name -> file of every packaged run config (``cifar2-70`` -> ``.../cifar2-70.yaml``)."""
    return {p.stem: p for p in sorted(CONFIG_DIR.glob("*.yaml"))}


def config_path(spec: str) -> Path | None:
    """``spec`` as a file path if it exists, else the packaged config of that name, else None."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    return packaged_configs().get(spec.removesuffix(".yaml"))
