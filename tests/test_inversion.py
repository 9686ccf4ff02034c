"""Backprop decoding: recovers the mode of G(z) for known z, works with fitted estimators, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gancluster import ClusterGAN
from gancluster.errors import GanclusterError
from gancluster.gmgan import GMGAN
from gancluster.inversion import backprop_decode, mode_adapter
from gancluster.metrics import cluster_acc
from gancluster.priors import GaussianPrior, OneHotGaussianPrior
from gancluster.priors.mixture import GaussianMixturePrior


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_generator(latent_dim: int, out: int = 20, seed: int = 0) -> nn.Module:
    """A fixed, untrained MLP: PyTorch's default init keeps it sensitive to every input."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(latent_dim, 64), nn.Tanh(), nn.Linear(64, out)).eval()


@pytest.mark.parametrize("prior", [
    OneHotGaussianPrior(5, 4, sigma=0.1),
    GaussianMixturePrior(5, 6, c=1.0, sigma=0.05, seed=1),
])
@pytest.mark.parametrize("prune", [(), ((15, 2),)])
def test_recovers_the_mode_of_generated_samples(prior, prune) -> None:
    G = random_generator(prior.dim)
    z, modes = prior.sample(150, torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = G(z)
    res = backprop_decode(G, x, prior=prior, n_steps=40, prune=prune, batch_size=64)
    assert res.labels.shape == (150,) and res.z.shape == (150, prior.dim)
    assert (res.labels == modes.numpy()).mean() > 0.95
    assert res.losses.shape == (150, 5) and res.seconds > 0
    if prune:
        assert np.isinf(res.losses).sum(1).tolist() == [3] * 150  # three restarts dropped per sample
    # the returned latent is in the chosen mode and reconstructs x well
    with torch.no_grad():
        err = (G(torch.from_numpy(res.z)) - x).abs().mean(1)
    assert float(err.mean()) < 0.05


def test_one_hot_latents_keep_their_clip_and_one_hot_part() -> None:
    prior = OneHotGaussianPrior(3, 4, sigma=0.1)
    G = random_generator(prior.dim)
    x = torch.randn(10, 20) * 3  # far from anything G makes: z_n runs to the clip
    res = backprop_decode(G, x, prior=prior, n_steps=30)
    zn, zc = res.z[:, :4], res.z[:, 4:]
    assert np.abs(zn).max() <= 0.6 + 1e-6
    np.testing.assert_array_equal(zc.argmax(1), res.labels)
    np.testing.assert_array_equal(zc.sum(1), 1.0)


def blobs(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])
    y = rng.choice(3, size=n)
    return (centres[y] + 0.4 * rng.standard_normal((n, 2))).astype(np.float32), y


def test_works_with_fitted_clustergan_and_gmgan() -> None:
    X, y = blobs(600)
    cg = ClusterGAN(n_clusters=3, max_steps=200, batch_size=64, random_state=0, latent_dim=4, warmup_steps=60).fit(X)
    gm = GMGAN(n_clusters=3, max_steps=200, batch_size=64, random_state=0, latent_dim=4, warmup_steps=60,
               classifier_steps=60, samples_per_gaussian=100).fit(X)
    for est in (cg, gm):
        xs, ks = est.sample(60, random_state=1, **({"scale": 0.3} if est is gm else {}))
        res = backprop_decode(est, xs, n_steps=40)
        # inverting the model's own samples finds the mode they came from
        assert (res.labels == ks).mean() > 0.9
        # on real data, decoding agrees with the model's own clustering of separated blobs
        real = backprop_decode(est, X[:90], n_steps=40)
        assert cluster_acc(est.predict(X[:90]), real.labels) > 0.8


def test_encoder_start_shares_the_encoders_estimate_across_restarts() -> None:
    X, _ = blobs(600)
    cg = ClusterGAN(n_clusters=3, max_steps=200, batch_size=64, random_state=0, latent_dim=4, warmup_steps=60).fit(X)
    xs, ks = cg.sample(60, random_state=1)
    # zero steps: the result is the start itself, the encoder's z_n (clipped) in the winning mode
    res = backprop_decode(cg, xs, n_steps=1, lr=1e-12, start="encoder", prune=())
    data = torch.from_numpy((xs - cg.mean_) / cg.scale_)
    expected = cg.method_.encode_noise(data).detach().clamp(-0.6, 0.6).numpy()
    np.testing.assert_allclose(res.z[:, :4], expected, atol=1e-5)
    assert (backprop_decode(cg, xs, n_steps=40, start="encoder").labels == ks).mean() > 0.9
    gm = GMGAN(n_clusters=3, max_steps=5, batch_size=64, random_state=0, latent_dim=4, warmup_steps=2,
               classifier_steps=2, samples_per_gaussian=10).fit(X)
    with pytest.raises(GanclusterError, match="encoder"):
        backprop_decode(gm, xs, start="encoder")
    with pytest.raises(GanclusterError, match="start"):
        backprop_decode(cg, xs, start="random")
    with pytest.raises(GanclusterError, match="n_candidates"):
        backprop_decode(cg, xs, start="encoder", n_candidates=4)


def test_candidate_starts_keep_the_lowest_loss_draw() -> None:
    prior = OneHotGaussianPrior(4, 3, sigma=0.3)
    G = random_generator(prior.dim)
    x = torch.randn(30, 20)
    # one step of a vanishing lr: the final losses are those of the starts. The first of the 16
    # candidates is the single draw of n_candidates=1 (same generator state), so no start gets worse.
    kw = dict(prior=prior, n_steps=1, lr=1e-12, prune=(), random_state=3)
    one = backprop_decode(G, x, **kw).losses
    best = backprop_decode(G, x, n_candidates=16, **kw).losses
    assert np.all(best <= one + 1e-6)
    assert best.mean() < one.mean()
    with pytest.raises(GanclusterError, match="n_candidates"):
        backprop_decode(G, x, prior=prior, n_candidates=0)
    with pytest.raises(GanclusterError, match="n_candidates"):
        backprop_decode(G, x, prior=prior, n_candidates=2.5)


def test_mode_adapters_and_errors() -> None:
    assert mode_adapter(OneHotGaussianPrior(4, 3)).default_clip == 0.6
    assert mode_adapter(GaussianMixturePrior(4, 3)).free_dim == 3
    G = random_generator(5)
    x = torch.zeros(4, 20)
    with pytest.raises(GanclusterError, match="no discrete modes"):
        backprop_decode(G, x, prior=GaussianPrior(5))
    with pytest.raises(GanclusterError, match="prior"):
        backprop_decode(G, x)
    with pytest.raises(GanclusterError, match="not fitted"):
        backprop_decode(ClusterGAN(n_clusters=3), x)
    with pytest.raises(GanclusterError, match="nn.Module"):
        backprop_decode("generator", x, prior=GaussianMixturePrior(2, 5))
    prior = GaussianMixturePrior(2, 5)
    for kw, match in [(dict(n_steps=0), "n_steps"), (dict(lr=-1.0), "lr"), (dict(clip=0.0), "clip"),
                      (dict(batch_size=0), "batch_size"), (dict(prune=((0, 1),)), "prune")]:
        with pytest.raises(GanclusterError, match=match):
            backprop_decode(G, x, prior=prior, **kw)
