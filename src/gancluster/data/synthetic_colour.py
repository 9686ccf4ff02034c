"""``shapes32``: a synthetic colour image dataset that exists offline (32x32 RGB, 10 classes).

Each class is a shape AND a colour family: a red circle, an orange square, a yellow triangle, ...
(:data:`SHAPES`). Every image draws a random position, size, rotation and shade of its class's
colour on a random, textured background (a dim colour, two sinusoidal gratings, pixel noise), so
the classes are well defined but neither raw pixels nor colour alone separate them: neighbouring
classes' hue ranges overlap (``hue_spread`` > 0.5 hue steps) and the background varies more
from image to image than the shapes do.

Images are drawn per class from their own random stream (``seed``, split, class), so any class
subset is the same images whichever other classes are drawn, and train and test never share a
stream. Shapes are rendered on a 2x super-sampled grid and averaged down (anti-aliasing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gancluster.errors import GanclusterError

from .dataset import Dataset

__all__ = ["SHAPES", "SPLIT_SIZES", "load_shapes32", "make_shapes"]

ShapeFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Five-pointed star: the radius falls linearly from 1 at a tip to 0.42 between tips."""
    rho, phi = np.hypot(u, v), np.arctan2(u, v)
    sector = 2 * np.pi / 5
    off = np.abs((phi % sector) - sector / 2) / (sector / 2)  # 1 at a tip, 0 between tips
    return rho <= 0.42 + 0.58 * off


#: class -> (name, inside-test on unit coordinates (u, v) with the shape within radius ~1)
SHAPES: tuple[tuple[str, ShapeFn], ...] = (
    ("red circle", lambda u, v: u**2 + v**2 <= 0.85**2),
    ("orange square", lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.7),
    ("yellow triangle", lambda u, v: (v >= -0.5) & (np.sqrt(3) * u + v <= 1) & (-np.sqrt(3) * u + v <= 1)),
    ("green cross", lambda u, v: ((np.abs(u) <= 0.28) & (np.abs(v) <= 0.9)) | ((np.abs(v) <= 0.28) & (np.abs(u) <= 0.9))),
    ("teal ring", lambda u, v: (u**2 + v**2 <= 0.9**2) & (u**2 + v**2 >= 0.55**2)),
    ("cyan bar", lambda u, v: (np.abs(u) <= 0.95) & (np.abs(v) <= 0.3)),
    ("blue half-disc", lambda u, v: (u**2 + (v + 0.3) ** 2 <= 0.9**2) & (v >= -0.3)),
    ("violet star", _star),
    ("magenta frame", lambda u, v: (np.maximum(np.abs(u), np.abs(v)) <= 0.85) & (np.maximum(np.abs(u), np.abs(v)) >= 0.5)),
    ("pink hourglass", lambda u, v: (np.abs(v) <= 0.9) & (np.abs(u) <= 0.9 * np.abs(v))),
)
#: images per class in each split of the built-in dataset
SPLIT_SIZES = {"train": 3000, "test": 1000}
_SPLIT_STREAM = {"train": 0, "test": 1}
SIZE = 32


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB; inputs of one shape in [0, 1], output with a trailing axis of 3."""
    h6 = (h % 1.0) * 6.0
    i = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))]
    return np.choose(i[..., None], choices)


def _render_class(k: int, n: int, rng: np.random.Generator, hue_spread: float, n_classes: int) -> np.ndarray:
    """``n`` images (n, 3, 32, 32) of class ``k``."""
    size, ss = SIZE, 2
    f32 = np.float32
    grid = ((np.arange(size * ss) + 0.5) / ss).astype(f32)  # pixel coordinates of the sub-samples
    radius = rng.uniform(7.0, 12.0, n)
    cx, cy = (rng.uniform(radius, size - radius) for _ in range(2))
    angle = rng.uniform(0, 2 * np.pi, n)
    cos, sin = (np.cos(angle) / radius).astype(f32)[:, None, None], (np.sin(angle) / radius).astype(f32)[:, None, None]
    dx, dy = grid[None, None, :] - cx.astype(f32)[:, None, None], grid[None, :, None] - cy.astype(f32)[:, None, None]
    u, v = dx * cos + dy * sin, dy * cos - dx * sin
    inside = SHAPES[k][1](u, v).astype(f32)
    alpha = inside.reshape(n, size, ss, size, ss).mean((2, 4))  # anti-aliased coverage

    # foreground: the class's hue family with a soft lighting gradient across the shape
    hue = k / n_classes + rng.uniform(-hue_spread, hue_spread, n) / n_classes
    fg = _hsv_to_rgb(hue, rng.uniform(0.55, 1.0, n), rng.uniform(0.65, 1.0, n))  # (n, 3)
    px = (np.arange(size) + 0.5).astype(f32)
    light = rng.uniform(0, 2 * np.pi, n)
    ramp = ((px[None, None, :] - cx[:, None, None]) * np.cos(light)[:, None, None]
            + (px[None, :, None] - cy[:, None, None]) * np.sin(light)[:, None, None]) / size
    shade = (1.0 + 0.25 * ramp).astype(f32)  # (n, 32, 32)
    fg_img = fg.astype(f32)[:, :, None, None] * shade[:, None]

    # background: a dim random colour, two random gratings and pixel noise
    bg = _hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.0, 0.6, n), rng.uniform(0.1, 0.5, n))
    bg_img = np.broadcast_to(bg.astype(f32)[:, :, None, None], (n, 3, size, size)).copy()
    for _ in range(2):
        freq = rng.uniform(0.15, 0.8, n)
        theta = rng.uniform(0, np.pi, n)
        fx, fy = (freq * np.cos(theta)).astype(f32), (freq * np.sin(theta)).astype(f32)
        phase = rng.uniform(0, 2 * np.pi, n).astype(f32)[:, None, None]
        wave = np.sin(fx[:, None, None] * px[None, None, :] + fy[:, None, None] * px[None, :, None] + phase)
        tint = rng.uniform(-0.12, 0.12, (n, 3)).astype(f32)
        bg_img += tint[:, :, None, None] * wave[:, None]
    bg_img += 0.04 * rng.standard_normal(bg_img.shape, dtype=f32)

    a = alpha[:, None]
    img = a * fg_img + (1 - a) * bg_img
    return np.clip(img, 0.0, 1.0, out=img)


def make_shapes(
    n_per_class: int | Sequence[int],
    *,
    classes: Sequence[int] | None = None,
    split: str = "train",
    seed: int = 0,
    hue_spread: float = 0.6,
) -> Dataset:
    """Draw ``shapes32`` images: ``n_per_class`` of each class in ``classes`` (all 10 by default).

    ``n_per_class`` is one count or one per class (imbalance). Labels are the positions in
    ``classes``; ``hue_spread`` is each class's hue half-range in hue steps (1 / 10 of the circle).
    Deterministic for (seed, split, class, count): a class draws the same images in any subset.
    """
    if split not in _SPLIT_STREAM:
        raise GanclusterError(f"split must be 'train' or 'test' for generated shapes, got {split!r}")
    n_classes = len(SHAPES)
    chosen = list(range(n_classes)) if classes is None else [int(c) for c in classes]
    bad = [c for c in chosen if not 0 <= c < n_classes]
    if bad or len(set(chosen)) != len(chosen) or not chosen:
        raise GanclusterError(f"classes must be distinct ids in [0, {n_classes - 1}], got {list(classes or [])}")
    counts = [int(n_per_class)] * len(chosen) if np.isscalar(n_per_class) else [int(c) for c in n_per_class]
    if len(counts) != len(chosen) or min(counts) < 0:
        raise GanclusterError(f"n_per_class must be one count >= 0 or one per class ({len(chosen)}), got {n_per_class}")
    if not 0 <= hue_spread <= 5:
        raise GanclusterError(f"hue_spread must be in [0, 5] hue steps, got {hue_spread}")
    xs, ys = [], []
    for label, (k, n) in enumerate(zip(chosen, counts)):
        rng = np.random.default_rng([int(seed), _SPLIT_STREAM[split], k])
        for start in range(0, n, 1000):  # chunks bound the super-sampled grids' memory
            m = min(1000, n - start)
            xs.append(_render_class(k, m, rng, hue_spread, n_classes))
            ys.append(np.full(m, label, np.int64))
    X = np.concatenate(xs) if xs else np.zeros((0, 3, SIZE, SIZE), np.float32)
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    order = np.random.default_rng([int(seed), _SPLIT_STREAM[split], 1000]).permutation(len(y))
    meta = {"source": "generated (seeded)", "split": split, "seed": int(seed), "hue_spread": float(hue_spread),
            "shape_ids": chosen}
    return Dataset(X=X[order], y=y[order], name="shapes32", class_names=[SHAPES[k][0] for k in chosen], meta=meta)


def load_shapes32(split: str = "train") -> Dataset:
    """The built-in ``shapes32``: 3,000 train / 1,000 test images per class ("all": both)."""
    if split == "all":
        parts = [make_shapes(SPLIT_SIZES[s], split=s) for s in ("train", "test")]
        ds = Dataset(X=np.concatenate([p.X for p in parts]), y=np.concatenate([p.y for p in parts]), name="shapes32",
                     class_names=parts[0].class_names, meta={**parts[0].meta, "split": "all"})
        return ds
    if split not in SPLIT_SIZES:
        raise GanclusterError(f"split must be one of ['train', 'test', 'all'], got {split!r}")
    return make_shapes(SPLIT_SIZES[split], split=split)
