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


def _nemgan_table1(budget: str, seeds: Sequence[int]) -> str:
    """Paper 000 Table I on MNIST-2 3 vs 5: quick = 70:30 only, 1,600 steps; paper = 70:30 and 90:10."""
    from .experiments.nemgan_table1 import VARIANTS, run_table1, summarise

    cases = ("mnist2-3v5-70",) if budget == "quick" else ("mnist2-3v5-70", "mnist2-3v5-90")
    rows = run_table1(cases, list(VARIANTS), seeds, judge_steps=300, warmup_steps=400, max_steps=1600)
    lines = [f"### NEMGAN, paper 000 Table I ({budget} budget, seeds {list(seeds)}, 1,600 steps per run)", "",
             "| data | model | paper ACC / NMI / ARI / FID | ours ACC | ours NMI | ours ARI | generated share TV "
             "| domain FID | diversity ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in summarise(rows):
        paper = "/".join(f"{v:.2f}" for v in e["paper"]) if e["paper"] else "-"
        cells = [f"{e[k][0]:.3f} ± {e[k][1]:.3f}" if k in e else "-"
                 for k in ("acc", "nmi", "ari", "gen_tv", "fid_domain", "diversity_ratio")]
        lines.append(f"| {e['dataset']} | {VARIANTS[e['variant']].label} | {paper} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# PGMGAN paper (Table 1, PGMGAN row): modes, high-quality rate, reverse KL
_PGMGAN_PAPER = {"ring": (8, 0.998, 0.0006), "grid": (25, 0.998, 0.0034)}


def _pgmgan_toy_table(budget: str, seeds: Sequence[int]) -> str:
    """PGMGAN on the 2-D ring and grid, 20,000 generator steps per run (about 4 min on one core).

    Quick and paper budgets differ in seeds only: after 4,000 steps every mode is found but the
    samples are not yet tight (high-quality rate 7-15 %), so a shorter run would say nothing.
    """
    from .data import load_dataset
    from .metrics.modes import mode_metrics_2d
    from .pgmgan import PGMGAN

    steps = 20000
    lines = [f"### PGMGAN, paper Table 1 (2-D toys; {budget} budget: {steps} steps, seeds {list(seeds)})", "",
             "| data | model | modes | high quality % | reverse KL |", "| --- | --- | --- | --- | --- |"]
    for name, (modes, hq, kl) in _PGMGAN_PAPER.items():
        data = load_dataset(name)
        runs = []
        for seed in seeds:
            model = PGMGAN(n_clusters=modes, max_steps=steps, random_state=seed).fit(data.X)
            runs.append(mode_metrics_2d(model.sample(50_000, random_state=10_000 + seed)[0], name))
        lines.append(f"| {name} | PGMGAN (paper) | {modes} | {100 * hq:.1f} | {kl} |")
        lines.append(f"| {name} | PGMGAN (gancluster) | {mean_std([m.modes_recovered for m in runs], 1)} | "
                     f"{mean_std([100 * m.high_quality_rate for m in runs], 2)} | "
                     f"{mean_std([m.reverse_kl for m in runs], 5)} |")
    lines += ["", "50,000 samples per run; definitions of REFERENCE.md (gancluster.metrics.modes)."]
    return "\n".join(lines)


def _pgmgan_stacked_table(budget: str, seeds: Sequence[int]) -> str:
    """PGMGAN on Stacked-MNIST (100k images, k = 200). Paper budget: 60 min of GAN training per seed
    (about 65 min of wall time each on 2 CPU cores); quick: the partitioner trained on 2,000 images
    with fewer steps, and 10 min with lambda annealed over the steps those hold (most modes, not yet
    the KL of the hour)."""
    from .experiments.stacked_mnist import PAPER, base_params, default_steps, resolved_n_critic, run_stacked_mnist

    quick = budget == "quick"
    params = base_params(200, quick)
    minutes = 10.0 if quick else 60.0
    steps = default_steps(resolved_n_critic(params), minutes)
    runs = [run_stacked_mnist(seed, params=params, minutes=minutes, steps=steps, eval_every=None, log=lambda line: None)[0]
            for seed in seeds]
    lines = [f"### PGMGAN, paper Table 1 (Stacked-MNIST, k = 200; {budget} budget: {minutes:g} min of GAN "
             f"training per seed, seeds {list(seeds)})", "",
             "| model | modes | KL (log10) | partitioner NMI | GAN steps | partitioner s |",
             "| --- | --- | --- | --- | --- | --- |",
             f"| PGMGAN (paper) | {PAPER['modes']} | {PAPER['kl']} | {PAPER['nmi']} | - | - |",
             f"| PGMGAN (gancluster) | {mean_std([r['final']['modes'] for r in runs], 1)} | "
             f"{mean_std([r['final']['kl'] for r in runs])} | {mean_std([r['nmi'] for r in runs])} | "
             f"{mean_std([r['steps'] for r in runs], 0)} | {mean_std([r['partitioner_seconds'] for r in runs], 0)} |",
             "", "Modes and KL on 50,000 samples, each channel labelled by the shipped MNIST classifier; NMI "
             "(arithmetic) of the partitions against the 1000 mode labels."]
    return "\n".join(lines)


TABLES: dict[str, Table] = {
    "clustergan-mnist": Table("clustergan-mnist", "ClusterGAN paper, MNIST row (ACC / NMI / ARI)",
                              _clustergan_table("mnist"), {"quick": (0,), "paper": (0, 1, 2)}),
    "clustergan-fashion": Table("clustergan-fashion", "ClusterGAN paper, Fashion-MNIST (10 classes) row",
                                _clustergan_table("fashion-mnist"), {"quick": (0,), "paper": (0, 1, 2)}),
    "nemgan-table1": Table("nemgan-table1", "paper 000 Table I: WGAN, C1, C2, C1C2, C1C2C3 on imbalanced MNIST-2",
                           _nemgan_table1, {"quick": (0,), "paper": (0, 1, 2)}),
    "pgmgan-toy": Table("pgmgan-toy", "PGMGAN paper Table 1: modes, high-quality rate, reverse KL on ring / grid",
                        _pgmgan_toy_table, {"quick": (0,), "paper": (0, 1, 2)}),
    "pgmgan-stacked-mnist": Table("pgmgan-stacked-mnist", "PGMGAN paper Table 1: modes and KL on Stacked-MNIST (1000 modes)",
                                  _pgmgan_stacked_table, {"quick": (0,), "paper": (0, 1, 2)}),
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

