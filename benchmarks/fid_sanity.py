"""Sanity bar of the FID implementation (issue 6), on Inception-v3 and on the domain features.

    python benchmarks/fid_sanity.py                    # everything (Inception: ~20+ min on 2 cores)
    python benchmarks/fid_sanity.py --skip-inception --skip-clustergan --seeds 0 1 2   # domain FIDs only
    python benchmarks/fid_sanity.py --quick            # N=200, short ClusterGAN, smoke test

1. FID of N MNIST test images against N MNIST train images (should be small) and against N
   Fashion-MNIST test images (should be large), on Inception-v3 pool3 and on the MNIST /
   Fashion-MNIST classifier features. Subsets are drawn per seed; real statistics are cached.
2. Ranking check: one ClusterGAN run on MNIST, sampled after an early and a late time budget (the
   late model resumes the early checkpoint); FID of its samples against MNIST test on both feature
   sets. The domain FID should rank the two checkpoints like the Inception FID does.

Writes the "fid-sanity" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, machine, mean_std, write_section  # noqa: E402

from gancluster.metrics.fid import (  # noqa: E402
    feature_stats,
    fid_from_stats,
    get_extractor,
    real_stats,
)

PAIRS = [  # (label, dataset A, split A, dataset B, split B)
    ("MNIST test vs MNIST train", "mnist", "test", "mnist", "train"),
    ("MNIST test vs Fashion-MNIST test", "mnist", "test", "fashion-mnist", "test"),
]


def pair_fids(features: str, n: int, seeds: list[int]) -> dict[str, list[float]]:
    ex = get_extractor(features)
    out: dict[str, list[float]] = {}
    for label, da, sa, db, sb in PAIRS:
        vals = []
        for seed in seeds:
            t = time.time()
            a = real_stats(da, ex, split=sa, n=n, seed=seed)
            b = real_stats(db, ex, split=sb, n=n, seed=seed + 1000)  # a different subset even if same split
            res = fid_from_stats(a, b, f"{da}/{sa}", f"{db}/{sb}")
            print(f"{label}, seed {seed}: {res} ({time.time() - t:.0f}s)", flush=True)
            vals.append(res.value)
        out[label] = vals
    return out


def clustergan_checkpoints(early_s: float, late_s: float, n_gen: int, seed: int, warmup: int,
                           work: Path) -> dict[str, np.ndarray]:
    """Samples of one ClusterGAN MNIST run after ``early_s`` and after ``early_s + late_s`` seconds."""
    from gancluster.clustergan import ClusterGAN
    from gancluster.data import load_dataset

    X = load_dataset("mnist", split="train").X
    samples = {}
    for name, seconds, resume in (("early", early_s, False), ("late", late_s, True)):
        est = ClusterGAN(10, max_steps=10**7, max_seconds=seconds, warmup_steps=warmup, random_state=seed)
        t = time.time()
        est.fit(X, run_dir=work / "run", resume=resume)
        print(f"ClusterGAN {name}: {est.n_iter_} steps total, {time.time() - t:.0f}s this phase", flush=True)
        samples[name] = est.sample(n_gen, random_state=seed)[0]
        samples[f"{name}_steps"] = np.array(est.n_iter_)
    return samples


def checkpoint_fids(samples: dict[str, np.ndarray], features: str, n_real: int) -> dict[str, float]:
    ex = get_extractor(features)
    ref = real_stats("mnist", ex, split="test", n=n_real, seed=0)
    out = {}
    for name in ("early", "late"):
        t = time.time()
        res = fid_from_stats(feature_stats(ex(samples[name]), ex.name), ref, f"ClusterGAN-{name}", "mnist/test")
        print(f"{res} ({time.time() - t:.0f}s)", flush=True)
        out[name] = res.value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="images per side of each real pair")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="subset seeds, domain features")
    parser.add_argument("--inception-seeds", nargs="+", type=int, default=[0], help="subset seeds, Inception")
    parser.add_argument("--n-gen", type=int, default=500, help="generated images per ClusterGAN checkpoint")
    parser.add_argument("--early-seconds", type=float, default=30.0)
    parser.add_argument("--late-seconds", type=float, default=270.0, help="extra seconds after the early checkpoint")
    parser.add_argument("--warmup-steps", type=int, default=0,
                        help="ClusterGAN encoder warm-up steps (the best recipe's 1500 would leave the generator "
                             "untrained at the early checkpoint)")
    parser.add_argument("--skip-inception", action="store_true")
    parser.add_argument("--skip-clustergan", action="store_true")
    parser.add_argument("--quick", action="store_true", help="N=200, N_gen=100, 5 s + 30 s ClusterGAN")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=None, help="also dump the raw numbers as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.n, args.n_gen, args.early_seconds, args.late_seconds = 200, 100, 5.0, 30.0
    t0 = time.time()
    feature_sets = ["mnist", "fashion-mnist"] + ([] if args.skip_inception else ["inception"])
    names = {f: get_extractor(f).name for f in feature_sets}

    results: dict[str, dict] = {"pairs": {}, "checkpoints": {}}

    def dump() -> None:  # after every stage, so a long Inception run loses nothing already computed
        if args.results:
            args.results.write_text(json.dumps(results, indent=1))

    # ClusterGAN first (minutes), then each feature set: the slow Inception comes last.
    ckpt_note, samples = "skipped (--skip-clustergan)", None
    if not args.skip_clustergan:
        with tempfile.TemporaryDirectory(prefix="fid_sanity_") as tmp:
            samples = clustergan_checkpoints(args.early_seconds, args.late_seconds, args.n_gen, 0,
                                             args.warmup_steps, Path(tmp))
        ckpt_note = (f"steps early {int(samples['early_steps'])}, late {int(samples['late_steps'])}; "
                     f"warmup_steps={args.warmup_steps}")
    for f in feature_sets:
        seeds = args.inception_seeds if f == "inception" else args.seeds
        results["pairs"][f] = pair_fids(f, args.n, seeds)
        dump()
        if samples is not None:
            results["checkpoints"][f] = checkpoint_fids(samples, f, args.n)
            dump()

    lines = [
        "## FID sanity (issue 6)",
        "",
        f"FID of N={args.n} vs N={args.n} real images. Domain features: seeds {args.seeds} pick the subsets "
        f"(mean ± std over them); Inception: seeds {args.inception_seeds}. Real statistics cached in "
        "`~/.cache/gancluster/fid`.",
        "",
        "| pair | " + " | ".join(names[f] for f in feature_sets) + " |",
        "| --- |" + " --- |" * len(feature_sets),
    ]
    for label, *_ in PAIRS:
        lines.append(f"| {label} | " + " | ".join(mean_std(results["pairs"][f][label], 2) for f in feature_sets) + " |")
    small_big = {
        f: np.mean(results["pairs"][f][PAIRS[0][0]]) < np.mean(results["pairs"][f][PAIRS[1][0]]) / 10 for f in feature_sets
    }
    lines += ["", "Bar (within-MNIST FID at least 10x smaller than MNIST vs Fashion): "
              + ", ".join(f"{names[f]}: {'met' if ok else 'NOT met'}" for f, ok in small_big.items())]  # fmt: skip
    if results["checkpoints"]:
        lines += [
            "",
            f"ClusterGAN (best recipe, seed 0) on MNIST train, sampled after {args.early_seconds:.0f} s and after "
            f"{args.early_seconds + args.late_seconds:.0f} s of training budget ({ckpt_note}); FID of N={args.n_gen} "
            f"samples vs N={args.n} MNIST test images. One training seed.",
            "",
            "| checkpoint | " + " | ".join(names[f] for f in feature_sets) + " |",
            "| --- |" + " --- |" * len(feature_sets),
        ]
        for name in ("early", "late"):
            lines.append(f"| {name} | " + " | ".join(f"{results['checkpoints'][f][name]:.2f}" for f in feature_sets) + " |")
        order = {f: results["checkpoints"][f]["late"] < results["checkpoints"][f]["early"] for f in feature_sets}
        agree = len(set(order.values())) == 1
        lines += ["", "Ranking (late better than early): " + ", ".join(f"{names[f]}: {v}" for f, v in order.items())
                  + f"; feature sets {'agree' if agree else 'DISAGREE'}."]  # fmt: skip
    lines += ["", f"Command: `{command()}`; wall time {time.time() - t0:.0f} s (includes cached statistics if any); "
              f"{machine()} (shared, loaded machine)."]  # fmt: skip
    body = "\n".join(lines)
    if not args.quick:  # before printing: a closed pipe (| head) must not lose the section
        write_section("fid-sanity", body)
    print(body)


if __name__ == "__main__":
    main()
