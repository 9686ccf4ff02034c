"""Datasets: built-in benchmarks, the user's own files, and class subsetting.

Everything returns a :class:`Dataset` (float32 ``X``: images ``(n, c, h, w)`` in [0, 1] or vectors
``(n, d)``; int64 ``y`` or None). The usual door is :func:`load_dataset`::

    from gancluster.data import load_dataset, DATASETS
    ds = load_dataset("mnist", classes=[3, 5], ratios=[0.7, 0.3], n_samples=5000)
    ds = load_dataset("ring")                      # 100k points, meta["centers"], meta["std"]
    ds = load_dataset("photos/", image_size=32)    # one subfolder per class
    ds = load_dataset("cifar10", data_dir="~/data", classes=["frog", "airplane"], ratios=[0.7, 0.3])
    ds = load_dataset("stl10", data_dir="~/data", split="train+unlabeled", image_size=48)

Colour datasets (CIFAR-10/100, STL-10, SVHN, CelebA) are read from the published files in a folder
the user names (``data_dir`` or an environment variable such as ``GANCLUSTER_CIFAR10``); nothing is
downloaded, and a missing or partial folder is an error naming the expected files and where to get them.

Every user-fixable problem raises :class:`~gancluster.errors.GanclusterError` (missing data:
:class:`~gancluster.errors.DataNotFoundError`) naming the problem and the fix.
"""

from __future__ import annotations

from .arrays import as_data_array, center_crop, encode_labels, parse_image_size, resize_images
from .builtin import load_digits, load_fashion_mnist, load_mnist, read_mnist_pickle
from .celeba import load_celeba
from .cifar import load_cifar10, load_cifar100
from .dataset import Dataset
from .files import load_csv, load_file, load_image_folder, load_npy, load_npz
from .idx import read_idx, write_idx
from .lazy import LazyImages
from .stl10 import load_stl10
from .svhn import load_svhn
from .sources import DATASETS, DatasetInfo, load_dataset, resolve_name
from .subsets import (
    GROUPINGS,
    Grouping,
    apply_ratios,
    group_classes,
    largest_remainder,
    select_classes,
    subsample,
)
from .synthetic import SYNTHETIC, grid_centers, make_synthetic, ring_centers

__all__ = [
    "DATASETS",
    "GROUPINGS",
    "SYNTHETIC",
    "Dataset",
    "DatasetInfo",
    "Grouping",
    "LazyImages",
    "apply_ratios",
    "as_data_array",
    "center_crop",
    "encode_labels",
    "grid_centers",
    "group_classes",
    "largest_remainder",
    "load_celeba",
    "load_cifar10",
    "load_cifar100",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_file",
    "load_image_folder",
    "load_mnist",
    "load_npy",
    "load_npz",
    "load_stl10",
    "load_svhn",
    "make_synthetic",
    "parse_image_size",
    "read_idx",
    "read_mnist_pickle",
    "resize_images",
    "resolve_name",
    "ring_centers",
    "select_classes",
    "subsample",
    "write_idx",
]
