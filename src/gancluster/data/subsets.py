"""Class selection, grouping, class-ratio and size subsampling of a :class:`Dataset`.

These are how the imbalanced benchmarks are built (e.g. MNIST 3-vs-5 at 70:30, or the 5 coarse
MNIST groups), so counts are exact: shares match the request up to one sample of rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from gancluster.errors import GanclusterError

from .dataset import Dataset

__all__ = [
    "GROUPINGS",
    "Grouping",
    "apply_ratios",
    "check_ratios",
    "group_classes",
    "largest_remainder",
    "resolve_classes",
    "resolve_groups",
    "select_classes",
    "subsample",
]

Label = Union[int, str]
SeedLike = Union[int, np.random.Generator]


@dataclass(frozen=True)
class Grouping:
    """A named merge of original labels into coarser classes."""

    groups: tuple[tuple[int, ...], ...]
    class_names: tuple[str, ...]
    description: str


GROUPINGS: dict[str, Grouping] = {
    "mnist5": Grouping(
        groups=((3, 5, 8), (2,), (1, 4, 7, 9), (6,), (0,)),
        class_names=("3/5/8", "2", "1/4/7/9", "6", "0"),
        description="MNIST digits merged by shape into 5 unequal classes",
    ),
    "fmnist5": Grouping(
        groups=((5, 7, 9), (8,), (0, 3), (2, 4, 6), (1,)),
        class_names=("shoes", "bag", "top/dress", "pullover/coat/shirt", "trouser"),
        description="Fashion-MNIST merged into shoes, bag, top/dress, pullover/coat/shirt, trouser",
    ),
}


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def largest_remainder(total: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total`` whose shares are closest to ``weights`` (Hamilton method)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    raw = total * w
    counts = np.floor(raw + 1e-9).astype(np.int64)
    short = int(total - counts.sum())
    if short > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def _label_space(ds: Dataset) -> str:
    names, k = ds.class_names, ds.n_classes or 0
    if names is None or names == [str(i) for i in range(k)]:
        return f"dataset {ds.name!r} has labels 0..{k - 1}"
    shown = ", ".join(f"{i}={n!r}" for i, n in enumerate(names[:20]))
    return f"dataset {ds.name!r} has classes {shown}{' ...' if k > 20 else ''}"


def _resolve_label(label: Label, ds: Dataset) -> int:
    """An original label (int value or class-name string) -> index into ``ds``'s classes."""
    names = ds.class_names
    values = ds.meta.get("label_values")
    if isinstance(label, str):
        if names is not None and label in names:
            return names.index(label)
        try:
            label = int(label)
        except ValueError:
            raise GanclusterError(f"class {label!r} is unknown: {_label_space(ds)}") from None
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise GanclusterError(f"class labels must be integers or class names, got {label!r}")
    label = int(label)
    if values is not None:
        if label in values:
            return values.index(label)
    elif 0 <= label < (ds.n_classes or 0):
        return label
    known = f"dataset {ds.name!r} has labels {values}" if values is not None else _label_space(ds)
    raise GanclusterError(f"class {label} is unknown: {known}")


def _need_labels(ds: Dataset, what: str) -> None:
    if ds.y is None:
        raise GanclusterError(
            f"{what} needs class labels but dataset {ds.name!r} has none; give labelled data "
            "(e.g. an .npz with a 'y' array, a CSV label_column, or class subfolders)"
        )


def resolve_classes(ds: Dataset, classes: Sequence[Label]) -> list[int]:
    """Validate ``classes`` (original labels or names) and return their class indices."""
    if isinstance(classes, (str, int)) or not isinstance(classes, Sequence):
        raise GanclusterError(f"classes must be a list of labels, e.g. [3, 5], got {classes!r}")
    if len(classes) == 0:
        raise GanclusterError("classes is empty; list at least one class label, e.g. [3, 5]")
    idx = [_resolve_label(c, ds) for c in classes]
    if len(set(idx)) != len(idx):
        raise GanclusterError(f"classes {list(classes)} lists a class twice; give each label once")
    return idx


def resolve_groups(
    ds: Dataset, groups: str | Sequence[Sequence[Label] | Label]
) -> tuple[list[list[int]], list[str]]:
    """Validate ``groups`` (a named grouping or lists of labels); return class indices and names."""
    names: list[str] | None = None
    if isinstance(groups, str):
        if groups not in GROUPINGS:
            raise GanclusterError(
                f"unknown grouping {groups!r}; named groupings are {sorted(GROUPINGS)}, "
                "or pass lists of labels, e.g. [[3, 5, 8], [0, 6]]"
            )
        names = list(GROUPINGS[groups].class_names)
        groups = [list(g) for g in GROUPINGS[groups].groups]
    if not isinstance(groups, Sequence) or len(groups) == 0:
        raise GanclusterError(
            f"groups must be a non-empty list of label lists, e.g. [[3, 5], [8]], got {groups!r}"
        )
    out: list[list[int]] = []
    seen: dict[int, int] = {}
    for gi, group in enumerate(groups):
        members = [group] if isinstance(group, (int, str, np.integer)) else group
        if not isinstance(members, Sequence) or len(members) == 0:
            raise GanclusterError(f"group {gi} of groups is empty or not a list: {group!r}")
        idx = []
        for label in members:
            k = _resolve_label(label, ds)
            if k in seen:
                raise GanclusterError(
                    f"class {label!r} appears in group {seen[k]} and group {gi}; "
                    "each label may be in one group only"
                )
            seen[k] = gi
            idx.append(k)
        out.append(idx)
    if names is None:
        cn = ds.class_names
        names = ["/".join(cn[k] if cn is not None else str(k) for k in g) for g in out]
    return out, names


def select_classes(ds: Dataset, classes: Sequence[Label]) -> Dataset:
    """Keep only ``classes``, relabelled ``0..len(classes)-1`` in the order given."""
    _need_labels(ds, "classes")
    idx = resolve_classes(ds, classes)
    names = [ds.class_names[k] if ds.class_names is not None else str(k) for k in idx]
    return _regroup(ds, [[k] for k in idx], names, "classes", list(classes))


def group_classes(ds: Dataset, groups: str | Sequence[Sequence[Label] | Label]) -> Dataset:
    """Merge labels into coarser classes: group ``k`` becomes class ``k``; unlisted labels are dropped."""
    _need_labels(ds, "groups")
    idx_groups, names = resolve_groups(ds, groups)
    return _regroup(ds, idx_groups, names, "groups", groups)


def _regroup(ds: Dataset, idx_groups: list[list[int]], names: list[str], key: str, spec: object) -> Dataset:
    assert ds.y is not None
    mapping = np.full(ds.n_classes or 0, -1, dtype=np.int64)
    for new, members in enumerate(idx_groups):
        mapping[members] = new
    out = ds.subset(np.flatnonzero(mapping[ds.y] >= 0))
    out.y = mapping[out.y]
    out.class_names = names
    meta = out.meta
    meta.pop("label_values", None)
    meta[key] = spec
    if "centers" in meta and "center_class" in meta:  # synthetic mode centers follow their class
        cls = mapping[np.asarray(meta["center_class"])]
        kept = cls >= 0
        meta["centers"] = np.asarray(meta["centers"])[kept]
        meta["center_class"] = cls[kept]
        if "center_weights" in meta:
            w = np.asarray(meta["center_weights"], dtype=np.float64)[kept]
            meta["center_weights"] = w / w.sum()
    return out


def check_ratios(ratios: Sequence[float], n_classes: int, where: str = "") -> np.ndarray:
    """Validate class shares: one positive finite number per class, summing to 1."""
    if isinstance(ratios, (str, int, float)) or not isinstance(ratios, (Sequence, np.ndarray)):
        raise GanclusterError(f"ratios must be a list of class shares, e.g. [0.9, 0.1], got {ratios!r}")
    try:
        r = np.asarray(ratios, dtype=np.float64)
    except (TypeError, ValueError):
        raise GanclusterError(f"ratios must be numbers, got {list(ratios)!r}") from None
    if r.ndim != 1 or r.size != n_classes:
        raise GanclusterError(
            f"ratios has {r.size} value(s) but the data has {n_classes} classes{where}; "
            "give one share per class"
        )
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise GanclusterError(
            f"ratios must be positive numbers, got {list(ratios)}; "
            "drop a class with classes=[...] instead of giving it share 0"
        )
    if not math.isclose(float(r.sum()), 1.0, abs_tol=1e-3):
        raise GanclusterError(
            f"ratios must sum to 1, got {list(ratios)} (sum {r.sum():g}); e.g. [0.9, 0.1]"
        )
    return r / r.sum()


def apply_ratios(ds: Dataset, ratios: Sequence[float], seed: SeedLike = 0) -> Dataset:
    """Subsample so class shares equal ``ratios``, keeping as many samples as possible."""
    _need_labels(ds, "ratios")
    done = [f"{k}={ds.meta[k]!r}" for k in ("classes", "groups") if k in ds.meta]
    r = check_ratios(ratios, ds.n_classes or 0, f" (after {done[0]})" if done else "")
    counts = ds.class_counts()
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        name = ds.class_names[empty[0]] if ds.class_names else str(empty[0])
        raise GanclusterError(
            f"class {name!r} of dataset {ds.name!r} has no samples, so no subsample can give it "
            f"share {r[empty[0]]:g}; leave it out with classes=[...]"
        )
    # floor(min c/r) always fits; rounding can fit up to ~1/min(r) more, so try those too
    # (largest-remainder counts are not monotone in the total, hence a scan, not a search).
    low = int(np.floor(np.min(counts / r) + 1e-9))
    high = min(int(np.floor(np.min((counts + 1) / r))), low + 100_000)
    take = largest_remainder(low, r)
    for total in range(high, low, -1):
        cand = largest_remainder(total, r)
        if np.all(cand <= counts):
            take = cand
            break
    rng = _rng(seed)
    keep = [rng.choice(np.flatnonzero(ds.y == k), size=int(n), replace=False) for k, n in enumerate(take)]
    out = ds.subset(np.sort(np.concatenate(keep)))
    out.meta["ratios"] = [float(x) for x in r]
    if "center_weights" in out.meta and "center_class" in out.meta:
        cls = np.asarray(out.meta["center_class"])
        w = np.asarray(out.meta["center_weights"], dtype=np.float64)
        within = w / np.bincount(cls, weights=w, minlength=r.size)[cls]
        out.meta["center_weights"] = within * r[cls]
    return out


def subsample(ds: Dataset, n_samples: int, seed: SeedLike = 0) -> Dataset:
    """A seeded random subset of ``n_samples``, stratified so class shares are kept."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples <= 0:
        raise GanclusterError(f"n_samples must be a positive integer, got {n_samples!r}")
    if n_samples > len(ds):
        raise GanclusterError(
            f"n_samples={n_samples} but dataset {ds.name!r} has only {len(ds)} samples "
            "(after class selection/ratios); ask for at most that many or omit n_samples"
        )
    if n_samples == len(ds):
        return ds
    rng = _rng(seed)
    if ds.y is None:
        return ds.subset(np.sort(rng.choice(len(ds), size=n_samples, replace=False)))
    take = largest_remainder(n_samples, ds.class_counts())
    keep = [
        rng.choice(np.flatnonzero(ds.y == k), size=int(n), replace=False) for k, n in enumerate(take) if n
    ]
    return ds.subset(np.sort(np.concatenate(keep)))
