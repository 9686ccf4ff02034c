"""The real-data cluster recipe shared by ClusterGAN, NEMGAN and GM-GAN (methods.real_clusters)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancluster import GMGAN, NEMGAN, ClusterGAN
from gancluster.methods import real_clusters


def blobs(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])
    return (centres[rng.integers(0, 3, n)] + 0.4 * rng.standard_normal((n, 2))).astype(np.float32)


# estimator, extra parameters, the attribute holding the inverter, and where its cluster logits start
CASES = {
    "clustergan": (ClusterGAN, dict(latent_dim=4), "encoder", 4),
    # the real-data terms at the weights of NEMGAN's recipes, explicit so the test does not follow a default
    "nemgan": (NEMGAN, dict(latent_dim=8, real_agreement=1.0, real_prior_match=5.0), "inverter", 8),
    "gmgan": (GMGAN, dict(latent_dim=4, classifier_steps=2, samples_per_gaussian=8), "guide", 0),
}


def build(name: str, **kw):
    cls, extra, _, _ = CASES[name]
    return cls(**{"n_clusters": 3, "batch_size": 32, "random_state": 0, **extra, **kw})


@pytest.mark.parametrize("name", sorted(CASES))
def test_warmup_keeps_the_lowest_loss_head(name: str) -> None:
    # stop right at the end of the warm-up, when the winner is copied into the inverter's cluster head
    est = build(name, max_steps=20, warmup_steps=20, warmup_heads=4, warmup_max_share=1.0).fit(blobs())
    method = est.method_
    _, _, attr, offset = CASES[name]
    net = getattr(method, attr)
    assert int(method.steps_done) == 20 and not method.in_warmup
    assert len(method.extra_heads) == 3
    best = int(method.head_loss.argmin())
    assert float(method.head_loss.max()) > 0  # every head's running loss was tracked
    winner = net.head if best == 0 else method.extra_heads[best - 1]
    assert torch.equal(net.head.weight[offset:], winner.weight[-3:])
    assert torch.equal(net.head.bias[offset:], winner.bias[-3:])


def test_keep_best_head_copies_the_winner_and_only_the_cluster_rows() -> None:
    net = torch.nn.Module()
    net.head = torch.nn.Linear(5, 2 + 3)
    extra = torch.nn.ModuleList(torch.nn.Linear(5, 3) for _ in range(2))
    before = net.head.weight[:2].clone()
    assert real_clusters.keep_best_head(net, 2, extra, torch.tensor([0.5, 0.7, 0.1])) == 2
    assert torch.equal(net.head.weight[2:], extra[1].weight)
    assert torch.equal(net.head.weight[:2], before)
    assert real_clusters.keep_best_head(net, 2, extra, torch.tensor([0.05, 0.7, 0.1])) == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_warmup_takes_at_most_its_share_of_a_time_budget(name: str) -> None:
    """A warm-up longer than the budget ends at half of it, so the generator still trains."""
    X = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    model = build(name, warmup_steps=10**6, max_steps=10**9, max_seconds=2.0, batch_size=16).fit(X)
    warmup_end = int(model.method_.warmup_end)
    assert 0 < warmup_end < 10**6
    assert int(model.method_.steps_done) > warmup_end  # GAN steps followed


@pytest.mark.parametrize("name", sorted(CASES))
def test_warmup_takes_at_most_its_share_of_a_step_budget(name: str) -> None:
    """A warm-up as long as the whole run (NEMGAN's 300 steps, max_steps=300) would leave G untrained."""
    model = build(name, warmup_steps=10**6, max_steps=40).fit(blobs(120))
    assert int(model.method_.warmup_end) == 21  # steps 0-20: the first that reaches half the budget is the last
    assert int(model.method_.steps_done) == 40
    whole = build(name, warmup_steps=30, max_steps=30, warmup_max_share=1.0).fit(blobs(120))
    assert int(whole.method_.warmup_end) == 30


def test_one_head_while_nemgan_learns_priors() -> None:
    """The labelled cross-entropy trains h's own head, so no extra heads compete with it."""
    X = blobs(120)
    y = np.full(120, -1)
    y[:12] = np.arange(12) % 3
    est = NEMGAN(n_clusters=3, latent_dim=8, batch_size=32, random_state=0, max_steps=6, warmup_steps=4,
                 warmup_heads=5, learn_priors=True).fit(X, y)
    assert len(est.method_.extra_heads) == 0


def test_self_label_loss_uses_only_confident_rows_and_weighs_clusters_equally() -> None:
    target = torch.tensor([[9.0, 0, 0], [9.0, 0, 0], [9.0, 0, 0], [0, 9.0, 0], [0.1, 0, 0]])
    logits = torch.zeros(5, 3, requires_grad=True)
    loss = real_clusters.self_label_loss(logits, target, threshold=0.99)
    loss.backward()
    grad = logits.grad
    assert torch.all(grad[4] == 0)  # not confident: no pseudo-label
    # three rows of cluster 0 and one of cluster 1: together each cluster pulls as hard as the other
    assert torch.isclose(grad[:3, 0].sum(), grad[3, 1], rtol=1e-5)
    assert float(real_clusters.self_label_loss(logits, torch.zeros(5, 3), 0.99)) == 0.0


SELF_LABEL_MODELS = {
    "clustergan": lambda weight: ClusterGAN(n_clusters=3, latent_dim=4, batch_size=32, random_state=0, max_steps=12,
                                            warmup_steps=10, real_self_label=weight),
    # on vectors NEMGAN's recipe leaves the real-data terms off: switch them on by hand
    "nemgan": lambda weight: NEMGAN(n_clusters=3, latent_dim=4, batch_size=32, random_state=0, max_steps=12,
                                    warmup_steps=10, real_agreement=1.0, real_prior_match=5.0, real_self_label=weight),
}


@pytest.mark.parametrize("name", sorted(SELF_LABEL_MODELS))
def test_self_label_term_joins_the_gan_phase_real_data_loss_only_when_on(name: str) -> None:
    from gancluster.methods.base import Batch

    X = blobs(200)
    for weight, expected in ((0.0, False), (1.0, True)):
        est = SELF_LABEL_MODELS[name](weight).fit(X)
        method = est.method_
        data = torch.from_numpy((X - est.mean_) / est.scale_)
        logs: dict[str, float] = {}
        idx = torch.arange(32)
        loss = method._real_data_loss(Batch(data[idx], idx, data), torch.Generator().manual_seed(0), logs)
        assert torch.isfinite(loss)
        assert ("loss_self_label" in logs) is expected
        assert "loss_real_agree" in logs and "loss_real_prior" in logs


def test_nemgan_spectral_start_finds_a_ten_percent_cluster() -> None:
    # 270 : 30 rows in two separate blobs; the warm-up alone (no GAN step) must split them (without
    # the spectral start it stays in the trivial partition here: every row in the 0.9 cluster)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [270, 30])
    x = (np.array([[0.0, 0.0], [3.0, 3.0]])[y] + 0.5 * rng.standard_normal((300, 2))).astype(np.float32)
    est = build("nemgan", n_clusters=2, priors=[0.9, 0.1], max_steps=60, warmup_steps=60, warmup_heads=1,
                warmup_max_share=1.0).fit(x)
    targets = est.method_.spectral_targets
    assert targets is not None and (targets.numpy() == y).mean() > 0.98  # ids follow the priors' order
    assert (est.predict(x) == y).mean() > 0.95
    off = build("nemgan", n_clusters=2, priors=[0.9, 0.1], max_steps=2, warmup_steps=2, real_spectral=0.0).fit(x)
    assert off.method_.spectral_targets is None


def test_nemgan_prior_learning_starts_from_the_labelled_spectral_clusters() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [270, 30])
    x = (np.array([[0.0, 0.0], [3.0, 3.0]])[y] + 0.5 * rng.standard_normal((300, 2))).astype(np.float32)
    labels = np.full(300, -1)
    labels[[0, 1, 2, 3, 4, 270]] = [0, 0, 0, 0, 0, 1]  # 5 : 1, far from the true 9 : 1
    est = build("nemgan", n_clusters=2, learn_priors=True, max_steps=150, warmup_steps=150,
                warmup_max_share=1.0).fit(x, labels)
    targets = est.method_.spectral_targets.numpy()
    known = targets >= 0  # fine clusters with no labelled row give no target
    assert known.mean() > 0.3 and (targets[known] == y[known]).mean() > 0.98
    assert (est.predict(x) == y).mean() > 0.95  # h, whose mean output the priors then follow (eq. 5)
