"""Training data that stays on disk: rows of a memory-mapped ``.npy`` read batch by batch.

:class:`ArraySource` stands where the training tensor stands (``source[index]``, ``source[a:b]``,
``shape``, ``device``, ``len``), so the Trainer, its batch sampler and the methods run unchanged:
each batch gathers only its rows (in sorted order, for locality on disk), converts them to float32
(uint8 images are divided by 255, vectors standardised) and returns a tensor. Nothing copies the
whole array into memory; what stays resident is the page cache, which the OS can drop.

Methods that need the whole data at once (the k-NN graph in ``prepare``) receive the source too;
:func:`gancluster.neighbours.knn_graph` then fits its PCA on a random subsample and projects all
rows chunk by chunk (see there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import GanclusterError

#: rows read per chunk when a whole pass over the data is needed (checks, statistics, hashing)
CHUNK_ROWS = 8192


class ArraySource:
    """Rows of a NumPy array (typically ``np.load(path, mmap_mode='r')``) served as float32 tensors.

    ``divide`` is applied first (255 for uint8 images, as :meth:`GANClusterer.fit` does in memory,
    so a streamed batch is bit for bit the batch of the in-memory path), then ``transform`` maps
    the float32 block of rows to model space (the standardisation of vectors).
    """

    def __init__(
        self,
        array: np.ndarray,
        sample_shape: tuple[int, ...],
        *,
        divide: float = 1.0,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.array = array
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.divide = float(divide)
        self.transform = transform
        self.device = torch.device(device)
        self.dtype = torch.float32

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.array.shape[0], *self.sample_shape))

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def dim(self) -> int:
        return 1 + len(self.sample_shape)

    def _to_tensor(self, rows: np.ndarray) -> Tensor:
        block = np.asarray(rows, dtype=np.float32).reshape(rows.shape[0], *self.sample_shape)
        if self.divide != 1.0:
            block = block / self.divide
        if self.transform is not None:
            block = self.transform(block)
        return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32)).to(self.device)

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, slice):
            return self._to_tensor(self.array[index])
        if isinstance(index, (int, np.integer)):
            return self._to_tensor(self.array[int(index) : int(index) + 1])[0]
        idx = index.detach().cpu().numpy() if isinstance(index, Tensor) else np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        flat = idx.reshape(-1).astype(np.int64)
        order = np.argsort(flat, kind="stable")  # read the file front to back
        rows = np.empty((flat.size, *self.array.shape[1:]), dtype=self.array.dtype)
        rows[order] = self.array[flat[order]]
        out = self._to_tensor(rows)
        return out.reshape(*idx.shape, *self.sample_shape)

    def __repr__(self) -> str:
        return f"ArraySource({self.array.shape[0]} rows of {self.sample_shape}, {self.array.dtype}, on disk)"


def row_chunks(data: Tensor | ArraySource, size: int | None = None) -> Iterator[Tensor]:
    """Consecutive blocks of rows of a tensor or a source (a whole pass without holding it all)."""
    size = size or CHUNK_ROWS
    for start in range(0, data.shape[0], size):
        yield data[start : start + size]


def is_streamed(X: Any) -> bool:
    """Whether ``fit`` / ``predict`` should stream ``X`` instead of loading it: a memory map."""
    return isinstance(X, np.memmap)


def check_stream(X: np.ndarray) -> tuple[tuple[int, ...], float, bool]:
    """Validate a memory-mapped array chunk by chunk: ``(sample shape, divisor, is_image)``.

    The same rules as in-memory data: numbers only, finite, images (3-D or 4-D arrays) in [0, 1]
    or uint8.
    """
    if X.dtype.kind not in "biuf":
        raise GanclusterError(f"memory-mapped array has dtype {X.dtype}; give numbers (float, or uint8 images)")
    if X.ndim not in (2, 3, 4) or X.shape[0] == 0 or 0 in X.shape[1:]:
        raise GanclusterError(f"memory-mapped array has shape {X.shape}; give (n, features) or images (n, [c,] h, w)")
    image = X.ndim in (3, 4)
    sample = tuple(X.shape[1:]) if X.ndim != 3 else (1, *X.shape[1:])
    divide = 255.0 if (image and X.dtype == np.uint8) else 1.0
    if X.dtype.kind == "f" or image:
        for start in range(0, X.shape[0], CHUNK_ROWS):
            block = np.asarray(X[start : start + CHUNK_ROWS])
            if block.dtype.kind == "f" and not np.isfinite(block).all():
                raise GanclusterError(f"the memory-mapped array has NaN or infinite values in rows {start}.."
                                      f"{start + len(block) - 1}; remove or impute them")
            if image and X.dtype != np.uint8 and (block.min() < 0 or block.max() > 1):
                raise GanclusterError(f"image values must lie in [0, 1] (rows {start}..{start + len(block) - 1} hold "
                                      f"{block.min():.3g}..{block.max():.3g}); divide by 255 or rescale")
    return sample, divide, image


def column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column, in float64, one chunk at a time."""
    n = X.shape[0]
    total = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, n, CHUNK_ROWS):
        total += np.asarray(X[start : start + CHUNK_ROWS], dtype=np.float64).sum(0)
    mean = total / n
    sq = np.zeros_like(total)
    for start in range(0, n, CHUNK_ROWS):
        sq += ((np.asarray(X[start : start + CHUNK_ROWS], dtype=np.float64) - mean) ** 2).sum(0)
    return mean, np.sqrt(sq / n)
