"""Backprop decoding (ClusterGAN Algorithm 1) against the encoder on the same ClusterGAN MNIST model.

Trains ``gancluster.ClusterGAN`` (default recipe) on the 60k MNIST training images (or loads it from
``benchmarks/.cache``), then clusters the 10k test images twice: with the encoder's cluster head and
with :func:`gancluster.inversion.backprop_decode` (K = 10 restarts, L1 + 10 mean(z_n^2), Adam 0.01,
z_n clipped to [-0.6, 0.6], best restart wins). Reports both ACC / NMI, their agreement and the
decoding time. An ablation on the first ``--ablation-n`` test images compares the faithful schedule
(all 10 restarts for every step) with the default pruned one (best 2 restarts kept after step 10).
If ``gmgan_mnist.py`` left a GM-GAN model in the cache, decoding is also run on it (restarts at the
10 means) against its Algorithm-2 classifier.

    python benchmarks/backprop_decoding.py --seeds 0 1 2
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
from _common import ROOT, command, machine, mean_std, parse_overrides, write_section  # noqa: E402

import gancluster  # noqa: E402
import gancluster.gmgan  # noqa: E402,F401  (registers GMGAN for gancluster.load)
from gancluster import ClusterGAN  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.experiments.clustergan import generated_quality  # noqa: E402
from gancluster.inversion import backprop_decode  # noqa: E402
from gancluster.metrics import cluster_acc, evaluate_clustering  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results" / "backprop_decoding.jsonl"


def clustergan_model(seed: int, max_steps: int, params: dict) -> tuple[ClusterGAN, float]:
    tag = "".join(f"_{k}-{v}" for k, v in sorted(params.items()))
    path = CACHE / f"clustergan_mnist_s{seed}_{max_steps}{tag}.safetensors"
    if path.exists():
        try:
            est = gancluster.load(path, device="cpu")
            return est, est.train_seconds_
        except gancluster.CheckpointError:  # written by an older ClusterGAN: train afresh
            path.unlink()
    train = load_dataset("mnist", split="train")
    est = ClusterGAN(n_clusters=10, max_steps=max_steps, random_state=seed, device="cpu", **params)
    est.fit(train.X)
    CACHE.mkdir(parents=True, exist_ok=True)
    est.save(path)
    return est, est.train_seconds_


def metrics(y, pred) -> dict[str, float]:
    return {k: round(v, 4) for k, v in evaluate_clustering(y, pred).items() if k in ("acc", "nmi", "ari")}


def run(seed: int, args: argparse.Namespace) -> dict:
    test = load_dataset("mnist", split="test")
    X, y = test.X, test.y
    if args.n_test:
        X, y = X[: args.n_test], y[: args.n_test]
    est, train_s = clustergan_model(seed, args.max_steps, args.params)
    enc = est.predict(X)
    rec = {"seed": seed, "n": int(len(y)), "clustergan_steps": est.n_iter_, "clustergan_train_seconds": round(train_s, 1),
           "clustergan_params": args.params, "encoder": metrics(y, enc)}
    rec.update({k: round(v, 4) for k, v in generated_quality(est, test).items()})
    res = backprop_decode(est, X, random_state=seed)
    rec["backprop"] = metrics(y, res.labels)
    rec["backprop_seconds"] = round(res.seconds, 1)
    rec["agreement_acc"] = round(cluster_acc(enc, res.labels), 4)
    res = backprop_decode(est, X, random_state=seed, start="encoder")
    rec["backprop_encoder_start"] = metrics(y, res.labels)
    rec["backprop_encoder_start_seconds"] = round(res.seconds, 1)
    n = min(args.ablation_n, len(y))
    for name, kw in (("pruned", {}), ("faithful", {"prune": ()})):
        r = backprop_decode(est, X[:n], random_state=seed, **kw)
        rec[f"ablation_{name}"] = {"acc": round(cluster_acc(y[:n], r.labels), 4), "seconds": round(r.seconds, 1), "n": n}
    gm_path = CACHE / f"gmgan_mnist_best_s{seed}.safetensors"
    if gm_path.exists():
        gm = gancluster.load(gm_path, device="cpu")
        r = backprop_decode(gm, X[:n], random_state=seed)
        rec["gmgan"] = {"n": n, "classifier_acc": round(cluster_acc(y[:n], gm.predict(X[:n])), 4),
                        "backprop_acc": round(cluster_acc(y[:n], r.labels), 4), "seconds": round(r.seconds, 1)}
    return rec


def section(records: list[dict]) -> str:
    def ms(key, sub):
        return mean_std([r[key][sub] for r in records if key in r])

    gap = [r["encoder"]["acc"] - r["backprop"]["acc"] for r in records]
    ok = abs(np.mean(gap)) <= 0.02
    warm = [r for r in records if "backprop_encoder_start" in r]
    gap_warm = [r["encoder"]["acc"] - r["backprop_encoder_start"]["acc"] for r in warm]
    lines = [
        "## Backprop decoding vs the encoder (ClusterGAN, MNIST test)",
        "",
        "`gancluster.inversion.backprop_decode` (Algorithm 1: 10 restarts, L1 + 10·mean(z_n²), Adam 0.01, "
        "clip ±0.6, 50 steps, best 2 restarts kept after step 10) on a `gancluster.ClusterGAN` (default recipe"
        + "".join(f", {k}={v}" for k, v in records[0].get("clustergan_params", {}).items())
        + ") trained on the 60k training images. Seeds: " + ", ".join(str(r["seed"]) for r in records) + ".",
        "",
        "The model's generator, judged before decoding (see the ClusterGAN section for the definitions): "
        f"diversity ratio {mean_std([r['diversity_ratio'] for r in records if 'diversity_ratio' in r])}, "
        f"domain FID {mean_std([r['fid_domain'] for r in records if 'fid_domain' in r], 1)}.",
        "",
        "| | ACC | NMI | ARI | time (s) |",
        "| --- | --- | --- | --- | --- |",
        f"| encoder | {ms('encoder', 'acc')} | {ms('encoder', 'nmi')} | {ms('encoder', 'ari')} | - |",
        f"| backprop decoding (n = {records[0]['n']}) | {ms('backprop', 'acc')} | {ms('backprop', 'nmi')} "
        f"| {ms('backprop', 'ari')} | {mean_std([r['backprop_seconds'] for r in records], 0)} |",
    ]
    if warm:
        lines.append(f"| backprop decoding, restarts started at the encoder's z_n | {ms('backprop_encoder_start', 'acc')} "
                     f"| {ms('backprop_encoder_start', 'nmi')} | {ms('backprop_encoder_start', 'ari')} "
                     f"| {mean_std([r['backprop_encoder_start_seconds'] for r in warm], 0)} |")
    lines += [
        "",
        f"Encoder minus backprop ACC: {mean_std(gap)} (bar: within 0.02: {'met' if ok else 'NOT met'}). "
        f"Agreement of the two assignments (ACC of one against the other): {mean_std([r['agreement_acc'] for r in records])}. "
        f"ClusterGAN training: {int(np.mean([r['clustergan_steps'] for r in records]))} steps, "
        f"{np.mean([r['clustergan_train_seconds'] for r in records]):.0f} s.",
    ]
    if warm:
        lines.append(f"Started at the encoder's z_n (`start='encoder'`, ours): encoder minus backprop ACC "
                     f"{mean_std(gap_warm)} ({'within' if abs(np.mean(gap_warm)) <= 0.02 else 'NOT within'} 0.02).")
    lines += [
        "",
        f"Ablation on the first {records[0]['ablation_pruned']['n']} test images: faithful schedule (all restarts, "
        f"every step) ACC {ms('ablation_faithful', 'acc')} in {ms('ablation_faithful', 'seconds')} s; pruned "
        f"(default) ACC {ms('ablation_pruned', 'acc')} in {ms('ablation_pruned', 'seconds')} s.",
    ]
    gm = [r["gmgan"] for r in records if "gmgan" in r]
    if gm:
        lines += ["", f"GM-GAN model (`gmgan_mnist.py` cache, restarts at the 10 means, n = {gm[0]['n']}): backprop "
                  f"decoding ACC {mean_std([g['backprop_acc'] for g in gm])} vs its Algorithm-2 classifier "
                  f"{mean_std([g['classifier_acc'] for g in gm])}, {mean_std([g['seconds'] for g in gm], 0)} s."]
    lines += ["", f"Command: `{records[-1]['command']}`", "", f"Machine: {records[-1]['machine']}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--max-steps", type=int, default=6000, help="ClusterGAN steps (3000 of them warm-up)")
    ap.add_argument("--n-test", type=int, default=0, help="decode only the first N test images (0: all)")
    ap.add_argument("--ablation-n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="1000 test images, 300-image ablation")
    ap.add_argument("--set", nargs="*", default=[], help="ClusterGAN params as key=value (YAML scalars)")
    ap.add_argument("--section", default="backprop_decoding", help="BENCHMARKS.md section to write")
    args = ap.parse_args()
    args.params = parse_overrides(args.set)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n_test, args.ablation_n = 1000, 300
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        rec = run(seed, args)
        rec.update(wall_seconds=round(time.perf_counter() - t0, 1), command=command(), machine=machine())
        print(json.dumps(rec), flush=True)
        with open(RESULTS, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        records.append(rec)
        write_section(args.section, section(records))


if __name__ == "__main__":
    main()
