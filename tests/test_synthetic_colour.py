"""``shapes32``: the offline synthetic colour dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancluster.data import DATASETS, load_dataset, resolve_name
from gancluster.data.synthetic_colour import SHAPES, make_shapes
from gancluster.errors import GanclusterError


def _sorted(X: np.ndarray) -> np.ndarray:
    """Images in a canonical order (by their pixel sums), to compare sets of images."""
    return X[np.argsort(X.reshape(len(X), -1).sum(1))]


def test_deterministic_per_seed_split_and_class() -> None:
    a, b = make_shapes(6, seed=3), make_shapes(6, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(make_shapes(6, seed=4).X, a.X)
    assert not np.allclose(make_shapes(6, seed=3, split="test").X, a.X)
    # a class draws the same images whatever other classes are drawn (subsets are exact)
    sub = make_shapes(6, seed=3, classes=[7, 2])
    assert sub.class_names == [SHAPES[7][0], SHAPES[2][0]]
    np.testing.assert_array_equal(_sorted(sub.X[sub.y == 0]), _sorted(a.X[a.y == 7]))
    np.testing.assert_array_equal(_sorted(sub.X[sub.y == 1]), _sorted(a.X[a.y == 2]))


def test_shapes_range_and_counts() -> None:
    ds = make_shapes([30, 5, 0, 12], classes=[0, 1, 2, 3])
    assert ds.X.shape == (47, 3, 32, 32) and ds.X.dtype == np.float32
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0
    assert ds.X.std() > 0.1  # images, not a constant
    np.testing.assert_array_equal(np.bincount(ds.y, minlength=4), [30, 5, 0, 12])
    assert ds.n_classes == 4
    with pytest.raises(GanclusterError, match="classes"):
        make_shapes(3, classes=[0, 10])
    with pytest.raises(GanclusterError, match="one per class"):
        make_shapes([3, 4], classes=[0, 1, 2])
    with pytest.raises(GanclusterError, match="split"):
        make_shapes(3, split="valid")


def test_registered_builtin_with_class_subsets_and_ratios() -> None:
    assert "shapes32" in DATASETS and DATASETS["shapes32"].kind == "images"
    assert resolve_name("Shapes") == "shapes32"
    ds = load_dataset("shapes32", split="test", classes=[0, 2], ratios=[0.9, 0.1])
    assert ds.X.shape[1:] == (3, 32, 32)
    counts = np.bincount(ds.y)
    assert counts[0] == 1000 and abs(counts[1] / counts.sum() - 0.1) < 1e-3
    assert ds.class_names == ["red circle", "yellow triangle"]
    small = load_dataset("shapes32", split="test", n_samples=50, seed=1)
    assert len(small) == 50 and np.bincount(small.y).max() - np.bincount(small.y).min() <= 1


def test_classes_are_distinguishable_by_a_tiny_classifier() -> None:
    """A small CNN trained on 150 images per class recognises held-out images far above chance."""
    train, test = make_shapes(150, seed=5), make_shapes(30, seed=5, split="test")
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    X, y = torch.from_numpy(train.X), torch.from_numpy(train.y)
    gen = torch.Generator().manual_seed(0)
    for _ in range(250):
        idx = torch.randint(0, len(y), (32,), generator=gen)
        loss = F.cross_entropy(net(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float((net(torch.from_numpy(test.X)).argmax(1).numpy() == test.y).mean())
    assert acc > 0.8  # chance is 0.1


def test_neighbouring_colour_families_overlap() -> None:
    """Mean foreground hue moves by one hue step per class; the spread makes neighbours overlap."""
    ds = make_shapes(300, classes=[0, 1], seed=0, hue_spread=0.6)
    # the most saturated pixel of each image is on the shape: its RGB ordering tells red from orange
    flat = ds.X.reshape(len(ds), 3, -1)
    sat = flat.max(1) - flat.min(1)
    pick = flat[np.arange(len(ds)), :, sat.argmax(1)]
    g_over_r = pick[:, 1] / np.maximum(pick[:, 0], 1e-6)
    red, orange = g_over_r[ds.y == 0], g_over_r[ds.y == 1]
    assert np.median(orange) > np.median(red) + 0.2  # the families differ ...
    assert red.max() > orange.min()  # ... and overlap: colour alone does not separate them
