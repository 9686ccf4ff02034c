"""CIFAR-10 and CIFAR-100 from their published "python version" archives.

The archives hold pickled dicts (Python 2 pickles): ``data`` is a uint8 array ``(n, 3072)`` whose
rows are the red, green and blue 32x32 planes in row-major order, so ``reshape(n, 3, 32, 32)`` is
already (c, h, w); labels are lists of ints; class names are in the meta file. They are read with
:mod:`.safe_pickle`, which builds only containers, strings, numbers and numpy arrays.

Layout (``data_dir`` may be the folder or its parent)::

    cifar-10-batches-py/  data_batch_1 .. data_batch_5 (10,000 images each), test_batch, batches.meta
    cifar-100-python/     train (50,000), test (10,000), meta (fine and coarse label names)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gancluster.errors import GanclusterError

from .layout import Layout
from .lazy import LazyImages
from .safe_pickle import load_arrays_pickle

__all__ = ["CIFAR10", "CIFAR100", "SPLITS", "load_cifar10", "load_cifar100"]

SPLITS = ("train", "test", "all")
_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10 = Layout(
    "CIFAR-10", "GANCLUSTER_CIFAR10", "cifar-10-batches-py",
    "data_batch_1..data_batch_5, test_batch, batches.meta",
    f"the 'CIFAR-10 python version' (cifar-10-python.tar.gz) from {_PAGE}",
    markers=("batches.meta", "data_batch_1", "test_batch"),
)  # fmt: skip
CIFAR100 = Layout(
    "CIFAR-100", "GANCLUSTER_CIFAR100", "cifar-100-python", "train, test, meta",
    f"the 'CIFAR-100 python version' (cifar-100-python.tar.gz) from {_PAGE}",
    markers=("meta",),  # "train" and "test" are too common to mark a folder
)  # fmt: skip
_FILES = {
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
    "cifar100": {"train": ["train"], "test": ["test"]},
}
# label kind -> (label key in a batch, names key in meta, number of classes)
_LABELS = {
    "cifar10": {"label": ("labels", "label_names", 10)},
    "cifar100": {"fine": ("fine_labels", "fine_label_names", 100),
                 "coarse": ("coarse_labels", "coarse_label_names", 20)},
}  # fmt: skip


def _read_dict(layout: Layout, path: Path) -> dict[str, Any]:
    """One pickled dict with its keys as ``str`` (Python 2 files give str, Python 3 ones bytes)."""
    try:
        with open(path, "rb") as f:
            obj = load_arrays_pickle(f)
    except Exception as exc:  # noqa: BLE001 - a damaged or hostile pickle fails in many ways
        raise layout.bad_file(path, f"it cannot be unpickled safely ({exc})") from exc
    if not isinstance(obj, dict):
        raise layout.bad_file(path, f"it holds a {type(obj).__name__}, not a dict")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _text(v: object) -> str:
    return v.decode("latin1") if isinstance(v, bytes) else str(v)


def _read_batch(layout: Layout, path: Path, key: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_dict(layout, path)
    missing = [k for k in ("data", key) if k not in batch]
    if missing:
        raise layout.bad_file(path, f"it has no {' or '.join(repr(k) for k in missing)} entry (keys: {sorted(batch)})")
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        what = f"{data.dtype} array {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise layout.bad_file(path, f"'data' must be a uint8 array (n, 3072), got a {what}")
    try:
        y = np.asarray(batch[key], dtype=np.int64)
    except (TypeError, ValueError):
        y = np.zeros((0, 0))
    if y.ndim != 1 or len(y) != len(data):
        raise layout.bad_file(path, f"{key!r} must list one integer label per image ({len(data)} images)")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise layout.bad_file(path, f"{key!r} has labels outside 0..{n_classes - 1}")
    return data.reshape(-1, 3, 32, 32), y


def _load(name: str, layout: Layout, meta_file: str, split: str, data_dir: str | Path | None,
          label: str | None) -> LazyImages:  # fmt: skip
    kinds = _LABELS[name]
    kind = label if label is not None else next(iter(kinds))
    if kind not in kinds:
        options = " or ".join(repr(k) for k in kinds) if len(kinds) > 1 else "not given (it has one kind of label)"
        raise GanclusterError(f"label={label!r} does not apply to {name}: its label must be {options}")
    key, names_key, n_classes = kinds[kind]
    parts = ("train", "test") if split == "all" else (split,)
    folder = layout.find(data_dir, split)
    files = [f for part in parts for f in _FILES[name][part]]
    paths = layout.require(folder, [*files, meta_file], split)
    meta = _read_dict(layout, paths[-1])
    names = meta.get(names_key)
    if not isinstance(names, (list, tuple)) or len(names) != n_classes:
        raise layout.bad_file(paths[-1], f"{names_key!r} must list the {n_classes} class names")
    batches = [_read_batch(layout, p, key, n_classes) for p in paths[:-1]]
    X = batches[0][0] if len(batches) == 1 else np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    return LazyImages(
        name=name, n=len(X), read=lambda positions: [X[positions]], y=y,
        class_names=[_text(v) for v in names],
        meta={"source": str(folder), "split": split, "format": "python-pickle", "label": kind},
    )  # fmt: skip


def load_cifar10(split: str = "train", data_dir: str | Path | None = None, label: str | None = None) -> LazyImages:
    """CIFAR-10, 3x32x32: train 50,000, test 10,000, all 60,000; 10 classes (airplane = 0 .. truck = 9)."""
    return _load("cifar10", CIFAR10, "batches.meta", split, data_dir, label)


def load_cifar100(split: str = "train", data_dir: str | Path | None = None, label: str | None = None) -> LazyImages:
    """CIFAR-100, 3x32x32: train 50,000, test 10,000; ``label='fine'`` (100 classes) or ``'coarse'`` (20)."""
    return _load("cifar100", CIFAR100, "meta", split, data_dir, label)
