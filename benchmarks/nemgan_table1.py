"""Paper 000 Table I: C1 / C2 / C3 ablation of NEMGAN on imbalanced data, plus the generated-share TV.

    python benchmarks/nemgan_table1.py [--seeds 0 1 2] [--datasets ...] [--variants ...] [--steps 1600]
    python benchmarks/nemgan_table1.py --quick          # one short run per variant on MNIST-2 3v5 70:30
    python benchmarks/nemgan_table1.py --moons-figure   # paper Fig. 1 -> benchmarks/figures/nemgan_moons.png

Every variant is the same NEMGAN (networks, recipe, time budget); see
``gancluster.experiments.nemgan_table1`` for how each clusters real data and how C3 is judged.
Rows are appended to ``benchmarks/results/nemgan_table1.jsonl`` as they finish, and the section
``nemgan_table1`` of BENCHMARKS.md (or ``--section``) is rewritten from the rows of that file for the
datasets asked for, e.g. ``--datasets moons --section nemgan_table1-moons`` for the 2-D moons.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, append_row, command, machine, mean_std, parse_overrides, read_rows, write_section  # noqa: E402

from gancluster.experiments.nemgan_table1 import (  # noqa: E402
    CASES, PAPER_TABLE1, VARIANTS, ordering_holds, run_case, save_moons_figure, summarise, train_judge,
)

RESULTS = ROOT / "benchmarks" / "results" / "nemgan_table1.jsonl"
FIGURES = ROOT / "benchmarks" / "figures"
BARS = {"mnist2-3v5-70": 0.98, "mnist2-3v5-90": 0.98, "mnist5": 0.96, "fmnist5": 0.92}
DEFAULT_STEPS = 1600  # Table I's budget per run (warm-up included)
DEFAULT_WARMUP = 400  # of which the inverter's warm-up (C1C2 / C1C2C3 on images)


def fmt(entry: dict, key: str, digits: int = 3) -> str:
    v = entry.get(key)
    return "–" if v is None else f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"


def section_name(steps: int) -> str:
    """The default budget's rows make the Table I section; another step budget gets its own."""
    return "nemgan_table1" if steps == DEFAULT_STEPS else f"nemgan_table1-{steps}-steps"


def steps_asked(row: dict) -> int:
    """The step budget a row was run with (rows written before ``steps_asked`` ran to their budget)."""
    return int(row.get("steps_asked", row["steps"]))


def section(rows: list[dict], wall: float, note: str, steps: int = DEFAULT_STEPS, extra: dict | None = None,
            warmup: int = DEFAULT_WARMUP) -> str:
    summary = summarise(rows)
    order = ordering_holds(summary)
    budget = "" if steps == DEFAULT_STEPS else f", {steps} training steps per run"
    budget += "" if warmup == DEFAULT_WARMUP else f", warm-up of {warmup} steps"
    budget += f", with {extra}" if extra else ""
    sets = sorted({r["dataset"] for r in rows})
    on = "" if set(sets) == set(BARS) else f" ({', '.join(sets)})"
    lines = [
        f"## NEMGAN: Table I ablation (paper 000), imbalanced data{on}{budget}",
        "",
        f"Command: `{command()}`. Machine: {machine()}. Wall time of this invocation: {wall / 60:.1f} min. {note}",
        "",
        "ACC (Hungarian) / NMI (arithmetic) / ARI on the **test split** of each dataset (same class ratios), "
        "means ± std over seeds. `gen TV`: total variation between the real class priors and the class "
        "shares of 5,000 generated samples as read by a judge CNN/MLP trained on the labelled training set; "
        "`gen mode ACC`: latent mode vs judged class (clustering of the generated space). Clusters of real "
        "data: inverter argmax (C1C2, C1C2C3), k-means on z_hat (C2), majority mode of the 10 nearest "
        "generated samples (C1, WGAN). Same networks, recipe and step budget for every variant "
        "(C1C2 / C1C2C3 spend the first `--warmup-steps` of it on the inverter warm-up, which starts from "
        "the spectral partition of the k-NN graph sized by their priors, and train against a "
        "cluster-conditional critic; the graph is each dataset's `real_graph`: on FMNIST-5 'hog' since "
        "2026-12-01, neighbours on gradient-orientation histograms and the start on pixels, before it 'pixels'; "
        "the others 'auto', deskewed images). "
        "What the samples look like: `domain FID` against the real test images on the features of the "
        "project's MNIST / Fashion-MNIST classifier (real vs real about 3; the paper's FID, 4th paper value, "
        "uses features it does not name), and `diversity` inside each latent mode (about 1 when a mode varies "
        "like its class, near 0 when it draws one image). A judge labels any image, digit or not, so gen TV "
        "means something only where the FID says the samples look like the data. On vectors, `coverage`: "
        "share of real test points with one of the generated samples (as many as training points) within "
        "the 99th percentile of their nearest-neighbour distance to the training points (real data: about "
        "0.99; low when each mode covers part of its cluster only).",
        "",
        "| dataset | model | seeds | ACC | NMI | ARI | paper ACC / NMI / ARI / FID | gen TV | gen mode ACC "
        "| domain FID | diversity | coverage | s/run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in sorted(summary, key=lambda e: (list(CASES).index(e["dataset"]), list(VARIANTS).index(e["variant"]))):
        v = VARIANTS[e["variant"]]
        paper = PAPER_TABLE1.get((e["dataset"], e["variant"]))
        lines.append(
            f"| {e['dataset']} | {v.label} ({v.paper_model}) | {e['n_seeds']} | {fmt(e, 'acc')} | {fmt(e, 'nmi')} | "
            f"{fmt(e, 'ari')} | {'/'.join(f'{p:.2f}' for p in paper) if paper else '–'} | {fmt(e, 'gen_tv')} | "
            f"{fmt(e, 'gen_mode_acc')} | {fmt(e, 'fid_domain', 1)} | {fmt(e, 'diversity_ratio')} | {fmt(e, 'coverage')} | {e['seconds']:.0f} |"
        )
    lines += ["", "Bars (C1C2C3 mean ACC) and ablation ordering (C1C2C3 above every partial model run on that set):", ""]
    for e in summary:
        if e["variant"] == "C1C2C3" and e["dataset"] in BARS and "acc" in e:
            bar = BARS[e["dataset"]]
            ok = "reached" if e["acc"][0] >= bar else "NOT reached"
            if e["n_seeds"] < 3:
                ok = f"{'above' if e['acc'][0] >= bar else 'below'} it on {e['n_seeds']} seed(s); the bar is a 3-seed mean, not established"
            tv = e.get("gen_tv")
            tv_txt = "" if tv is None else f"; gen TV {tv[0]:.3f} ({'<=' if tv[0] <= 0.02 else '>'} 0.02)"
            lines.append(f"- {e['dataset']}: ACC {e['acc'][0]:.3f} vs bar {bar} — {ok}{tv_txt}")
    for case, holds in order.items():
        lines.append(f"- ordering on {case}: {'holds' if holds else 'does NOT hold'}")
    return "\n".join(lines)


def moons_figure(steps: int, seed: int) -> Path:
    case = CASES["moons"]
    train = case.load("train")
    priors = (train.class_counts() / len(train)).tolist()
    models = {}
    from gancluster.experiments.nemgan_table1 import make_model

    for key, variant in VARIANTS.items():
        model = make_model(case, variant, priors, seed, max_steps=steps)
        models[f"{variant.paper_model}\n{variant.label}"] = model.fit(train.X)
        print(f"moons {key}: {model.n_iter_} steps", flush=True)
    return save_moons_figure(models, train, FIGURES / "nemgan_moons.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--datasets", nargs="+", default=list(BARS), choices=list(CASES))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seconds", type=float, default=None, help="training time budget per run (instead of --steps)")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps per run (warm-up included)")
    ap.add_argument("--warmup-steps", type=int, default=DEFAULT_WARMUP,
                    help="inverter warm-up steps of C1C2C3 / C1C2")
    ap.add_argument("--recipe", default="best", choices=["best", "faithful"])
    ap.add_argument("--judge-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (1 when sharing the machine)")
    ap.add_argument("--quick", action="store_true", help="1 seed, MNIST-2 3v5 70:30, 30 s per run")
    ap.add_argument("--moons-figure", action="store_true", help="draw paper Fig. 1 on moons 80:20 and exit")
    ap.add_argument("--note", default="", help="free text added to the section (e.g. 'shared, loaded machine')")
    ap.add_argument("--report-only", action="store_true", help="rewrite the section from the results file, run nothing")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="NEMGAN parameters for every run (YAML scalars); rows keep them as 'extra'")
    ap.add_argument("--section", default=None,
                    help="BENCHMARKS.md section to write (default: nemgan_table1, or nemgan_table1-<steps>-steps)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.moons_figure:
        print(moons_figure(args.steps, args.seeds[0]))
        return 0
    if args.quick:
        args.seeds, args.datasets, args.steps, args.warmup_steps = [0], ["mnist2-3v5-70"], 60, 20
    shown = set(args.datasets)  # the section reports these datasets' rows
    extra = parse_overrides(args.set)
    if args.report_only:
        args.datasets = []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for case_key in args.datasets:
        case = CASES[case_key]
        train, test = case.load("train"), case.load("test")
        judge, judge_acc = train_judge(train, seed=0, steps=args.judge_steps)
        print(f"{case_key}: judge train acc {judge_acc:.4f}", flush=True)
        for variant_key in args.variants:
            for seed in args.seeds:
                suffix = "" if args.steps == DEFAULT_STEPS or args.seconds else f"_{args.steps}-steps"
                if not args.quick and (extra or args.warmup_steps != DEFAULT_WARMUP):  # probe
                    suffix += "_probe"
                grid = FIGURES / f"nemgan_{case_key}_{variant_key}{suffix}.png" if seed == args.seeds[0] else None
                budget = dict(max_steps=10**9, max_seconds=args.seconds) if args.seconds else dict(max_steps=args.steps)
                v = VARIANTS[variant_key]
                if args.recipe == "best" and v.multimodal and v.inverter and train.X.ndim == 4:
                    budget["warmup_steps"] = args.warmup_steps
                row = run_case(case_key, variant_key, seed, judge=judge, train=train, test=test, grid_path=grid,
                               recipe=args.recipe, **budget, **extra)
                row.pop("_model", None)
                row.update(judge_train_acc=round(judge_acc, 4), recipe=args.recipe, quick=args.quick,
                           threads=torch.get_num_threads(), extra=extra, model_params=case.model_params)
                if not args.seconds:
                    row["steps_asked"] = args.steps
                if "warmup_steps" in budget:
                    row["warmup_steps_asked"] = args.warmup_steps
                append_row(RESULTS, row)
                print(json.dumps(row), flush=True)
    wall = time.perf_counter() - t0
    rows = [r for r in read_rows(RESULTS) if not r.get("quick") and r.get("recipe") == args.recipe
            and r["dataset"] in shown and r.get("extra", {}) == extra and (args.seconds or steps_asked(r) == args.steps)
            and r.get("warmup_steps_asked", args.warmup_steps) == args.warmup_steps]
    if args.quick:
        rows = [r for r in read_rows(RESULTS) if r.get("quick")]
    text = section(rows, wall, args.note, args.steps, extra, args.warmup_steps)
    if rows and not args.quick:
        write_section(args.section or section_name(args.steps), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
