"""Pictures and a self-contained HTML report: what a run learned, viewable with no network.

Every ``save_*`` function renders one PNG from plain numpy input and writes it atomically (temporary
file + rename via :func:`gancluster.checkpoint.atomic_write_bytes`), so an interrupted report never
leaves a half-written picture. Matplotlib is only used through ``Figure`` + ``FigureCanvasAgg``:
no pyplot global state, no display needed, safe in worker threads.

Conventions, decided once for every function:

* images are float arrays ``(n, c, h, w)`` with ``c`` = 1 or 3 and values in ``[0, 1]``; values
  slightly outside (a tanh generator rescaled by ``(x + 1) / 2`` overshoots) are **clipped**, not
  refused. NaN/inf **are** refused: they mean the generator diverged and a picture would hide that.
  Generators whose outputs are in ``[-1, 1]`` must be rescaled by the caller.
* vectors are float arrays ``(n, d)``; cluster ids and labels are 1-D integer arrays of length n.
* wrong shapes, mismatched lengths and unwritable paths raise
  :class:`~gancluster.errors.GanclusterError` naming the problem and the fix.
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .checkpoint import atomic_write_bytes
from .errors import GanclusterError

__all__ = [
    "image_grid",
    "matched_confusion",
    "save_cluster_grid",
    "save_cluster_scatter",
    "save_confusion_matrix",
    "save_embedding_plot",
    "save_interpolation",
    "save_png",
    "save_samples_figure",
    "save_training_curves",
    "write_html_report",
]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# History keys that are axes or counters, never curves.
_AXIS_KEYS = frozenset({"step", "seconds", "images", "epoch"})
_DPI = 100

# --- input checks ------------------------------------------------------------------------------


def _as_images(images: Any, name: str = "images") -> np.ndarray:
    """Coerce to a finite float32 ``(n, c, h, w)`` array in [0, 1] (out-of-range values clipped)."""
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GanclusterError(f"{name} could not be read as a float array: {exc}") from exc
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        hint = " (for (n, h, w) grayscale add a channel axis: images[:, None])" if arr.ndim == 3 else ""
        raise GanclusterError(
            f"{name} must have shape (n, c, h, w) with c = 1 or 3, got {arr.shape}{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[2] == 0 or arr.shape[3] == 0:
        raise GanclusterError(f"{name} is empty (shape {arr.shape}); at least one image is needed")
    if not np.all(np.isfinite(arr)):
        raise GanclusterError(
            f"{name} contains NaN or infinite values: the generator probably diverged; "
            "retrain (lower learning rate) or pick an earlier checkpoint"
        )
    return np.clip(arr, 0.0, 1.0)


def _as_vectors(X: Any, name: str = "X") -> np.ndarray:
    """Coerce to a finite float64 ``(n, d)`` array."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GanclusterError(f"{name} could not be read as a float array: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise GanclusterError(f"{name} must be a non-empty 2-D array (n_samples, n_features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise GanclusterError(f"{name} contains NaN or infinite values; drop or impute those rows first")
    return arr


def _as_ids(ids: Any, n: int, name: str) -> np.ndarray:
    """Coerce to a 1-D int64 array of length ``n``."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise GanclusterError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise GanclusterError(f"{name} has {arr.shape[0]} entries but there are {n} samples; pass one id per sample")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise GanclusterError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _png_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise GanclusterError(f"{path}: pictures are written as PNG; give the file a .png suffix")
    return path


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise GanclusterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# --- raster grids ------------------------------------------------------------------------------


def image_grid(images: np.ndarray, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``(n, c, h, w)`` images into one ``(H, W, 3)`` uint8 picture, ``nrow`` images per row.

    Same layout as torchvision's ``make_grid`` (which we do not depend on): ``padding`` pixels of
    ``pad_value`` around every cell, so image ``i`` sits at row ``i // nrow``, column ``i % nrow``,
    top-left pixel ``(padding + row * (h + padding), padding + col * (w + padding))``. Grayscale is
    repeated to RGB so every grid can be stacked or labelled the same way.
    """
    arr = _as_images(images)
    nrow = _positive_int(nrow, "nrow")
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise GanclusterError(f"padding must be an integer >= 0, got {padding!r}")
    if not isinstance(pad_value, numbers.Real) or not 0.0 <= float(pad_value) <= 1.0:
        raise GanclusterError(f"pad_value must be a number in [0, 1], got {pad_value!r}")
    n, c, h, w = arr.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / nrow)
    height, width = rows * (h + padding) + padding, ncol * (w + padding) + padding
    pad = int(round(float(pad_value) * 255))
    grid = np.full((height, width, 3), pad, dtype=np.uint8)
    pixels = np.rint(arr * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)  # (n, h, w, c)
    if c == 1:
        pixels = np.repeat(pixels, 3, axis=3)
    for i in range(n):
        top = padding + (i // nrow) * (h + padding)
        left = padding + (i % nrow) * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def _encode_png(array: np.ndarray) -> bytes:
    from PIL import Image

    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise GanclusterError(f"PNG pixels must be uint8, got dtype {arr.dtype}; use image_grid() to convert floats")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.size == 0:
        raise GanclusterError(f"PNG pixels must have shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def save_png(array: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 ``(H, W[, 3|4])`` array as a PNG, atomically; returns the path."""
    path = _png_path(path)
    atomic_write_bytes(path, _encode_png(array))
    return path


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _label_grid(grid: np.ndarray, row_tops: Sequence[int], row_height: int,
                labels: Sequence[str] | None, title: str | None) -> np.ndarray:
    """Add a white left margin with one label per row and a title band on top (Pillow text)."""
    from PIL import Image, ImageDraw

    font = _font(max(10, min(16, row_height // 2)))
    title_font = _font(14)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def size(text: str, f: Any) -> tuple[int, int]:
        box = probe.textbbox((0, 0), text, font=f)
        return box[2] - box[0], box[3] - box[1]

    labels = [str(x) for x in labels] if labels is not None else []
    left = max((size(t, font)[0] for t in labels), default=0)
    left = left + 8 if left else 0
    top = size(title, title_font)[1] + 10 if title else 0
    h, w = grid.shape[:2]
    width = max(w + left, size(title, title_font)[0] + 8 if title else 0)
    canvas = Image.new("RGB", (width, h + top), (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill=(0, 0, 0), font=title_font)
    for text, row_top in zip(labels, row_tops):
        th = size(text, font)[1]
        draw.text((4, top + row_top + max(0, (row_height - th) // 2)), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def _rows_grid(rows: list[np.ndarray], n_per_row: int, padding: int, pad_value: float,
               labels: Sequence[str] | None, title: str | None) -> np.ndarray:
    """One grid row per entry of ``rows`` (each ``(k, c, h, w)``, k <= n_per_row, k may be 0)."""
    shapes = {r.shape[1:] for r in rows if r.shape[0]}
    if not shapes:
        raise GanclusterError("no images to draw: every cluster is empty")
    if len(shapes) > 1:
        raise GanclusterError(f"all images must have the same (c, h, w), got {sorted(shapes)}")
    c, h, w = shapes.pop()
    if labels is not None and len(labels) != len(rows):
        raise GanclusterError(f"got {len(labels)} labels for {len(rows)} rows; pass one label per row")
    # Empty cells are filled with pad_value images so every row has exactly n_per_row cells.
    filler = np.full((1, c, h, w), pad_value, dtype=np.float32)
    cells = [np.concatenate([r[:n_per_row]] + [filler] * (n_per_row - min(len(r), n_per_row))) for r in rows]
    grid = image_grid(np.concatenate(cells), nrow=n_per_row, padding=padding, pad_value=pad_value)
    if labels is None and not title:
        return grid
    tops = [padding + i * (h + padding) for i in range(len(rows))]
    return _label_grid(grid, tops, h, labels, title)


def save_cluster_grid(
    images: np.ndarray | Sequence[np.ndarray],
    path: str | Path,
    cluster_ids: np.ndarray | Sequence[int] | None = None,
    n_per_row: int = 10,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    n_clusters: int | None = None,
    padding: int = 2,
    pad_value: float = 1.0,
) -> Path:
    """One row per cluster, so mode collapse or a mixed cluster is visible at a glance.

    ``images`` is either a list with one ``(k, c, h, w)`` array per cluster, or one ``(n, c, h, w)``
    array plus ``cluster_ids`` (rows then follow the sorted cluster ids, or ``0 .. n_clusters - 1``
    if ``n_clusters`` is given, so empty clusters show as blank rows). Each row shows the first
    ``n_per_row`` images of its cluster. ``labels`` (one per row, e.g. ``"k=3  p=0.10"``) are drawn
    left of the rows, ``title`` above; without either the PNG is the bare pixel-exact grid.
    """
    path = _png_path(path)
    n_per_row = _positive_int(n_per_row, "n_per_row")
    if cluster_ids is None:
        if isinstance(images, np.ndarray) and images.ndim == 4:
            raise GanclusterError("got one image array but no cluster_ids; pass cluster_ids or a list of per-cluster arrays")
        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence) or len(images) == 0:
            raise GanclusterError("images must be a non-empty list with one (k, c, h, w) array per cluster")
        rows = []
        for i, block in enumerate(images):
            if np.ndim(block) == 4 and len(block) == 0:  # an empty cluster: a blank row
                rows.append(np.asarray(block, dtype=np.float32))
            else:
                rows.append(_as_images(block, f"images[{i}]"))
    else:
        arr = _as_images(images)
        ids = _as_ids(cluster_ids, arr.shape[0], "cluster_ids")
        if n_clusters is not None:
            n_clusters = _positive_int(n_clusters, "n_clusters")
            if ids.min() < 0 or ids.max() >= n_clusters:
                raise GanclusterError(f"cluster_ids must lie in [0, {n_clusters}) when n_clusters={n_clusters}, "
                                      f"got range [{ids.min()}, {ids.max()}]")
            keys = np.arange(n_clusters)
        else:
            keys = np.unique(ids)
        rows = [arr[ids == k] for k in keys]
    grid = _rows_grid(rows, n_per_row, padding, pad_value, labels, title)
    atomic_write_bytes(path, _encode_png(grid))
    return path


def save_interpolation(
    images: np.ndarray,
    path: str | Path,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    padding: int = 2,
) -> Path:
    """Latent interpolation strips ``(rows, steps, c, h, w)``: one strip per row, steps left to right.

    A smooth strip between two clusters shows the generator's latent space is continuous; abrupt
    jumps show where the clusters separate.
    """
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 5:
        raise GanclusterError(f"interpolation images must have shape (rows, steps, c, h, w), got {arr.shape}")
    rows, steps = arr.shape[:2]
    if rows == 0 or steps == 0:
        raise GanclusterError(f"interpolation images are empty (shape {arr.shape})")
    flat = _as_images(arr.reshape(rows * steps, *arr.shape[2:]), "interpolation images")
    path = _png_path(path)
    grid = _rows_grid([flat[i * steps : (i + 1) * steps] for i in range(rows)], steps, padding, 1.0, labels, title)
    atomic_write_bytes(path, _encode_png(grid))
    return path


# --- matplotlib figures ------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure on its own Agg canvas: no pyplot state, no display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save_figure(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _colours(k: int) -> list[Any]:
    """``k`` distinguishable colours: tab10 / tab20, then evenly spaced hues."""
    from matplotlib import colormaps

    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [colormaps["tab20"](i) for i in range(k)]
    return [colormaps["hsv"](i / k) for i in range(k)]


def _subsample(n: int, max_points: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n`` rows, seeded so pictures are reproducible."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _pca_2d(fit_on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the top-2 principal axes (d, 2) of ``fit_on``; plain SVD, deterministic sign."""
    mean = fit_on.mean(axis=0)
    _, _, vt = np.linalg.svd(fit_on - mean, full_matrices=False)
    axes = vt[:2].T
    if axes.shape[1] < 2:  # a single row: pad with a zero axis
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), [0, 1]])
    return mean, axes * np.where(signs == 0, 1.0, signs)


def _legend(ax: Any, k: int, title: str) -> None:
    if 0 < k <= 20:
        ax.legend(title=title, fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def save_cluster_scatter(
    X: np.ndarray,
    cluster_ids: np.ndarray | Sequence[int],
    path: str | Path,
    real: np.ndarray | None = None,
    title: str | None = None,
    max_points: int = 5000,
    seed: int = 0,
) -> Path:
    """2-D scatter of vector samples coloured by cluster, real data in light grey beneath.

    Vector data has no picture of its own; overlaying generated points on the real cloud shows
    whether each cluster covers its share of the data. ``d > 2`` is projected by PCA fitted on
    ``real`` (else on ``X``) so both share one frame; ``d == 1`` is drawn as per-cluster histograms.
    At most ``max_points`` of each cloud are drawn (seeded subsample).
    """
    path = _png_path(path)
    X = _as_vectors(X)
    ids = _as_ids(cluster_ids, X.shape[0], "cluster_ids")
    max_points = _positive_int(max_points, "max_points")
    if real is not None:
        real = _as_vectors(real, "real")
        if real.shape[1] != X.shape[1]:
            raise GanclusterError(f"real has {real.shape[1]} features but X has {X.shape[1]}; pass data of the same width")
    keys = np.unique(ids)
    colours = _colours(len(keys))
    fig = _figure(6.4, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    d = X.shape[1]
    if d == 1:
        values = np.concatenate([X[:, 0]] + ([real[:, 0]] if real is not None else []))
        bins = np.histogram_bin_edges(values, bins=min(60, max(10, int(np.sqrt(values.size)))))
        if real is not None:
            ax.hist(real[:, 0], bins=bins, density=True, color="0.8", label="real")
        for k, colour in zip(keys, colours):
            ax.hist(X[ids == k, 0], bins=bins, density=True, histtype="step", color=colour, label=f"cluster {k}")
        ax.set_xlabel("x")
        ax.set_ylabel("density")
    else:
        if d > 2:
            mean, axes = _pca_2d(real if real is not None else X)
            project = lambda A: (A - mean) @ axes  # noqa: E731
            ax.set_xlabel("PC 1")
            ax.set_ylabel("PC 2")
        else:
            project = lambda A: A  # noqa: E731
            ax.set_xlabel("x1")
            ax.set_ylabel("x2")
        if real is not None:
            r = project(real[_subsample(real.shape[0], max_points, seed)])
            ax.scatter(r[:, 0], r[:, 1], s=4, c="0.82", linewidths=0, label="real", zorder=1)
        keep = _subsample(X.shape[0], max_points, seed)
        P, kept_ids = project(X[keep]), ids[keep]
        for k, colour in zip(keys, colours):
            m = kept_ids == k
            ax.scatter(P[m, 0], P[m, 1], s=6, color=colour, linewidths=0, label=f"cluster {k}", zorder=2)
    _legend(ax, len(keys) + (real is not None), "")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save_figure(fig, path)


#: Images smaller than this (e.g. 8x8 digits) are enlarged by pixel repetition in sample figures.
MIN_CELL_PIXELS = 24


def save_samples_figure(
    X: np.ndarray,
    cluster_ids: np.ndarray | Sequence[int],
    path: str | Path,
    real: np.ndarray | None = None,
    title: str | None = None,
    n_per_row: int = 10,
    labels: Sequence[str] | None = None,
) -> Path:
    """Generated samples per cluster: a row-per-cluster grid for images, a scatter for vectors.

    Lets callers stay data-agnostic. ``real`` is only used for vectors (images are compared by eye);
    ``labels``/``n_per_row`` only for images.
    """
    ndim = np.ndim(X)
    if ndim == 4:
        X = np.asarray(X)
        factor = -(-MIN_CELL_PIXELS // max(1, min(X.shape[-2:])))  # ceil: tiny images are blown up
        if factor > 1:
            X = X.repeat(factor, axis=-2).repeat(factor, axis=-1)
        return save_cluster_grid(X, path, cluster_ids=cluster_ids, n_per_row=n_per_row, labels=labels, title=title)
    if ndim == 2:
        return save_cluster_scatter(X, cluster_ids, path, real=real, title=title)
    raise GanclusterError(
        f"samples must be images (n, c, h, w) or vectors (n, d), got shape {np.shape(X)}; "
        "add a channel axis to (n, h, w) images with X[:, None]"
    )


def matched_confusion(
    y_true: np.ndarray | Sequence[int], y_pred: np.ndarray | Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contingency table (rows true classes, columns clusters) reordered so matches are diagonal.

    The one-to-one matching maximises matched samples (Hungarian, as ``cluster_acc``). Matched pairs
    come first in class order, on the diagonal; unmatched classes follow in the rows and unmatched
    clusters in the columns (ordered by their majority class). Returns ``(table, classes, clusters)``
    with the class / cluster id of every row / column.
    """
    from scipy.optimize import linear_sum_assignment

    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1 or t.size == 0:
        raise GanclusterError(f"y_true and y_pred must be non-empty 1-D label arrays, got shapes {t.shape} and {p.shape}")
    if t.shape != p.shape:
        raise GanclusterError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    t = _as_ids(t, t.shape[0], "y_true")
    p = _as_ids(p, p.shape[0], "y_pred")
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((classes.size, clusters.size), dtype=np.int64)
    np.add.at(table, (ti.ravel(), pi.ravel()), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)  # rows come back sorted
    row_order = list(rows) + [r for r in range(classes.size) if r not in set(rows)]
    rank = {r: i for i, r in enumerate(row_order)}
    rest = [c for c in range(clusters.size) if c not in set(cols)]
    rest.sort(key=lambda c: (rank[int(np.argmax(table[:, c]))], c))
    col_order = list(cols) + rest
    return table[np.ix_(row_order, col_order)], classes[row_order], clusters[col_order]


def save_confusion_matrix(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    path: str | Path,
    title: str | None = None,
    annotate_max: int = 20,
) -> Path:
    """Heat map of true labels vs clusters, Hungarian-matched so a good clustering is diagonal.

    Cluster ids are arbitrary; reordering them makes the picture readable and its diagonal sum is
    exactly what ``cluster_acc`` counts. Counts are written in the cells when the table has at
    most ``annotate_max`` rows and columns.
    """
    path = _png_path(path)
    table, classes, clusters = matched_confusion(y_true, y_pred)
    r, c = table.shape
    fig = _figure(min(12.0, 2.0 + 0.45 * c), min(12.0, 1.6 + 0.45 * r))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(table, cmap="Blues", aspect="auto", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks_fs = 8 if max(r, c) <= 20 else 5
    ax.set_xticks(range(c), [str(k) for k in clusters], fontsize=ticks_fs, rotation=90 if c > 20 else 0)
    ax.set_yticks(range(r), [str(k) for k in classes], fontsize=ticks_fs)
    ax.set_xlabel("cluster (Hungarian-matched order)")
    ax.set_ylabel("true label")
    if max(r, c) <= annotate_max:
        cut = table.max() / 2 if table.size else 0
        for i in range(r):
            for j in range(c):
                ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if table[i, j] > cut else "black")
    diag = int(np.trace(table))
    ax.set_title(title or f"matched: {diag}/{int(table.sum())} = {diag / table.sum():.3f}", fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)


def _finite_or_nan(value: Any) -> float | None:
    """A float (NaN for non-finite), or None when the value is not a number at all."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    f = float(value)
    return f if math.isfinite(f) else float("nan")


def save_training_curves(history: Sequence[Mapping[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Losses vs step (left) and evaluation metrics vs seconds (right, when eval records exist).

    ``history`` is the trainer's list of records: ``{"step", "seconds", "images", <loss>: float}``
    and ``{"step", "seconds", "eval": {name: float}}``. Every numeric key except step / seconds /
    images / epoch becomes a curve. Non-finite values are drawn as gaps (a diverging run must still
    get its picture); non-numeric values are ignored. An empty history gives a placeholder figure.
    """
    path = _png_path(path)
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise GanclusterError(f"history must be a list of dict records, got {type(history).__name__}")
    losses: dict[str, list[tuple[float, float]]] = {}
    evals: dict[str, list[tuple[float, float]]] = {}
    for i, record in enumerate(history):
        if not isinstance(record, Mapping):
            raise GanclusterError(f"history[{i}] must be a dict, got {type(record).__name__}")
        if isinstance(record.get("eval"), Mapping):
            x = _finite_or_nan(record.get("seconds"))
            target, items = evals, record["eval"].items()
        else:
            x = _finite_or_nan(record.get("step"))
            target, items = losses, ((k, v) for k, v in record.items() if k not in _AXIS_KEYS)
        if x is None or math.isnan(x):
            continue
        for key, value in items:
            y = _finite_or_nan(value)
            if y is not None:
                target.setdefault(str(key), []).append((x, y))
    panels = [("step", "training losses", losses)] + ([("seconds", "evaluation", evals)] if evals else [])
    fig = _figure(6.0 * len(panels), 4.2)
    for n, (xlabel, name, series) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), n)
        for key, points in sorted(series.items()):
            xy = np.asarray(sorted(points, key=lambda p: p[0]))
            ax.plot(xy[:, 0], xy[:, 1], label=key, marker="o" if len(xy) < 30 else None, markersize=3)
        if not series or all(np.all(np.isnan([p[1] for p in s])) for s in series.values()):
            ax.text(0.5, 0.5, "no finite values recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def save_embedding_plot(
    Z: np.ndarray,
    labels: np.ndarray | Sequence[int] | None,
    path: str | Path,
    method: Literal["tsne", "pca"] = "tsne",
    max_points: int = 3000,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """2-D t-SNE or PCA of latent codes coloured by true label: do classes separate in latent space?

    At most ``max_points`` rows are embedded (seeded subsample; t-SNE is quadratic-ish and slow on
    two cores). 2-D latents are drawn as they are. ``labels=None`` draws one colour.
    """
    path = _png_path(path)
    Z = _as_vectors(Z, "Z")
    if method not in ("tsne", "pca"):
        raise GanclusterError(f"method must be 'tsne' or 'pca', got {method!r}")
    if Z.shape[1] < 2:
        raise GanclusterError(f"Z must have at least 2 columns to embed in 2-D, got shape {Z.shape}")
    ids = _as_ids(labels, Z.shape[0], "labels") if labels is not None else np.zeros(Z.shape[0], dtype=np.int64)
    keep = _subsample(Z.shape[0], _positive_int(max_points, "max_points"), seed)
    Z, ids = Z[keep], ids[keep]
    if Z.shape[1] == 2:
        E, kind, axis = Z, "as is", "z"
    elif method == "pca" or Z.shape[0] < 5:  # t-SNE needs a few points; PCA always works
        mean, axes = _pca_2d(Z)
        E, kind, axis = (Z - mean) @ axes, "pca", "PC "
    else:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (Z.shape[0] - 1) / 3))
        E = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(Z)
        kind, axis = "tsne", "t-SNE "
    keys = np.unique(ids)
    fig = _figure(6.4, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    for k, colour in zip(keys, _colours(len(keys))):
        m = ids == k
        ax.scatter(E[m, 0], E[m, 1], s=5, color=colour, linewidths=0, label=str(k))
    if labels is not None:
        _legend(ax, len(keys), "label")
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(title or f"latent embedding ({kind}, {len(keep)} points)", fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, path)


# --- HTML report -------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
img{max-width:100%;height:auto;image-rendering:pixelated}
.notes{white-space:pre-wrap;background:#fafafa;border-left:3px solid #ccc;padding:.5em 1em}
""".strip()


def _cell(value: Any) -> str:
    """One escaped ``<td>``; numbers right-aligned with 4 significant digits."""
    if value is None:
        return "<td>&mdash;</td>"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        text = f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)
        return f'<td class="num">{html.escape(text)}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table_html(name: str, table: Any) -> str:
    """Render a key/value mapping, a mapping of row -> {column: value}, or a list of row dicts."""
    if isinstance(table, Mapping):
        if table and all(isinstance(v, Mapping) for v in table.values()):
            columns = list(dict.fromkeys(k for row in table.values() for k in row))
            head = "<th></th>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
            body = "".join(
                f"<tr><th>{html.escape(str(r))}</th>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>"
                for r, row in table.items()
            )
        else:
            head = "<th>key</th><th>value</th>"
            body = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in table.items())
    elif isinstance(table, Sequence) and not isinstance(table, (str, bytes)) and all(
        isinstance(row, Mapping) for row in table
    ):
        columns = list(dict.fromkeys(k for row in table for k in row))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in table)
    else:
        raise GanclusterError(
            f"table {name!r} must be a dict (key -> value or row -> {{column: value}}) or a list of row dicts, "
            f"got {type(table).__name__}"
        )
    return f"<h2>{html.escape(str(name))}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image_html(caption: str, path: str | Path) -> str:
    """A ``<figure>`` with the picture inlined as a base64 data URI (no file needed beside the HTML)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GanclusterError(f"cannot read picture {path} for the report: {exc.strerror or exc}; "
                              "create it first (the save_* functions) or drop it from images") from exc
    if data.startswith(_PNG_MAGIC):
        mime = "image/png"
    elif data.startswith(_JPEG_MAGIC):
        mime = "image/jpeg"
    else:
        raise GanclusterError(f"{path} is not a PNG or JPEG picture; only those are embedded in the report")
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    alt = html.escape(caption, quote=True)
    return f'<figure><img src="{uri}" alt="{alt}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def _named(items: Any, what: str, default_name: Any) -> list[tuple[str, Any]]:
    """Normalise a dict or a list of (name, value) pairs / bare values to ``[(name, value)]``."""
    if items is None:
        return []
    if isinstance(items, Mapping):
        return [(str(k), v) for k, v in items.items()]
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise GanclusterError(f"{what} must be a dict or a list, got {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append(item)
        else:
            out.append((default_name(i, item), item))
    return out


def write_html_report(
    path: str | Path,
    title: str,
    tables: Mapping[str, Any] | Sequence[Any] | None = None,
    images: Mapping[str, str | Path] | Sequence[str | Path | tuple[str, str | Path]] | None = None,
    notes: str | None = None,
) -> Path:
    """Write ONE self-contained HTML file: escaped tables, pictures inlined as data URIs, no CSS/JS links.

    It can be mailed or archived alone and opens offline. ``tables`` maps a name to a table (a
    ``{key: value}`` dict, a ``{row: {column: value}}`` dict, or a list of row dicts); a list of
    ``(name, table)`` pairs or of bare tables also works. ``images`` maps a caption to a PNG/JPEG
    path, or is a list of paths (captioned by file name) or ``(caption, path)`` pairs. Every piece
    of text is HTML-escaped, so values can never inject markup.
    """
    from ._version import __version__

    path = Path(path)
    table_items = _named(tables, "tables", lambda i, _: f"table {i + 1}")
    image_items = _named(images, "images", lambda i, p: Path(p).name if isinstance(p, (str, Path)) else f"image {i + 1}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(str(title))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(str(title))}</h1>",
    ]
    if notes:
        parts.append(f'<div class="notes">{html.escape(str(notes))}</div>')
    parts.extend(_table_html(name, table) for name, table in table_items)
    if image_items:
        parts.append("<h2>Figures</h2>")
        parts.extend(_image_html(caption, p) for caption, p in image_items)
    parts.append(f'<footer><p style="color:#888;font-size:.8em">gancluster {html.escape(__version__)}</p></footer>')
    parts.append("</body></html>\n")
    atomic_write_bytes(path, "\n".join(parts).encode("utf-8"))
    return path
