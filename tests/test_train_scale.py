"""Scale features of the training loop: memory-mapped data, deterministic mode, mixed precision, speed.

Small data, a few steps each: what is checked is the mechanism (the data stay on disk, two fits
agree bit for bit), not the quality of the clustering.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import gancluster.estimator as estimator_module
import gancluster.neighbours as neighbours_module
import gancluster.streaming as streaming_module
from gancluster import ClusterGAN, NEMGAN, load
from gancluster.cli import main
from gancluster.errors import GanclusterError
from gancluster.streaming import ArraySource

N = 240


def images_uint8(n: int = N, seed: int = 0) -> np.ndarray:
    """Three kinds of 8x8 uint8 images (bars, columns, a square)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 8, 8), dtype=np.uint8)
    kind = rng.integers(0, 3, n)
    out[kind == 0, 2:6, :] = 200
    out[kind == 1, :, 2:6] = 200
    out[kind == 2, 1:7, 1:7] = 120
    return np.clip(out.astype(int) + rng.integers(0, 40, out.shape), 0, 255).astype(np.uint8)


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.method_.state_dict().items()}


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def small(**kw) -> ClusterGAN:
    base = dict(n_clusters=3, batch_size=32, max_steps=12, random_state=0, device="cpu", latent_dim=4, warmup_steps=4)
    base.update(kw)
    return ClusterGAN(**base)


@pytest.fixture
def npy(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, images_uint8())
    return path


# ---- memory-mapped data ------------------------------------------------------------------------------


def test_memmap_is_streamed_in_batches_never_whole(npy, monkeypatch) -> None:
    """The trainer gets a source on disk; no conversion ever touches more rows than a chunk."""
    monkeypatch.setattr(streaming_module, "CHUNK_ROWS", 50)
    monkeypatch.setattr(neighbours_module, "PCA_FIT_ROWS", 64)
    monkeypatch.setattr(estimator_module, "_PREDICT_BATCH", 100)
    seen_data, rows_converted = [], []
    real_trainer, real_to_tensor = estimator_module.Trainer, ArraySource._to_tensor

    def spy_trainer(method, data, *args, **kwargs):
        seen_data.append(data)
        return real_trainer(method, data, *args, **kwargs)

    def spy_to_tensor(self, rows):
        rows_converted.append(len(rows))
        return real_to_tensor(self, rows)

    monkeypatch.setattr(estimator_module, "Trainer", spy_trainer)
    monkeypatch.setattr(ArraySource, "_to_tensor", spy_to_tensor)
    np.save(npy, images_uint8(600))
    X = np.load(npy, mmap_mode="r")
    model = small().fit(X)
    assert isinstance(seen_data[0], ArraySource) and seen_data[0].array is X
    # batches (32; 256 in the warm-up; 100 to predict), chunks (50), the PCA subsample (64); never all 600 rows
    assert rows_converted and max(rows_converted) <= 256
    assert model.labels_.shape == (600,)
    assert np.array_equal(model.predict(X), model.predict(np.asarray(X)))


def test_memmap_fit_equals_in_memory_fit(npy) -> None:
    """Without the k-NN graph (whose PCA is fitted on a subsample when streamed) both paths are one."""
    kw = dict(real_agreement=0.0, warmup_steps=0, real_prior_match=1.0)
    on_disk = small(**kw).fit(np.load(npy, mmap_mode="r"))
    in_memory = small(**kw).fit(np.load(npy))
    assert same_state(state(on_disk), state(in_memory))


def test_memmap_vectors_are_standardised_like_in_memory(tmp_path) -> None:
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((N, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]).astype(np.float32)
    np.save(tmp_path / "v.npy", X)
    model = small(real_agreement=0.0, warmup_steps=0, real_prior_match=1.0).fit(np.load(tmp_path / "v.npy", mmap_mode="r"))
    assert np.allclose(model.mean_, X.mean(0), atol=1e-5) and np.allclose(model.scale_, X.std(0), rtol=1e-5)


def test_memmap_bad_values_are_refused(tmp_path) -> None:
    X = np.random.default_rng(0).random((N, 8, 8)).astype(np.float32)
    X[100, 3, 3] = np.nan
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(GanclusterError, match="NaN or infinite values in rows"):
        small().fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))


def test_cli_trains_a_memmapped_npy(npy, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    code = main(["train", str(npy), "--mmap", "-k", "3", "--max-steps", "6", "--run-dir", str(run), "--set",
                 "warmup_steps=2", "--set", "batch_size=32", "--set", "latent_dim=4", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    provenance = json.loads((run / "provenance.jsonl").read_text().splitlines()[0])
    assert provenance["data_on_disk"] is True
    assert json.loads((run / "config.json").read_text())["data"]["mmap"] is True
    assert load(run / "model.safetensors").predict(np.load(npy)).shape == (N,)


def test_mmap_needs_a_npy_file(tmp_path, capsys) -> None:
    np.savez(tmp_path / "d.npz", X=images_uint8())
    assert main(["train", str(tmp_path / "d.npz"), "--mmap", "-k", "3", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--mmap streams a .npy file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# ---- determinism, mixed precision, speed settings -----------------------------------------------------


def test_deterministic_fits_are_identical_and_recorded(tmp_path) -> None:
    X = images_uint8()
    a = small(deterministic=True).fit(X, run_dir=tmp_path / "a")
    b = small(deterministic=True).fit(X)
    assert same_state(state(a), state(b))
    assert not torch.are_deterministic_algorithms_enabled()  # the process setting is restored
    record = json.loads((tmp_path / "a" / "provenance.jsonl").read_text().splitlines()[0])
    assert record["deterministic_algorithms"] is True and record["train"]["deterministic"] is True


def test_same_seed_same_weights_nemgan() -> None:
    X = images_uint8()
    fits = [NEMGAN(n_clusters=3, batch_size=32, max_steps=8, random_state=3, device="cpu", warmup_steps=3,
                   latent_dim=8).fit(X) for _ in range(2)]
    assert same_state(state(fits[0]), state(fits[1]))


def generator_output_dtypes(model, monkeypatch) -> list[torch.dtype]:
    """Fit ``model`` and return the dtype of every generator output seen while training."""
    seen: list[torch.dtype] = []
    build = model._build_method

    def build_and_watch(*args, **kwargs):
        method = build(*args, **kwargs)
        method.generator_net.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        return method

    monkeypatch.setattr(model, "_build_method", build_and_watch)
    model.fit(images_uint8())
    return seen


@pytest.mark.filterwarnings("ignore:amp='bf16'")
def test_amp_bf16_autocasts_the_training_step_on_cpu(monkeypatch) -> None:
    model = small(amp="bf16", max_steps=6)
    seen = generator_output_dtypes(model, monkeypatch)
    assert seen and set(seen) == {torch.bfloat16}  # every training forward ran under bf16 autocast
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all()
               for p in model.method_.parameters())  # master weights stay fp32
    assert model.predict(images_uint8()).shape == (N,)


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_amp_auto_is_bf16_only_where_native(monkeypatch, native, expected) -> None:
    monkeypatch.setattr(estimator_module, "native_bf16", lambda device: native)
    seen = generator_output_dtypes(small(amp="auto", max_steps=6), monkeypatch)
    assert seen and set(seen) == {expected}


def test_amp_bf16_warns_where_emulated_and_bad_values_are_refused(monkeypatch) -> None:
    monkeypatch.setattr(estimator_module, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match="no native bfloat16 arithmetic"):
        small(amp="bf16", max_steps=2).fit(images_uint8())
    with pytest.raises(GanclusterError, match="amp must be"):
        small(amp="fp8").fit(images_uint8())


def test_optimizers_take_multi_tensor_steps() -> None:
    model = small().fit(images_uint8())
    groups = [g for opt in model.method_.optimizers.values() for g in opt.param_groups]
    assert groups and all(g["foreach"] is True for g in groups)


def test_conv_nets_run_channels_last_on_cpu() -> None:
    X = np.random.default_rng(0).random((64, 1, 28, 28)).astype(np.float32)
    model = small(max_steps=2, warmup_steps=1).fit(X)
    conv = [p for p in model.method_.parameters() if p.dim() == 4]
    assert conv and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_autocast_on_cuda() -> None:
    X = np.random.default_rng(0).random((128, 1, 28, 28)).astype(np.float32)
    model = small(device="cuda", amp="bf16", loss="wgan-gp", max_steps=6).fit(X)
    assert all(torch.isfinite(p).all() for p in model.method_.parameters())
    assert model.predict(X).shape == (128,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_deterministic_on_cuda() -> None:
    X = images_uint8()
    a, b = (small(device="cuda", deterministic=True).fit(X) for _ in range(2))
    assert same_state(state(a), state(b))


def test_cpu_speed_settings_are_the_same_arithmetic(monkeypatch) -> None:
    """Channels-last weights and the joint critic pass change rounding, not the step: from the same
    weights and random draws, one GAN step gives the same losses and gradients up to float error.
    Pinned to the GAN settings of the recipe before 2026-11-29 (NS loss, one critic step, no spectral
    norm, unscaled noise): Adam's first step turns rounding in near-zero gradients into lr-sized moves,
    which a second critic step reads and which the near-zero hinge loss and the 10x noise show above
    these tolerances (about 1e-3 relative); and a joint pass runs one power iteration, two passes two."""
    import gancluster.methods.base as method_base
    from gancluster.priors import check_priors
    from gancluster.train import BatchSampler

    data = torch.from_numpy(np.random.default_rng(0).random((64, 1, 28, 28)).astype(np.float32))

    def one_step(fast: bool):
        monkeypatch.setattr(method_base, "JOINT_CRITIC_PASS", fast)
        torch.manual_seed(0)
        method = small(warmup_steps=0, loss="ns", n_critic=1, d_spectral_norm=False, standardize_noise=False)
        method = method._build_method((1, 28, 28), check_priors(None, 3))
        if fast:
            method = method.to(memory_format=torch.channels_last)
        method.train()
        method.prepare(data)
        logs = method.train_step(BatchSampler(data, 32, torch.Generator().manual_seed(1)),
                                 torch.Generator().manual_seed(2))
        return logs, {name: p.grad.clone() for name, p in method.named_parameters() if p.grad is not None}

    (logs_a, grads_a), (logs_b, grads_b) = one_step(True), one_step(False)
    assert logs_a.keys() == logs_b.keys() and grads_a.keys() == grads_b.keys() and grads_a
    for key in logs_a:
        assert logs_a[key] == pytest.approx(logs_b[key], rel=1e-4, abs=1e-6), key
    for name in grads_a:  # (+1e-7: biases before BatchNorm have a zero gradient, up to rounding noise)
        assert (grads_a[name] - grads_b[name]).norm() <= 1e-3 * grads_b[name].norm() + 1e-7, name


def test_large_npy_files_stream_automatically(npy, monkeypatch) -> None:
    import gancluster.runs as runs

    spec = runs.DataSpec(source=str(npy))
    assert not spec.streams()  # a small file is loaded
    monkeypatch.setattr(runs, "MMAP_AUTO_BYTES", 100)
    assert spec.streams()
    assert not runs.DataSpec(source=str(npy), mmap=False).streams()
    assert not runs.DataSpec(source=str(npy), n_samples=10).streams()  # subsets load the file
    X, eval_data = spec.open_stream()
    assert isinstance(X, np.memmap) and eval_data.X.shape == (N, 1, 8, 8) and eval_data.X.max() <= 1.0
