"""NEMGAN: the additive latent, the estimator, prior learning, the C3 metric and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancluster.errors import GanclusterError
from gancluster.estimator import load
from gancluster.experiments.nemgan_table1 import VARIANTS, ordering_holds, summarise
from gancluster.metrics import cluster_acc
from gancluster.metrics.generation import generation_scores, prior_error, share_tv
from gancluster.nemgan import NEMGAN
from gancluster.priors.additive import AdditivePrior, smoothed_onehot, step_buckets


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread avoids oversubscription on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def two_blobs(n: int = 1000, weights=(0.8, 0.2), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0, 0.0], [3.0, 0.0]])
    y = rng.choice(2, size=n, p=list(weights))
    return (centres[y] + 0.5 * rng.standard_normal((n, 2))).astype(np.float32), y


# ---- the latent ---------------------------------------------------------------------------------
def test_mode_frequencies_follow_softmax_alpha() -> None:
    weights = [0.5, 0.3, 0.15, 0.05]
    prior = AdditivePrior(4, dim=8, weights=weights)
    np.testing.assert_allclose(prior.mode_weights().detach().numpy(), weights, atol=1e-6)
    _, modes = prior.sample(200_000, torch.Generator().manual_seed(0))
    freq = np.bincount(modes.numpy(), minlength=4) / 200_000
    np.testing.assert_allclose(freq, weights, atol=0.005)
    # rsample draws the same exact buckets (Lemma 2)
    _, y, modes_r = prior.rsample(100_000, torch.Generator().manual_seed(1))
    np.testing.assert_allclose(np.bincount(modes_r.numpy(), minlength=4) / 100_000, weights, atol=0.006)
    torch.testing.assert_close(y.detach().argmax(1), modes_r)


def test_smoothed_step_tends_to_the_exact_step() -> None:
    cum = torch.cumsum(torch.tensor([0.2, 0.5, 0.3]), 0)
    u = torch.tensor([0.1, 0.25, 0.69, 0.71, 0.95])
    exact = torch.nn.functional.one_hot(step_buckets(u, cum), 3).float()
    assert step_buckets(u, cum).tolist() == [0, 1, 1, 2, 2]
    soft = smoothed_onehot(u, cum, tau=1e-4)
    torch.testing.assert_close(soft, exact, atol=1e-3, rtol=0)


def test_gradient_reaches_alpha_and_learns_masses() -> None:
    prior = AdditivePrior(3, dim=6, learnable=True, temperature=0.02)
    z, y, _ = prior.rsample(512, torch.Generator().manual_seed(0))
    (y.mean(0) * torch.tensor([1.0, 0.0, -1.0])).sum().backward()
    assert prior.alpha.grad is not None and torch.isfinite(prior.alpha.grad).all()
    assert prior.alpha.grad.abs().sum() > 0
    # the authors' prior step: KL(target || batch mean of relaxed one-hots), only alpha trains
    target = torch.tensor([0.7, 0.2, 0.1])
    opt = torch.optim.Adam([prior.alpha], lr=0.05)
    rng = torch.Generator().manual_seed(1)
    for _ in range(400):
        _, y, _ = prior.rsample(512, rng)
        p = y.mean(0).clamp_min(1e-6)
        loss = (target * (target.log() - p.log())).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(prior.mode_weights().detach().numpy(), target.numpy(), atol=0.03)


def test_modes_are_disjoint() -> None:
    prior = AdditivePrior(5, dim=10, noise=0.3, weights=[0.4, 0.3, 0.1, 0.1, 0.1])
    z, modes = prior.sample(5000, torch.Generator().manual_seed(0))
    assert torch.equal(prior.mode_of(z), modes)
    onehot_part = prior.split(z)[1]
    # in its own coordinate a mode lives in [0.7, 1.3], every other mode in [-0.3, 0.3]
    for k in range(5):
        own, other = onehot_part[modes == k, k], onehot_part[modes != k, k]
        assert own.min() > other.max()
    with pytest.raises(GanclusterError, match="disjoint"):
        AdditivePrior(3, dim=6, noise=0.5)


# ---- the estimator --------------------------------------------------------------------------------
def small(**kw) -> NEMGAN:
    params = dict(n_clusters=2, max_steps=40, batch_size=32, random_state=0, latent_dim=8)
    if kw.get("multimodal", True) and kw.get("inverter", True):
        params["warmup_steps"] = 10  # the recipe's 300 would leave no GAN steps in this budget
    params.update(kw)
    return NEMGAN(**params)


def test_fit_predict_sample_save_load(tmp_path) -> None:
    X, _ = two_blobs(300)
    est = small(priors=[0.8, 0.2])
    assert est.fit(X) is est
    assert est.labels_.shape == (300,)
    np.testing.assert_allclose(est.priors_, [0.8, 0.2], atol=1e-6)
    assert est.transform(X[:5]).shape == (5, 8)
    proba = est.predict_proba(X[:7])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    Xs, ks = est.sample(20, cluster=1, random_state=0)
    assert Xs.shape == (20, 2) and set(ks.tolist()) == {1}
    path = est.save(tmp_path / "m.safetensors")
    again = load(path, device="cpu")
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    np.testing.assert_allclose(again.priors_, est.priors_, atol=1e-6)


def test_images_use_the_real_data_recipe() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 8, 8)).astype(np.float32)
    est = NEMGAN(n_clusters=2, max_steps=6, warmup_steps=3, batch_size=16, random_state=0, latent_dim=8).fit(X)
    assert est.method_.settings.real_agreement > 0 and est.method_.settings.beta_z == 10.0
    assert est.sample(4)[0].shape == (4, 1, 8, 8)


def test_best_recipe_gives_images_the_clustergan_gan_settings() -> None:
    """Hinge, 2 critic steps, spectral norm and unit-scale noise on images; vectors and faithful keep theirs.

    With the NS loss and one critic step the lean generator drew non-digits on MNIST-5 (BENCHMARKS.md,
    NEMGAN Table I), which a judge classifier still labelled.
    """
    images = NEMGAN(n_clusters=2).settings((1, 28, 28))
    assert (images.loss, images.n_critic, images.standardize_noise, images.net.d_spectral_norm) == ("hinge", 2, True, True)
    vectors = NEMGAN(n_clusters=2).settings((2,))
    assert (vectors.loss, vectors.n_critic, vectors.standardize_noise) == ("ns", 1, False)
    faithful = NEMGAN(n_clusters=2, recipe="faithful").settings((1, 28, 28))
    assert (faithful.loss, faithful.standardize_noise) == ("wgan-gp", False)
    X = np.random.default_rng(0).random((32, 1, 28, 28), dtype=np.float32)
    est = NEMGAN(n_clusters=2, max_steps=3, warmup_steps=1, batch_size=8, random_state=0, device="cpu").fit(X)
    G = est.method_.generator_net
    noise_coords = est.method_.settings.latent_dim - 2
    torch.testing.assert_close(G.scale[:noise_coords], torch.full((noise_coords,), 3**0.5 / 0.3))
    torch.testing.assert_close(G.scale[noise_coords:], torch.ones(2))  # the one-hot keeps its scale


def test_image_files_pin_the_gan_settings_and_files_from_before_load_with_the_old_ones(tmp_path) -> None:
    from gancluster.checkpoint import load_file, save_file

    X = np.random.default_rng(0).random((32, 1, 28, 28), dtype=np.float32)
    tiny = dict(n_clusters=2, max_steps=3, warmup_steps=1, batch_size=8, random_state=0, device="cpu")
    loaded = load(NEMGAN(**tiny).fit(X).save(tmp_path / "now.safetensors"), device="cpu")
    assert {k: loaded.get_params()[k] for k in ("loss", "n_critic", "standardize_noise", "d_spectral_norm")} == {
        "loss": "hinge", "n_critic": 2, "standardize_noise": True, "d_spectral_norm": True}
    old = dict(loss="ns", n_critic=1, standardize_noise=False, d_spectral_norm=False)
    then = NEMGAN(**tiny, **old).fit(X)
    tensors, meta = load_file(then.save(tmp_path / "then.safetensors"))
    meta["estimator"]["pinned"] = 2  # the version before NEMGAN's settings were pinned
    meta["estimator"]["params"].update(dict.fromkeys(old))
    save_file(tmp_path / "then.safetensors", tensors, meta)
    back = load(tmp_path / "then.safetensors", device="cpu")
    assert {k: back.get_params()[k] for k in old} == old
    np.testing.assert_allclose(back.sample(4, random_state=1)[0], then.sample(4, random_state=1)[0], atol=1e-6)


def test_vector_files_from_before_the_real_data_path_load_with_the_paper_path(tmp_path) -> None:
    """Until pinning 5 the best recipe on vectors had no warm-up, hence no extra cluster heads."""
    from gancluster.checkpoint import load_file, save_file

    X, _ = two_blobs(200)
    tiny = dict(n_clusters=2, max_steps=3, batch_size=8, random_state=0, device="cpu")
    now = load(NEMGAN(**tiny).fit(X).save(tmp_path / "now.safetensors"), device="cpu")
    assert (now.warmup_steps, now.fake_cluster_to_inverter) == (300, 0.0)  # pinned
    old = dict(real_agreement=0.0, real_prior_match=0.0, warmup_steps=0, fake_cluster_to_inverter=1.0)
    then = NEMGAN(**tiny, **old).fit(X)
    tensors, meta = load_file(then.save(tmp_path / "then.safetensors"))
    meta["estimator"]["pinned"] = 4  # the newest version before the real-data path
    meta["estimator"]["params"].update(dict.fromkeys(old))
    save_file(tmp_path / "then.safetensors", tensors, meta)
    back = load(tmp_path / "then.safetensors", device="cpu")
    assert {k: back.get_params()[k] for k in old} == old
    np.testing.assert_array_equal(back.predict(X), then.predict(X))


def test_priors_cluster_imbalanced_blobs() -> None:
    X, y = two_blobs(1000)
    est = NEMGAN(n_clusters=2, priors=[0.8, 0.2], max_steps=1000, batch_size=64, random_state=0)
    pred = est.fit_predict(X)
    assert cluster_acc(y, pred) > 0.95
    # generated samples: each mode lands on its own blob, with the prior's share (C3)
    gen, modes = est.sample(2000, random_state=1)
    judged = (gen[:, 0] > 0).astype(int)
    scores = generation_scores(modes, judged, [0.8, 0.2])
    assert scores["tv"] < 0.05 and scores["mode_acc"] > 0.95


def test_prior_learning_recovers_imbalance() -> None:
    X, y = two_blobs(2000, weights=(0.75, 0.25), seed=1)
    y_semi = np.full(len(y), -1)
    y_semi[:40] = y[:40]  # 2% labelled
    true = np.bincount(y) / len(y)
    # the prior-learning phase alone: h on the labelled few, alpha following E[h(x)] (eq. 5)
    est = NEMGAN(n_clusters=2, learn_priors=True, max_steps=300, warmup_steps=300, real_agreement=1.0,
                 real_prior_match=5.0, batch_size=64, random_state=0)
    est.fit(X, y_semi)
    assert est.n_labeled_ == 40
    assert prior_error(est.priors_, true) < 0.02
    assert cluster_acc(y, est.labels_) > 0.97


def test_label_fraction_keeps_a_share_of_labels() -> None:
    X, y = two_blobs(400)
    est = small(learn_priors=True, label_fraction=0.1).fit(X, y)
    assert est.n_labeled_ == 40


# ---- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("priors, match", [
    ([0.5, 0.6], "sum to 1"),
    ([1.2, -0.2], "non-negative"),
    ([0.2, 0.3, 0.5], "one prior per cluster"),
])
def test_bad_priors(priors, match) -> None:
    X, _ = two_blobs(100)
    with pytest.raises(GanclusterError, match=match):
        small(priors=priors).fit(X)


def test_bad_labels_leave_nothing_written(tmp_path) -> None:
    X, y = two_blobs(200)
    run = tmp_path / "run"
    few = np.full(200, -1)
    few[0] = y[0]
    with pytest.raises(GanclusterError, match="at least one sample per cluster"):
        small(learn_priors=True).fit(X, few, run_dir=run)
    outside = y.copy()
    outside[3] = 2
    with pytest.raises(GanclusterError, match="outside the cluster range"):
        small(learn_priors=True).fit(X, outside, run_dir=run)
    one_class = np.where(y == 0, 0, -1)
    with pytest.raises(GanclusterError, match="no labelled sample of cluster"):
        small(learn_priors=True).fit(X, one_class, run_dir=run)
    with pytest.raises(GanclusterError, match="needs labels"):
        small(learn_priors=True).fit(X, run_dir=run)
    with pytest.raises(GanclusterError, match="one entry per sample"):
        small(learn_priors=True).fit(X, y[:10], run_dir=run)
    with pytest.raises(GanclusterError, match="label_fraction"):
        small(learn_priors=True, label_fraction=0.0).fit(X, y, run_dir=run)
    assert not run.exists()


def test_variant_settings_are_checked() -> None:
    X, _ = two_blobs(100)
    with pytest.raises(GanclusterError, match="assign='kmeans'"):
        small(multimodal=False).fit(X)
    with pytest.raises(GanclusterError, match="C1 and C2"):
        small(learn_priors=True, inverter=False).fit(X, np.zeros(100, int))
    with pytest.raises(GanclusterError, match="1 mode"):
        small(multimodal=False, inverter=False).fit(X).sample(3, cluster=1)
    with pytest.raises(GanclusterError, match="real_spectral must be >= 0"):
        small(real_spectral=-1.0).fit(X)


def test_every_table1_variant_fits_and_predicts() -> None:
    X, _ = two_blobs(200)
    for key, variant in VARIANTS.items():
        est = small(max_steps=10, **variant.params([0.8, 0.2])).fit(X)
        pred = est.predict(X)
        assert pred.shape == (200,) and pred.min() >= 0 and pred.max() < 2, key
        if not variant.multimodal and not variant.inverter:  # a WGAN: one cluster
            assert len(set(pred.tolist())) == 1


# ---- the C3 metric ----------------------------------------------------------------------------------
def test_generation_scores() -> None:
    modes = np.array([0] * 80 + [1] * 20)
    judged = modes.copy()
    s = generation_scores(modes, judged, [0.8, 0.2])
    assert s["tv"] == pytest.approx(0.0) and s["mode_acc"] == 1.0
    assert share_tv(np.zeros(100, int), [0.8, 0.2]) == pytest.approx(0.2)
    with pytest.raises(GanclusterError):
        generation_scores(modes, judged[:5], [0.8, 0.2])


def test_summary_and_ordering() -> None:
    rows = [dict(dataset="d", variant=v, seed=s, seconds=1.0, acc=a, nmi=a, ari=a)
            for v, a in [("C1C2C3", 0.9), ("C1C2", 0.7), ("none", 0.6)] for s in (0, 1)]
    summary = summarise(rows)
    assert {e["variant"]: e["acc"][0] for e in summary} == {"C1C2C3": 0.9, "C1C2": 0.7, "none": 0.6}
    assert ordering_holds(summary) == {"d": True}


def test_conditional_critic_learns_cluster_embeddings_and_round_trips(tmp_path) -> None:
    X, _ = two_blobs(300)
    est = small(priors=[0.8, 0.2], conditional_critic=True).fit(X)
    embedding = est.method_.critic_embedding.weight.detach().clone()
    assert embedding.abs().sum() > 0  # starts at zero: the critic steps moved it
    again = load(est.save(tmp_path / "m.safetensors"), device="cpu")
    torch.testing.assert_close(again.method_.critic_embedding.weight, embedding)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize("params, match", [
    (dict(conditional_critic=True, multimodal=False, assign="kmeans"), "conditional_critic=True needs"),
    (dict(conditional_critic=True, loss="wgan-gp"), "no gradient penalty"),
])
def test_conditional_critic_settings_are_checked(params, match) -> None:
    with pytest.raises(GanclusterError, match=match):
        small(**params).fit(two_blobs(100)[0])


def test_inverter_arch_gives_h_its_own_widths_and_round_trips(tmp_path) -> None:
    X = np.random.default_rng(0).random((48, 1, 28, 28)).astype(np.float32)
    est = NEMGAN(n_clusters=2, max_steps=3, warmup_steps=1, batch_size=16, random_state=0,
                 inverter_arch="conv28-wide").fit(X)
    h_conv = est.method_.inverter.body[0]
    d_conv = [m for m in est.method_.discriminator.modules() if isinstance(m, torch.nn.Conv2d)][0]
    assert h_conv.out_channels == 128 and d_conv.out_channels == 32  # G and D stay lean
    again = load(est.save(tmp_path / "m.safetensors"), device="cpu")
    assert again.method_.inverter.body[0].out_channels == 128
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize("arch, match", [("conv29", "inverter_arch must be None or one of"),
                                         ("conv28-wide", "needs 28x28 images")])
def test_bad_inverter_arch_is_refused(arch, match) -> None:
    with pytest.raises(GanclusterError, match=match):
        small(inverter_arch=arch).fit(two_blobs(100)[0])
