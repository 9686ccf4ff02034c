"""Synthetic 2-D benchmarks: the ring and grid Gaussian mixtures, imbalanced moons and blobs.

Points are drawn directly with the requested per-class counts (largest-remainder rounding), so a
subset such as ``classes=[0, 1], ratios=[0.9, 0.1], n_samples=1000`` is exact rather than cut
out of a bigger sample. ``meta`` records the mode centers, their class and weight, and ``std``, which
mode-coverage metrics (modes captured, high-quality samples) need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import make_moons

from gancluster.errors import GanclusterError

from .dataset import Dataset
from .subsets import largest_remainder

__all__ = ["SPLIT_STREAMS", "SYNTHETIC", "SyntheticSpec", "grid_centers", "make_synthetic", "ring_centers"]

# Train and test draw from different random streams of the same seed, so they differ but reproduce.
# There is no finite "all" for an infinite source: it is the train stream.
SPLIT_STREAMS = {"train": 0, "all": 0, "test": 1}


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """``n_modes`` points evenly spaced on a circle, mode 0 at angle 0."""
    angle = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def grid_centers(size: int = 5, spacing: float = 2.0) -> np.ndarray:
    """A centred ``size x size`` grid: mode ``size*i + j`` sits at ``(2i - 4, 2j - 4)`` for size 5."""
    offset = spacing * (size - 1) / 2
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.stack([spacing * i.ravel() - offset, spacing * j.ravel() - offset], axis=1)


Sampler = Callable[["SyntheticSpec", np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _gaussian_modes(spec: SyntheticSpec, counts: np.ndarray, rng: np.random.Generator):
    modes = rng.permutation(np.repeat(np.arange(counts.size), counts))
    centers = np.asarray(spec.centers)
    X = centers[modes] + spec.std * rng.standard_normal((modes.size, 2))
    return X, modes


def _moons(spec: SyntheticSpec, counts: np.ndarray, rng: np.random.Generator):
    X, modes = make_moons(
        n_samples=(int(counts[0]), int(counts[1])),
        noise=spec.std,
        shuffle=False,
        random_state=int(rng.integers(2**31 - 1)),
    )
    perm = rng.permutation(modes.size)
    return X[perm], modes[perm]


@dataclass(frozen=True)
class SyntheticSpec:
    """One synthetic benchmark: its modes, their default weights and how to draw points."""

    name: str
    description: str
    weights: tuple[float, ...]
    std: float  # per-mode Gaussian std, or the noise level for moons
    default_n: int
    sampler: Sampler
    centers: np.ndarray | None = field(default=None, compare=False)
    class_names: tuple[str, ...] | None = None

    @property
    def n_modes(self) -> int:
        return len(self.weights)


SYNTHETIC: dict[str, SyntheticSpec] = {
    "ring": SyntheticSpec(
        name="ring",
        description="8 Gaussians (std 0.01) evenly spaced on a circle of radius 2; 100k points",
        weights=(1 / 8,) * 8,
        std=0.01,
        default_n=100_000,
        sampler=_gaussian_modes,
        centers=ring_centers(8, 2.0),
    ),
    "grid": SyntheticSpec(
        name="grid",
        description="25 Gaussians (std 0.05) on a 5x5 grid at (2i-4, 2j-4); 100k points",
        weights=(1 / 25,) * 25,
        std=0.05,
        default_n=100_000,
        sampler=_gaussian_modes,
        centers=grid_centers(5, 2.0),
    ),
    "moons": SyntheticSpec(
        name="moons",
        description="two interleaved half-moons (noise 0.1), imbalanced 80:20 unless ratios are given",
        weights=(0.8, 0.2),
        std=0.1,
        default_n=10_000,
        sampler=_moons,
        class_names=("upper", "lower"),
    ),
    "blobs": SyntheticSpec(
        name="blobs",
        description="4 Gaussian blobs (std 0.4) with unequal weights 0.4/0.3/0.2/0.1",
        weights=(0.4, 0.3, 0.2, 0.1),
        std=0.4,
        default_n=10_000,
        sampler=_gaussian_modes,
        centers=np.array([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, -2.0]]),
    ),
}


def make_synthetic(
    name: str,
    n_samples: int | None = None,
    *,
    seed: int = 0,
    split: str = "train",
    groups: Sequence[Sequence[int]] | None = None,
    class_names: Sequence[str] | None = None,
    ratios: Sequence[float] | np.ndarray | None = None,
) -> Dataset:
    """Draw ``name`` with exact class counts; labels are the mode index or its group's index.

    ``groups`` (validated mode indices) select/merge modes; ``ratios`` (validated, one per class)
    replace the default weights. Modes within a group keep their default relative weights.
    """
    if name not in SYNTHETIC:
        raise GanclusterError(f"unknown synthetic dataset {name!r}; choose one of {sorted(SYNTHETIC)}")
    spec = SYNTHETIC[name]
    base = np.asarray(spec.weights, dtype=np.float64)
    if groups is None:
        groups = [[k] for k in range(spec.n_modes)]
        class_names = spec.class_names or [str(k) for k in range(spec.n_modes)]
    groups = [list(g) for g in groups]
    if class_names is None:
        class_names = ["/".join(str(k) for k in g) for g in groups]
    group_w = np.array([base[g].sum() for g in groups]) if ratios is None else np.asarray(ratios, float)
    group_w = group_w / group_w.sum()
    n = spec.default_n if n_samples is None else int(n_samples)
    mode_counts = np.zeros(spec.n_modes, dtype=np.int64)
    mode_class = np.full(spec.n_modes, -1, dtype=np.int64)
    mode_weight = np.zeros(spec.n_modes)
    for k, (g, count) in enumerate(zip(groups, largest_remainder(n, group_w))):
        mode_counts[g] += largest_remainder(int(count), base[g])
        mode_class[g] = k
        mode_weight[g] = group_w[k] * base[g] / base[g].sum()

    rng = np.random.default_rng([seed, SPLIT_STREAMS[split]])
    X, modes = spec.sampler(spec, mode_counts, rng)
    meta: dict = {"source": "synthetic", "split": split, "seed": seed}
    if spec.centers is None:
        meta["noise"] = spec.std
    else:
        meta["std"] = spec.std
        used = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])
        meta.update(
            centers=np.asarray(spec.centers, dtype=np.float32)[used],
            center_class=mode_class[used],
            center_weights=mode_weight[used],
        )
    if ratios is not None:
        meta["ratios"] = [float(r) for r in group_w]
    return Dataset(
        X=X.astype(np.float32),
        y=mode_class[modes],
        name=name,
        class_names=list(class_names),
        meta=meta,
    )
