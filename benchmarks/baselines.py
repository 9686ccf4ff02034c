"""Classical clustering baselines on the MNIST and Fashion-MNIST test sets, beside the GAN methods.

k-means, GMM, agglomerative (Ward) and NMF from :mod:`gancluster.baselines` on the 10k flattened test
images, ACC (Hungarian) / NMI (arithmetic) / ARI and time, means over seeds. Agglomerative clustering
is deterministic, so it runs once per dataset (its std is 0 by construction). The GAN rows are read
from the results files of ``gmgan_mnist.py`` and ``backprop_decoding.py`` when they exist (same test
sets, same metrics), with the seeds they were run with.

    python benchmarks/baselines.py --seeds 0 1 2
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
from _common import ROOT, command, machine, mean_std, newest_rows, read_rows, write_section  # noqa: E402

from gancluster.baselines import BASELINES, run_baseline  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.metrics import evaluate_clustering  # noqa: E402

PAPER = {  # ClusterGAN slides (paper 001) and GM-GAN slides (paper 002), for orientation
    ("mnist", "agglomerative"): "0.64 / 0.65 / 0.46", ("mnist", "nmf"): "0.56 / 0.45 / 0.36",
    ("mnist", "kmeans"): "0.5349 / 0.500 / -", ("fashion-mnist", "kmeans"): "0.4714 / 0.5115 / -",
    ("fashion-mnist", "agglomerative"): "0.55 / 0.57 / 0.37", ("fashion-mnist", "nmf"): "0.50 / 0.51 / 0.34",
    ("mnist", "GAN with bp"): "0.95 / 0.90 / 0.89", ("fashion-mnist", "GAN with bp"): "0.56 / 0.53 / 0.37",
    ("mnist", "GM-GAN"): "0.9924 / 0.9618 / -", ("fashion-mnist", "GM-GAN"): "0.5816 / 0.5690 / -",
    ("mnist", "ClusterGAN"): "0.95 / 0.89 / 0.89", ("fashion-mnist", "ClusterGAN"): "0.63 / 0.64 / 0.50",
}


def gan_rows(dataset: str) -> list[tuple[str, list[dict], str]]:
    """(name, per-seed metric dicts, note) for the GAN methods benchmarked by the other scripts."""
    rows = []
    cg = ROOT / "benchmarks" / "results" / f"clustergan_{dataset}.jsonl"
    if cg.exists():  # the newest full-budget run of each seed of the best recipe
        # the recipe's own networks: runs that chose other nets (arch=mlp) are another configuration
        latest = newest_rows(cg, key=lambda r: r["seed"], keep=lambda r: (
            r.get("variant") == "best" and "mode_agreement" in r and "arch" not in r.get("params", {})))
        # runs from before the recipe's GAN settings changed (2026-11-29) did not record a loss; once
        # a seed has a run with the new settings, the row shows those runs only (never a mix)
        current = {s: r for s, r in latest.items() if "loss" in r.get("params", {})}
        latest = current or latest
        if latest:
            old = not current
            name = "ClusterGAN (best recipe" + (", its GAN settings before 2026-11-29)" if old else ")")
            rows.append((name, [{"acc": r["acc"], "nmi": r["nmi"], "ari": r["ari"],
                         "seconds": r["train_seconds"], "seed": r["seed"]} for r in latest.values()], "ClusterGAN"))
    gm = ROOT / "benchmarks" / "results" / "gmgan_mnist.jsonl"
    if gm.exists():
        recs = [r for r in read_rows(gm) if r.get("section", "gmgan_mnist") == "gmgan_mnist"]  # not diagnosis runs
        for variant in ("best", "faithful"):
            rs = [r for r in recs if r["dataset"] == dataset and r["variant"] == variant and not r["quick"]]
            if rs:
                rows.append((f"GM-GAN ({variant})", [{"acc": r["test_acc"], "nmi": r["test_nmi"], "ari": r["test_ari"],
                             "seconds": r["train_seconds"], "seed": r["seed"]} for r in rs], "GM-GAN"))
    bp = ROOT / "benchmarks" / "results" / "backprop_decoding.jsonl"
    if bp.exists() and dataset == "mnist":
        # the newest run of each seed (older ones decoded older models)
        recs = list(newest_rows(bp, key=lambda r: r["seed"]).values())
        if recs:
            n = sorted({r["n"] for r in recs})
            rows.append((f"GAN with backprop decoding (ClusterGAN G; first {'/'.join(map(str, n))} test images)",
                         [dict(r["backprop"], seconds=r["backprop_seconds"], seed=r["seed"]) for r in recs], "GAN with bp"))
            rows.append(("ClusterGAN encoder (same models)", [dict(r["encoder"], seconds=r["clustergan_train_seconds"],
                         seed=r["seed"]) for r in recs], ""))
    return rows


def section(results: dict, seeds: list[int]) -> str:
    lines = [
        "## Clustering baselines vs GAN methods (MNIST / Fashion-MNIST test sets)",
        "",
        "Classical clusterers from `gancluster.baselines` on the 10k flattened test images (GMM: 50 PCA "
        "components; agglomerative: Ward, deterministic). ACC: Hungarian, NMI: arithmetic. Means ± std over seeds "
        f"{seeds}. GAN rows come from `gmgan_mnist.py` / `backprop_decoding.py` results (their own seeds; time = "
        "their training / decoding time; ClusterGAN: the newest best-recipe run of each seed of `clustergan_mnist.py`). "
        "One torch thread, with other benchmark jobs on the machine.",
        "",
        "| dataset | method | seeds | ACC | NMI | ARI | time (s) | paper ACC / NMI / ARI |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ds, per in results.items():
        for name, runs in per.items():
            lines.append(f"| {ds} | {name} | {len(runs)} | {mean_std([r['acc'] for r in runs])} "
                         f"| {mean_std([r['nmi'] for r in runs])} | {mean_std([r['ari'] for r in runs])} "
                         f"| {np.mean([r['seconds'] for r in runs]):.0f} | {PAPER.get((ds, name), '-')} |")
        for name, runs, key in gan_rows(ds):
            lines.append(f"| {ds} | {name} | {','.join(str(r['seed']) for r in runs)} | {mean_std([r['acc'] for r in runs])} "
                         f"| {mean_std([r['nmi'] for r in runs])} | {mean_std([r['ari'] for r in runs])} "
                         f"| {np.mean([r['seconds'] for r in runs]):.0f} | {PAPER.get((ds, key), '-')} |")
    lines += ["", f"Command: `{command()}`", "", f"Machine: {machine()}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    ap.add_argument("--methods", nargs="+", default=list(BASELINES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2000 test images")
    ap.add_argument("--gan-rows-only", action="store_true", help="rebuild the table from saved baseline results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    store = ROOT / "benchmarks" / "results" / "baselines.json"
    if args.gan_rows_only and store.exists():
        saved = json.loads(store.read_text())
        write_section("baselines", section(saved["results"], saved["seeds"]))
        return
    results: dict[str, dict[str, list[dict]]] = {}
    for ds in args.datasets:
        data = load_dataset(ds, split="test", n_samples=2000 if args.quick else None)
        X, y = data.X.reshape(len(data.X), -1), data.y
        results[ds] = {}
        for name in args.methods:
            runs = []
            for seed in args.seeds[:1] if name == "agglomerative" else args.seeds:
                t0 = time.perf_counter()
                pred = run_baseline(name, X, 10, seed)
                sec = time.perf_counter() - t0
                m = {k: round(v, 4) for k, v in evaluate_clustering(y, pred).items() if k in ("acc", "nmi", "ari")}
                runs.append({**m, "seconds": round(sec, 1), "seed": seed})
                print(ds, name, seed, runs[-1], flush=True)
            results[ds][name] = runs
    if not args.quick:
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps({"results": results, "seeds": args.seeds}, indent=1))
    write_section("baselines", section(results, args.seeds))


if __name__ == "__main__":
    main()
