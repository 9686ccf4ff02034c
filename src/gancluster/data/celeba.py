"""CelebA aligned faces from the published files, split into two classes by one attribute.

Layout: ``data_dir`` (or its ``celeba/`` subfolder) holds, flat or as in the official Drive folders::

    img_align_celeba/            000001.jpg .. 202599.jpg, 178x218 (or Img/img_align_celeba/)
    list_attr_celeba.txt         (or Anno/) line 1: the image count; line 2: the 40 attribute names;
                                 then "000001.jpg -1  1 ..." per image, 1 = has it, -1 = has not
    list_eval_partition.txt      (or Eval/) "000001.jpg 0": 0 train, 1 valid, 2 test; needed for
                                 those splits, not for split="all"

``label="Black_Hair"`` gives class 1 = "Black_Hair" and class 0 = "not Black_Hair" (paper 000 uses
Black_Hair, 23.9 % of the images); without a label the images are unlabelled. Images are centre-
cropped to 140x140 (the usual crop of the aligned faces) and resized to 64x64 unless ``crop`` /
``image_size`` say otherwise, and only the images kept by ``classes``/``ratios``/``n_samples`` are
decoded: all 202,599 take minutes and 10 GB as 64x64 float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gancluster.errors import DataNotFoundError, GanclusterError

from .files import read_image
from .layout import Layout
from .lazy import LazyImages

__all__ = ["CELEBA", "DEFAULT_CROP", "DEFAULT_SIZE", "SPLITS", "load_celeba"]

SPLITS = ("train", "valid", "test", "all")
DEFAULT_CROP = (140, 140)
DEFAULT_SIZE = (64, 64)
CELEBA = Layout(
    "CelebA", "GANCLUSTER_CELEBA", "",
    "img_align_celeba/ (the aligned JPEGs), list_attr_celeba.txt and, for the train/valid/test splits, "
    "list_eval_partition.txt",
    "the 'Align&Cropped Images' (img_align_celeba.zip) with Anno/list_attr_celeba.txt and "
    "Eval/list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    markers=("list_attr_celeba.txt", "Anno/list_attr_celeba.txt", "img_align_celeba", "Img/img_align_celeba"),
    subdirs=("celeba", "CelebA"),
)  # fmt: skip
_PARTITIONS = {"train": 0, "valid": 1, "test": 2}


def _first(folder: Path, *candidates: str) -> Path | None:
    return next((folder / c for c in candidates if (folder / c).exists()), None)


def _incomplete(folder: Path, what: str, split: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"{folder} is an incomplete CelebA folder: {what} missing for split {split!r} "
        f"(expected {CELEBA.expected}); {CELEBA.how_to_get()}"
    )


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CELEBA.bad_file(path, f"it cannot be read as text ({exc})") from exc


def read_attributes(path: Path, attribute: str | None) -> tuple[list[str], np.ndarray | None]:
    """File names in ``list_attr_celeba.txt`` and, for ``attribute``, 1 where it is present else 0.

    Every row must have a file name and one value per attribute, and line 1's count must match.
    """
    lines = _lines(path)
    try:
        count = int(lines[0].split()[0])
        names = lines[1].split()
    except (IndexError, ValueError):
        raise CELEBA.bad_file(path, "line 1 must be the number of images and line 2 the attribute names") from None
    col = None
    if attribute is not None:
        if attribute not in names:
            raise GanclusterError(f"CelebA has no attribute {attribute!r}; label= takes one of {', '.join(names)}")
        col = names.index(attribute) + 1
    files: list[str] = []
    values: list[str] = []
    rows: list[int] = []
    width = len(names) + 1
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != width:
            raise CELEBA.bad_file(
                path, f"line {number} has {len(parts)} columns, expected {width} (a file name and "
                f"{len(names)} attribute values as on line 2)"
            )  # fmt: skip
        files.append(parts[0])
        if col is not None:
            values.append(parts[col])
            rows.append(number)
    if len(files) != count:
        raise CELEBA.bad_file(path, f"line 1 says {count} images but {len(files)} rows follow (truncated?)")
    if col is None:
        return files, None
    v = np.asarray(values)
    bad = np.flatnonzero((v != "1") & (v != "-1"))
    if bad.size:
        raise CELEBA.bad_file(path, f"line {rows[bad[0]]}: {attribute} is {v[bad[0]]!r}, expected 1 or -1")
    return files, (v == "1").astype(np.int64)


def read_partition(path: Path, files: list[str]) -> np.ndarray:
    """The partition (0 train, 1 valid, 2 test) of each of ``files``, from ``list_eval_partition.txt``."""
    table: dict[str, str] = {}
    for number, line in enumerate(_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise CELEBA.bad_file(path, f"line {number} must be '<file> <0|1|2>', got {line.strip()!r}")
        table[parts[0]] = parts[1]
    missing = [f for f in files if f not in table]
    if missing:
        raise CELEBA.bad_file(path, f"{len(missing)} image(s) of list_attr_celeba.txt have no partition, e.g. {missing[0]}")
    return np.array([int(table[f]) for f in files], dtype=np.int64)


def load_celeba(split: str = "train", data_dir: str | Path | None = None, label: str | None = None) -> LazyImages:
    """CelebA aligned faces: train 162,770, valid 19,867, test 19,962, all 202,599; ``label`` = an attribute."""
    folder = CELEBA.find(data_dir, split)
    attr = _first(folder, "list_attr_celeba.txt", "Anno/list_attr_celeba.txt")
    if attr is None:
        raise _incomplete(folder, "list_attr_celeba.txt (or Anno/list_attr_celeba.txt)", split)
    images = _first(folder, "img_align_celeba", "Img/img_align_celeba")
    if images is None or not images.is_dir():
        raise _incomplete(folder, "the image folder img_align_celeba/ (or Img/img_align_celeba/)", split)
    if (images / "img_align_celeba").is_dir():  # the zip extracted into a folder of the same name
        images = images / "img_align_celeba"
    files, y = read_attributes(attr, label)
    if split != "all":
        part = _first(folder, "list_eval_partition.txt", "Eval/list_eval_partition.txt")
        if part is None:
            raise _incomplete(folder, "list_eval_partition.txt (or Eval/list_eval_partition.txt; or use split='all')", split)
        keep = np.flatnonzero(read_partition(part, files) == _PARTITIONS[split])
        files = [files[i] for i in keep]
        y = None if y is None else y[keep]

    def check(positions: np.ndarray) -> None:
        missing = [files[p] for p in positions if not (images / files[p]).is_file()]
        if missing:
            raise DataNotFoundError(
                f"{len(missing)} image(s) listed in {attr.name} are missing from {images}, e.g. {missing[0]}; "
                f"the folder is incomplete: {CELEBA.how_to_get()}"
            )

    return LazyImages(
        name="celeba", n=len(files), read=lambda positions: (read_image(images / files[p]) for p in positions),
        y=y, class_names=None if label is None else [f"not {label}", label],
        meta={"source": str(folder), "split": split, "format": "celeba-aligned", "label": label, "files": files},
        describe=lambda p: str(images / files[p]), check=check,
        default_crop=DEFAULT_CROP, default_size=DEFAULT_SIZE,
    )  # fmt: skip
