"""PGMGAN guide landscape on the 2-D grid: Lipschitz (i-ResNet) vs plain-MLP partitioner (paper Fig. 3).

Both partitioners are trained the same way (eq. 5 after a k-means start, k = 25) on the 2-D grid.
For every partition i, ``R_i`` is evaluated on a dense lattice covering the data (and a margin);
a *local optimum outside the partition* is a lattice point with ``R_i > 0`` strictly below its 8
neighbours (a local maximum of ``-R_i`` where the guide's gradient vanishes without reaching the
partition). Theorem 3 says the i-ResNet partitioner has none. Writes a figure like paper Fig. 3
(``-R_i`` for the corner Gaussian's partition) to ``benchmarks/figures/pgmgan_guide_landscape.png``.

    python benchmarks/pgmgan_guide_landscape.py [--seeds 0 1 2] [--lattice 401] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command, machine, mean_std, write_section  # noqa: E402

from gancluster.data import load_dataset  # noqa: E402
from gancluster.partition import (  # noqa: E402
    ScanSettings,
    build_partitioner,
    guide,
    neighbour_graph,
    partition_logits,
    train_partitioner,
)

FIGURE = ROOT / "benchmarks" / "figures" / "pgmgan_guide_landscape.png"


def train(kind: str, x: torch.Tensor, seed: int, steps: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    p = build_partitioner(kind, (2,), 25, depth=4, hidden=64)
    nb = neighbour_graph(x, 20)
    s = ScanSettings(steps=steps, lr=1e-2, batch_size=256, kmeans_init_steps=steps // 2)
    train_partitioner(p, x, nb, s, torch.Generator().manual_seed(seed), torch.full((25,), 1 / 25), features=x)
    return p


@torch.no_grad()
def landscape(p: torch.nn.Module, grid: torch.Tensor, n: int) -> np.ndarray:
    """``R_i`` for every partition i on the lattice: array (k, n, n)."""
    logits = partition_logits(p, grid)
    k = logits.shape[1]
    return np.stack([guide(logits, torch.full((grid.shape[0],), i)).view(n, n).numpy() for i in range(k)])


def spurious_optima(R: np.ndarray) -> np.ndarray:
    """Per partition, the lattice points with R > 0 strictly below all 8 neighbours (interior points only)."""
    centre = R[:, 1:-1, 1:-1]
    is_min = np.ones_like(centre, dtype=bool)
    n = R.shape[1]
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == dj == 0:
                continue
            is_min &= centre < R[:, 1 + di : n - 1 + di, 1 + dj : n - 1 + dj]
    return is_min & (centre > 1e-6)


def descent_stuck(p: torch.nn.Module, box: tuple[float, float], k: int, n_starts: int, steps: int,
                  seed: int) -> np.ndarray:
    """Per partition i, the share of random starts outside i that normalised gradient descent on ``R_i``
    does not bring into i: what a generator following the guide would meet (plateaus where the
    gradient vanishes count, as do local optima, strict or not).
    """
    gen = torch.Generator().manual_seed(seed)
    lo, hi = box
    starts = lo + (hi - lo) * torch.rand(n_starts, 2, generator=gen)
    x = starts.repeat(k, 1)
    target = torch.arange(k).repeat_interleave(n_starts)
    with torch.no_grad():
        outside = guide(p(x), target) > 1e-6
    step = 0.02 * (hi - lo)
    for t in range(steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(guide(p(x), target).sum(), x)
        with torch.no_grad():
            lr = step * (1 - t / steps) + 1e-3 * (hi - lo)
            x = (x - lr * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)).clamp(lo, hi)
    with torch.no_grad():
        stuck = (guide(p(x), target) > 1e-6) & outside
    per = stuck.view(k, n_starts).float().sum(1) / outside.view(k, n_starts).float().sum(1).clamp_min(1)
    return per.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lattice", type=int, default=401)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--quick", action="store_true", help="fewer steps and a coarser lattice")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--starts", type=int, default=400, help="random starts per partition for the guide descent")
    ap.add_argument("--descent-steps", type=int, default=300)
    ap.add_argument("--note", default="", help="free text for the section (e.g. 'shared, loaded machine')")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.steps, args.lattice = 400, 151
    t0 = time.time()
    data = load_dataset("grid")
    mean, scale = data.X.mean(0), data.X.std(0)
    x = torch.from_numpy((data.X - mean) / scale).float()
    lo, hi = -6.0, 6.0  # original units: the grid spans [-4, 4]
    axis = np.linspace(lo, hi, args.lattice)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    lattice = torch.from_numpy(((pts - mean) / scale).astype(np.float32))
    rows: dict[str, dict[str, list[float]]] = {}
    keep: dict[str, np.ndarray] = {}
    for seed in args.seeds:
        for kind in ("iresnet", "mlp"):
            p = train(kind, x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:20000]],
                      seed, args.steps)
            nmi = normalized_mutual_info_score(data.y, partition_logits(p, x).argmax(1).numpy())
            R = landscape(p, lattice, args.lattice)
            bad = spurious_optima(R)
            box = (float(lattice.min()), float(lattice.max()))
            stuck = descent_stuck(p, box, 25, args.starts, args.descent_steps, seed)
            r = rows.setdefault(kind, {"nmi": [], "optima": [], "partitions_with": [], "stuck": [], "stuck_parts": []})
            r["nmi"].append(nmi)
            r["optima"].append(float(bad.sum()))
            r["partitions_with"].append(float((bad.reshape(bad.shape[0], -1).any(1)).sum()))
            r["stuck"].append(float(stuck.mean()))
            r["stuck_parts"].append(float((stuck > 0).sum()))
            keep[(kind, seed)] = R
            print(f"seed {seed} {kind}: NMI {nmi:.3f}, spurious local optima {int(bad.sum())} "
                  f"in {int(r['partitions_with'][-1])} of 25 partitions; guide descent stuck "
                  f"{100 * stuck.mean():.2f}% of starts, in {int((stuck > 0).sum())} partitions", flush=True)
    corner = int(np.argmin(np.linalg.norm(data.meta["centers"] - np.array([-4.0, -4.0]), axis=1)))
    # the figure shows the seed whose MLP has the most spurious optima (the contrast of paper Fig. 3)
    fig_seed = args.seeds[int(np.argmax(rows["mlp"]["optima"]))]
    shown = _mode_to_show(keep[("mlp", fig_seed)], data, axis, default=corner)
    _figure({kind: keep[(kind, fig_seed)] for kind in ("iresnet", "mlp")}, data, shown, axis, mean, scale, args)
    wall = time.time() - t0
    lines = [
        "## PGMGAN guide landscape (issue 5, paper Fig. 3)",
        "",
        f"`{command()}` — seeds {args.seeds}, {args.lattice}x{args.lattice} lattice over [-6, 6]^2, "
        f"{args.steps} partitioner steps (k-means start, then eq. 5), k = 25; wall {wall:.0f} s on {machine()}."
        + (f" {args.note}" if args.note else ""),
        "",
        "A spurious optimum is a lattice point where `R_i > 0` is strictly below its 8 neighbours, for any of the 25 partitions i. "
        f"Guide descent: from {args.starts} uniform random starts in the lattice box, {args.descent_steps} steps of normalised "
        "gradient descent on `R_i` for every partition i; `stuck` is the share of starts outside i that end outside i "
        "(on a plateau where the gradient vanishes or at a local optimum, strict or not), averaged over partitions.",
        "",
        "| partitioner | NMI vs modes | spurious local optima (total) | partitions having one | guide descent stuck | partitions with a stuck start |",
        "|---|---|---|---|---|---|",
    ]
    for kind, label in (("iresnet", "i-ResNet (Lipschitz, coeff 0.9)"), ("mlp", "plain ReLU MLP")):
        r = rows[kind]
        stuck_pct = [100 * v for v in r["stuck"]]
        lines.append(f"| {label} | {mean_std(r['nmi'])} | {mean_std(r['optima'], 1)} | {mean_std(r['partitions_with'], 1)} | "
                     f"{mean_std(stuck_pct, 2)} % | {mean_std(r['stuck_parts'], 1)} |")
    lines += ["", f"Figure: `benchmarks/figures/{FIGURE.name}` (seed {fig_seed}, the seed whose MLP has the most "
                  "spurious optima: -R_i of the partition of the Gaussian whose MLP partition has the most of them, "
                  "that Gaussian's data in red, that partition's spurious optima as white crosses)."]
    write_section("pgmgan-guide-landscape", "\n".join(lines))
    print("\n".join(lines))


def _figure(keep, data, mode, axis, mean, scale, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    sub = data.X[data.y == mode][:300]
    for ax, kind, title in ((axes[0], "iresnet", "Lipschitz i-ResNet partitioner"), (axes[1], "mlp", "plain MLP partitioner")):
        R = keep[kind]
        # the Gaussian's partition = the partition holding most of its points
        part = _partition_of(R, sub, axis)
        bad = spurious_optima(R[part : part + 1])[0]
        im = ax.contourf(axis, axis, -R[part].T, levels=40, cmap="viridis")
        ax.scatter(sub[:, 0], sub[:, 1], s=2, c="red")
        bi, bj = np.nonzero(bad)
        ax.scatter(axis[bi + 1], axis[bj + 1], marker="x", c="white", s=25, label=f"spurious optima: {bad.sum()}")
        ax.set_title(f"{title}: -R_i")
        ax.legend(loc="upper right", fontsize=8)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)


def _mode_to_show(R_mlp: np.ndarray, data, axis: np.ndarray, default: int) -> int:
    """The Gaussian whose MLP partition has the most spurious optima (``default`` if none has any)."""
    counts = spurious_optima(R_mlp).reshape(R_mlp.shape[0], -1).sum(1)
    if counts.max() == 0:
        return default
    worst = int(counts.argmax())
    for mode in np.unique(data.y):
        if _partition_of(R_mlp, data.X[data.y == mode][:300], axis) == worst:
            return int(mode)
    return default


def _partition_of(R: np.ndarray, pts: np.ndarray, axis: np.ndarray) -> int:
    i = np.clip(np.searchsorted(axis, pts[:, 0]), 0, axis.size - 1)
    j = np.clip(np.searchsorted(axis, pts[:, 1]), 0, axis.size - 1)
    zero = R[:, i, j] <= 1e-6  # (k, n)
    return int(zero.sum(1).argmax())


if __name__ == "__main__":
    main()
