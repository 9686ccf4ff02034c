"""The scikit-learn style estimator: behaviour on small data, persistence, resume, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import gancluster
from gancluster import ClusterGAN
from gancluster.errors import CheckpointError, GanclusterError
from gancluster.metrics import cluster_acc


def blobs(n: int = 600, seed: int = 0, weights=(1 / 3, 1 / 3, 1 / 3)) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated 2-D Gaussians."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])
    y = rng.choice(3, size=n, p=weights)
    return (centres[y] + 0.4 * rng.standard_normal((n, 2))).astype(np.float32), y


def small(**kw) -> ClusterGAN:
    params = dict(n_clusters=3, max_steps=60, batch_size=32, random_state=0, latent_dim=4)
    params.update(kw)
    return ClusterGAN(**params)


def test_init_only_stores_parameters() -> None:
    est = ClusterGAN(n_clusters=1, priors=[1.0], recipe="nonsense")  # invalid, but not checked yet
    assert est.get_params()["n_clusters"] == 1
    assert not hasattr(est, "method_")


def test_fit_returns_self_and_sets_fitted_attributes() -> None:
    X, _ = blobs(200)
    est = small()
    assert est.fit(X) is est
    assert est.labels_.shape == (200,)
    assert set(np.unique(est.labels_)) <= {0, 1, 2}
    assert est.n_features_in_ == 2
    assert est.n_iter_ == 60
    np.testing.assert_allclose(est.priors_, [1 / 3] * 3, atol=1e-6)
    assert est.transform(X[:5]).shape == (5, 4 + 3)
    proba = est.predict_proba(X[:7])
    assert proba.shape == (7, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)


def test_clusters_separated_blobs() -> None:
    X, y = blobs(900)
    est = small(max_steps=400, batch_size=64)
    pred = est.fit_predict(X)
    assert cluster_acc(y, pred) > 0.9
    # the same model predicts fresh data from the same blobs
    X2, y2 = blobs(300, seed=1)
    assert cluster_acc(y2, est.predict(X2)) > 0.9


def test_sample_returns_data_space_and_cluster_ids() -> None:
    X, _ = blobs(200)
    est = small().fit(X)
    Xs, ks = est.sample(50, random_state=3)
    assert Xs.shape == (50, 2) and ks.shape == (50,)
    Xc, kc = est.sample(20, cluster=2, random_state=3)
    assert (kc == 2).all()
    # samples come back in the data's units (the estimator standardises internally)
    assert abs(Xs.mean() - X.mean()) < 3 * X.std()
    a, _ = est.sample(10, random_state=7)
    b, _ = est.sample(10, random_state=7)
    np.testing.assert_array_equal(a, b)


def test_non_uniform_priors_shape_generated_shares() -> None:
    X, _ = blobs(200)
    est = small(priors=[0.8, 0.1, 0.1]).fit(X)
    _, ks = est.sample(4000, random_state=0)
    shares = np.bincount(ks, minlength=3) / 4000
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.03)


def test_fixed_seed_is_deterministic_on_cpu() -> None:
    X, _ = blobs(200)
    a = small(max_steps=30).fit(X)
    b = small(max_steps=30).fit(X)
    for (name, pa), (_, pb) in zip(a.method_.state_dict().items(), b.method_.state_dict().items()):
        assert torch.equal(pa, pb), name


def test_save_and_load_round_trip(tmp_path) -> None:
    X, _ = blobs(200)
    est = small(assign="kmeans").fit(X)
    path = est.save(tmp_path / "model.safetensors")
    loaded = gancluster.load(path, device="cpu")
    assert type(loaded) is ClusterGAN
    # parameters left to the recipe that shape the networks come back resolved (pinned in the file)
    pinned = {"loss": "hinge", "n_critic": 2, "standardize_noise": True, "d_spectral_norm": True}
    assert loaded.get_params() == {**est.get_params(), **pinned, "device": "cpu"}
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_allclose(loaded.transform(X[:9]), est.transform(X[:9]), atol=1e-6)
    np.testing.assert_array_equal(loaded.sample(5, random_state=1)[0], est.sample(5, random_state=1)[0])


def test_a_file_from_before_pinning_loads_with_the_defaults_of_its_time(tmp_path) -> None:
    """Files written before the best recipe's GAN settings changed left them at None in their params."""
    from gancluster.checkpoint import load_file, save_file

    X, _ = blobs(200)
    old = dict(loss="ns", n_critic=1, standardize_noise=False, d_spectral_norm=False)
    est = small(max_steps=20, **old).fit(X)
    tensors, meta = load_file(est.save(tmp_path / "now.safetensors"))
    info = meta["estimator"]
    del info["pinned"]
    info["params"].update(dict.fromkeys(old))
    save_file(tmp_path / "then.safetensors", tensors, meta)
    loaded = gancluster.load(tmp_path / "then.safetensors", device="cpu")
    assert {k: loaded.get_params()[k] for k in old} == old
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_standardized_noise_reaches_the_generator_at_unit_scale_and_survives_save(tmp_path) -> None:
    X, _ = blobs(200)
    est = small(max_steps=20, standardize_noise=True, sigma=0.1).fit(X)
    G = est.method_.generator_net
    assert isinstance(G, gancluster.nets.ScaledInput)
    torch.testing.assert_close(G.scale, torch.tensor([10.0] * 4 + [1.0] * 3))
    z = torch.randn(5, 7)
    with torch.no_grad():
        torch.testing.assert_close(G.eval()(z), G.net(z * G.scale))
    loaded = gancluster.load(est.save(tmp_path / "model.safetensors"), device="cpu")
    assert loaded.get_params()["standardize_noise"] is True
    np.testing.assert_allclose(loaded.sample(5, random_state=1)[0], est.sample(5, random_state=1)[0], rtol=1e-5)
    off = small(max_steps=2, standardize_noise=False).fit(X).method_.generator_net
    assert not isinstance(off, gancluster.nets.ScaledInput)


@pytest.mark.parametrize("images", [False, True])
def test_a_training_checkpoint_loads_as_a_model(tmp_path, images: bool) -> None:
    """``gancluster.load`` reads the run folder's checkpoint too (data shape and standardisation inside)."""
    if images:
        X = np.random.default_rng(0).random((60, 1, 8, 8)).astype(np.float32)
    else:
        X, _ = blobs(200)
        X = X * 50 + 7  # far from standardised, so a lost standardisation would show
    est = small(max_steps=10).fit(X, run_dir=tmp_path)
    loaded = gancluster.load(tmp_path / "checkpoint.safetensors", device="cpu")
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_allclose(loaded.sample(5, random_state=1)[0], est.sample(5, random_state=1)[0], rtol=1e-5)


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path) -> None:
    # a warm-up short enough that neither budget cuts it (a cut depends on the budget: a run resumed
    # with a larger one keeps its first leg's), so both legs hold warm-up and GAN steps
    X, _ = blobs(200)
    whole = small(max_steps=40, warmup_steps=8).fit(X)
    small(max_steps=20, warmup_steps=8).fit(X, run_dir=tmp_path)
    resumed = small(max_steps=40, warmup_steps=8).fit(X, run_dir=tmp_path, resume=True)
    assert resumed.n_iter_ == 40
    for (name, pa), (_, pb) in zip(whole.method_.state_dict().items(), resumed.method_.state_dict().items()):
        assert torch.equal(pa, pb), name


def test_images_are_accepted_in_three_layouts() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.random((64, 8, 8), dtype=np.float32)
    est = small(max_steps=5).fit(imgs)
    assert est.data_shape_ == (1, 8, 8)
    assert est.predict(imgs[:, None]).shape == (64,)
    as_uint8 = (imgs * 255).astype(np.uint8)
    assert est.predict(as_uint8).shape == (64,)
    assert est.sample(4)[0].shape == (4, 1, 8, 8)


@pytest.mark.parametrize(
    "kwargs, X, words",
    [
        (dict(n_clusters=1), None, "n_clusters must be >= 2"),
        (dict(n_clusters=2.5), None, "n_clusters must be an integer"),
        (dict(n_clusters=50), None, "need at least n_clusters samples"),
        (dict(priors=[0.5, 0.5]), None, "priors has 2 values but n_clusters=3"),
        (dict(priors=[0.5, 0.4, 0.3]), None, "priors must sum to 1"),
        (dict(priors=[0.5, 0.5, 0.0]), None, "priors must be positive"),
        (dict(recipe="fast"), None, "recipe must be one of"),
        (dict(max_seconds=-1), None, "max_seconds must be > 0"),
        (dict(device="tpu"), None, "device"),
        (dict(loss="l2"), None, "loss must be"),
        ({}, np.array([[0.0, np.nan]] * 10, dtype=np.float32), "NaN"),
        ({}, np.array([[0.0, np.inf]] * 10, dtype=np.float32), "infinity"),
        ({}, np.zeros((4, 1, 2, 2, 2, 2), dtype=np.float32), "dimensions"),
        ({}, np.full((10, 1, 4, 4), 3.0, dtype=np.float32), "[0, 1]"),
    ],
)
def test_bad_input_names_the_problem(kwargs, X, words) -> None:
    X = blobs(30)[0] if X is None else X
    with pytest.raises(GanclusterError) as info:
        small(**kwargs).fit(X)
    assert words.lower() in str(info.value).lower()


def test_predict_before_fit_raises_not_fitted() -> None:
    X, _ = blobs(10)
    for call in (lambda e: e.predict(X), lambda e: e.predict_proba(X), lambda e: e.transform(X), lambda e: e.sample(3)):
        with pytest.raises(NotFittedError):
            call(small())


def test_predict_checks_feature_count() -> None:
    X, _ = blobs(100)
    est = small(max_steps=5).fit(X)
    with pytest.raises(GanclusterError, match="features"):
        est.predict(np.zeros((3, 5), dtype=np.float32))


def test_sample_argument_errors() -> None:
    X, _ = blobs(100)
    est = small(max_steps=5).fit(X)
    with pytest.raises(GanclusterError, match="cluster must be"):
        est.sample(3, cluster=3)
    with pytest.raises(GanclusterError, match="n_samples"):
        est.sample(0)


def test_load_refuses_foreign_and_corrupt_files(tmp_path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="does not exist"):
        gancluster.load(missing)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a readable gancluster checkpoint"):
        gancluster.load(garbage)
    X, _ = blobs(100)
    good = small(max_steps=5).fit(X).save(tmp_path / "m.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        gancluster.load(truncated)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a gancluster checkpoint"):
        gancluster.load(foreign)


def test_load_never_unpickles(tmp_path) -> None:
    """A pickle with a payload under a checkpoint's name is refused and its payload never runs."""
    import pickle

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        gancluster.load(bad)
    assert not marker.exists()


def test_pickle_round_trip_with_a_spectral_normalised_critic() -> None:
    """torch cannot pickle spectral-normalised modules; the estimator pickles its weights instead."""
    import pickle

    X, _ = blobs(200)
    est = small(max_steps=20).fit(X)
    assert est.settings().net.d_spectral_norm  # the best recipe's critic is spectral-normalised
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    copy = pickle.loads(pickle.dumps(est))
    assert torch.equal(torch.rand(3), before)  # unpickling leaves the global RNG alone
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))
    np.testing.assert_array_equal(copy.sample(5, random_state=1)[0], est.sample(5, random_state=1)[0])
