"""Image datasets whose labels are known before their pixels are decoded.

A :class:`LazyImages` knows how many images a split has, their labels, and how to read any of them.
:func:`~gancluster.data.load_dataset` picks the samples first (``classes``, ``groups``, ``ratios``,
``n_samples``) on the labels alone, then decodes only the kept images, cropping and resizing chunk by
chunk into one float32 array allocated at the final size. This is what makes CelebA's 202,599 JPEGs
and STL-10's 100,000 unlabelled images usable: ``n_samples=20000`` decodes 20,000 files, and STL-10's
unlabelled split at 48x48 takes 100k x 3 x 48 x 48 x 4 B = 2.8 GB of float32 while its 96x96 pixels
are only ever read one chunk at a time (they would be 11 GB as float32).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gancluster.errors import GanclusterError

from .arrays import center_crop, resize_images, to_unit_float
from .dataset import Dataset

__all__ = ["CHUNK", "PROGRESS_MIN", "LazyImages", "concat", "decode"]

#: Images decoded per read call; bounds the memory beside the output array.
CHUNK = 256
#: Loads of at least this many images show a progress bar (on a terminal).
PROGRESS_MIN = 5000

# positions (int64, any order) -> batches (k, c, h, w) covering them in order; uint8, uint16 or [0, 1] floats
Reader = Callable[[np.ndarray], Iterable[np.ndarray]]


@dataclass
class LazyImages:
    """A split of an image dataset: labels now, pixels on demand.

    ``describe(p)`` names image ``p`` in error messages (its file); ``check(positions)`` runs before
    any pixel is decoded (e.g. every listed file exists), so a bad folder fails in seconds, not after
    an hour of decoding; ``default_crop`` / ``default_size`` apply when the caller gives none
    (CelebA: 140x140 crop, 64x64).
    """

    name: str
    n: int
    read: Reader
    y: np.ndarray | None = None
    class_names: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    describe: Callable[[int], str] | None = None
    check: Callable[[np.ndarray], None] | None = None
    default_crop: tuple[int, int] | None = None
    default_size: tuple[int, int] | None = None

    def index(self) -> Dataset:
        """The labels with a zero-width X: subset it freely, then :meth:`materialise` what is left."""
        meta = {**self.meta, "index": np.arange(self.n, dtype=np.int64)}
        X = np.zeros((self.n, 0), dtype=np.float32)
        return Dataset(X=X, y=self.y, name=self.name, class_names=self.class_names, meta=meta)

    def materialise(
        self, ds: Dataset, size: tuple[int, int] | None = None, crop: tuple[int, int] | None = None
    ) -> Dataset:
        """The pixels of the samples an :meth:`index` dataset (or a subset of it) kept."""
        if self.check is not None:
            self.check(ds.meta["index"])
        X = decode(self, ds.meta["index"], size, crop)
        return Dataset(X=X, y=ds.y, name=ds.name, class_names=ds.class_names, meta=ds.meta)

    def load(self, size: tuple[int, int] | None = None, crop: tuple[int, int] | None = None) -> Dataset:
        """Every image of the split."""
        return self.materialise(self.index(), size, crop)

    def label_of(self, p: int) -> str:
        return self.describe(p) if self.describe is not None else f"{self.name} image {p}"


def concat(parts: Sequence[LazyImages], name: str, meta: dict[str, Any]) -> LazyImages:
    """Splits one after another (e.g. STL-10 train + unlabeled); labels only if every part has them."""
    if len(parts) == 1:
        return replace(parts[0], name=name, meta=meta)
    offsets = np.cumsum([0, *(p.n for p in parts)])
    labelled = all(p.y is not None for p in parts)

    def locate(pos: int) -> tuple[LazyImages, int]:
        k = int(np.searchsorted(offsets, pos, side="right")) - 1
        return parts[k], pos - int(offsets[k])

    def runs(positions: np.ndarray) -> Iterable[tuple[LazyImages, np.ndarray]]:
        """Each run of consecutive positions in one part, as (part, positions within it)."""
        which = np.searchsorted(offsets, positions, side="right") - 1
        starts = np.flatnonzero(np.diff(which, prepend=-1))
        for a, b in zip(starts, [*starts[1:], len(positions)]):
            k = int(which[a])
            yield parts[k], positions[a:b] - offsets[k]

    def read(positions: np.ndarray) -> Iterable[np.ndarray]:
        for part, pos in runs(positions):
            yield from part.read(pos)

    def check(positions: np.ndarray) -> None:
        for part, pos in runs(positions):
            if part.check is not None:
                part.check(pos)

    def describe(pos: int) -> str:
        part, p = locate(pos)
        return part.label_of(p)

    return LazyImages(
        name=name,
        n=int(offsets[-1]),
        read=read,
        y=np.concatenate([p.y for p in parts]) if labelled else None,  # type: ignore[misc]
        class_names=parts[0].class_names if labelled else None,
        meta=meta,
        describe=describe,
        check=check,
        default_crop=parts[0].default_crop,
        default_size=parts[0].default_size,
    )


def _progress(n: int, name: str):  # noqa: ANN202 - a tqdm bar
    from tqdm.auto import tqdm

    # disable=None: shown on a terminal only, so logs and tests stay clean
    return tqdm(total=n, desc=f"reading {name}", unit="img", leave=False, disable=True if n < PROGRESS_MIN else None)


def decode(
    source: LazyImages,
    positions: np.ndarray,
    size: tuple[int, int] | None = None,
    crop: tuple[int, int] | None = None,
) -> np.ndarray:
    """Images at ``positions``, centre-cropped to ``crop`` then resized to ``size``: float32 (n, c, h, w).

    Grey and colour images may mix (image folders): the result is RGB if any image is. Without
    ``size`` every image must come out the same size, else the message names two that differ.
    """
    positions = np.asarray(positions, dtype=np.int64)
    n = len(positions)
    if n == 0:  # nothing kept: decode one image for the shape
        return decode(source, np.zeros(1, np.int64), size, crop)[:0]
    out: np.ndarray | None = None
    first = int(positions[0])
    done = 0
    with _progress(n, source.name) as bar:
        for a in range(0, n, CHUNK):
            for batch in source.read(positions[a : a + CHUNK]):
                k = len(batch)
                x = center_crop(batch, crop, source.label_of(int(positions[done])))
                x = to_unit_float(resize_images(x, size) if size is not None else x)
                if out is None:
                    out = np.empty((n, *x.shape[1:]), dtype=np.float32)
                if x.shape[1] != out.shape[1]:  # grey among colour: colour wins
                    if x.shape[1] == 1:
                        x = np.repeat(x, out.shape[1], axis=1)
                    else:
                        out = np.repeat(out, x.shape[1], axis=1)
                if x.shape[2:] != out.shape[2:]:
                    (h0, w0), (h1, w1) = out.shape[2:], x.shape[2:]
                    raise GanclusterError(
                        f"images differ in size: {source.label_of(first)} is {h0}x{w0} (h x w) but "
                        f"{source.label_of(int(positions[done]))} is {h1}x{w1}; pass image_size=(h, w) "
                        "(--image-size) to resize them all"
                    )
                out[done : done + k] = x
                done += k
                bar.update(k)
    if out is None or done != n:
        raise RuntimeError(f"{source.name}: read {done} images for {n} positions")  # a reader bug
    return out
