"""Mode metrics on hand-made samples whose answers are known, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gancluster.data import grid_centers, load_dataset, ring_centers
from gancluster.errors import GanclusterError
from gancluster.metrics.modes import (
    high_quality_mask,
    mode_kl,
    mode_metrics_2d,
    nearest_mode,
    stacked_mnist_metrics,
    synthetic_modes,
)

RING = ring_centers(8, 2.0)
STD = 0.01


def hand_made_ring() -> np.ndarray:
    """8 points: 4 on mode 0, 2 at the 3-std edge of mode 1 (inside), 1 just outside mode 2, 1 far off mode 5."""
    return np.array(
        [RING[0]] * 4
        + [RING[1] + [0.02, -0.0299]] * 2
        + [RING[2] + [0.0301, 0.0]]
        + [RING[5] + [0.5, 0.5]]
    )


def test_hand_made_ring_hq_modes_and_kl():
    m = mode_metrics_2d(hand_made_ring(), RING, std=STD)
    assert m.n_samples == 8 and m.n_modes == 8
    assert m.high_quality_rate == pytest.approx(6 / 8)
    assert m.modes_recovered == 2  # modes 0 and 1; mode 2's only sample is 3.01 std away
    # nearest-mode shares p = [4, 2, 1, 0, 0, 1, 0, 0] / 8; KL = sum p log(8 p) = 1.25 log 2
    assert m.mode_shares == pytest.approx([0.5, 0.25, 0.125, 0, 0, 0.125, 0, 0])
    assert m.reverse_kl == pytest.approx(1.25 * math.log(2))
    assert "modes 2/8" in str(m) and "N=8" in str(m)


def test_high_quality_is_per_coordinate_box_not_euclidean():
    # (2.9 std, 2.9 std) is 4.1 std away in Euclidean distance but inside the 3-std box.
    pts = np.array([RING[3] + [0.029, 0.029], RING[3] + [0.0, 0.031]])
    assert high_quality_mask(pts, RING, STD).tolist() == [True, False]
    assert high_quality_mask(pts, RING, STD, n_std=4.0).tolist() == [True, True]


def test_nearest_mode_assigns_every_sample():
    pts = np.array([[1.9, 0.1], [-3.0, 0.2], [0.0, -5.0]])
    assert nearest_mode(pts, RING).tolist() == [0, 4, 6]


def test_perfect_ring_sampler_from_the_dataset():
    ds = load_dataset("ring", n_samples=50_000, split="test")
    m = mode_metrics_2d(ds.X, "ring")
    assert m.modes_recovered == 8
    # P(|N(0,1)| <= 3)^2 = 0.99461 per point; the binomial std at 50k is 0.0003.
    assert m.high_quality_rate == pytest.approx(0.9973002**2, abs=0.0015)
    assert m.reverse_kl < 1e-3


def test_collapsed_generator_on_the_grid():
    centers, std, _ = synthetic_modes("grid")
    assert std == 0.05 and np.allclose(centers, grid_centers(5, 2.0))
    pts = np.repeat(centers[7:8], 1000, axis=0)
    m = mode_metrics_2d(pts, "grid")
    assert (m.modes_recovered, m.high_quality_rate) == (1, 1.0)
    assert m.reverse_kl == pytest.approx(math.log(25))


def test_uniform_on_grid_centers_has_zero_kl():
    centers, _, _ = synthetic_modes("grid")
    m = mode_metrics_2d(np.tile(centers, (4, 1)), centers, std=0.05)
    assert m.modes_recovered == 25 and m.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_off_manifold_samples_recover_nothing():
    m = mode_metrics_2d(np.zeros((100, 2)), RING, std=STD)  # all at the ring's centre
    assert m.modes_recovered == 0 and m.high_quality_rate == 0.0


def test_mode_kl_with_weights_and_bases():
    assert mode_kl([1, 3], weights=[0.25, 0.75]) == pytest.approx(0.0)
    assert mode_kl([1, 1], weights=[0.25, 0.75]) == pytest.approx(0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))
    assert mode_kl([5, 0, 0, 0], base=2) == pytest.approx(2.0)
    assert mode_kl([1, 1], weights=[1.0, 0.0]) == math.inf


@pytest.mark.parametrize(
    "samples, kwargs",
    [
        (np.zeros((0, 2)), {}),
        (np.full((3, 2), np.nan), {}),
        (np.zeros((3, 3)), {}),
        (np.zeros(4), {}),
    ],
)
def test_bad_samples_raise(samples, kwargs):
    with pytest.raises(GanclusterError):
        mode_metrics_2d(samples, RING, std=STD, **kwargs)


def test_bad_arguments_raise():
    with pytest.raises(GanclusterError, match="std is required"):
        mode_metrics_2d(np.zeros((3, 2)), RING)
    with pytest.raises(GanclusterError, match="no mode centers"):
        mode_metrics_2d(np.zeros((3, 2)), "moons")
    with pytest.raises(GanclusterError):
        mode_metrics_2d(np.zeros((3, 2)), RING, std=0.0)
    with pytest.raises(GanclusterError):
        mode_kl([0, 0])
    with pytest.raises(GanclusterError):
        mode_kl([1, 1], weights=[0.5, 0.6])


def test_stacked_mnist_all_modes_uniform():
    d = np.arange(1000)
    digits = np.stack([d // 100, d // 10 % 10, d % 10], axis=1)
    m = stacked_mnist_metrics(np.concatenate([digits, digits]))
    assert (m.modes, m.n_samples) == (1000, 2000)
    assert m.kl_log10 == pytest.approx(0.0, abs=1e-12)


def test_stacked_mnist_hand_cases():
    collapsed = stacked_mnist_metrics(np.zeros((50, 3), dtype=np.int64))
    assert collapsed.modes == 1 and collapsed.kl_log10 == pytest.approx(3.0)
    two = stacked_mnist_metrics(np.array([[1, 2, 3], [9, 9, 9]] * 5))
    assert two.modes == 2 and two.kl_log10 == pytest.approx(math.log10(500))
    assert "modes 2/1000" in str(two)
    assert collapsed.channel_kl_log10 == pytest.approx((1.0, 1.0, 1.0))


def test_stacked_mnist_channel_kls_split_digit_preference_from_channel_dependence():
    rng = np.random.default_rng(0)
    skewed = rng.choice(10, size=(20_000, 3), p=[0.3] + [0.7 / 9] * 9)  # independent channels, one favourite digit
    m = stacked_mnist_metrics(skewed)
    assert min(m.channel_kl_log10) > 0.05
    assert m.kl_log10 == pytest.approx(sum(m.channel_kl_log10), abs=0.02)  # total correlation ~ 0
    d = np.arange(1000) % 100  # uniform digits, but channel 2 copies channel 1: 100 of the 1000 modes
    copied = stacked_mnist_metrics(np.stack([d // 10, d % 10, d % 10], axis=1))
    assert copied.channel_kl_log10 == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)
    assert copied.kl_log10 == pytest.approx(1.0)  # all of it is the channels' dependence


@pytest.mark.parametrize("digits", [np.zeros((4, 2), int), np.full((4, 3), 10), np.zeros((4, 3)), np.zeros((0, 3), int)])
def test_stacked_mnist_rejects_bad_predictions(digits):
    with pytest.raises(GanclusterError):
        stacked_mnist_metrics(digits)


def test_share_vs_prior():
    from gancluster.metrics.modes import share_vs_prior

    out = share_vs_prior([0] * 7 + [1] * 3, [0.7, 0.3])
    assert out["shares"] == pytest.approx([0.7, 0.3]) and out["total_variation"] == pytest.approx(0.0)
    skewed = share_vs_prior([0] * 10, [0.5, 0.5])
    assert skewed["total_variation"] == pytest.approx(0.5) and skewed["kl"] == pytest.approx(math.log(2))
    with pytest.raises(GanclusterError):
        share_vs_prior([0, 2], [0.5, 0.5])
