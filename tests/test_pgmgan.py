"""PGMGAN: Lipschitz layers, the guide, the lambda schedule, conditional nets, the partitioner, the estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

import gancluster
from gancluster.errors import CheckpointError, DataNotFoundError, GanclusterError
from gancluster.nets_conditional import build_conditional_gan
from gancluster.partition import (
    LambdaSchedule,
    ScanSettings,
    build_partitioner,
    guide,
    lipschitz_layers,
    neighbour_graph,
    operator_norm,
    partition_logits,
    refresh_spectral_norms,
    train_partitioner,
)
from gancluster.partition.io import load_partitioner, save_partitioner
from gancluster.pgmgan import PGMGAN


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


CENTRES = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    return (CENTRES[y] + 0.3 * rng.standard_normal((n, 2))).astype(np.float32), y


def small(**kw) -> PGMGAN:
    params = dict(n_clusters=3, max_steps=30, batch_size=32, random_state=0, device="cpu", latent_dim=8,
                  scan_steps=150, kmeans_init_steps=50, n_critic=1)
    params.update(kw)
    return PGMGAN(**params)


# ---- Lipschitz layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_every_lipschitz_layer_has_operator_norm_at_most_coeff(shape) -> None:
    torch.manual_seed(0)
    p = build_partitioner("iresnet", shape, 4, depth=1, widths=(8,), hidden=16)
    layers = list(lipschitz_layers(p))
    assert layers, "the i-ResNet partitioner must contain spectrally normalised layers"
    with torch.no_grad():
        for layer in layers:
            layer.weight.mul_(5.0)  # far above 1, so the normalisation has to act
    refresh_spectral_norms(p, 50)
    p.eval()
    norms = [operator_norm(layer, 200) for layer in layers]
    assert max(norms) <= 0.9 * 1.02, norms
    assert min(norms) >= 0.9 * 0.9, "weights scaled up should be normalised to about coeff, not far below"


def test_power_iterations_in_training_mode_track_the_weight() -> None:
    torch.manual_seed(1)
    p = build_partitioner("iresnet", (3,), 2, depth=2, hidden=8)
    p.train()
    with torch.no_grad():
        for layer in lipschitz_layers(p):
            layer.weight.mul_(3.0)
    x = torch.randn(16, 3)
    for _ in range(20):  # 5 power iterations per forward
        p(x)
    p.eval()
    assert max(operator_norm(layer, 200) for layer in lipschitz_layers(p)) <= 0.9 * 1.02


def test_plain_mlp_partitioner_has_no_lipschitz_layers_and_wrong_shapes_fail() -> None:
    assert not list(lipschitz_layers(build_partitioner("mlp", (2,), 3)))
    p = build_partitioner("iresnet", (2,), 3)
    with pytest.raises(GanclusterError, match="shape"):
        p(torch.randn(4, 5))
    with pytest.raises(GanclusterError, match="iresnet"):
        build_partitioner("mlp", (1, 28, 28), 3)


# ---- guide and schedule ------------------------------------------------------------------------------
def test_guide_is_zero_exactly_on_the_own_partition() -> None:
    torch.manual_seed(0)
    logits = torch.randn(200, 5)
    for i in range(5):
        target = torch.full((200,), i)
        r = guide(logits, target)
        own = logits.argmax(1) == i
        assert torch.all(r[own] == 0)
        assert torch.all(r[~own] > 0)
        torch.testing.assert_close(guide(logits, target, "mean") * 5, r)
    tie = torch.tensor([[1.0, 1.0, 0.0]])
    assert float(guide(tie, torch.tensor([1]))) == 0.0
    assert float(guide(torch.tensor([[3.0, 1.0, 0.0]]), torch.tensor([2]))) == pytest.approx(4.0)


def test_guide_gradient_points_into_the_partition() -> None:
    logits_fn = nn.Linear(2, 3)
    x = torch.tensor([[2.0, -1.0]], requires_grad=True)
    target = torch.tensor([0])
    with torch.no_grad():
        logits_fn.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
        logits_fn.bias.zero_()
    # x is in partition 0 already: no gradient
    guide(logits_fn(x), target).sum().backward()
    assert torch.all(x.grad == 0)
    x.grad = None
    guide(logits_fn(x), torch.tensor([1])).sum().backward()
    assert x.grad[0, 1] < 0  # descending R_1 increases x_1, towards partition 1


def test_lambda_schedule_is_linear_and_clamped() -> None:
    s = LambdaSchedule(6.0, 1e-4, 100)
    assert s(0) == 6.0
    assert s(50) == pytest.approx((6.0 + 1e-4) / 2)
    assert s(100) == pytest.approx(1e-4)
    assert s(1000) == pytest.approx(1e-4)
    values = [s(t) for t in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    with pytest.raises(GanclusterError, match="lambda"):
        LambdaSchedule(-1.0, 0.0, 10).validate()


# ---- conditional nets --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, hidden", [((2,), 0), ((3, 28, 28), 0), ((3, 28, 28), 32), ((1, 28, 28), 0)])
def test_conditional_nets_shapes(shape, hidden) -> None:
    G, D = build_conditional_gan(shape, 7, 16, conv_hidden=hidden)
    z, y = torch.randn(5, 16), torch.tensor([0, 1, 6, 6, 2])
    x = G(z, y)
    assert x.shape == (5, *shape)
    assert D(x, y).shape == (5,)
    if len(shape) == 3:
        assert float(x.detach().min()) >= 0 and float(x.detach().max()) <= 1
    # the partition changes the output of both nets (per-partition embeddings)
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "gain") and isinstance(m.gain, nn.Embedding):
                m.gain.weight.normal_(1.0, 0.5)
    G.eval()
    assert not torch.allclose(G(z, torch.zeros(5, dtype=torch.long)), G(z, torch.ones(5, dtype=torch.long)))


def test_best_recipe_gives_28x28_images_the_clustergan_gan_settings_with_one_critic_step() -> None:
    image = PGMGAN(recipe="best").settings((3, 28, 28))
    assert (image.betas, image.n_critic, image.lr_decay, image.latent_dim) == ((0.5, 0.9), 1, False, 40)
    assert image.conv_hidden == 256 and image.guide_reduction == "mean"
    G, _ = build_conditional_gan((3, 28, 28), 4, image.latent_dim, conv_hidden=image.conv_hidden)
    assert G.hidden is not None and G.hidden.out_features == 256
    # vectors and the faithful recipe keep the paper's settings
    assert PGMGAN(recipe="best").settings((2,)).conv_hidden == 0
    faithful = PGMGAN(recipe="faithful").settings((3, 28, 28))
    assert (faithful.conv_hidden, faithful.guide_reduction, faithful.n_critic) == (0, "sum", 4)


# ---- partitioner training --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["iresnet", "mlp"])
def test_eq5_partitioner_separates_blobs(kind) -> None:
    torch.manual_seed(0)
    X, y = blobs(450)
    x = torch.from_numpy((X - X.mean(0)) / X.std(0))
    p = build_partitioner(kind, (2,), 3, depth=2, hidden=32)
    nb = neighbour_graph(x, 10)
    train_partitioner(p, x, nb, ScanSettings(steps=300, lr=1e-2, batch_size=128), torch.Generator().manual_seed(0),
                      torch.full((3,), 1 / 3))
    pred = partition_logits(p, x).argmax(1).numpy()
    assert normalized_mutual_info_score(y, pred) > 0.95


def test_partitioner_file_round_trip_and_mismatch(tmp_path) -> None:
    p = build_partitioner("iresnet", (2,), 3, depth=1)
    path = save_partitioner(p, tmp_path / "p.safetensors")
    q = build_partitioner("iresnet", (2,), 3, depth=1)
    load_partitioner(q, path)
    x = torch.randn(10, 2)
    p.eval(), q.eval()
    torch.testing.assert_close(p(x), q(x))
    with pytest.raises(CheckpointError, match="shape"):
        load_partitioner(build_partitioner("iresnet", (3,), 3, depth=1), path)
    with pytest.raises(CheckpointError, match="partitions"):
        load_partitioner(build_partitioner("iresnet", (2,), 4, depth=1), path)


# ---- the estimator -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    X, y = blobs()
    return small().fit(X), X, y


def test_estimator_fit_predict_sample(fitted) -> None:
    est, X, y = fitted
    assert est.labels_.shape == (X.shape[0],)
    assert normalized_mutual_info_score(y, est.predict(X)) > 0.95
    assert est.predict_proba(X).shape == (X.shape[0], 3)
    assert est.transform(X).shape[0] == X.shape[0]
    freq = est.partition_frequencies_
    np.testing.assert_allclose(freq, np.bincount(est.labels_, minlength=3) / X.shape[0], atol=1e-6)
    Xs, ks = est.sample(40, random_state=0)
    assert Xs.shape == (40, 2) and ks.shape == (40,)
    Xc, kc = est.sample(10, cluster=2, random_state=0)
    assert np.all(kc == 2)
    assert any(k.startswith("partitioner.") for k in est.method_.state_dict())
    assert "prior.weights" in est.method_.state_dict()


def test_save_load_keeps_partitioner_frequencies_and_samples(fitted, tmp_path) -> None:
    est, X, _ = fitted
    path = est.save(tmp_path / "m.safetensors")
    back = gancluster.estimator.load(path, device="cpu")
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_allclose(back.partition_frequencies_, est.partition_frequencies_)
    a, ka = est.sample(30, random_state=3)
    b, kb = back.sample(30, random_state=3)
    np.testing.assert_array_equal(ka, kb)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_28x28_files_pin_the_recipe_and_files_from_before_load_with_the_old_one(tmp_path) -> None:
    """The 28x28 recipe changed on 2026-11-30; a file from before left its settings at None."""
    from gancluster.checkpoint import load_file, save_file

    X = np.random.default_rng(0).random((16, 1, 28, 28), dtype=np.float32)
    tiny = dict(n_clusters=2, partitions="none", max_steps=2, batch_size=8, random_state=0, device="cpu")
    now = PGMGAN(**tiny).fit(X)
    loaded = gancluster.load(now.save(tmp_path / "now.safetensors"), device="cpu")
    assert {k: loaded.get_params()[k] for k in ("latent_dim", "net_hidden", "n_critic")} == {
        "latent_dim": 40, "net_hidden": 256, "n_critic": 1}
    old = dict(latent_dim=128, n_critic=1, lr_decay=True, guide_reduction="sum", net_hidden=0)
    then = PGMGAN(**tiny, **old).fit(X)
    tensors, meta = load_file(then.save(tmp_path / "then.safetensors"))
    meta["estimator"]["pinned"] = True  # the first pinning version
    meta["estimator"]["params"].update(dict.fromkeys(old))
    save_file(tmp_path / "then.safetensors", tensors, meta)
    back = gancluster.load(tmp_path / "then.safetensors", device="cpu")
    assert {k: back.get_params()[k] for k in old} == old
    np.testing.assert_allclose(back.sample(4, random_state=1)[0], then.sample(4, random_state=1)[0], atol=1e-6)


class _Spread(nn.Module):
    """A stand-in generator that ignores the partition and spreads samples over the whole plane."""

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 3.0 * z[:, :2]


def test_rejection_sampling_returns_samples_in_their_partition(fitted) -> None:
    est, _, _ = fitted
    method = est.method_
    real_g, average = method.generator_net, method.generator_ema
    try:
        method.generator_net, method.generator_ema = _Spread(), None
        rng = torch.Generator().manual_seed(0)
        x, k = method.generate(300, rng)
        first = method.last_accept_rate
        assert first < 0.8  # the stand-in lands in the right partition only by chance
        assert torch.equal(method.partitioner(x).argmax(1), k)
        x0, k0 = method.generate(300, torch.Generator().manual_seed(0), max_redraws=0)
        assert (method.partitioner(x0).argmax(1) != k0).any()
    finally:
        method.generator_net, method.generator_ema = real_g, average


def test_weight_average_follows_the_net_with_a_ramped_decay() -> None:
    from gancluster.ema import WeightAverage

    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = WeightAverage(net, decay=0.9)
    start = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
        net[1].running_mean.fill_(5.0)
    ema.update(net)  # t = 0: decay min(0.9, 1 / 10) = 0.1
    np.testing.assert_allclose(ema.average[0].weight, 0.1 * start + 0.9 * (start + 1.0), rtol=1e-6)
    assert torch.equal(ema.average[1].running_mean, net[1].running_mean)
    for _ in range(200):
        ema.update(net)
    np.testing.assert_allclose(ema.average[0].weight, net[0].weight.detach(), atol=1e-6)
    assert not any(p.requires_grad for p in ema.average.parameters())
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(net, decay=1.0)


def test_ema_generator_is_trained_saved_and_sampled_from(tmp_path) -> None:
    X, _ = blobs()
    est = small(ema_decay=0.9, max_steps=20).fit(X)
    method = est.method_
    assert int(method.generator_ema.updates) == 20
    assert method.sampling_generator is method.generator_ema.average
    z, y = torch.randn(50, 8), torch.zeros(50, dtype=torch.long)
    with torch.no_grad():
        assert not torch.allclose(method.generator_ema.average(z, y), method.generator_net(z, y))
    x, _ = method.generate(50, torch.Generator().manual_seed(0), max_redraws=0)
    z0, k0 = method.prior.sample(50, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(x, method.generator_ema.average(z0, k0))
    back = gancluster.load(est.save(tmp_path / "ema.safetensors"), device="cpu")
    assert back.get_params()["ema_decay"] == 0.9
    np.testing.assert_allclose(back.sample(30, random_state=2)[0], est.sample(30, random_state=2)[0], atol=1e-5)
    assert small(max_steps=2).fit(X).method_.generator_ema is None  # off unless asked for
    with pytest.raises(GanclusterError, match="ema_decay"):
        small(ema_decay=1.0).fit(X)


def test_files_from_before_the_weight_average_load_without_it(tmp_path) -> None:
    """A file written before ema_decay existed has no such parameter and loads without a weight average."""
    from gancluster.checkpoint import load_file, save_file

    X, _ = blobs(100)
    then = small(max_steps=3).fit(X)
    tensors, meta = load_file(then.save(tmp_path / "then.safetensors"))
    meta["estimator"]["pinned"] = 3
    del meta["estimator"]["params"]["ema_decay"]
    save_file(tmp_path / "then.safetensors", tensors, meta)
    back = gancluster.load(tmp_path / "then.safetensors", device="cpu")
    assert back.method_.generator_ema is None
    np.testing.assert_allclose(back.sample(5, random_state=1)[0], then.sample(5, random_state=1)[0], atol=1e-6)


def test_partitioner_reuse_and_ablations(fitted, tmp_path) -> None:
    est, X, _ = fitted
    path = est.save_partitioner(tmp_path / "part.safetensors")
    reused = small(partitioner_path=str(path), max_steps=5).fit(X)
    np.testing.assert_array_equal(reused.labels_, est.labels_)
    gan = small(partitions="none", max_steps=5).fit(X)
    assert gan.method_.partitioner is None and np.all(gan.labels_ == 0)
    rnd = small(partitions="random", max_steps=5).fit(X)
    assert rnd.sample(20, random_state=0)[0].shape == (20, 2)
    with pytest.raises(CheckpointError, match="shape"):
        small(partitioner_path=str(path), max_steps=5).fit(np.random.default_rng(0).normal(size=(50, 3)))


def test_bad_input_is_refused_clearly() -> None:
    X, _ = blobs(20)
    with pytest.raises(GanclusterError, match="n_clusters"):
        small(n_clusters=25).fit(X)
    with pytest.raises(GanclusterError, match="lambda"):
        small(guide_weight=-1.0).fit(X)
    with pytest.raises(GanclusterError, match="partitions"):
        small(partitions="bogus").fit(X)


def test_stacked_mnist_experiment_runs_tiny_and_records_its_resolved_settings() -> None:
    """The function behind the benchmark and `gancluster reproduce pgmgan-stacked-mnist`, shrunk."""
    from gancluster.experiments.stacked_mnist import base_params, default_steps, run_stacked_mnist

    params = {**base_params(4, quick=True), "partition_subset": 120, "pretext_steps": 2, "scan_steps": 2,
              "batch_size": 16}
    lines: list[str] = []
    try:
        run, method = run_stacked_mnist(0, params=params, n_samples=120, minutes=5.0, steps=3, eval_every=None,
                                        eval_samples=100, final_samples=200, log=lines.append)
    except DataNotFoundError as exc:
        pytest.skip(f"MNIST not installed here: {exc}")
    assert run["steps"] == 3 and run["max_steps"] == 3 and run["n_critic"] == 1 and run["k"] == 4
    assert 1 <= run["final"]["modes"] <= 200 and run["final"]["kl"] >= 0 and len(run["final"]["channel_kl"]) == 3
    assert 0.0 <= run["nmi"] <= 1.0 and method.steps_done == 3
    assert any(line.startswith("seed 0: partitioner") for line in lines)
    assert default_steps(1) > default_steps(2)
