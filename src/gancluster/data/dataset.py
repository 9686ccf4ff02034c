"""The :class:`Dataset` container every loader returns.

One small, explicit contract keeps the rest of the library simple: ``X`` is float32, images are
``(n, c, h, w)`` in [0, 1] and vectors ``(n, d)``; ``y`` (if known) is int64 in ``0..n_classes-1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gancluster.errors import GanclusterError

__all__ = ["SAMPLE_META_KEYS", "Dataset"]

# ``meta`` entries holding one value per sample; ``Dataset.subset`` indexes them along with X and y.
# "files": the image file of each sample; "index": its position in the split it was read from.
SAMPLE_META_KEYS = ("files", "index")


@dataclass(eq=False, repr=False)
class Dataset:
    """Samples, optional labels and what is known about where they came from.

    ``meta`` carries loader-specific facts that downstream code needs, e.g. ``centers``/``std``
    for synthetic mixtures (so mode-coverage metrics can be computed), ``source`` for files.
    """

    X: np.ndarray
    y: np.ndarray | None = None
    name: str = "data"
    class_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.dtype.kind not in "fiub":
            raise GanclusterError(f"dataset {self.name!r}: X must be numeric, got dtype {X.dtype}")
        if X.ndim not in (2, 4):
            raise GanclusterError(
                f"dataset {self.name!r}: X must be (n, d) vectors or (n, c, h, w) images, "
                f"got shape {X.shape}"
            )
        self.X = X.astype(np.float32, copy=False)
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise GanclusterError(
                    f"dataset {self.name!r}: y must be 1-D with one label per sample "
                    f"({X.shape[0]}), got shape {y.shape}"
                )
            if y.size and y.dtype.kind not in "iu":
                raise GanclusterError(f"dataset {self.name!r}: y must hold integers, got {y.dtype}")
            y = y.astype(np.int64, copy=False)
            if y.size and y.min() < 0:
                raise GanclusterError(f"dataset {self.name!r}: labels must be >= 0, got {y.min()}")
            self.y = y
        if self.class_names is not None:
            self.class_names = [str(c) for c in self.class_names]
            if self.y is not None and self.y.size and self.y.max() >= len(self.class_names):
                raise GanclusterError(
                    f"dataset {self.name!r}: label {self.y.max()} has no entry in class_names "
                    f"({len(self.class_names)} names)"
                )

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        labels = "unlabelled" if self.y is None else f"n_classes={self.n_classes}"
        return f"Dataset(name={self.name!r}, X={self.X.shape} {self.X.dtype}, {labels})"

    @property
    def n_samples(self) -> int:
        return len(self)

    @property
    def is_image(self) -> bool:
        """True for ``(n, c, h, w)`` image data, which gets conv nets and image plots."""
        return self.X.ndim == 4

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X.shape[1:])

    @property
    def n_classes(self) -> int | None:
        """Number of classes (stable under subsetting: empty classes still count); None if unlabelled."""
        if self.class_names is not None:
            return len(self.class_names)
        if self.y is None:
            return None
        return int(self.y.max()) + 1 if self.y.size else 0

    def class_counts(self) -> np.ndarray:
        """Samples per class, length ``n_classes``."""
        if self.y is None:
            raise GanclusterError(f"dataset {self.name!r} has no labels, so it has no class counts")
        return np.bincount(self.y, minlength=self.n_classes or 0)

    def subset(self, indices: np.ndarray | list[int]) -> Dataset:
        """The samples at ``indices`` (labels, class names and per-sample meta follow)."""
        idx = np.asarray(indices, dtype=np.int64)
        meta = dict(self.meta)
        for key in SAMPLE_META_KEYS:
            if key in meta:
                value = meta[key]
                meta[key] = value[idx] if isinstance(value, np.ndarray) else [value[i] for i in idx]
        return Dataset(
            X=self.X[idx],
            y=None if self.y is None else self.y[idx],
            name=self.name,
            class_names=None if self.class_names is None else list(self.class_names),
            meta=meta,
        )
