"""Backprop decoding (ClusterGAN Algorithm 1) against the encoder on the same ClusterGAN MNIST model.

Trains ``gancluster.ClusterGAN`` (default recipe) on the 60k MNIST training images (or loads it from
``benchmarks/.cache``), then clusters the 10k test images twice: with the encoder's cluster head and
with :func:`gancluster.inversion.backprop_decode` (K = 10 restarts, L1 + 10 mean(z_n^2), Adam 0.01,
z_n clipped to [-0.6, 0.6], best restart wins). Reports both ACC / NMI, their agreement and the
decoding time. An ablation on the first ``--ablation-n`` test images compares the faithful schedule
(all 10 restarts for every step) with the default pruned one (best 3 restarts kept after step 25).
Three more rows: decoding started at the encoder's z_n with the regulariser weight lambda chosen on
300 *training* images (grid 10, 1, 0.1, 0; the test set is not looked at); decoding from the prior
with each restart started at the best of 32 prior draws (``n_candidates``), lambda chosen the same
way (a start any generator has, unlike the encoder's); and the ceiling of any
pixel-L1 decoding with a generator that reproduced the training set exactly: the label of each test
digit's nearest training digit in mean L1 (1-NN).
If ``gmgan_mnist.py`` left a GM-GAN model in the cache, decoding is also run on it (restarts at the
10 means) against its Algorithm-2 classifier.

    python benchmarks/backprop_decoding.py --seeds 0 1 2
    python benchmarks/backprop_decoding.py --seeds 0 1 2 --report-only   # section from the results file
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
from _common import ROOT, append_row, command, machine, mean_std, newest_rows, parse_overrides, write_section  # noqa: E402

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


LAMBDA_GRID = (10.0, 1.0, 0.1, 0.0)
CANDIDATES = 32  # prior draws per restart, the lowest-loss one starts it (``n_candidates``)


def nearest_train_labels(X: np.ndarray, chunk: int = 50) -> np.ndarray:
    """Label of each row's nearest MNIST training image in mean L1 (the pixel-L1 decoding ceiling)."""
    train = load_dataset("mnist", split="train")
    ref = torch.from_numpy(train.X.reshape(len(train.X), -1))
    q = torch.from_numpy(np.ascontiguousarray(X).reshape(len(X), -1))
    idx = [torch.cdist(q[i : i + chunk], ref, p=1).argmin(1) for i in range(0, len(q), chunk)]
    return train.y[torch.cat(idx).numpy()]


def decode_with_tuned_lambda(est, X, y, train, seed: int, **kw) -> dict:
    """Decode ``X`` with the lambda of LAMBDA_GRID that decodes the first 300 *training* images best."""
    val_X, val_y = train.X[:300], train.y[:300]
    val = {lam: cluster_acc(val_y, backprop_decode(est, val_X, random_state=seed, lam=lam, **kw).labels)
           for lam in LAMBDA_GRID}
    lam = max(LAMBDA_GRID, key=lambda v: (val[v], v))  # ties: the larger (closer to the paper's 10)
    res = backprop_decode(est, X, random_state=seed, lam=lam, **kw)
    return {**metrics(y, res.labels), "lam": lam, "seconds": round(res.seconds, 1),
            "train300_acc_by_lam": {str(k): round(v, 4) for k, v in val.items()}}


def metrics(y, pred) -> dict[str, float]:
    return {k: round(v, 4) for k, v in evaluate_clustering(y, pred).items() if k in ("acc", "nmi", "ari")}


def run(seed: int, args: argparse.Namespace, ceiling: dict[str, float]) -> dict:
    test = load_dataset("mnist", split="test")
    X, y = test.X, test.y
    if args.n_test:
        X, y = X[: args.n_test], y[: args.n_test]
    est, train_s = clustergan_model(seed, args.max_steps, args.params)
    enc = est.predict(X)
    rec = {"seed": seed, "n": int(len(y)), "max_steps": args.max_steps, "clustergan_steps": est.n_iter_,
           "clustergan_train_seconds": round(train_s, 1), "clustergan_params": args.params, "encoder": metrics(y, enc),
           "nearest_train_l1": ceiling}
    rec.update({k: round(v, 4) for k, v in generated_quality(est, test).items()})
    res = backprop_decode(est, X, random_state=seed)
    rec["backprop"] = metrics(y, res.labels)
    rec["backprop_seconds"] = round(res.seconds, 1)
    rec["agreement_acc"] = round(cluster_acc(enc, res.labels), 4)
    res = backprop_decode(est, X, random_state=seed, start="encoder")
    rec["backprop_encoder_start"] = metrics(y, res.labels)
    rec["backprop_encoder_start_seconds"] = round(res.seconds, 1)
    train = load_dataset("mnist", split="train")
    for key, kw in (("backprop_encoder_start_tuned", {"start": "encoder"}),
                    ("backprop_candidates_tuned", {"n_candidates": CANDIDATES})):
        rec[key] = decode_with_tuned_lambda(est, X, y, train, seed, **kw)
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


def section(records: list[dict], note: str = "") -> str:
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
        "clip ±0.6, 50 steps, best 3 restarts kept after step 25) on a `gancluster.ClusterGAN` (best recipe"
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
    # the rows whose lambda was chosen on training images: (record key, table label, gap sentence)
    tuned_rows = (
        ("backprop_encoder_start_tuned", "same, lambda chosen on 300 training images",
         "Same, lambda chosen on training images"),
        ("backprop_candidates_tuned", f"backprop decoding from the prior, best of {CANDIDATES} draws per restart, "
         "lambda chosen the same way", f"From the prior with {CANDIDATES} candidates and lambda chosen on training images"),
    )
    for key, label, _ in tuned_rows:
        rs = [r for r in records if key in r]
        if rs:
            lams = ", ".join(f"{r[key]['lam']:g}" for r in rs)
            lines.append(f"| {label} (chosen: {lams}) | {ms(key, 'acc')} | {ms(key, 'nmi')} | {ms(key, 'ari')} "
                         f"| {mean_std([r[key]['seconds'] for r in rs], 0)} |")
    ceil = [r for r in records if "nearest_train_l1" in r]
    if ceil:
        lines.append(f"| ceiling: label of the nearest training digit (mean L1), i.e. a generator that reproduced the "
                     f"training set | {ms('nearest_train_l1', 'acc')} | {ms('nearest_train_l1', 'nmi')} "
                     f"| {ms('nearest_train_l1', 'ari')} | - |")
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
    for key, _, sentence in tuned_rows:
        gap_t = [r["encoder"]["acc"] - r[key]["acc"] for r in records if key in r]
        if gap_t:
            lines.append(f"{sentence}: encoder minus backprop ACC {mean_std(gap_t)} "
                         f"({'within' if abs(np.mean(gap_t)) <= 0.02 else 'NOT within'} 0.02).")
    if ceil:
        gap_c = [r["encoder"]["acc"] - r["nearest_train_l1"]["acc"] for r in ceil]
        lines.append(f"Encoder minus the 1-NN ceiling: {mean_std(gap_c)}.")
    lines += [
        "",
        f"Ablation on the first {records[0]['ablation_pruned']['n']} test images: faithful schedule (all restarts, "
        f"every step) ACC {ms('ablation_faithful', 'acc')} in "
        f"{mean_std([r['ablation_faithful']['seconds'] for r in records], 0)} s; pruned (default) ACC "
        f"{ms('ablation_pruned', 'acc')} in {mean_std([r['ablation_pruned']['seconds'] for r in records], 0)} s.",
    ]
    gm = [r["gmgan"] for r in records if "gmgan" in r]
    if gm:
        lines += ["", f"GM-GAN model (`gmgan_mnist.py` cache, restarts at the 10 means, n = {gm[0]['n']}): backprop "
                  f"decoding ACC {mean_std([g['backprop_acc'] for g in gm])} vs its Algorithm-2 classifier "
                  f"{mean_std([g['classifier_acc'] for g in gm])}, {mean_std([g['seconds'] for g in gm], 0)} s."]
    cmds = sorted({r["command"] for r in records})
    if note:  # the reading of these numbers, kept when the section is rebuilt with --report-only
        lines += ["", note]
    lines += ["", "Command: " + "; ".join(f"`{c}`" for c in cmds), "", f"Machine: {records[-1]['machine']}"]
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
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild the section from the newest row of each seed in the results file that matches "
                         "--max-steps, --n-test and --set")
    ap.add_argument("--note", default="", help="a paragraph reading the numbers, placed before the command line")
    args = ap.parse_args()
    args.params = parse_overrides(args.set)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n_test, args.ablation_n = 1000, 300
    if args.report_only:
        newest = newest_rows(RESULTS, key=lambda r: r["seed"], keep=lambda r: (
            r.get("max_steps") == args.max_steps and r.get("clustergan_params") == args.params
            and r["n"] == (args.n_test or 10_000) and r["seed"] in args.seeds))
        if not newest:
            raise SystemExit(f"no matching rows in {RESULTS}: run without --report-only first")
        write_section(args.section, section([newest[s] for s in sorted(newest)], args.note))
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    test = load_dataset("mnist", split="test")
    n = args.n_test or len(test.y)
    ceiling = metrics(test.y[:n], nearest_train_labels(test.X[:n]))
    records = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        rec = run(seed, args, ceiling)
        rec.update(wall_seconds=round(time.perf_counter() - t0, 1), command=command(), machine=machine())
        print(json.dumps(rec), flush=True)
        append_row(RESULTS, rec)
        records.append(rec)
        write_section(args.section, section(records, args.note))


if __name__ == "__main__":
    main()
