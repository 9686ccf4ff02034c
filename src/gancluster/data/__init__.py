"""Datasets: built-in benchmarks, the user's own files, and class subsetting.

Everything returns a :class:`Dataset` (float32 ``X``: images ``(n, c, h, w)`` in [0, 1] or vectors
``(n, d)``; int64 ``y`` or None). The usual door is :func:`load_dataset`::

    from gancluster.data import load_dataset, DATASETS
    ds = load_dataset("mnist", classes=[3, 5], ratios=[0.7, 0.3], n_samples=5000)
    ds = load_dataset("ring")                      # 100k points, meta["centers"], meta["std"]
    ds = load_dataset("photos/", image_size=32)    # one subfolder per class

Every user-fixable problem raises :class:`~gancluster.errors.GanclusterError` (missing data:
:class:`~gancluster.errors.DataNotFoundError`) naming the problem and the fix.
"""

from __future__ import annotations

from .arrays import as_data_array, encode_labels, parse_image_size, resize_images
from .builtin import load_digits, load_fashion_mnist, load_mnist, read_mnist_pickle
from .dataset import Dataset
from .files import load_csv, load_file, load_image_folder, load_npy, load_npz
from .idx import read_idx, write_idx
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
    "apply_ratios",
    "as_data_array",
    "encode_labels",
    "grid_centers",
    "group_classes",
    "largest_remainder",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_file",
    "load_image_folder",
    "load_mnist",
    "load_npy",
    "load_npz",
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
