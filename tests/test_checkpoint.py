"""Safe loading: every damaged, foreign or mismatched checkpoint is refused with a clear CheckpointError,
and nothing in a file is ever executed."""

from __future__ import annotations

import json
import pickle
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

import gancluster
from gancluster import ClusterGAN
from gancluster.checkpoint import FORMAT_VERSION, load_file, save_file, unpack_training_state
from gancluster.errors import CheckpointError


def blobs(n: int = 120, d: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (3, d))
    return (centres[rng.integers(0, 3, n)] + 0.3 * rng.standard_normal((n, d))).astype(np.float32)


def small(**kw) -> ClusterGAN:
    params = dict(n_clusters=3, max_steps=6, batch_size=16, random_state=0, latent_dim=3, warmup_steps=2)
    return ClusterGAN(**{**params, **kw})


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    small().fit(blobs(), run_dir=run)
    return run / "checkpoint.safetensors"


def header_end(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


def refused(path: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_file(path)
    return str(info.value)


def test_the_good_checkpoint_loads(good) -> None:
    tensors, meta = load_file(good, expect_method="clustergan")
    assert meta["format_version"] == FORMAT_VERSION and len(meta["sha256"]) == 64 and meta["step"] == 6
    assert any(k.startswith("optim.") for k in tensors) and "rng.torch" in tensors


def test_truncated_files_are_refused(good, tmp_path) -> None:
    data = good.read_bytes()
    end = header_end(data)
    cuts = sorted({0, 1, 7, 8, 9, 100, end - 1, end, end + 1, (end + len(data)) // 2, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        message = refused(path)
        assert "not a readable gancluster checkpoint" in message and "truncated" in message, (cut, message)


def test_bit_flips_anywhere_are_refused(good, tmp_path, capsys) -> None:
    """safetensors does not checksum tensor data: our SHA-256 over metadata and tensors catches every flip."""
    data = good.read_bytes()
    end = header_end(data)
    rng = random.Random(0)
    positions = [rng.randrange(0, end) for _ in range(150)] + [rng.randrange(end, len(data)) for _ in range(150)]
    checksum_refusals = 0
    path = tmp_path / "flipped.safetensors"
    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        message = refused(path)
        checksum_refusals += "checksum does not match" in message
        if pos >= end:
            assert "checksum does not match" in message, (pos, message)
    with capsys.disabled():
        print(f"\n[bit flips] {len(positions)} flipped bits (150 in the header, 150 in tensor data) all refused; "
              f"{checksum_refusals} by the checksum, the rest by the parser")


def test_edited_metadata_is_refused(good, tmp_path) -> None:
    tensors, meta = load_file(good)
    meta["step"] = 10**6  # a valid JSON edit that keeps the old checksum
    path = tmp_path / "edited.safetensors"
    path.write_bytes(st_save(tensors, metadata={"gancluster": json.dumps(meta)}))
    assert "checksum does not match" in refused(path)


class Payload:
    """Unpickling this creates ``marker``: proof that a file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_foreign_pickles_are_refused_and_their_payload_never_runs(tmp_path, kind) -> None:
    marker = tmp_path / "payload-ran"
    run = tmp_path / "run"
    run.mkdir()
    path = run / "checkpoint.safetensors"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"model": Payload(marker)}))
    else:
        torch.save({"state_dict": {"w": torch.zeros(2)}, "x": Payload(marker)}, path)
    assert not marker.exists()
    assert "pickled .pt files are never loaded" in refused(path)
    with pytest.raises(CheckpointError):
        gancluster.load(path)
    with pytest.raises(CheckpointError):  # nor through resume
        small().fit(blobs(), run_dir=run, resume=True)
    assert not marker.exists(), "the pickle payload ran"


def test_a_newer_format_version_is_refused(good, tmp_path) -> None:
    tensors, meta = load_file(good)
    path = tmp_path / "future.safetensors"
    save_file(path, tensors, {**meta, "format_version": FORMAT_VERSION + 1})
    assert f"format version {FORMAT_VERSION + 1}" in refused(path) and "upgrade gancluster" in refused(path)


def test_version_1_files_without_checksum_still_load(good, tmp_path) -> None:
    tensors, meta = load_file(good)
    meta = {k: v for k, v in meta.items() if k != "sha256"} | {"format_version": 1}
    path = tmp_path / "v1.safetensors"
    path.write_bytes(st_save(tensors, metadata={"gancluster": json.dumps(meta)}))
    assert load_file(path)[1]["step"] == 6


@pytest.mark.parametrize("meta", ['[1, 2]', '{"format": "other"}', '{"format": "gancluster", "format_version": "2"}',
                                  '{"format": "gancluster", "format_version": 0}', "not json"])
def test_corrupt_or_foreign_metadata_is_refused(tmp_path, meta) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save({"w": torch.zeros(2)}, metadata={"gancluster": meta}))
    assert refused(path)


def test_a_folder_or_a_missing_file_is_refused(tmp_path) -> None:
    assert "does not exist" in refused(tmp_path / "nope.safetensors")
    assert "is a folder" in refused(tmp_path)


def test_resume_refuses_another_method(good, tmp_path) -> None:
    from gancluster.nemgan import NEMGAN

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(good.read_bytes())
    with pytest.raises(CheckpointError, match="holds a 'clustergan' model, expected 'nemgan'"):
        NEMGAN(n_clusters=3, max_steps=8, latent_dim=6, random_state=0).fit(blobs(), run_dir=run, resume=True)


@pytest.mark.parametrize("X, words", [
    (blobs(d=3), r"trained on data of shape \(120, 2\), this data has shape \(120, 3\)"),
    (blobs(n=90), "trained on 120 samples, this data has 90"),
    (blobs(seed=1), "trained on other data"),
])
def test_resume_refuses_other_data(good, tmp_path, X, words) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(good.read_bytes())
    with pytest.raises(CheckpointError, match=words):
        small(max_steps=8).fit(X, run_dir=run, resume=True)


def test_resume_refuses_a_model_file_and_other_weights(tmp_path) -> None:
    X = blobs()
    run = tmp_path / "run"
    small().fit(X).save(run / "checkpoint.safetensors")  # a model, not a training state
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        small(max_steps=8).fit(X, run_dir=run, resume=True)
    other = tmp_path / "other"
    small(latent_dim=5).fit(X, run_dir=other)  # same method, other architecture
    with pytest.raises(CheckpointError, match="does not match this model"):
        small(max_steps=8).fit(X, run_dir=other, resume=True)


def test_a_refused_training_state_leaves_the_model_untouched(good) -> None:
    est = small()
    est.fit(blobs())
    method = est.method_
    before = {k: v.clone() for k, v in method.state_dict().items()}
    tensors, meta = load_file(good)
    meta["optimizers"].pop("d")
    with pytest.raises(CheckpointError, match="holds optimizers"):
        unpack_training_state(method, method.optimizers, tensors, meta)
    tensors, meta = load_file(good)
    del tensors["rng.torch"]
    with pytest.raises(CheckpointError, match="complete training state"):
        unpack_training_state(method, method.optimizers, tensors, meta)
    for k, v in method.state_dict().items():
        assert torch.equal(v, before[k]), k
