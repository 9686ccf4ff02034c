"""PGMGAN mode coverage on the 2-D ring (8 modes) and grid (25 modes): the ablation rows of paper Table 1.

Rows (settings of :class:`gancluster.PGMGAN`): GAN (``partitions='none'``), Random Partition ID
(``partitions='random'``), Partition GAN (learned partitions, ``guide_weight=0``) and PGMGAN
(learned partitions, lambda 6 -> ~0). k = number of modes. The partitioner is trained once per
dataset and seed and shared by the two rows that use it (its time is reported separately).
Metrics on 50,000 samples with the REFERENCE.md definitions (:func:`gancluster.metrics.modes.mode_metrics_2d`).
A run that averages G's weights (``--set ema_decay=...``) is scored twice, from the average and from G's
last weights, with the same latent draws.
Each run appends a row to ``benchmarks/results/pgmgan_toy.jsonl``; ``--report-only`` rebuilds the
section from the newest stored row of each (dataset, seed, row), e.g. after running the datasets as two
processes side by side.

    python benchmarks/pgmgan_toy.py [--seeds 0 1 2] [--steps 20000] [--datasets ring grid] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, append_row, command, machine, mean_std, newest_rows, parse_overrides, write_section  # noqa: E402

from gancluster.data import load_dataset  # noqa: E402
from gancluster.metrics.modes import mode_metrics_2d, synthetic_modes  # noqa: E402
from gancluster.methods.pgmgan import PGMGANMethod  # noqa: E402
from gancluster.pgmgan import PGMGAN  # noqa: E402

ROWS = {
    "gan": ("GAN", dict(partitions="none", guide_weight=0.0)),
    "random": ("Random Partition ID", dict(partitions="random", guide_weight=0.0)),
    "partition": ("Partition GAN (lambda = 0)", dict(guide_weight=0.0)),
    "pgmgan": ("PGMGAN", dict()),
}
BARS = {"grid": (25, 0.998, 0.0034), "ring": (8, 0.998, 0.0006)}
RESULTS = ROOT / "benchmarks" / "results" / "pgmgan_toy.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--steps", type=int, default=20000, help="generator steps per run")
    ap.add_argument("--recipe", default="best", choices=["best", "faithful"])
    ap.add_argument("--set", nargs="*", default=[], help="extra estimator params as key=value (YAML scalars)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="1 seed, 2000 steps")
    ap.add_argument("--section", default="pgmgan-toy")
    ap.add_argument("--note", default="")
    ap.add_argument("--report-only", action="store_true",
                    help="no training: rebuild the section from the newest stored rows of these datasets, seeds and rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.steps = [0], 2000
    extra = parse_overrides(args.set)
    if args.report_only:
        newest = newest_rows(RESULTS, key=lambda r: (r["dataset"], r["seed"], r["row"]), keep=lambda r: (
            r["steps_asked"] == args.steps and r["recipe"] == args.recipe and r["extra"] == extra))
        wanted = [(d, s, r) for d in args.datasets for s in args.seeds for r in args.rows]
        missing = [w for w in wanted if w not in newest]
        if missing:
            raise SystemExit(f"no stored run for {missing} with --steps {args.steps} --recipe {args.recipe} in {RESULTS}")
        rows = [newest[w] for w in wanted]
        partitioners = {(r["dataset"], r["seed"]): r["partitioner_seconds"] for r in rows if "partitioner_seconds" in r}
        wall = sum(r["wall_seconds"] for r in rows) + sum(partitioners.values())
        write_section(args.section, report(rows, args, wall, extra, rows[0]["command"]))
        return
    t0 = time.time()
    results: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="pgmgan_toy_"))
    for name in args.datasets:
        data = load_dataset(name)
        k = len(data.meta["centers"])
        for seed in args.seeds:
            common = dict(n_clusters=k, max_steps=args.steps, random_state=seed, device="cpu", recipe=args.recipe,
                          **extra)
            part_path, part_info = None, {}
            if {"partition", "pgmgan"} & set(args.rows):
                t = time.time()
                est = PGMGAN(**{**common, "max_steps": 1}).fit(data.X)
                part_path = est.save_partitioner(tmp / f"{name}_{seed}.safetensors")
                part_info = {"partitioner_seconds": time.time() - t,
                             "partitioner_nmi": normalized_mutual_info_score(data.y, est.labels_),
                             "partitions_used": int(np.unique(est.labels_).size)}
                print(f"{name} seed {seed}: partitioner {part_info}", flush=True)
            for row in args.rows:
                t = time.time()
                label, params = ROWS[row]
                if params.get("partitions", "learned") == "learned":
                    params = {**params, "partitioner_path": str(part_path)}
                est = PGMGAN(**{**common, **params}).fit(data.X)
                X, _ = est.sample(50_000, random_state=10_000 + seed)
                m = mode_metrics_2d(X, name)
                accept = est.method_.last_accept_rate
                last = {}
                if est.method_.generator_ema is not None:  # the same run sampled from G's last weights
                    with last_weights(est.method_):
                        ml = mode_metrics_2d(est.sample(50_000, random_state=10_000 + seed)[0], name)
                    last = {"last_weights": {"modes": ml.modes_recovered, "high_quality": ml.high_quality_rate,
                                             "reverse_kl": ml.reverse_kl}}
                rec = {"dataset": name, "seed": seed, "row": row, "modes": m.modes_recovered,
                       "high_quality": m.high_quality_rate, "reverse_kl": m.reverse_kl, **last,
                       "accept": accept, "train_seconds": est.train_seconds_,
                       "steps": est.n_iter_, **(part_info if row in ("partition", "pgmgan") else {}),
                       "ema_decay": est.method_.settings.ema_decay,
                       "wall_seconds": time.time() - t, "steps_asked": args.steps, "recipe": args.recipe,
                       "extra": extra, "threads": args.threads, "command": command()}
                results.append(rec)
                print(json.dumps(rec), flush=True)
                append_row(RESULTS, rec)
    write_section(args.section, report(results, args, time.time() - t0, extra, command()))


@contextmanager
def last_weights(method: PGMGANMethod) -> Iterator[None]:
    """Sample from the generator's last weights instead of their moving average (``ema_decay`` > 0)."""
    average, method.generator_ema = method.generator_ema, None
    try:
        yield
    finally:
        method.generator_ema = average


def data_reference(name: str, seeds: list[int], n: int = 50_000) -> dict[str, list[float]]:
    """The metrics of ``n`` points drawn from the data's own mixture: what a perfect generator scores.

    (Within 3 std in each of two coordinates holds for 0.9973^2 = 99.46 % of a Gaussian's mass.)
    """
    centers, std, weights = synthetic_modes(name)
    out: dict[str, list[float]] = {"modes": [], "high_quality": [], "reverse_kl": []}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        k = rng.choice(len(centers), size=n, p=weights / weights.sum())
        m = mode_metrics_2d(centers[k] + std * rng.standard_normal((n, centers.shape[1])), name)
        for key, value in (("modes", m.modes_recovered), ("high_quality", m.high_quality_rate),
                           ("reverse_kl", m.reverse_kl)):
            out[key].append(value)
    return out


def report(results: list[dict], args, wall: float, extra: dict, cmd: str) -> str:
    lines = [
        "## PGMGAN mode coverage on 2-D ring / grid (issue 5, paper Table 1 ablation rows)",
        "",
        f"`{cmd}` — seeds {args.seeds}, {args.steps} generator steps per run, recipe `{args.recipe}`"
        + (f", settings {extra}" if extra else "")
        + f"; wall {wall / 60:.1f} min summed over runs on {machine()}. {args.note}",
        "",
        "k = number of modes; 50,000 samples per run; REFERENCE.md definitions (high quality: within 3 std "
        "of a mode in every coordinate; reverse KL in nats). Means ± std over seeds. `accept` = share of "
        "first draws already inside their partition (the rest are redrawn, up to 20 times).",
        "",
        "| data | row | modes | high quality % | reverse KL | accept | GAN train s / run | partitioner s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets:
        for row in args.rows:
            rs = [r for r in results if r["dataset"] == name and r["row"] == row]
            if not rs:
                continue
            acc = [r["accept"] for r in rs if np.isfinite(r["accept"])]
            part = [r["partitioner_seconds"] for r in rs if "partitioner_seconds" in r and row in ("partition", "pgmgan")]
            lines.append(
                f"| {name} | {ROWS[row][0]} | {mean_std([r['modes'] for r in rs], 1)} | "
                f"{mean_std([100 * r['high_quality'] for r in rs], 2)} | {mean_std([r['reverse_kl'] for r in rs], 6)} | "
                f"{mean_std(acc, 3) if acc else '-'} | {mean_std([r['train_seconds'] for r in rs], 0)} | "
                f"{mean_std(part, 0) if part else '-'} |"
            )
            last = [r["last_weights"] for r in rs if "last_weights" in r]
            if last:
                lines.append(
                    f"| {name} | {ROWS[row][0]}, sampled from G's last weights instead of their average "
                    f"({len(last)} of the same runs) | {mean_std([v['modes'] for v in last], 1)} | "
                    f"{mean_std([100 * v['high_quality'] for v in last], 2)} | "
                    f"{mean_std([v['reverse_kl'] for v in last], 6)} | - | - | - |"
                )
    for name in args.datasets:
        ref = data_reference(name, args.seeds)
        lines.append(f"| {name} | reference: 50,000 draws from the data's own mixture | {mean_std(ref['modes'], 1)} | "
                     f"{mean_std([100 * v for v in ref['high_quality']], 2)} | {mean_std(ref['reverse_kl'], 6)} "
                     "| - | - | - |")
    lines.append("")
    for name in args.datasets:
        rs = [r for r in results if r["dataset"] == name and r["row"] == "pgmgan"]
        if not rs:
            continue
        modes, hq, kl = BARS[name]
        nmi = [r["partitioner_nmi"] for r in rs if "partitioner_nmi" in r]
        verdicts = [("PGMGAN", rs)]
        if all("last_weights" in r for r in rs):
            verdicts = [("PGMGAN (weight average)", rs), ("PGMGAN (last weights)", [r["last_weights"] for r in rs])]
        for label, ms in verdicts:
            got = (np.mean([m["modes"] for m in ms]), np.mean([m["high_quality"] for m in ms]),
                   np.mean([m["reverse_kl"] for m in ms]))
            ok = got[0] >= modes and got[1] >= hq and got[2] <= kl
            lines.append(
                f"- {name} bar ({modes}/{modes} modes, >= {100 * hq:.1f}% high quality, reverse KL <= {kl}): "
                f"{'**reached**' if ok else '**not reached**'} — {label} mean {got[0]:.1f} modes, "
                f"{100 * got[1]:.3f}%, {got[2]:.2e}; partitioner NMI vs modes {mean_std(nmi, 3)}."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
