"""Stacked-MNIST: three random MNIST digits as the three channels of one image (1000 modes).

Built from the offline MNIST (``load_dataset("mnist")``) with a seeded generator, so the same seed
always gives the same 100k images. The label of an image is its mode ``100 d0 + 10 d1 + d2``.
"""

from __future__ import annotations

import numpy as np

from .data import Dataset, load_dataset
from .errors import GanclusterError


def make_stacked_mnist(n_samples: int = 100_000, seed: int = 0, split: str = "train",
                       data_dir: str | None = None) -> Dataset:
    """``n_samples`` images ``(n, 3, 28, 28)`` in [0, 1]; ``y`` = mode id in 0..999, ``meta["digits"]`` (n, 3)."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise GanclusterError(f"n_samples must be a positive integer, got {n_samples!r}")
    mnist = load_dataset("mnist", split=split, data_dir=data_dir)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(mnist), size=(int(n_samples), 3))
    X = np.empty((int(n_samples), 3, 28, 28), dtype=np.float32)
    for c in range(3):
        X[:, c] = mnist.X[idx[:, c], 0]
    digits = mnist.y[idx]
    y = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return Dataset(X=X, y=y, name="stacked-mnist", meta={"digits": digits, "seed": seed, "split": split,
                                                          "source": "MNIST " + split})
