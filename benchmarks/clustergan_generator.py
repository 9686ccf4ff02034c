"""ClusterGAN's generator on MNIST: does each latent mode draw varied digits, or one image per mode?

Trains ``gancluster.ClusterGAN`` (best recipe, short budget) under a few named GAN settings and
judges its generator beside its encoder: encoder ACC on 2,000 test images, the diversity ratio and
domain FID of :func:`gancluster.experiments.clustergan.generated_quality`, and backprop decoding
ACC (Algorithm 1, prior and encoder starts) on the first 300 test images, which only works when the
generator covers real digits. Each run appends a row to ``benchmarks/results/clustergan_generator.jsonl``;
the section is rebuilt from every row in that file.

    python benchmarks/clustergan_generator.py --variants 'ns (the recipe until 2026-11-29)' sn-standardized --seeds 0
    python benchmarks/clustergan_generator.py --report-only
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
from _common import ROOT, append_row, command, machine, mean_std, read_rows, write_section  # noqa: E402

from gancluster import ClusterGAN  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.experiments.clustergan import generated_quality  # noqa: E402
from gancluster.inversion import backprop_decode  # noqa: E402
from gancluster.metrics import cluster_acc  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "clustergan_generator.jsonl"
#: GAN settings tried on top of the best recipe (the encoder's real-data terms are unchanged). Each
#: variant names all four settings the recipe changed on 2026-11-29, so rows mean the same before and
#: after; rows from before that day recorded only the settings that differed from the NS default.
OLD = {"loss": "ns", "n_critic": 1, "d_spectral_norm": False, "standardize_noise": False}
VARIANTS: dict[str, dict] = {
    "ns (the recipe until 2026-11-29)": OLD,
    "d-spectral-norm": {**OLD, "d_spectral_norm": True},
    "beta_c=1": {**OLD, "beta_c": 1.0},
    "beta_c=0.1": {**OLD, "beta_c": 0.1},
    "standardized-noise": {**OLD, "standardize_noise": True},
    "sn-standardized": {**OLD, "d_spectral_norm": True, "standardize_noise": True},
    "sn-standardized, beta_c=1": {**OLD, "d_spectral_norm": True, "standardize_noise": True, "beta_c": 1.0},
    "sn-standardized, beta_c=1, beta_n=1": {**OLD, "d_spectral_norm": True, "standardize_noise": True, "beta_c": 1.0,
                                            "beta_n": 1.0},
    "hinge-sn-standardized, n_critic=2 (the recipe now)": {"loss": "hinge", "n_critic": 2, "d_spectral_norm": True,
                                                           "standardize_noise": True},
    "sn-standardized, no warm-up": {**OLD, "d_spectral_norm": True, "standardize_noise": True, "warmup_steps": 0},
}
RENAMED = {"default": "ns (the recipe until 2026-11-29)",
           "hinge-sn-standardized, n_critic=2": "hinge-sn-standardized, n_critic=2 (the recipe now)"}


def run(variant: str, seed: int, args: argparse.Namespace) -> dict:
    train, test = load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    params = {"max_steps": args.max_steps, "warmup_steps": args.warmup_steps, **VARIANTS[variant]}
    t0 = time.perf_counter()
    est = ClusterGAN(n_clusters=10, random_state=seed, device="cpu", **params).fit(train.X)
    rec = {"variant": variant, "seed": seed, "params": params, "train_seconds": round(time.perf_counter() - t0, 1)}
    X, y = test.X[:2000], test.y[:2000]
    rec["encoder_acc"] = round(cluster_acc(y, est.predict(X)), 4)
    rec.update({k: round(v, 4) for k, v in generated_quality(est, test).items()})
    n = 300
    rec["encoder_acc_300"] = round(cluster_acc(y[:n], est.predict(X[:n])), 4)
    for start in ("prior", "encoder"):
        res = backprop_decode(est, X[:n], random_state=seed, start=start)
        rec[f"backprop_acc_300_{start}"] = round(cluster_acc(y[:n], res.labels), 4)
    return rec


def section(rows: list[dict]) -> str:
    lines = [
        "## ClusterGAN's generator on MNIST: diversity inside each mode (diagnosis of backprop decoding)",
        "",
        "`benchmarks/clustergan_generator.py`: ClusterGAN best recipe with the GAN settings named in the first "
        "column, 3,500 steps of which 1,000 encoder warm-up (unless the row says otherwise), trained on the 60k MNIST training images; one torch "
        "thread, two runs at a time on the 2 cores. Encoder ACC on the first 2,000 test images; diversity ratio "
        "and domain FID as in the ClusterGAN section (ratio about 1 for a generator that varies like the data; "
        "domain FID real vs real about 3); backprop decoding ACC (Algorithm 1) on the first 300 test images "
        "beside the encoder's on the same 300. Means over the seeds in the seeds column. The first and the "
        "hinge rows were run under the names 'default' and 'hinge-sn-standardized, n_critic=2' before the "
        "recipe took the hinge settings (same settings; see the commands).",
        "",
        "| GAN settings | seeds | encoder ACC | diversity ratio | domain FID | backprop ACC (prior start) "
        "| backprop ACC (encoder start) | encoder ACC (same 300) | train s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant in VARIANTS:
        rs = [r for r in rows if r["variant"] == variant]
        if not rs:
            continue

        def ms(key: str, digits: int = 3) -> str:
            return mean_std([r[key] for r in rs], digits)

        lines.append(f"| {variant} | {', '.join(str(r['seed']) for r in rs)} | {ms('encoder_acc')} | "
                     f"{ms('diversity_ratio')} | {ms('fid_domain', 1)} | {ms('backprop_acc_300_prior')} | "
                     f"{ms('backprop_acc_300_encoder')} | {ms('encoder_acc_300')} | {ms('train_seconds', 0)} |")
    cmds = sorted({r["command"] for r in rows})
    lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in cmds) + ".", "", f"Machine: {rows[-1]['machine']}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=["ns (the recipe until 2026-11-29)", "hinge-sn-standardized, n_critic=2 (the recipe now)"], choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--max-steps", type=int, default=3500)
    ap.add_argument("--warmup-steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report-only", action="store_true", help="rebuild the section from the results file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.report_only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        for variant in args.variants:
            for seed in args.seeds:
                rec = run(variant, seed, args)
                rec.update(command=command(), machine=machine())
                print(json.dumps(rec), flush=True)
                append_row(RESULTS, rec)
    rows = read_rows(RESULTS)
    for r in rows:  # variants renamed when the recipe took the hinge settings (same settings)
        r["variant"] = RENAMED.get(r["variant"], r["variant"])
    if not rows:
        raise SystemExit(f"no results in {RESULTS}: run without --report-only first")
    write_section("clustergan-generator", section(rows))


if __name__ == "__main__":
    main()
