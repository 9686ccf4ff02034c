"""NEMGAN C1C2C3 vs ClusterGAN on imbalanced synthetic colour images (``shapes32``, 32x32 RGB).

    python benchmarks/colour_synthetic.py [--seeds 0 1 2] [--cases shapes2-90] [--steps 350] [--warmup-steps 150]
    python benchmarks/colour_synthetic.py --quick     # one tiny run per method, nothing written to BENCHMARKS.md
    python benchmarks/colour_synthetic.py --render --note '...'   # rewrite the section from the rows measured

Both methods run their best recipe on the lean SN-GAN ResNets with the same step budget (warm-up
included) and batch size. NEMGAN gets the true class priors (condition C3); ClusterGAN uniform
priors, as published. Scores: ACC / NMI / ARI on the held-out test split (same class ratios), and
the total variation between the true priors and the class shares of 5,000 generated samples as
read by the judge of ``gancluster.experiments.nemgan_table1`` (trained on the labelled training
split). ``shapes2-50`` (balanced, where both methods get the true priors) checks that the nets and
the data allow clustering at all; ``shapes5`` is the optional 5-class case. Rows go to ``benchmarks/results/colour_synthetic.jsonl`` as they finish; the section
``colour_synthetic`` of BENCHMARKS.md is rewritten from all non-quick rows of that file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, append_row, command, machine, mean_std, read_rows, write_section  # noqa: E402

from gancluster import NEMGAN, ClusterGAN  # noqa: E402
from gancluster.data import Dataset, load_dataset  # noqa: E402
from gancluster.experiments.nemgan_table1 import Judge, train_judge  # noqa: E402
from gancluster.metrics import evaluate_clustering  # noqa: E402
from gancluster.metrics.generation import generation_scores  # noqa: E402
from gancluster.report import save_cluster_grid  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "colour_synthetic.jsonl"
FIGURES = ROOT / "benchmarks" / "figures"

#: case -> (title, load_dataset arguments)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "shapes2-90": ("red circle vs teal ring, 90:10", dict(classes=[0, 4], ratios=[0.9, 0.1])),
    "shapes2-50": ("red circle vs teal ring, 50:50", dict(classes=[0, 4], ratios=[0.5, 0.5])),
    "shapes5": ("5 shapes at 40:25:15:12:8", dict(classes=[0, 1, 2, 3, 4], ratios=[0.4, 0.25, 0.15, 0.12, 0.08])),
}
METHODS = ("nemgan-C1C2C3", "clustergan")


def make_model(method: str, priors: np.ndarray, seed: int, budget: dict[str, Any]):
    k = len(priors)
    if method == "nemgan-C1C2C3":
        return NEMGAN(n_clusters=k, priors=[float(p) for p in priors], random_state=seed, **budget)
    return ClusterGAN(n_clusters=k, random_state=seed, **budget)  # uniform priors, as published


def run_one(case: str, method: str, seed: int, train: Dataset, test: Dataset, judge: Judge,
            budget: dict[str, Any], grid: Path | None) -> dict[str, Any]:
    priors = train.class_counts() / len(train)
    model = make_model(method, priors, seed, budget)
    t0 = time.perf_counter()
    model.fit(train.X)
    seconds = time.perf_counter() - t0
    scores = evaluate_clustering(test.y, model.predict(test.X))
    gen, modes = model.sample(5000, random_state=seed + 1000)
    g = generation_scores(modes, judge(gen), priors)
    if grid is not None:
        per = [model.sample(10, cluster=c, random_state=c)[0] for c in range(len(priors))]
        save_cluster_grid(per, grid, labels=[f"k={c} p={p:.2f}" for c, p in enumerate(model.priors_)],
                          title=f"{CASES[case][0]}: {method}")
    return {
        "case": case, "method": method, "seed": seed, "seconds": round(seconds, 1), "steps": int(model.n_iter_),
        "acc": scores["acc"], "nmi": scores["nmi"], "ari": scores["ari"],
        "gen_tv": g["tv"], "gen_shares": g["shares"], "gen_mode_acc": g["mode_acc"],
        "priors_true": [round(float(p), 4) for p in priors], "budget": budget,
    }


def commands(rows: list[dict]) -> str:
    """The command that reproduces each (case, budget) group of rows."""
    seen: dict[tuple, list[int]] = {}
    for r in rows:
        key = (r["case"], r["budget"]["max_steps"], r["budget"]["warmup_steps"], r.get("threads"))
        seen.setdefault(key, [])
        if r["seed"] not in seen[key]:
            seen[key].append(r["seed"])
    return ", ".join(
        f"`python benchmarks/colour_synthetic.py --cases {case} --seeds {' '.join(map(str, seeds))} --steps {steps} "
        f"--warmup-steps {warm}{f' --threads {threads}' if threads else ''}`"
        for (case, steps, warm, threads), seeds in seen.items()
    )


def section(rows: list[dict], wall: float, note: str) -> str:
    lines = [
        "## Colour images: NEMGAN C1C2C3 vs ClusterGAN on synthetic shapes (32x32 RGB)",
        "",
        f"Commands: {commands(rows)}. Machine: {machine()}. "
        + (f"Wall time of the last invocation (`{command()}`): {wall / 60:.1f} min. " if wall else "")
        + note,
        "",
        "Data: `shapes32` (`gancluster.data.synthetic_colour`, generated offline): one shape and colour family per "
        "class on random textured backgrounds (k-means on raw pixels: ARI 0.00 on the 90:10 pair, exploratory). Both methods: best "
        "recipe, lean SN-GAN ResNets (`resnet32`, ch = 32), the same steps (warm-up included) and batch 64; "
        "NEMGAN gets the true priors (C3), ClusterGAN uniform ones. ACC (Hungarian) / NMI (arithmetic) / ARI on "
        "the **test split** (same class ratios), means ± std over seeds. `gen TV`: total variation between the "
        "true priors and the class shares of 5,000 generated samples read by the judge of "
        "`experiments/nemgan_table1.py` (same ResNet, trained on the labelled training split; its test accuracy "
        "is in the last column); `gen mode ACC`: latent mode vs judged class.",
        "",
        "| data | method | seeds | steps (warm-up) | ACC | NMI | ARI | gen TV | gen mode ACC | s/run | judge test ACC |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        key = (r["case"], r["method"], f"{r['budget']['max_steps']} ({r['budget']['warmup_steps']})")
        groups.setdefault(key, []).append(r)
    for (case, method, budget), rs in sorted(groups.items(), key=lambda kv: (list(CASES).index(kv[0][0]), kv[0][2],
                                                                           METHODS.index(kv[0][1]))):
        cells = [mean_std([r[k] for r in rs]) for k in ("acc", "nmi", "ari", "gen_tv", "gen_mode_acc")]
        judge = rs[-1].get("judge_test_acc")
        lines.append(f"| {CASES[case][0]} | {method} | {len(rs)} | {budget} | {' | '.join(cells)} | "
                     f"{np.mean([r['seconds'] for r in rs]):.0f} | {'–' if judge is None else f'{judge:.3f}'} |")
    lines += ["", "Per seed (ACC, gen TV): " + "; ".join(
        f"{r['case']} {r['method']} s{r['seed']}: {r['acc']:.3f}, {r['gen_tv']:.3f}" for r in rows)]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cases", nargs="+", default=["shapes2-90"], choices=list(CASES))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--steps", type=int, default=350, help="training steps per run, warm-up included")
    ap.add_argument("--warmup-steps", type=int, default=150, help="encoder / inverter warm-up steps (both methods)")
    ap.add_argument("--judge-steps", type=int, default=600)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (1 when sharing the machine)")
    ap.add_argument("--quick", action="store_true", help="1 seed, tiny budget and data; nothing written")
    ap.add_argument("--note", default="", help="free text added to the section (e.g. 'shared, loaded machine')")
    ap.add_argument("--render", action="store_true", help="only rewrite the section from the rows already measured")
    args = ap.parse_args()
    if args.threads:  # before --render too: the machine line names the threads the rows used
        torch.set_num_threads(args.threads)
    if args.render:
        write_section("colour_synthetic", section(read_rows(RESULTS), 0.0, args.note))
        return 0
    if args.quick:
        args.seeds, args.steps, args.warmup_steps, args.judge_steps = [0], 6, 3, 20
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    budget = dict(max_steps=args.steps, warmup_steps=args.warmup_steps)
    t0 = time.perf_counter()
    judges: dict[str, float] = {}
    for case in args.cases:
        subset = CASES[case][1]
        train, test = load_dataset("shapes32", split="train", **subset), load_dataset("shapes32", split="test", **subset)
        if args.quick:
            train, test = load_dataset("shapes32", split="test", n_samples=200, **subset), test
        if not args.quick:
            real = [train.X[train.y == c][:10] for c in range(len(train.class_names))]
            save_cluster_grid(real, FIGURES / f"colour_{case}_real.png", labels=train.class_names,
                              title=f"{CASES[case][0]}: real training images")
        judge, _ = train_judge(train, seed=0, steps=args.judge_steps)
        judges[case] = float((judge(test.X) == test.y).mean())
        print(f"{case}: train {np.bincount(train.y).tolist()}, test {np.bincount(test.y).tolist()}, "
              f"judge test acc {judges[case]:.4f}", flush=True)
        for method in args.methods:
            for seed in args.seeds:
                grid = FIGURES / f"colour_{case}_{method}.png" if seed == args.seeds[0] and not args.quick else None
                row = run_one(case, method, seed, train, test, judge, budget, grid)
                row.update(judge_test_acc=round(judges[case], 4), quick=args.quick, threads=torch.get_num_threads())
                if not args.quick:
                    append_row(RESULTS, row)
                print(json.dumps(row), flush=True)
    wall = time.perf_counter() - t0
    rows = [] if args.quick else read_rows(RESULTS)
    if rows:
        write_section("colour_synthetic", section(rows, wall, args.note))
        print(section(rows, wall, args.note))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
