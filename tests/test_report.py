"""Tests for gancluster.report: grid geometry, written PNGs, matched confusion, HTML, bad inputs."""

from __future__ import annotations

import base64
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gancluster.errors import GanclusterError
from gancluster.report import (
    image_grid,
    matched_confusion,
    save_cluster_grid,
    save_cluster_scatter,
    save_confusion_matrix,
    save_embedding_plot,
    save_interpolation,
    save_png,
    save_samples_figure,
    save_training_curves,
    write_html_report,
)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, after checking Pillow can decode it completely."""
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG"
        return im.size


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- image_grid ---------------------------------------------------------------------------------


def test_grid_shape_follows_torchvision_layout() -> None:
    grid = image_grid(np.zeros((7, 1, 5, 4)), nrow=3, padding=2)
    # 3 rows (7 images, 3 per row) x 3 columns, 2 px padding around every cell
    assert grid.shape == (3 * (5 + 2) + 2, 3 * (4 + 2) + 2, 3)
    assert grid.dtype == np.uint8
    # fewer images than nrow: the grid is only as wide as the images
    assert image_grid(np.zeros((2, 3, 5, 4)), nrow=8, padding=0).shape == (5, 8, 3)


def test_known_image_lands_at_its_offset() -> None:
    images = np.zeros((6, 3, 4, 5), dtype=np.float32)
    images[4, 0] = 1.0  # image 4 -> row 1, col 1 with nrow=3: pure red
    grid = image_grid(images, nrow=3, padding=2, pad_value=0.5)
    top, left = 2 + 1 * (4 + 2), 2 + 1 * (5 + 2)
    np.testing.assert_array_equal(grid[top : top + 4, left : left + 5], np.broadcast_to([255, 0, 0], (4, 5, 3)))
    # every other image cell is black, every padding pixel is pad_value
    assert grid[2:6, 2:7].max() == 0
    assert np.all(grid[:2] == 128) and np.all(grid[:, :2] == 128)
    assert np.all(grid[top - 2 : top, left : left + 5] == 128)


def test_grayscale_is_repeated_to_rgb_and_values_are_clipped() -> None:
    images = np.array([[[[0.5, -0.2], [1.3, 0.0]]]])  # (1, 1, 2, 2) with out-of-range values
    grid = image_grid(images, nrow=1, padding=0)
    assert grid.shape == (2, 2, 3)
    np.testing.assert_array_equal(grid[..., 0], [[128, 0], [255, 0]])
    np.testing.assert_array_equal(grid[..., 0], grid[..., 2])


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((2, 5, 5)), r"add a channel axis"),
        (np.zeros((2, 2, 5, 5)), r"c = 1 or 3"),
        (np.zeros((0, 1, 5, 5)), r"empty"),
        (np.full((1, 1, 2, 2), np.nan), r"NaN"),
    ],
)
def test_grid_rejects_bad_images(images: np.ndarray, match: str) -> None:
    with pytest.raises(GanclusterError, match=match):
        image_grid(images, nrow=2)


def test_grid_rejects_bad_arguments() -> None:
    with pytest.raises(GanclusterError, match="nrow"):
        image_grid(np.zeros((1, 1, 2, 2)), nrow=0)
    with pytest.raises(GanclusterError, match="padding"):
        image_grid(np.zeros((1, 1, 2, 2)), nrow=1, padding=-1)
    with pytest.raises(GanclusterError, match="pad_value"):
        image_grid(np.zeros((1, 1, 2, 2)), nrow=1, pad_value=2.0)


def test_save_png_roundtrips_pixels(tmp_path: Path) -> None:
    grid = image_grid(np.random.default_rng(0).random((4, 3, 6, 6)), nrow=2)
    path = save_png(grid, tmp_path / "sub" / "grid.png")
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), grid)
    assert _leftovers(tmp_path / "sub") == []
    with pytest.raises(GanclusterError, match=r"\.png suffix"):
        save_png(grid, tmp_path / "grid.jpg")
    with pytest.raises(GanclusterError, match="uint8"):
        save_png(grid.astype(np.float32), tmp_path / "f.png")


# --- cluster grids ------------------------------------------------------------------------------


def test_cluster_grid_has_one_row_per_cluster(tmp_path: Path) -> None:
    h = w = 4
    # cluster k's images have grey level (k + 1) / 4; cluster ids 5, 2, 9 arrive interleaved
    ids = np.array([5, 2, 9] * 4 + [2])
    images = np.stack([np.full((1, h, w), {2: 0.25, 5: 0.5, 9: 0.75}[k]) for k in ids])
    path = save_cluster_grid(images, tmp_path / "g.png", cluster_ids=ids, n_per_row=3, padding=1)
    assert _png_size(path) == (3 * (w + 1) + 1, 3 * (h + 1) + 1)
    pixels = np.asarray(Image.open(path).convert("L"))
    for row, level in enumerate([64, 128, 191]):  # sorted ids 2, 5, 9
        top = 1 + row * (h + 1)
        for col in range(3):
            left = 1 + col * (w + 1)
            assert np.all(pixels[top : top + h, left : left + w] == level), (row, col)


def test_cluster_grid_from_list_pads_short_and_empty_rows(tmp_path: Path) -> None:
    blocks = [np.zeros((5, 1, 3, 3)), np.zeros((0, 1, 3, 3)), np.zeros((1, 1, 3, 3))]
    path = save_cluster_grid(blocks, tmp_path / "g.png", n_per_row=4, padding=0)
    assert _png_size(path) == (4 * 3, 3 * 3)
    pixels = np.asarray(Image.open(path).convert("L"))
    assert np.all(pixels[0:3] == 0)  # first 4 of 5 images
    assert np.all(pixels[3:6] == 255)  # empty cluster: blank row
    assert np.all(pixels[6:9, :3] == 0) and np.all(pixels[6:9, 3:] == 255)


def test_cluster_grid_with_n_clusters_keeps_empty_clusters(tmp_path: Path) -> None:
    images = np.zeros((4, 1, 2, 2))
    path = save_cluster_grid(images, tmp_path / "g.png", cluster_ids=[0, 0, 3, 3], n_per_row=2,
                             n_clusters=5, padding=0)
    assert _png_size(path) == (4, 5 * 2)
    with pytest.raises(GanclusterError, match=r"\[0, 3\)"):
        save_cluster_grid(images, tmp_path / "x.png", cluster_ids=[0, 0, 3, 3], n_clusters=3)


def test_cluster_grid_labels_and_title_add_margins(tmp_path: Path) -> None:
    images = np.zeros((6, 3, 8, 8))
    plain = save_cluster_grid(images, tmp_path / "a.png", cluster_ids=[0, 1, 2] * 2, n_per_row=2)
    labelled = save_cluster_grid(images, tmp_path / "b.png", cluster_ids=[0, 1, 2] * 2, n_per_row=2,
                                 labels=["k=0 p=0.33", "k=1 p=0.33", "k=2 <b>"], title="samples")
    (w0, h0), (w1, h1) = _png_size(plain), _png_size(labelled)
    assert w1 > w0 and h1 > h0
    with pytest.raises(GanclusterError, match="one label per row"):
        save_cluster_grid(images, tmp_path / "c.png", cluster_ids=[0, 1, 2] * 2, labels=["only one"])


def test_cluster_grid_rejects_mismatched_inputs(tmp_path: Path) -> None:
    with pytest.raises(GanclusterError, match="6 entries but there are 4"):
        save_cluster_grid(np.zeros((4, 1, 2, 2)), tmp_path / "g.png", cluster_ids=np.zeros(6, int))
    with pytest.raises(GanclusterError, match="no cluster_ids"):
        save_cluster_grid(np.zeros((4, 1, 2, 2)), tmp_path / "g.png")
    with pytest.raises(GanclusterError, match="same"):
        save_cluster_grid([np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3))], tmp_path / "g.png")
    assert not any(tmp_path.iterdir())


def test_interpolation_is_a_grid_of_strips(tmp_path: Path) -> None:
    strips = np.linspace(0, 1, 8)[None, :, None, None, None] * np.ones((3, 8, 1, 5, 5))
    path = save_interpolation(strips, tmp_path / "interp.png", padding=1)
    assert _png_size(path) == (8 * 6 + 1, 3 * 6 + 1)
    pixels = np.asarray(Image.open(path).convert("L"))
    assert pixels[1, 1] == 0 and pixels[1, 1 + 7 * 6] == 255  # each strip runs dark -> light
    with pytest.raises(GanclusterError, match=r"\(rows, steps, c, h, w\)"):
        save_interpolation(np.zeros((8, 1, 5, 5)), tmp_path / "bad.png")


# --- vector figures -----------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 10])
def test_scatter_for_vectors_of_any_width(tmp_path: Path, d: int) -> None:
    rng = np.random.default_rng(d)
    ids = rng.integers(0, 3, size=120)
    X = rng.normal(size=(120, d)) + ids[:, None] * 3
    path = save_cluster_scatter(X, ids, tmp_path / f"s{d}.png", real=rng.normal(size=(200, d)), title="t")
    assert _png_size(path) == (640, 480)


def test_scatter_rejects_bad_vectors(tmp_path: Path) -> None:
    X = np.zeros((10, 3))
    with pytest.raises(GanclusterError, match="9 entries but there are 10"):
        save_cluster_scatter(X, np.zeros(9, int), tmp_path / "s.png")
    with pytest.raises(GanclusterError, match="real has 2 features but X has 3"):
        save_cluster_scatter(X, np.zeros(10, int), tmp_path / "s.png", real=np.zeros((5, 2)))
    with pytest.raises(GanclusterError, match="NaN"):
        save_cluster_scatter(np.full((10, 3), np.nan), np.zeros(10, int), tmp_path / "s.png")
    with pytest.raises(GanclusterError, match="integer ids"):
        save_cluster_scatter(X, np.full(10, 0.5), tmp_path / "s.png")


def test_samples_figure_dispatches_on_shape(tmp_path: Path) -> None:
    grid = save_samples_figure(np.zeros((4, 1, 3, 3)), [0, 0, 1, 1], tmp_path / "g.png", n_per_row=2)
    # 3x3 images are blown up 8x (to MIN_CELL_PIXELS = 24) so they can be seen: 24 + 2 padding per cell
    assert _png_size(grid) == (2 * 26 + 2, 2 * 26 + 2)
    big = save_samples_figure(np.zeros((4, 1, 30, 30)), [0, 0, 1, 1], tmp_path / "b.png", n_per_row=2)
    assert _png_size(big) == (2 * 32 + 2, 2 * 32 + 2)  # large enough images stay pixel-exact
    scatter = save_samples_figure(np.zeros((4, 2)), [0, 0, 1, 1], tmp_path / "s.png")
    assert _png_size(scatter) == (640, 480)
    with pytest.raises(GanclusterError, match=r"images \(n, c, h, w\) or vectors \(n, d\)"):
        save_samples_figure(np.zeros((4, 3, 3)), [0, 0, 1, 1], tmp_path / "x.png")


# --- confusion matrix ---------------------------------------------------------------------------


def test_confusion_puts_matched_pairs_on_the_diagonal(tmp_path: Path) -> None:
    y_true = np.repeat([0, 1, 2, 3], [10, 8, 6, 4])
    perm = {0: 7, 1: 2, 2: 9, 3: 4}
    y_pred = np.array([perm[t] for t in y_true])
    y_pred[:2] = 2  # two mistakes
    table, classes, clusters = matched_confusion(y_true, y_pred)
    np.testing.assert_array_equal(classes, [0, 1, 2, 3])
    np.testing.assert_array_equal(clusters, [7, 2, 9, 4])
    assert np.trace(table) == len(y_true) - 2 and table[0, 1] == 2
    assert _png_size(save_confusion_matrix(y_true, y_pred, tmp_path / "cm.png")) > (100, 100)


def test_confusion_rectangular_tables_keep_a_matched_diagonal() -> None:
    # 3 clusters, 2 classes: cluster 5 is unmatched and goes last
    table, classes, clusters = matched_confusion([0, 0, 0, 1, 1, 1], [8, 8, 5, 1, 1, 1])
    np.testing.assert_array_equal(clusters, [8, 1, 5])
    np.testing.assert_array_equal(table, [[2, 0, 1], [0, 3, 0]])
    # 3 classes, 2 clusters: the unmatched class goes last
    table, classes, clusters = matched_confusion([0, 1, 1, 2, 2], [3, 4, 4, 3, 3])
    np.testing.assert_array_equal(classes, [1, 2, 0])
    np.testing.assert_array_equal(clusters, [4, 3])
    assert np.trace(table) == 4


def test_confusion_rejects_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(GanclusterError, match="same length"):
        save_confusion_matrix([0, 1, 1], [0, 1], tmp_path / "cm.png")
    assert not (tmp_path / "cm.png").exists()


# --- training curves and embeddings -------------------------------------------------------------


def test_training_curves_survive_nan_and_junk(tmp_path: Path) -> None:
    history = [
        {"step": 100, "seconds": 1.0, "images": 6400, "loss_d": 0.5, "loss_g": 1.2},
        {"step": 200, "seconds": 2.0, "images": 12800, "loss_d": math.nan, "loss_g": math.inf, "note": "x"},
        {"step": 300, "seconds": 3.0, "images": 19200, "loss_d": 0.4, "loss_g": -math.inf},
        {"step": 300, "seconds": 3.5, "eval": {"acc": 0.8, "nmi": math.nan, "ari": 0.6}},
        {"step": 400, "seconds": 4.5, "eval": {"acc": 0.85, "nmi": 0.7, "ari": None}},
    ]
    width, _ = _png_size(save_training_curves(history, tmp_path / "c.png", title="run"))
    only_losses, _ = _png_size(save_training_curves(history[:3], tmp_path / "l.png"))
    assert width > only_losses  # the evaluation panel is only drawn when eval records exist
    _png_size(save_training_curves([], tmp_path / "empty.png"))
    _png_size(save_training_curves([{"step": 1, "loss_d": math.nan}], tmp_path / "nan.png"))
    with pytest.raises(GanclusterError, match="list of dict"):
        save_training_curves({"step": 1}, tmp_path / "bad.png")
    with pytest.raises(GanclusterError, match=r"history\[1\]"):
        save_training_curves([{"step": 1}, 3], tmp_path / "bad.png")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_plot(tmp_path: Path, method: str) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=400)
    Z = rng.normal(size=(400, 8)) + labels[:, None]
    path = save_embedding_plot(Z, labels, tmp_path / f"{method}.png", method=method, max_points=120)
    assert _png_size(path) == (640, 480)


def test_embedding_plot_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(GanclusterError, match="'tsne' or 'pca'"):
        save_embedding_plot(np.zeros((10, 3)), None, tmp_path / "e.png", method="umap")  # type: ignore[arg-type]
    with pytest.raises(GanclusterError, match="at least 2 columns"):
        save_embedding_plot(np.zeros((10, 1)), None, tmp_path / "e.png")
    with pytest.raises(GanclusterError, match="3 entries but there are 10"):
        save_embedding_plot(np.zeros((10, 3)), [0, 1, 2], tmp_path / "e.png", method="pca")


# --- HTML report --------------------------------------------------------------------------------


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    png = save_png(np.zeros((3, 4, 3), dtype=np.uint8), tmp_path / "pics" / "a.png")
    other = save_png(np.full((2, 2, 3), 255, dtype=np.uint8), tmp_path / "pics" / "b.png")
    tables = {
        "scores": {"acc": 0.912345, "method": "<script>alert(1)</script>", "n": 10, "missing": None},
        "per method": {"clustergan": {"acc": 0.9, "nmi": 0.8}, "kmeans & co": {"acc": 0.5}},
        "runs": [{"seed": 0, "acc": 0.9}, {"seed": 1, "ari": 0.7}],
    }
    path = write_html_report(tmp_path / "out" / "report.html", "Run <1>", tables,
                             {"grid & co": png, "white": other}, notes="a < b\nsecond line")
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<title>Run &lt;1&gt;</title>" in text and "kmeans &amp; co" in text and "a &lt; b" in text
    assert "0.9123" in text
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert [base64.b64decode(u) for u in uris] == [png.read_bytes(), other.read_bytes()]
    # nothing is fetched from anywhere: no external links, scripts or stylesheets
    assert not re.search(r'(href|src)="(?!data:)', text) and "<link" not in text
    assert _leftovers(path.parent) == []


def test_html_report_accepts_lists_and_rejects_bad_items(tmp_path: Path) -> None:
    png = save_png(np.zeros((2, 2, 3), dtype=np.uint8), tmp_path / "a.png")
    text = write_html_report(tmp_path / "r.html", "t", [("pairs", {"x": 1})], [png]).read_text()
    assert "<h2>pairs</h2>" in text and "<figcaption>a.png</figcaption>" in text
    with pytest.raises(GanclusterError, match="missing.png"):
        write_html_report(tmp_path / "r2.html", "t", {}, [tmp_path / "missing.png"])
    (tmp_path / "not.png").write_text("hello")
    with pytest.raises(GanclusterError, match="not a PNG or JPEG"):
        write_html_report(tmp_path / "r2.html", "t", {}, [tmp_path / "not.png"])
    with pytest.raises(GanclusterError, match="table 'bad'"):
        write_html_report(tmp_path / "r2.html", "t", {"bad": 3}, [])
    assert not (tmp_path / "r2.html").exists()


# --- atomic writes ------------------------------------------------------------------------------


def test_failed_write_into_read_only_folder_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod does not make the folder read-only")
        with pytest.raises(GanclusterError, match="writable folder"):
            save_png(np.zeros((2, 2, 3), dtype=np.uint8), folder / "a.png")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_failed_rename_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    # Works as root too: renaming a file over a non-empty directory always fails.
    target = tmp_path / "grid.png"
    target.mkdir()
    (target / "keep").write_text("old")
    with pytest.raises(GanclusterError, match="cannot write"):
        save_png(np.zeros((2, 2, 3), dtype=np.uint8), target)
    assert (target / "keep").read_text() == "old"
    assert _leftovers(tmp_path) == []
