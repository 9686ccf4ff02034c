"""k-NN graphs and the image normalisation they can be built on."""

from __future__ import annotations

import numpy as np
import torch

from gancluster.methods import real_clusters
from gancluster.neighbours import knn_graph, moment_normalise


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
