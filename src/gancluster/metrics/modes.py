"""Mode-coverage metrics shared by all methods (Self-Conditioned GAN / PGMGAN / PacGAN definitions).

2-D mixtures (ring of 8, grid of 25), per REFERENCE.md:

* a sample is *high quality* if it lies within ``3 std`` of some mode in every coordinate;
* a mode is *recovered* if it has at least one high-quality sample;
* *reverse KL*: assign every sample to its nearest mode (Euclidean), ``p`` = the assignment
  frequencies, ``KL(p || q) = sum p log(p / q)``, with ``q`` uniform unless mode weights are
  given, i.e. ``sum p log(K p)``. Evaluated on 50,000 samples in the papers.

Stacked-MNIST: each of the 3 channels is labelled by an MNIST classifier, a mode is the digit
triple (1000 modes); modes = distinct triples, ``KL = sum p log10(1000 p)`` (log10, as PacGAN).

All functions are pure (arrays in, numbers out); :func:`mode_metrics_2d` also accepts a synthetic
dataset name, whose centers and std come from :mod:`gancluster.data.synthetic`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gancluster.errors import GanclusterError

__all__ = [
    "ModeMetrics",
    "StackedMNISTMetrics",
    "high_quality_mask",
    "mode_kl",
    "mode_metrics_2d",
    "nearest_mode",
    "share_vs_prior",
    "stacked_mnist_metrics",
    "synthetic_modes",
]

_CHUNK = 8192  # samples per chunk, bounds the (chunk, K, d) temporaries


@dataclass(frozen=True)
class ModeMetrics:
    """Mode coverage of generated 2-D samples."""

    n_samples: int
    n_modes: int
    modes_recovered: int
    high_quality_rate: float
    reverse_kl: float  # natural log
    mode_shares: tuple[float, ...]  # nearest-mode frequencies p

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"modes {self.modes_recovered}/{self.n_modes}, high-quality {100 * self.high_quality_rate:.1f}%, "
                f"reverse KL {self.reverse_kl:.4f} [N={self.n_samples}]")  # fmt: skip


@dataclass(frozen=True)
class StackedMNISTMetrics:
    """Stacked-MNIST coverage: distinct digit triples and KL (log10) to the uniform 1000 modes.

    ``channel_kl_log10`` are the KLs of each channel's digit frequencies to uniform. The joint KL is
    their sum plus the channels' total correlation (>= 0), so the two tell a generator that prefers
    some digits from one whose channels depend on each other.
    """

    n_samples: int
    modes: int
    kl_log10: float
    channel_kl_log10: tuple[float, float, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"modes {self.modes}/1000, KL {self.kl_log10:.4f} (log10) [N={self.n_samples}]"


def _points(samples: Any, centers: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 1:
        raise GanclusterError(f"centers must be a (K, d) array, got shape {c.shape}")
    if x.ndim != 2 or x.shape[1] != c.shape[1]:
        raise GanclusterError(f"samples must be an (n, {c.shape[1]}) array like the centers, got shape {x.shape}")
    if x.shape[0] == 0:
        raise GanclusterError("no samples given")
    if not np.isfinite(x).all():
        raise GanclusterError("samples contain NaN or inf (a diverged generator?)")
    return x, c


def nearest_mode(samples: Any, centers: Any) -> np.ndarray:
    """Index of the nearest center (Euclidean) for every sample; ties go to the lower index."""
    x, c = _points(samples, centers)
    out = np.empty(x.shape[0], dtype=np.int64)
    for i in range(0, x.shape[0], _CHUNK):
        d2 = ((x[i : i + _CHUNK, None, :] - c[None]) ** 2).sum(-1)
        out[i : i + _CHUNK] = d2.argmin(1)
    return out


def _within(samples: Any, centers: Any, std: float, n_std: float) -> np.ndarray:
    """``(n, K)`` bool: sample within ``n_std * std`` of mode k in every coordinate."""
    x, c = _points(samples, centers)
    if not (np.isfinite(std) and std > 0) or not (np.isfinite(n_std) and n_std > 0):
        raise GanclusterError(f"std and n_std must be positive, got std={std!r}, n_std={n_std!r}")
    radius = n_std * float(std)
    out = np.empty((x.shape[0], c.shape[0]), dtype=bool)
    for i in range(0, x.shape[0], _CHUNK):
        out[i : i + _CHUNK] = (np.abs(x[i : i + _CHUNK, None, :] - c[None]) <= radius).all(-1)
    return out


def high_quality_mask(samples: Any, centers: Any, std: float, n_std: float = 3.0) -> np.ndarray:
    """True for samples within ``n_std`` std of some mode in every coordinate."""
    return _within(samples, centers, std, n_std).any(axis=1)


def mode_kl(counts: Any, weights: Any = None, base: float = np.e) -> float:
    """``KL(p || q)`` of the frequencies ``p = counts / sum`` to ``q`` (uniform if None), in ``base``.

    Empty modes contribute 0 (``0 log 0 = 0``); a mode with ``p > 0`` but ``q = 0`` gives inf.
    """
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or (n < 0).any() or n.sum() <= 0:
        raise GanclusterError(f"counts must be a non-empty 1-D array of non-negative numbers with a positive sum, got {n}")
    p = n / n.sum()
    if weights is None:
        q = np.full(p.size, 1.0 / p.size)
    else:
        q = np.asarray(weights, dtype=np.float64)
        if q.shape != p.shape or (q < 0).any() or not np.isclose(q.sum(), 1.0, atol=1e-6):
            raise GanclusterError(f"weights must be {p.size} non-negative numbers summing to 1, got {q}")
    nz = p > 0
    with np.errstate(divide="ignore"):
        kl = float((p[nz] * (np.log(p[nz]) - np.log(q[nz]))).sum())
    return kl / np.log(base)


def synthetic_modes(name: str) -> tuple[np.ndarray, float, np.ndarray]:
    """``(centers, std, weights)`` of a built-in synthetic Gaussian mixture (``"ring"``, ``"grid"``, ...)."""
    from gancluster.data.synthetic import SYNTHETIC

    spec = SYNTHETIC.get(str(name).strip().lower())
    if spec is None or spec.centers is None:
        known = [k for k, s in SYNTHETIC.items() if s.centers is not None]
        raise GanclusterError(f"no mode centers for {name!r}; mode metrics know {known}")
    return np.asarray(spec.centers, dtype=np.float64), float(spec.std), np.asarray(spec.weights, dtype=np.float64)


def mode_metrics_2d(
    samples: Any,
    centers: Any | str,
    std: float | None = None,
    weights: Any = None,
    n_std: float = 3.0,
) -> ModeMetrics:
    """Modes recovered, high-quality rate and reverse KL of generated points.

    ``centers`` is a ``(K, d)`` array (then ``std`` is required) or a synthetic dataset name
    (``"ring"``, ``"grid"``), whose std and mode weights are used unless given.
    """
    if isinstance(centers, str):
        c, s, w = synthetic_modes(centers)
        std = s if std is None else std
        weights = w if weights is None else weights
    else:
        c = np.asarray(centers, dtype=np.float64)
        if std is None:
            raise GanclusterError("std is required when centers are given as an array")
    within = _within(samples, c, float(std), n_std)
    hq = within.any(axis=1)
    counts = np.bincount(nearest_mode(samples, c), minlength=c.shape[0])
    return ModeMetrics(
        n_samples=int(within.shape[0]),
        n_modes=int(c.shape[0]),
        modes_recovered=int(within.any(axis=0).sum()),
        high_quality_rate=float(hq.mean()),
        reverse_kl=mode_kl(counts, weights),
        mode_shares=tuple(float(v) for v in counts / counts.sum()),
    )


def stacked_mnist_metrics(digits: Any) -> StackedMNISTMetrics:
    """Coverage from per-channel digit predictions ``(n, 3)`` in 0..9 (mode = 100 d0 + 10 d1 + d2)."""
    d = np.asarray(digits)
    if d.ndim != 2 or d.shape[1] != 3 or d.shape[0] == 0:
        raise GanclusterError(f"digits must be an (n, 3) array of per-channel predictions, got shape {d.shape}")
    if d.dtype.kind not in "iu" or d.min() < 0 or d.max() > 9:
        raise GanclusterError("digits must be integers in 0..9 (argmax of the MNIST classifier per channel)")
    modes = d[:, 0].astype(np.int64) * 100 + d[:, 1] * 10 + d[:, 2]
    counts = np.bincount(modes, minlength=1000)
    channels = tuple(mode_kl(np.bincount(d[:, c], minlength=10), base=10.0) for c in range(3))
    return StackedMNISTMetrics(int(d.shape[0]), int((counts > 0).sum()), mode_kl(counts, base=10.0), channels)


def share_vs_prior(labels: Any, priors: Any) -> dict[str, Any]:
    """Per-cluster share of generated samples against the prior weights.

    ``labels`` are the clusters the samples were assigned to (e.g. the inverter's prediction on
    generated images, or their latent mode); returns the shares, the total variation to ``priors``
    and ``KL(shares || priors)`` (natural log), so a generator that ignores a small cluster shows.
    """
    from gancluster.metrics.clustering import cluster_shares, total_variation

    q = np.asarray(priors, dtype=np.float64)
    if q.ndim != 1 or q.size < 1:
        raise GanclusterError(f"priors must be a 1-D array of cluster weights, got shape {q.shape}")
    shares = cluster_shares(labels, int(q.size))
    return {
        "shares": [float(v) for v in shares],
        "priors": [float(v) for v in q],
        "total_variation": total_variation(shares, q),
        "kl": mode_kl(shares, weights=q),
    }
