"""Checks that turn raw arrays and label columns into the :class:`Dataset` contract.

Every loader funnels through here, so a 1-D array, an object array, NaNs or 0..255 floats fail the
same way, with a message that names the source and the fix, wherever they came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from gancluster.errors import GanclusterError

__all__ = ["as_data_array", "center_crop", "encode_labels", "parse_image_size", "resize_images", "to_unit_float"]


def _check_finite(X: np.ndarray, source: str) -> None:
    if X.dtype.kind == "f":
        bad = int(X.size - np.count_nonzero(np.isfinite(X)))
        if bad:
            raise GanclusterError(
                f"{source} contains {bad} NaN or infinite value(s) out of {X.size}; "
                "remove or impute them (e.g. drop those rows) before clustering"
            )


def _scale_images(X: np.ndarray, source: str) -> np.ndarray:
    """Integer images -> [0, 1] by their dtype's range; float images must already be in [0, 1]."""
    if X.dtype in (np.uint8, np.uint16):
        return to_unit_float(X)
    if X.dtype.kind == "b":
        return X.astype(np.float32)
    lo, hi = float(X.min()), float(X.max())
    if X.dtype.kind in "iu":
        if lo < 0 or hi > 255:
            raise GanclusterError(
                f"{source}: integer images must be 0..255 (uint8) or 0..65535 (uint16), got values "
                f"{lo:g}..{hi:g}; rescale them to floats in [0, 1]"
            )
        return X.astype(np.float32) * np.float32(1 / 255)
    tol = 1e-4
    if lo < -tol or hi > 1 + tol:
        if lo >= 0 and hi <= 255:
            hint = "divide by 255"
        elif lo >= -1 - tol and hi <= 1 + tol:
            hint = "use (X + 1) / 2"
        else:
            hint = "rescale them"
        raise GanclusterError(
            f"{source}: float images must be in [0, 1], got values {lo:g}..{hi:g}; {hint}"
        )
    return np.clip(X, 0.0, 1.0).astype(np.float32, copy=False)


def as_data_array(arr: np.ndarray, source: str) -> np.ndarray:
    """Validate ``arr`` and return float32 ``(n, d)`` vectors or ``(n, c, h, w)`` images in [0, 1].

    2-D arrays are vectors (values kept as they are); 3-D ``(n, h, w)`` and 4-D ``(n, c, h, w)`` /
    ``(n, h, w, c)`` arrays with ``c`` in {1, 3} are images (channel-first wins if both fit).
    """
    X = np.asarray(arr)
    if X.dtype == object:
        raise GanclusterError(
            f"{source} holds Python objects (dtype object), not numbers; save a numeric array, "
            "e.g. np.save(path, np.asarray(X, dtype=np.float32))"
        )
    if X.dtype.kind not in "fiub":
        raise GanclusterError(
            f"{source} has dtype {X.dtype}; only real numbers (float, int, uint8 images) are supported"
        )
    if X.size == 0:
        raise GanclusterError(f"{source} is empty (shape {X.shape}); it needs at least one sample")
    if X.ndim == 1:
        raise GanclusterError(
            f"{source} is 1-D (shape {X.shape}); data must be (n_samples, n_features) or images. "
            "If it is one feature per sample, save X.reshape(-1, 1)"
        )
    if X.ndim > 4:
        raise GanclusterError(
            f"{source} is {X.ndim}-D (shape {X.shape}); expected (n, d) vectors or (n, h, w), "
            "(n, c, h, w), (n, h, w, c) images"
        )
    _check_finite(X, source)
    if X.ndim == 2:
        return X.astype(np.float32, copy=False)
    if X.ndim == 3:
        X = X[:, None]
    elif X.shape[1] in (1, 3):
        pass
    elif X.shape[3] in (1, 3):
        X = np.moveaxis(X, 3, 1)
    else:
        raise GanclusterError(
            f"{source} has shape {X.shape}: a 4-D image array needs 1 or 3 channels, either "
            "(n, c, h, w) or (n, h, w, c); drop an alpha channel with X[..., :3]"
        )
    return np.ascontiguousarray(_scale_images(X, source))


def encode_labels(values: np.ndarray, source: str) -> tuple[np.ndarray, list[str], list[int] | None]:
    """Labels -> (y in 0..K-1, class_names, original integer values if they were not 0..K-1).

    Text labels become class names (sorted); integer labels that are not already ``0..K-1`` are
    renumbered, and the original values are returned so ``classes=[...]`` can still name them.
    """
    v = np.asarray(values)
    if v.dtype == object:
        raise GanclusterError(f"{source} holds Python objects (dtype object); save integer or text labels")
    if v.ndim != 1:
        raise GanclusterError(f"{source} must be 1-D (one label per sample), got shape {v.shape}")
    if v.dtype.kind in "US":
        names, y = np.unique(v.astype(str), return_inverse=True)
        return y.astype(np.int64), [str(n) for n in names], None
    if v.dtype.kind == "f":
        if not np.all(np.isfinite(v)):
            bad = int(v.size - np.count_nonzero(np.isfinite(v)))
            raise GanclusterError(
                f"{source} contains {bad} NaN or infinite label(s); every sample needs a label"
            )
        if not np.all(v == np.round(v)):
            raise GanclusterError(f"{source} contains non-integer labels; labels must be integers or text")
        v = v.astype(np.int64)
    elif v.dtype.kind not in "iub":
        raise GanclusterError(f"{source} has dtype {v.dtype}; labels must be integers or text")
    v = v.astype(np.int64)
    uniq, y = np.unique(v, return_inverse=True)
    names = [str(int(u)) for u in uniq]
    if np.array_equal(uniq, np.arange(uniq.size)):
        return v, names, None
    return y.astype(np.int64), names, [int(u) for u in uniq]


def parse_image_size(image_size: int | Sequence[int] | None, name: str = "image_size") -> tuple[int, int] | None:
    """``28`` or ``(h, w)`` -> ``(h, w)``; anything else is a user error (``name`` says which argument)."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size: tuple = (int(image_size), int(image_size))
    elif isinstance(image_size, Sequence) and not isinstance(image_size, str) and len(image_size) == 2:
        size = tuple(image_size)
    else:
        raise GanclusterError(f"{name} must be an integer or a (height, width) pair, got {image_size!r}")
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size):
        raise GanclusterError(f"{name} must hold positive integers, got {image_size!r}")
    return int(size[0]), int(size[1])


def center_crop(X: np.ndarray, crop: tuple[int, int] | None, what: str = "images") -> np.ndarray:
    """The central ``crop`` (h, w) of ``(n, c, h, w)`` images (a view); None keeps them whole.

    The offset is ``(h - crop_h) // 2`` (e.g. rows 39..178 and columns 19..158 for a 140x140 crop of
    CelebA's 218x178 aligned faces).
    """
    if crop is None:
        return X
    (h, w), (ch, cw) = X.shape[2:], crop
    if ch > h or cw > w:
        raise GanclusterError(
            f"crop {ch}x{cw} (h x w) is larger than {what} ({h}x{w}); ask for a crop of at most {h}x{w}"
        )
    top, left = (h - ch) // 2, (w - cw) // 2
    return X[:, :, top : top + ch, left : left + cw]


def to_unit_float(X: np.ndarray) -> np.ndarray:
    """Decoded pixels as float32 in [0, 1]: uint8 / 255, uint16 / 65535, floats kept as they are."""
    if X.dtype == np.uint8:
        return X.astype(np.float32) * np.float32(1 / 255)
    if X.dtype == np.uint16:
        return X.astype(np.float32) * np.float32(1 / 65535)
    return X.astype(np.float32, copy=False)


def resize_image(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one float ``(c, h, w)`` image (bilinear, antialiased when shrinking)."""
    h, w = size
    out = np.empty((img.shape[0], h, w), dtype=np.float32)
    for c in range(img.shape[0]):
        pil = Image.fromarray(np.ascontiguousarray(img[c], dtype=np.float32))  # mode "F"
        out[c] = np.asarray(pil.resize((w, h), Image.Resampling.BILINEAR))
    return np.clip(out, 0.0, 1.0, out=out)


def _resize_uint8(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one uint8 ``(c, h, w)`` image with c in {1, 3} as one Pillow L/RGB image."""
    h, w = size
    pil = Image.fromarray(np.ascontiguousarray(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, 2)))
    out = np.asarray(pil.resize((w, h), Image.Resampling.BILINEAR))
    return out[None] if img.shape[0] == 1 else np.moveaxis(out, 2, 0)


def resize_images(X: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(n, c, h, w)`` images to ``size``; a no-op when they already have it.

    Float images stay float32 in [0, 1]. Decoded uint8 images (1 or 3 channels) are resized as uint8,
    about 5x faster, which is what a 100k-image colour dataset needs; the two differ by at most one
    grey level.
    """
    if tuple(X.shape[2:]) == tuple(size):
        return X
    if X.dtype == np.uint8 and X.shape[1] in (1, 3):
        out = np.empty((X.shape[0], X.shape[1], *size), dtype=np.uint8)
        for i in range(X.shape[0]):
            out[i] = _resize_uint8(X[i], size)
        return out
    out = np.empty((X.shape[0], X.shape[1], *size), dtype=np.float32)
    for i in range(X.shape[0]):
        out[i] = resize_image(X[i], size)
    return out
