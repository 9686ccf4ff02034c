"""k-NN graphs and the image descriptors they can be built on (deskewed pixels, HOG)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancluster import NEMGAN, GanclusterError
from gancluster.methods import real_clusters
from gancluster.neighbours import hog_features, knn_graph, moment_normalise


def slanted_bar(shift: int, slant: float, size: int = 28) -> torch.Tensor:
    """A thick stroke x = c + slant * (row - centre), drawn off-centre by ``shift`` columns."""
    img = torch.zeros(1, size, size)
    for r in range(4, size - 4):
        c = int(round(size / 2 + shift + slant * (r - size / 2)))
        img[0, r, max(c - 1, 0) : c + 2] = 1.0
    return img


def moments(img: torch.Tensor) -> tuple[float, float, float]:
    ink = img[0]
    rows, cols = torch.meshgrid(torch.arange(ink.shape[0]).float(), torch.arange(ink.shape[1]).float(), indexing="ij")
    m = ink.sum()
    mc, mr = float((ink * cols).sum() / m), float((ink * rows).sum() / m)
    cov = float((ink * (cols - mc) * (rows - mr)).sum() / m)
    return mc, mr, cov


def test_moment_normalise_removes_slant_and_centres() -> None:
    bars = torch.stack([slanted_bar(5, 0.5), slanted_bar(-4, -0.4)])
    before = [moments(b) for b in bars]
    assert all(abs(cov) > 5 for _, _, cov in before)
    for img in moment_normalise(bars):
        mc, mr, cov = moments(img)
        assert abs(cov) < 0.5
        assert abs(mc - 13.5) < 0.6 and abs(mr - 13.5) < 0.6


def test_deskewed_graph_pairs_the_same_shape_across_slants() -> None:
    """Two glyph shapes at many slants and positions: neighbours on normalised images share the shape."""
    rng = np.random.default_rng(0)
    imgs, labels = [], []
    for i in range(60):
        shape = i % 2
        slant, shift = rng.uniform(-0.6, 0.6), int(rng.integers(-5, 6))
        img = slanted_bar(shift, slant)
        if shape:  # a bar with a cross stroke at two thirds of its height
            img[0, 9:11, 8:20] = 1.0
        imgs.append(img)
        labels.append(shape)
    data, y = torch.stack(imgs), np.array(labels)
    recipe = real_clusters.RealClusterRecipe(1.0, 0.0, 3, False, 0, 8, 1e-3, graph="auto")
    same_deskewed = (y[real_clusters.neighbour_graph(recipe, data).numpy()] == y[:, None]).mean()
    same_pixels = (y[knn_graph(data, 3).numpy()] == y[:, None]).mean()
    assert same_deskewed > same_pixels
    assert same_deskewed > 0.9


def stripes(vertical: bool, phase: int, period: int = 6, size: int = 24) -> torch.Tensor:
    """Stripes of one orientation at a phase shift: same outline statistics, different pixels."""
    idx = (torch.arange(size) + phase) % period < period // 2
    img = idx.float()[None, :].expand(size, size) if vertical else idx.float()[:, None].expand(size, size)
    return img[None].clone()


def test_hog_features_see_orientation_not_contrast() -> None:
    v, h = stripes(True, 0), stripes(False, 0)
    feats = hog_features(torch.stack([v, 0.3 * v - 0.5, h]))
    assert feats.shape == (3, 9 * 4 * 5 * 5)  # bins x cells per block x blocks (6 x 6 cells of 4 px)
    assert torch.allclose(feats[0], feats[1], atol=1e-5)  # a dimmer, shifted copy: the same edges
    cos = torch.nn.functional.cosine_similarity
    assert cos(feats[0], feats[2], dim=0) < 0.2
    with pytest.raises(ValueError, match="at least 8x8"):
        hog_features(torch.zeros(2, 1, 6, 6))


def test_hog_graph_pairs_orientation_across_phases() -> None:
    """Stripe images of two orientations at random phases: HOG neighbours share the orientation."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    data = torch.stack([stripes(bool(c), int(rng.integers(0, 6))) * float(rng.uniform(0.5, 1.0)) for c in y])
    recipe = real_clusters.RealClusterRecipe(1.0, 0.0, 3, False, 0, 8, 1e-3, graph="hog")
    graph = real_clusters.neighbour_graph(recipe, data)
    same_hog = (y[graph.numpy()] == y[:, None]).mean()
    assert same_hog > 0.95
    # the spectral start partitions the pixel graph, not the HOG one
    assert torch.equal(real_clusters.spectral_graph(recipe, data, graph), knn_graph(data, 3))
    pixels = real_clusters.RealClusterRecipe(1.0, 0.0, 3, False, 0, 8, 1e-3, graph="pixels")
    assert real_clusters.spectral_graph(pixels, data, graph) is graph


def test_hog_graph_on_vectors_is_a_clear_error() -> None:
    X = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    with pytest.raises(GanclusterError, match="real_graph='hog' describes images"):
        NEMGAN(n_clusters=2, max_steps=2, warmup_steps=1, real_graph="hog", batch_size=8).fit(X)
    with pytest.raises(GanclusterError, match="real_graph must be one of"):
        NEMGAN(n_clusters=2, max_steps=2, real_graph="edges").fit(X)
