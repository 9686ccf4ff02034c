"""SVHN cropped digits ("Format 2") from the published MATLAB files.

Layout: ``train_32x32.mat`` (73,257 images), ``test_32x32.mat`` (26,032), ``extra_32x32.mat``
(531,131), in ``data_dir`` or its ``svhn/`` subfolder. Each holds ``X``, uint8 (32, 32, 3, n) as
(h, w, c, n), and ``y``, (n, 1) with labels 1..10 where 10 is the digit 0 (returned as 0). They are
MATLAB v5 files read with ``scipy.io.loadmat``; a whole file is loaded (extra: 1.6 GB of uint8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gancluster.errors import GanclusterError

from .layout import Layout
from .lazy import LazyImages, concat

__all__ = ["SPLITS", "SVHN", "load_svhn"]

SPLITS = ("train", "test", "extra", "train+extra", "all")
SVHN = Layout(
    "SVHN", "GANCLUSTER_SVHN", "", "train_32x32.mat, test_32x32.mat (and extra_32x32.mat for split 'extra')",
    "'Format 2: Cropped Digits' (train_32x32.mat, test_32x32.mat, extra_32x32.mat) from "
    "http://ufldl.stanford.edu/housenumbers/",
    markers=("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat"), subdirs=("svhn", "SVHN"),
)  # fmt: skip
_PARTS = {"train": ("train",), "test": ("test",), "extra": ("extra",), "train+extra": ("train", "extra"),
          "all": ("train", "test")}  # fmt: skip
DIGITS = [str(d) for d in range(10)]


def _part(path: Path) -> LazyImages:
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # noqa: BLE001 - scipy raises many kinds for a damaged or foreign file
        raise SVHN.bad_file(path, f"it cannot be read as a MATLAB v5 file ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        raise SVHN.bad_file(path, f"it has no variable {' or '.join(missing)} (the published files hold X and y)")
    X, y = mat["X"], np.asarray(mat["y"])
    if not (isinstance(X, np.ndarray) and X.dtype == np.uint8 and X.ndim == 4 and X.shape[:3] == (32, 32, 3)):
        raise SVHN.bad_file(path, f"X must be uint8 (32, 32, 3, n), got {getattr(X, 'dtype', '?')} {np.shape(X)}")
    n = X.shape[3]
    if y.size != n or y.ndim > 2 or y.dtype.kind not in "iuf":
        raise SVHN.bad_file(path, f"y must hold {n} labels (one per image), got {y.dtype} {y.shape}")
    y = y.reshape(-1)
    if not np.all((y >= 0) & (y <= 10) & (y == np.round(y))):
        raise SVHN.bad_file(path, "y must hold the digits 1..10 (10 = digit 0)")
    chw = X.transpose(3, 2, 0, 1)  # (h, w, c, n) -> (n, c, h, w), a view
    return LazyImages(name="svhn", n=n, read=lambda positions: [chw[positions]],
                      y=y.astype(np.int64) % 10, class_names=list(DIGITS),
                      describe=lambda p: f"image {p} of {path}")  # fmt: skip


def load_svhn(split: str = "train", data_dir: str | Path | None = None, label: str | None = None) -> LazyImages:
    """SVHN digits, 3x32x32: train 73,257, test 26,032, extra 531,131, train+extra, all = train + test."""
    if label is not None:
        raise GanclusterError(f"label={label!r} does not apply to svhn: it has one kind of label")
    parts = _PARTS[split]
    folder = SVHN.find(data_dir, split)
    paths = SVHN.require(folder, [f"{p}_32x32.mat" for p in parts], split)
    loaded = [_part(p) for p in paths]
    meta = {"source": str(folder), "split": split, "format": "svhn-mat"}
    return concat(loaded, "svhn", meta)
