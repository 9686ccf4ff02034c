"""GM-GAN's quality-diversity knob: sample z | k ~ N(mu_k, s Sigma_k) and score quality and diversity vs s.

Scores (the slides define theirs only loosely, so we use a standard pair and name it):

- quality = *precision* of Kynkäänniemi et al. (2019): the share of generated samples that fall in
  the real data's manifold (the union of balls around real samples reaching their 3rd nearest real
  neighbour);
- diversity = *recall*: the share of real samples that fall in the generated samples' manifold.

On the 2-D toy data (9 Gaussians on a 3 x 3 grid with spacing 2, std 0.15, 5000 points) the points are their own features, and we also report the share of
high-quality samples (within 3 std of a mode) and the modes covered. On MNIST the features are 50
PCA components of the real test images; the model is the GM-GAN that ``gmgan_mnist.py`` cached
(``--train-mnist`` trains a fresh one). Writes ``benchmarks/figures/quality_diversity.png``.

    python benchmarks/quality_diversity.py --seeds 0 1 2
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
from _common import ROOT, command, machine, mean_std, write_section  # noqa: E402

import gancluster  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.gmgan import GMGAN  # noqa: E402

SCALES = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
TOY_CENTRES = np.array([[x, y] for x in (-2.0, 0.0, 2.0) for y in (-2.0, 0.0, 2.0)])
TOY_STD = 0.15
FIG = ROOT / "benchmarks" / "figures" / "quality_diversity.png"
CACHE = ROOT / "benchmarks" / ".cache"


def _kth_radius(a: torch.Tensor, k: int) -> torch.Tensor:
    d = torch.cdist(a, a)
    return d.topk(k + 1, dim=1, largest=False).values[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision (quality) and recall (diversity) with k-NN balls."""
    r, f = torch.as_tensor(real, dtype=torch.float32), torch.as_tensor(fake, dtype=torch.float32)
    rr, rf = _kth_radius(r, k), _kth_radius(f, k)
    d = torch.cdist(f, r)  # (n_fake, n_real)
    precision = float((d <= rr.unsqueeze(0)).any(1).float().mean())
    recall = float((d <= rf.unsqueeze(1)).any(0).float().mean())
    return precision, recall


def toy_data(n: int, seed: int) -> np.ndarray:
    """The GM-GAN slides' toy set: 9 equally likely 2-D Gaussians (here a 3 x 3 grid, std 0.15)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 9, n)
    return (TOY_CENTRES[k] + TOY_STD * rng.standard_normal((n, 2))).astype(np.float32)


def toy_curve(seed: int, args: argparse.Namespace) -> list[dict]:
    centres, std = TOY_CENTRES, TOY_STD
    recipe = dict(recipe="faithful") if args.toy_recipe == "faithful" else dict(warmup_steps=300)
    est = GMGAN(n_clusters=9, latent_dim=8, c=1.0, sigma=0.1, max_steps=args.toy_steps, batch_size=128,
                random_state=seed, device="cpu", classifier_steps=100, samples_per_gaussian=200, **recipe)
    est.fit(toy_data(5000, seed))
    out = []
    real = toy_data(2000, seed + 1000)
    for s in SCALES:
        x, _ = est.sample(2000, random_state=seed, scale=s)
        d = np.linalg.norm(x[:, None, :] - centres[None], axis=2)
        near = d.argmin(1)
        hq = (np.abs(x - centres[near]) <= 3 * std).all(1)
        p, r = precision_recall(real, x)
        out.append({"s": s, "precision": p, "recall": r, "hq": float(hq.mean()),
                    "modes": int(len(np.unique(near[hq])))})
    return out


def mnist_curve(seed: int, args: argparse.Namespace) -> list[dict]:
    path = CACHE / f"gmgan_mnist_best_s{seed}.safetensors"
    if path.exists() and not args.train_mnist:
        est = gancluster.load(path, device="cpu")
    else:
        train = load_dataset("mnist", split="train", n_samples=10_000 if args.quick else None, seed=seed)
        est = GMGAN(n_clusters=10, random_state=seed, max_steps=600 if args.quick else 3000, device="cpu").fit(train.X)
    test = load_dataset("mnist", split="test", n_samples=args.n_mnist, seed=seed)
    flat = test.X.reshape(len(test.X), -1)
    mean = flat.mean(0)
    _, _, v = np.linalg.svd(flat - mean, full_matrices=False)
    proj = v[:50].T
    real = (flat - mean) @ proj
    out = []
    for s in SCALES:
        x, _ = est.sample(args.n_mnist, random_state=seed, scale=s)
        p, r = precision_recall(real, (x.reshape(len(x), -1) - mean) @ proj)
        out.append({"s": s, "precision": p, "recall": r})
    return out


def plot(curves: dict[str, list[list[dict]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (name, runs) in zip(axes[0], curves.items()):
        for key, label in (("precision", "quality (precision)"), ("recall", "diversity (recall)")):
            vals = np.array([[pt[key] for pt in run] for run in runs])
            ax.errorbar(SCALES, vals.mean(0), yerr=vals.std(0), marker="o", label=label, capsize=3)
        if name == "toy":
            vals = np.array([[pt["hq"] for pt in run] for run in runs])
            ax.plot(SCALES, vals.mean(0), "k--", marker=".", label="high-quality share (3 std)")
        ax.set_xscale("log")
        ax.set_xlabel("s  (z | k ~ N(mu_k, s Sigma_k))")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title({"toy": "2-D toy, 9 Gaussians", "mnist": "MNIST (PCA-50 features)"}[name])
        ax.legend(fontsize=8)
    fig.tight_layout()
    FIG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG, dpi=110)
    plt.close(fig)


def section(curves: dict[str, list[list[dict]]], seeds: list[int], seconds: float, args: argparse.Namespace) -> str:
    lines = [
        "## GM-GAN quality-diversity knob s",
        "",
        "`GMGAN.sample(n, scale=s)` draws z | k ~ N(mu_k, s·Sigma_k). Quality = improved precision, diversity = "
        "improved recall (Kynkäänniemi et al. 2019, k = 3) against held-out real samples; toy: 9 Gaussians "
        "(3 x 3 grid, spacing 2, std 0.15, 5000 training points), static GM-GAN (K = 9, d = 8, c = 1, sigma = 0.1, "
        f"{args.toy_recipe} recipe, {args.toy_steps} steps); "
        "MNIST: the `gmgan_mnist.py` best-recipe model, 50 PCA features of the real test images. "
        f"Means ± std over seeds {seeds} (MNIST: the seeds with a cached model, {len(curves.get('mnist', []))} run(s)). Figure: `benchmarks/figures/quality_diversity.png`.",
        "",
    ]
    for name, runs in curves.items():
        head = "| s | quality | diversity |" + (" high-quality share | modes covered |" if name == "toy" else "")
        lines += [f"**{name}**", "", head, "|" + " --- |" * (head.count("|") - 1)]
        for i, s in enumerate(SCALES):
            row = f"| {s} | {mean_std([r[i]['precision'] for r in runs])} | {mean_std([r[i]['recall'] for r in runs])} |"
            if name == "toy":
                row += f" {mean_std([r[i]['hq'] for r in runs])} | {mean_std([r[i]['modes'] for r in runs], 1)} |"
            lines.append(row)
        lines.append("")
    lines += [f"Wall time {seconds:.0f} s (shared, heavily loaded machine). Command: `{command()}`", "",
              f"Machine: {machine()}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--toy-steps", type=int, default=2500)
    ap.add_argument("--toy-recipe", choices=["best", "faithful"], default="best")
    ap.add_argument("--n-mnist", type=int, default=2000)
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--train-mnist", action="store_true", help="train a GM-GAN instead of using the cache")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.toy_steps, args.n_mnist = 800, 500
    t0 = time.perf_counter()
    curves: dict[str, list[list[dict]]] = {"toy": []}
    for seed in args.seeds:
        curves["toy"].append(toy_curve(seed, args))
        print("toy", seed, json.dumps(curves["toy"][-1]), flush=True)
    if not args.skip_mnist:
        curves["mnist"] = []
        for seed in args.seeds:
            if not (CACHE / f"gmgan_mnist_best_s{seed}.safetensors").exists() and not args.train_mnist and not args.quick:
                print(f"no cached GM-GAN MNIST model for seed {seed}; run gmgan_mnist.py or pass --train-mnist")
                continue
            curves["mnist"].append(mnist_curve(seed, args))
            print("mnist", seed, json.dumps(curves["mnist"][-1]), flush=True)
        if not curves["mnist"]:
            del curves["mnist"]
    plot(curves)
    used = sorted({s for s in args.seeds})
    write_section("quality_diversity", section(curves, used, time.perf_counter() - t0, args))


if __name__ == "__main__":
    main()
