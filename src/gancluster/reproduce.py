"""``gancluster reproduce TABLE``: rerun the experiments behind a paper table, print paper vs ours.

Each table is a function ``(budget, seeds) -> Markdown`` registered by name. ``quick`` budgets
fit in minutes on a laptop CPU (one seed, short training); ``paper`` uses the budgets of
BENCHMARKS.md (three seeds). Numbers are always means over the seeds that ran, with the spread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import GanclusterError

BUDGETS = ("quick", "paper")


@dataclass(frozen=True)
class Table:
    """A reproducible paper table."""

    name: str
    description: str
    run: Callable[[str, Sequence[int]], str]
    default_seeds: dict[str, tuple[int, ...]]


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    arr = np.asarray(values, dtype=float)
    return f"{arr[0]:.{digits}f}" if arr.size == 1 else f"{arr.mean():.{digits}f} ± {arr.std():.{digits}f}"


def _clustergan_table(dataset: str) -> Callable[[str, Sequence[int]], str]:
    def run(budget: str, seeds: Sequence[int]) -> str:
        from .data import load_dataset
        from .experiments.clustergan import PAPER, run_clustergan

        train, test = load_dataset(dataset, split="train"), load_dataset(dataset, split="test")
        # quick: about 10 minutes of training on 2 CPU cores; paper: the BENCHMARKS.md budget
        budget_kw = {"quick": dict(max_seconds=540.0, max_steps=6000),
                     "paper": dict(max_seconds=1200.0, max_steps=9000)}[budget]
        rows = []
        for variant in ("best", "faithful") if budget == "paper" else ("best",):
            runs = [run_clustergan(dataset, variant, s, train=train, test=test, **budget_kw) for s in seeds]
            rows.append((f"gancluster ClusterGAN, {variant} recipe", runs))
        lines = [
            f"### ClusterGAN on {dataset}: train 60k, test 10k, K = 10 ({budget} budget, seeds {list(seeds)})",
            "",
            "| model | ACC | NMI | ARI | train time (s) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for label, (acc, nmi, ari) in PAPER[dataset].items():
            lines.append(f"| {label} | {acc:.2f} | {nmi:.2f} | {ari:.2f} | GPU days |")
        for label, runs in rows:
            lines.append(
                f"| {label} | {mean_std([r['acc'] for r in runs])} | {mean_std([r['nmi'] for r in runs])} | "
                f"{mean_std([r['ari'] for r in runs])} | {mean_std([r['train_seconds'] for r in runs], 0)} |"
            )
        lines += ["", "Ours: ACC is Hungarian (one-to-one), NMI arithmetic mean, on the 10k test images."]
        return "\n".join(lines)

    return run


TABLES: dict[str, Table] = {
    "clustergan-mnist": Table("clustergan-mnist", "ClusterGAN paper, MNIST row (ACC / NMI / ARI)",
                              _clustergan_table("mnist"), {"quick": (0,), "paper": (0, 1, 2)}),
    "clustergan-fashion": Table("clustergan-fashion", "ClusterGAN paper, Fashion-MNIST (10 classes) row",
                                _clustergan_table("fashion-mnist"), {"quick": (0,), "paper": (0, 1, 2)}),
}


def register_table(table: Table) -> Table:
    TABLES[table.name] = table
    return table


def reproduce(name: str, budget: str = "quick", seeds: Sequence[int] | None = None) -> str:
    """Run table ``name`` and return it as Markdown (paper rows beside ours)."""
    if name not in TABLES:
        raise GanclusterError(f"unknown table {name!r}; available: {', '.join(sorted(TABLES))}")
    if budget not in BUDGETS:
        raise GanclusterError(f"budget must be one of {BUDGETS}, got {budget!r}")
    table = TABLES[name]
    seeds = tuple(table.default_seeds[budget] if seeds is None else seeds)
    if not seeds:
        raise GanclusterError("give at least one seed")
    t0 = time.perf_counter()
    body = table.run(budget, seeds)
    minutes = (time.perf_counter() - t0) / 60
    return f"{body}\n\nCommand: `gancluster reproduce {name} --budget {budget}`; wall time {minutes:.1f} min.\n"


def describe() -> list[tuple[str, str]]:
    return [(t.name, t.description) for t in TABLES.values()]

