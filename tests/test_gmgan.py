"""GM-GAN: mixture priors and the knob s, supervised losses and class maps, Algorithm 2, the estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import gancluster
from gancluster.errors import GanclusterError
from gancluster.gmgan import GMGAN
from gancluster.methods.gmgan import (
    GMGANMethod,
    GMGANSettings,
    default_class_map,
    supervised_d_loss,
    supervised_g_loss,
)
from gancluster.metrics import cluster_acc
from gancluster.priors.mixture import GaussianMixturePrior

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets: one thread avoids oversubscribing the shared 2 cores (and is faster here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CENTRES = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])


def blobs(n: int = 600, seed: int = 0, weights=(1 / 3, 1 / 3, 1 / 3)):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=weights)
    return (CENTRES[y] + 0.4 * rng.standard_normal((n, 2))).astype(np.float32), y


def small(**kw) -> GMGAN:
    params = dict(n_clusters=3, max_steps=300, batch_size=64, random_state=0, latent_dim=4, warmup_steps=100,
                  classifier_steps=150, samples_per_gaussian=200)
    if kw.get("recipe") == "faithful":
        params["warmup_steps"] = None  # no guide to warm up
    params.update(kw)
    return GMGAN(**params)


# ---- priors ---------------------------------------------------------------------------------------
def test_static_prior_means_are_seeded_buffers_in_the_cube() -> None:
    p = GaussianMixturePrior(5, 7, c=2.0, sigma=0.3, seed=3)
    assert p.means.shape == (5, 7) and float(p.means.abs().max()) <= 2.0
    assert "means" in dict(p.named_buffers()) and not list(p.parameters())
    torch.testing.assert_close(p.means, GaussianMixturePrior(5, 7, c=2.0, sigma=0.3, seed=3).means)
    assert not torch.equal(p.means, GaussianMixturePrior(5, 7, c=2.0, sigma=0.3, seed=4).means)
    torch.testing.assert_close(p.covariances(), 0.3 * torch.eye(7).expand(5, 7, 7))
    z, k = p.sample(40, torch.Generator().manual_seed(0))
    assert z.shape == (40, 7) and k.shape == (40,)


def test_samples_follow_each_component_and_scale_shrinks_variance() -> None:
    p = GaussianMixturePrior(3, 4, c=5.0, sigma=0.5, seed=0)
    modes = torch.full((20000,), 1)
    for s in (1.0, 0.25):
        z, _ = p.sample(20000, torch.Generator().manual_seed(1), modes, scale=s)
        torch.testing.assert_close(z.mean(0), p.means[1], atol=0.05, rtol=0)
        assert abs(float(z.var(0).mean()) - 0.5 * s) < 0.03 * s + 0.01
    p.scale = 0.25  # the attribute is the default knob of every later sample
    z, _ = p.sample(20000, torch.Generator().manual_seed(1), modes)
    assert abs(float(z.var(0).mean()) - 0.125) < 0.01


def test_non_uniform_weights_set_mode_frequencies() -> None:
    p = GaussianMixturePrior(3, 2, weights=[0.6, 0.3, 0.1])
    _, k = p.sample(30000, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(np.bincount(k.numpy(), minlength=3) / 30000, [0.6, 0.3, 0.1], atol=0.01)


def test_dynamic_and_deligan_priors_learn_means_and_factors() -> None:
    dyn = GaussianMixturePrior(4, 3, sigma=0.09, learnable=True)
    assert {n for n, _ in dyn.named_parameters()} == {"means", "A"} and dyn.A.shape == (4, 3, 3)
    torch.testing.assert_close(dyn.covariances(), 0.09 * torch.eye(3).expand(4, 3, 3))
    z, _ = dyn.sample(8)
    z.sum().backward()  # reparametrised: gradients reach mu and A
    assert dyn.means.grad is not None and dyn.A.grad.abs().sum() > 0
    method = GMGANMethod(GMGANSettings(prior="deligan", latent_dim=3), 4, (2,), torch.full((4,), 0.25))
    deli = method.prior
    assert deli.diagonal and deli.A.shape == (4, 3)
    torch.testing.assert_close(deli.A, torch.full((4, 3), 0.2))  # DeLiGAN's std init
    assert float(deli.std_penalty().detach()) == pytest.approx(12 * 0.8**2)
    assert any(p is deli.means for g in method.optimizers["g"].param_groups for p in g["params"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_modes=0, dim=3), "K"), (dict(n_modes=3, dim=3, sigma=0.0), "sigma"),
    (dict(n_modes=3, dim=3, sigma=-1.0), "sigma"), (dict(n_modes=3, dim=3, scale=0.0), "scale"),
    (dict(n_modes=3, dim=3, c=-1.0), "c"), (dict(n_modes=2, dim=3, weights=[0.5, 0.6]), "sum to 1"),
])
def test_prior_rejects_bad_input(kwargs, match) -> None:
    with pytest.raises(GanclusterError, match=match):
        GaussianMixturePrior(**kwargs)


def test_scale_must_be_positive_at_sampling_time() -> None:
    p = GaussianMixturePrior(2, 2)
    for s in (0.0, -1.0, float("nan")):
        with pytest.raises(GanclusterError, match="scale"):
            p.sample(3, scale=s)


# ---- supervised GM-GAN ----------------------------------------------------------------------------
def test_class_maps_for_k_equal_greater_and_less_than_n() -> None:
    torch.testing.assert_close(default_class_map(4, 4), torch.eye(4))
    more = default_class_map(6, 3)  # surjective: two Gaussians per class
    assert (more.sum(1) == 1).all() and more.sum(0).tolist() == [2, 2, 2]
    assert more.argmax(1).tolist() == [0, 1, 2, 0, 1, 2]
    fewer = default_class_map(2, 5)  # each Gaussian stands for a group; every class has one Gaussian
    assert (fewer.sum(0) == 1).all() and fewer.sum(1).tolist() == [3, 2]
    with pytest.raises(GanclusterError, match="K >= 1"):
        default_class_map(0, 3)


def test_supervised_losses_match_the_paper_formulas() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 3)
    d = torch.sigmoid(logits)
    labels = torch.tensor([0, 2, 1, 1, 0])
    targets = nn.functional.one_hot(labels, 3).float()
    # L(G) = -E[log D_f(k) + sum_{m != f(k)} log(1 - D_m)]
    expected_g = -(torch.log(d[torch.arange(5), labels]) + (torch.log(1 - d) * (1 - targets)).sum(1)).mean()
    torch.testing.assert_close(supervised_g_loss(logits, targets), expected_g, rtol=1e-4, atol=1e-4)
    fake = torch.randn(5, 3)
    expected_d = (-(torch.log(1 - torch.sigmoid(fake))).sum(1).mean()
                  - (torch.log(d[torch.arange(5), labels]) + (torch.log(1 - d) * (1 - targets)).sum(1)).mean())
    torch.testing.assert_close(supervised_d_loss(logits, labels, fake), expected_d, rtol=1e-4, atol=1e-4)
    # a group target is satisfied when any class of the group says "real"
    group = torch.tensor([[1.0, 1.0, 0.0]])
    high_first = supervised_g_loss(torch.tensor([[6.0, -6.0, -6.0]]), group)
    high_none = supervised_g_loss(torch.tensor([[-6.0, -6.0, -6.0]]), group)
    assert float(high_first) < 0.05 < float(high_none)


@pytest.mark.parametrize("k, n", [(3, 3), (6, 3), (2, 3)])
def test_supervised_gmgan_fits_with_each_map(k, n) -> None:
    X, y = blobs(300)
    est = small(n_clusters=k, n_classes=n, supervised=True, recipe="faithful", max_steps=40,
                classifier_steps=20, samples_per_gaussian=50)
    est.fit(X, y)
    assert est.method_.discriminator.head.out_features == n
    torch.testing.assert_close(est.method_.class_map, default_class_map(k, n))
    assert est.predict(X).max() < k
    with pytest.raises(GanclusterError, match="labels"):
        small(supervised=True, max_steps=5).fit(X)


# ---- Algorithm 2 and the estimator ----------------------------------------------------------------
def test_algorithm2_classifier_trained_on_generated_samples_clusters_real_blobs() -> None:
    """A generator that sends Gaussian k to blob k: the classifier of its samples clusters the blobs."""
    settings = GMGANSettings.faithful(latent_dim=2, c=1.0, sigma=0.01, classifier_steps=200, samples_per_gaussian=200)
    method = GMGANMethod(settings, 3, (2,), torch.full((3,), 1 / 3))
    lin = nn.Linear(2, 2)
    with torch.no_grad():  # an affine map taking mean k to centre k (scaled to standardised units)
        mu = method.prior.means
        target = torch.as_tensor(CENTRES, dtype=torch.float32) / 3.0
        sol = torch.linalg.lstsq(torch.cat([mu, torch.ones(3, 1)], 1), target).solution
        lin.weight.copy_(sol[:2].T)
        lin.bias.copy_(sol[2])
    method.generator_net = lin
    log = method.fit_classifier(torch.Generator().manual_seed(0))
    assert log["classifier_samples"] == 600 and bool(method.classifier_ready)
    X, y = blobs(600, seed=2)
    pred = method.cluster_logits(torch.from_numpy(X) / 3.0).argmax(1).numpy()
    assert cluster_acc(y, pred) > 0.95


def test_estimator_clusters_blobs_and_samples_by_gaussian() -> None:
    X, y = blobs(900)
    est = small()
    pred = est.fit_predict(X)
    assert est.labels_.shape == (900,) and cluster_acc(y, pred) > 0.9
    X2, y2 = blobs(300, seed=1)
    assert cluster_acc(y2, est.predict(X2)) > 0.9
    proba = est.predict_proba(X2[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert est.transform(X2[:5]).shape[0] == 5
    xs, ks = est.sample(300, random_state=0)
    assert xs.shape == (300, 2) and set(np.unique(ks)) <= {0, 1, 2}
    xs1, _ = est.sample(50, cluster=1, random_state=0)
    xs_small, ks_small = est.sample(50, cluster=1, random_state=0, scale=0.05)
    assert (ks_small == 1).all()
    assert xs_small.std(0).sum() < xs1.std(0).sum()  # the knob trades diversity for quality
    assert est.method_.prior.scale == 1.0  # per-call scale does not stick
    with pytest.raises(GanclusterError, match="scale"):
        est.sample(5, scale=0.0)


def test_save_and_load_keep_the_algorithm2_classifier(tmp_path) -> None:
    X, _ = blobs(300)
    est = small(max_steps=120, prior="dynamic")
    est.fit(X)
    path = est.save(tmp_path / "gm.safetensors")
    back = gancluster.load(path, device="cpu")
    assert isinstance(back, GMGAN) and bool(back.method_.classifier_ready)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    torch.testing.assert_close(back.method_.prior.means, est.method_.prior.means)
    a, _ = est.sample(20, random_state=3, scale=0.5)
    b, _ = back.sample(20, random_state=3, scale=0.5)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_faithful_recipe_has_no_guide_and_runs_algorithm2_from_scratch() -> None:
    X, _ = blobs(300)
    est = small(recipe="faithful", warmup_steps=None, max_steps=30, classifier_steps=20, samples_per_gaussian=40)
    s = est.settings()
    assert s.guidance == 0 and not s.uses_real_data and s.classifier_init == "scratch"
    est.fit(X)
    assert est.method_.guide is None and bool(est.method_.classifier_ready)
    assert est.classifier_log_["classifier_samples"] == 120


@pytest.mark.parametrize("kw, match", [
    (dict(n_clusters=1), "n_clusters"), (dict(sigma=0.0), "sigma"), (dict(sigma=-2.0), "sigma"),
    (dict(scale=0.0), "scale"), (dict(scale=-1.0), "scale"), (dict(prior="mystery"), "prior"),
    (dict(recipe="faithful", warmup_steps=None, classifier_steps=0), "classifier_steps"),
    (dict(recipe="faithful", warmup_steps=None, classifier_init="guide"), "guide"),
])
def test_estimator_rejects_bad_parameters(kw, match) -> None:
    X, _ = blobs(60)
    with pytest.raises(GanclusterError, match=match):
        small(**kw).fit(X)


def test_nan_scale_is_rejected() -> None:
    with pytest.raises(GanclusterError):
        small(scale=math.nan).fit(blobs(30)[0])
