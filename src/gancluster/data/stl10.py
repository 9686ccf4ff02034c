"""STL-10 from its published binary archive (``stl10_binary.tar.gz``).

Layout (``data_dir`` may be the folder or its parent)::

    stl10_binary/  train_X.bin train_y.bin (5,000)  test_X.bin test_y.bin (8,000)
                   unlabeled_X.bin (100,000)  class_names.txt

``*_X.bin``: uint8, 3 x 96 x 96 bytes per image, each colour plane stored column by column. The
official reader does ``reshape(-1, 3, 96, 96)`` then ``transpose(0, 3, 2, 1)`` to (n, h, w, c), so
in (c, h, w) order an image is ``raw.transpose(0, 1, 3, 2)``. ``*_y.bin``: one uint8 label 1..10 per
image, returned as 0..9. The X files are read a chunk at a time, so the 2.8 GB unlabelled split is
never in memory as bytes, and at 48x48 (paper 003) its float32 array is 2.8 GB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gancluster.errors import GanclusterError

from .layout import Layout
from .lazy import LazyImages, concat

__all__ = ["IMAGE_BYTES", "SPLITS", "STL10", "load_stl10"]

SPLITS = ("train", "test", "unlabeled", "train+unlabeled", "all")
IMAGE_BYTES = 3 * 96 * 96
STL10 = Layout(
    "STL-10", "GANCLUSTER_STL10", "stl10_binary",
    "train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin, class_names.txt",
    "the 'STL-10 binary files' (stl10_binary.tar.gz) from https://cs.stanford.edu/~acoates/stl10/",
    markers=("class_names.txt", "train_X.bin", "test_X.bin", "unlabeled_X.bin"),
)  # fmt: skip
_PARTS = {"train": ("train",), "test": ("test",), "unlabeled": ("unlabeled",),
          "train+unlabeled": ("train", "unlabeled"), "all": ("train", "test")}  # fmt: skip


def _class_names(path: Path) -> list[str]:
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise STL10.bad_file(path, f"it cannot be read as text ({exc})") from exc
    if len(names) != 10:
        raise STL10.bad_file(path, f"it lists {len(names)} class names, not 10 (one per line)")
    return names


def _part(folder: Path, part: str, names: list[str] | None) -> LazyImages:
    x_path = folder / f"{part}_X.bin"
    size = x_path.stat().st_size
    if size == 0 or size % IMAGE_BYTES:
        raise STL10.bad_file(
            x_path, f"its size, {size} bytes, is not a positive multiple of 3*96*96 = {IMAGE_BYTES} (one "
            "image), so it is truncated or not an STL-10 image file"
        )  # fmt: skip
    n = size // IMAGE_BYTES
    y = None
    if names is not None:
        y_path = folder / f"{part}_y.bin"
        labels = np.fromfile(y_path, dtype=np.uint8)
        if len(labels) != n:
            raise STL10.bad_file(y_path, f"it has {len(labels)} labels but {x_path.name} holds {n} images")
        if labels.min() < 1 or labels.max() > 10:
            raise STL10.bad_file(y_path, f"labels must be 1..10, found {labels.min()}..{labels.max()}")
        y = labels.astype(np.int64) - 1
    return LazyImages(
        name="stl10", n=n, read=lambda positions: [_read_images(x_path, positions)],
        y=y, class_names=names, describe=lambda p: f"image {p} of {x_path}",
    )  # fmt: skip


def _read_images(path: Path, positions: np.ndarray) -> np.ndarray:
    """Images at ``positions`` as (k, 3, 96, 96) uint8 in (c, h, w) order.

    Plain reads rather than a memory map: mapped pages would count in the process's memory (RSS)
    until the kernel drops them, doubling what a 100k-image load appears to use.
    """
    raw = np.empty((len(positions), 3, 96, 96), dtype=np.uint8)
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1  # one read per run of consecutive images
    with open(path, "rb") as f:
        for a, b in zip([0, *breaks], [*breaks, len(positions)]):
            f.seek(int(positions[a]) * IMAGE_BYTES)
            if f.readinto(raw[a:b]) != (b - a) * IMAGE_BYTES:
                raise STL10.bad_file(path, f"image {positions[a]} is cut short (the file changed while it was read)")
    return raw.transpose(0, 1, 3, 2)  # planes are stored column by column


def load_stl10(split: str = "train", data_dir: str | Path | None = None, label: str | None = None) -> LazyImages:
    """STL-10, 3x96x96: train 5,000 and test 8,000 (10 classes), unlabeled 100,000 (no labels),
    train+unlabeled 105,000 (no labels, the usual GAN training set), all = train + test."""
    if label is not None:
        raise GanclusterError(f"label={label!r} does not apply to stl10: it has one kind of label")
    parts = _PARTS[split]
    labelled = "unlabeled" not in parts
    folder = STL10.find(data_dir, split)
    needed = [f"{p}_X.bin" for p in parts] + ([*(f"{p}_y.bin" for p in parts), "class_names.txt"] if labelled else [])
    STL10.require(folder, needed, split)
    names = _class_names(folder / "class_names.txt") if labelled else None  # None: labels are not read
    loaded = [_part(folder, p, names) for p in parts]
    meta = {"source": str(folder), "split": split, "format": "stl10-binary"}
    return concat(loaded, "stl10", meta)
