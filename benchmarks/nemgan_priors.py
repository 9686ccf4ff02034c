"""Paper 000 Table III: learning the cluster priors from 1% of labels (section III-B2, eq. 5).

    python benchmarks/nemgan_priors.py [--seeds 0 1 2] [--datasets mnist2-3v5-70 mnist2-3v5-90 mnist5 fmnist5]
    python benchmarks/nemgan_priors.py --quick      # one seed, MNIST-2 3v5 70:30, 200 steps

``alpha`` starts uniform; the inverter ``h`` is trained on the labelled 1% (cross-entropy, plus the
recipe's neighbour agreement on unlabelled data) and ``alpha`` alone follows ``E_x[h(x)]`` on
unlabelled batches by eq. 5's L1 distance. Prior learning is independent of the GAN (the paper
learns priors first, then trains the GAN with them), so by default only that phase runs
(``--gan-seconds`` adds the GAN afterwards). Next to the learned priors we print the naive estimate,
the class shares of the labelled 1% alone, to show what the unlabelled data add.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, append_row, command, machine, mean_std, write_section  # noqa: E402

from gancluster.experiments.nemgan_table1 import CASES  # noqa: E402
from gancluster.metrics.generation import prior_error  # noqa: E402
from gancluster.nemgan import NEMGAN  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "nemgan_priors.jsonl"
PAPER = {"mnist2-3v5-70": [0.709, 0.291], "mnist2-3v5-90": [0.891, 0.109],
         "mnist5": [0.291, 0.095, 0.419, 0.095, 0.099], "fmnist5": [0.304, 0.096, 0.284, 0.220, 0.096]}
#: datasets with the issue's bar (every learned prior within 0.01); the paper also reports FMNIST-5
BARRED = ("mnist2-3v5-70", "mnist2-3v5-90", "mnist5")


def run(case_key: str, seed: int, steps: int, fraction: float, gan_seconds: float | None) -> dict:
    case = CASES[case_key]
    train = case.load("train")
    true = np.bincount(train.y) / len(train.y)
    k = len(true)
    # without a GAN budget the run is the prior-learning warm-up alone, all of it
    est = NEMGAN(n_clusters=k, learn_priors=True, label_fraction=fraction, random_state=seed,
                 warmup_steps=steps, max_steps=steps if gan_seconds is None else 10**9, max_seconds=None,
                 warmup_max_share=1.0 if gan_seconds is None else None, **case.model_params)
    if gan_seconds is not None:
        est.set_params(max_seconds=gan_seconds)
    t0 = time.perf_counter()
    est.fit(train.X, train.y)
    seconds = time.perf_counter() - t0
    # the naive estimate from the same labelled subset (same seed, same draw as the estimator's)
    idx = np.flatnonzero(train.y >= 0)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(idx, size=int(round(fraction * idx.size)), replace=False))
    naive = np.bincount(train.y[keep], minlength=k) / keep.size
    learned = est.priors_.astype(float)
    return {
        "dataset": case_key, "seed": seed, "steps": int(est.n_iter_), "seconds": round(seconds, 1),
        "n_labeled": int(est.n_labeled_), "true": true.round(4).tolist(), "learned": learned.round(4).tolist(),
        "max_err": prior_error(learned / learned.sum(), true), "naive": naive.round(4).tolist(),
        "naive_max_err": prior_error(naive, true), "train_acc": float((est.labels_ == train.y).mean()),
        "model_params": case.model_params,
    }


def section(rows: list[dict], wall: float, note: str) -> str:
    lines = [
        "## NEMGAN: prior learning from 1% labels (paper 000 Table III)",
        "",
        f"Command: `{command()}`. Machine: {machine()}. Wall time: {wall / 60:.1f} min. {note}",
        "",
        "alpha starts uniform; h learns from the labelled 1% (+ neighbour agreement, and the spectral start: "
        "each of ten spectral clusters of the k-NN graph takes its labelled majority as h's target), alpha "
        "follows E_x[h(x)] (eq. 5, L1). `max err`: largest |learned - true| over clusters (bar: <= 0.01; paper "
        "within 0.02). `naive`: class shares of the labelled 1% alone. Means ± std over seeds.",
        "",
        "| dataset | seeds | labelled | true priors | learned priors (mean) | max err | naive max err | paper learned | inverter ACC (train, cluster id = label) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["dataset"], []).append(r)
    for case_key, rs in by.items():
        learned = np.mean([r["learned"] for r in rs], axis=0)
        errs = [r["max_err"] for r in rs]
        lines.append(
            f"| {case_key} | {len(rs)} | {rs[0]['n_labeled']} | {rs[0]['true']} | {learned.round(3).tolist()} | "
            f"{mean_std(errs)} | {mean_std([r['naive_max_err'] for r in rs])} | {PAPER.get(case_key, '–')} | "
            f"{mean_std([r['train_acc'] for r in rs])} |"
        )
    lines.append("")
    for case_key, rs in by.items():  # the bars are means over seeds; the worst seed is shown beside
        mean_err = float(np.mean([r["max_err"] for r in rs]))
        worst = max(r["max_err"] for r in rs)
        verdict = f"bar 0.01 {'reached' if mean_err <= 0.01 else 'NOT reached'}" if case_key in BARRED else "no bar"
        lines.append(f"- {case_key}: max err {mean_err:.4f} (mean over {len(rs)} seeds) — {verdict}; worst seed "
                     f"{worst:.4f}{'' if worst <= 0.01 else ' (above 0.01)'}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=["mnist2-3v5-70", "mnist2-3v5-90", "mnist5", "fmnist5"], choices=list(CASES))
    ap.add_argument("--steps", type=int, default=600, help="prior-learning steps")
    ap.add_argument("--fraction", type=float, default=0.01, help="share of training labels used")
    ap.add_argument("--gan-seconds", type=float, default=None, help="also train the GAN for this long")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--note", default="")
    ap.add_argument("--section", default="nemgan_priors",
                    help="BENCHMARKS.md section to write (it is rewritten from this invocation's rows only)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.datasets, args.steps = [0], ["mnist2-3v5-70"], 200
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = []
    for case_key in args.datasets:
        for seed in args.seeds:
            row = run(case_key, seed, args.steps, args.fraction, args.gan_seconds)
            row["quick"] = args.quick
            rows.append(row)
            append_row(RESULTS, row)
            print(json.dumps(row), flush=True)
    wall = time.perf_counter() - t0
    text = section(rows, wall, args.note)
    if not args.quick:
        write_section(args.section, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
