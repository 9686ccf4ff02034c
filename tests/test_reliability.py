"""Reliability: SIGKILL and resume, full training state, divergence guard, full or read-only disks,
and the reproducibility record of a run folder."""

from __future__ import annotations

import errno
import json
import math
import multiprocessing as mp
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import _kill_worker
from gancluster import ClusterGAN
from gancluster.checkpoint import load_file
from gancluster.errors import DivergenceError, OutputError
from gancluster.methods.base import Method
from gancluster.methods.clustergan import ClusterGANMethod
from gancluster.priors import OneHotGaussianPrior
from gancluster.train import Trainer, TrainConfig

KILL_RUN_STEPS = 200
N_KILLS = 20


# ---- 1. SIGKILL at random moments, 20 times --------------------------------------------------------


def _fork_server() -> mp.context.BaseContext:
    ctx = mp.get_context("forkserver")
    # import torch & co once, then fork per worker (python 3.11's fork server ignores sys.path when it
    # preloads, so preload installed modules, including those imported lazily by the first optimizer
    # and the sample pictures; the worker module itself is imported per fork)
    ctx.set_forkserver_preload(["gancluster", "gancluster.runs", "gancluster.report", "torch._dynamo",
                                "matplotlib.pyplot"])
    return ctx


def _start(ctx, run_dir: Path, **kwargs):
    reader, writer = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_kill_worker.train, args=(str(run_dir), KILL_RUN_STEPS, writer), kwargs=kwargs)
    proc.start()
    writer.close()
    assert reader.poll(180), "worker did not start"
    assert reader.recv() == "ready"
    return proc


def _finish(proc) -> None:
    proc.join(300)
    assert proc.exitcode == 0, f"worker failed with exit code {proc.exitcode}"


def test_twenty_sigkills_then_resume_end_bit_for_bit_where_an_uninterrupted_run_ends(tmp_path, capsys) -> None:
    ctx = _fork_server()
    reference, run = tmp_path / "reference", tmp_path / "killed"
    _finish(_start(ctx, reference))
    ckpt = run / "checkpoint.safetensors"

    # a kill inside a checkpoint write (new file fsynced, not yet renamed) keeps the previous checkpoint
    proc = _start(ctx, run, kill_on_replace=5)
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL
    assert load_file(ckpt, expect_method="clustergan")[1]["step"] == 4
    assert list(run.glob(".checkpoint.safetensors.*.tmp")), "the interrupted write should have left its temp file"

    rng = random.Random(8)
    steps, leftovers, t0 = [4], 0, time.perf_counter()
    for _ in range(N_KILLS):
        before = ckpt.stat().st_mtime_ns if ckpt.exists() else 0
        proc = _start(ctx, run)
        deadline = time.monotonic() + 120
        while (ckpt.stat().st_mtime_ns if ckpt.exists() else 0) == before and proc.is_alive():
            assert time.monotonic() < deadline, "the resumed worker makes no progress"
            time.sleep(0.005)  # wait until training runs (a new checkpoint), then kill at a random moment
        time.sleep(rng.uniform(0.0, 0.25))
        proc.kill()
        proc.join(60)
        assert proc.exitcode in (-signal.SIGKILL, 0)
        leftovers += len(list(run.glob(".checkpoint.safetensors.*.tmp")))
        _, meta = load_file(ckpt, expect_method="clustergan")  # every kill leaves a loadable checkpoint
        assert meta["step"] >= steps[-1], "a resumed run went backwards"
        steps.append(meta["step"])
    _finish(_start(ctx, run))
    assert not list(run.glob(".checkpoint.safetensors.*.tmp")), "resume removes temp files of killed writes"

    got, meta = load_file(ckpt)
    want, want_meta = load_file(reference / "checkpoint.safetensors")
    assert meta["step"] == want_meta["step"] == KILL_RUN_STEPS
    assert sorted(got) == sorted(want)
    for name in want:  # weights, optimizer moments, RNG states, data order: all identical
        assert torch.equal(got[name], want[name]), name
    mid_run = {s for s in steps[1:] if 0 < s < KILL_RUN_STEPS}
    with capsys.disabled():
        print(f"\n[kill test] {N_KILLS} SIGKILLs at checkpoint steps {steps[1:]}; {leftovers} kill(s) hit a "
              f"checkpoint write; {time.perf_counter() - t0:.1f} s")
    assert len(mid_run) >= N_KILLS // 2, f"too few kills landed mid-run to mean anything: {steps}"
    # the training log holds each step at most once, despite the replays after each kill
    log_steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "eval" not in r]
    assert len(log_steps) == len(set(log_steps))


# ---- 1b. everything a resume must restore ----------------------------------------------------------


class ToyMethod(Method):
    """Uses every RNG (torch, numpy, python, the trainer's), a scheduler and a learnable prior weight."""

    name = "toy"

    def __init__(self) -> None:
        super().__init__()
        self.prior = OneHotGaussianPrior(2, 2)
        self.generator_net = nn.Linear(4, 2)
        self.mode_logits = nn.Parameter(torch.zeros(2))  # stands for a learnable prior
        self.optimizers = {"g": torch.optim.Adam([*self.generator_net.parameters(), self.mode_logits], lr=0.1)}
        self.schedulers = {"g": torch.optim.lr_scheduler.StepLR(self.optimizers["g"], step_size=3, gamma=0.5)}

    def train_step(self, next_batch, rng):
        x = next_batch().x
        z, _ = self.prior.sample(x.shape[0], rng)
        noise = float(torch.rand(())) + float(np.random.rand()) + random.random()
        loss = ((self.generator_net(z) - x) ** 2).mean() + (self.mode_logits - noise).pow(2).sum()
        opt = self.optimizers["g"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        self.schedulers["g"].step()
        return {"loss": float(loss.detach()), "noise": noise, "lr": opt.param_groups[0]["lr"]}

    def settings_dict(self):
        return {}


def _toy_trainer(run_dir: Path, max_steps: int) -> Trainer:
    random.seed(0), np.random.seed(0), torch.manual_seed(0)  # the trainer seeds only its own generators
    data = torch.randn(37, 2)
    return Trainer(ToyMethod(), data, TrainConfig(max_steps=max_steps, batch_size=8, log_every=1, checkpoint_every=2),
                   run_dir=run_dir)


def test_resume_restores_optimizer_scheduler_all_rngs_data_order_and_learnable_priors(tmp_path) -> None:
    whole = _toy_trainer(tmp_path / "a", 13)
    whole_history = whole.fit().history
    _toy_trainer(tmp_path / "b", 7).fit()
    random.seed(123), np.random.seed(5), torch.manual_seed(9)  # a new process would have other global RNG states
    resumed = _toy_trainer(tmp_path / "b", 13)
    assert resumed.resume() and resumed.step == 7
    history = resumed.fit().history
    def drop_time(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    # same noise from every RNG, same lr schedule, same batches
    assert drop_time(history) == drop_time(whole_history[7:])
    assert history[-1]["lr"] == 0.1 * 0.5**4
    for (name, a), (_, b) in zip(whole.method.state_dict().items(), resumed.method.state_dict().items()):
        assert torch.equal(a, b), name
    assert not torch.equal(resumed.method.mode_logits, torch.zeros(2))
    assert resumed.method.schedulers["g"].state_dict() == whole.method.schedulers["g"].state_dict()


def test_nemgan_learned_priors_survive_resume(tmp_path) -> None:
    from gancluster.nemgan import NEMGAN

    X = _kill_worker.blobs()
    y = np.full(len(X), -1)
    y[:30] = np.random.default_rng(0).integers(0, 3, 30)  # labels only need to cover every cluster

    def model(steps):
        return NEMGAN(n_clusters=3, learn_priors=True, max_steps=steps, batch_size=32, random_state=0, latent_dim=4,
                      warmup_steps=4)

    whole = model(12).fit(X, y)
    model(6).fit(X, y, run_dir=tmp_path)
    resumed = model(12).fit(X, y, run_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.priors_, whole.priors_)
    assert not np.allclose(whole.priors_, 1 / 3)  # the priors did move: something was restored
    for (name, a), (_, b) in zip(whole.method_.state_dict().items(), resumed.method_.state_dict().items()):
        assert torch.equal(a, b), name


# ---- 3. divergence guard ----------------------------------------------------------------------------


def _small(**kw) -> ClusterGAN:
    est = ClusterGAN(n_clusters=3, max_steps=kw.pop("max_steps", 20), batch_size=32, random_state=0, latent_dim=4,
                     warmup_steps=0, **kw)
    return est


def _reliability(est: ClusterGAN, **settings) -> ClusterGAN:
    for name, value in settings.items():  # reliability parameters, read by GANClusterer.fit with defaults
        setattr(est, name, value)
    return est


def _inject_nan(monkeypatch, at_steps, weights: bool = False, finite_loss: bool = False) -> None:
    """Make ClusterGAN's step number k (in ``at_steps``) produce a NaN loss and/or NaN weights, once."""
    real = ClusterGANMethod.train_step
    fired: set[int] = set()

    def step(self, next_batch, rng):
        logs = real(self, next_batch, rng)
        k = int(self.steps_done)
        if (k in at_steps or "always" in at_steps) and (k not in fired or "always" in at_steps):
            fired.add(k)
            if weights:
                with torch.no_grad():
                    next(self.generator_net.parameters()).fill_(float("nan"))
            if not finite_loss:
                logs["loss_g"] = float("nan")
        return logs

    monkeypatch.setattr(ClusterGANMethod, "train_step", step)


def test_nan_loss_stops_naming_step_and_loss_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch) -> None:
    _inject_nan(monkeypatch, {7}, weights=True)
    with pytest.raises(DivergenceError) as info:
        _reliability(_small(), checkpoint_every=5).fit(_kill_worker.blobs(), run_dir=tmp_path)
    message = str(info.value)
    assert "step 7" in message and "loss_g=nan" in message and "(step 5)" in message
    tensors, meta = load_file(tmp_path / "checkpoint.safetensors")
    assert meta["step"] == 5
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if k.startswith("model.") and t.is_floating_point())
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert log[-1]["divergence"]["action"] == "stop" and log[-1]["divergence"]["at_step"] == 7


def test_nonfinite_weights_with_finite_loss_are_caught_before_they_are_saved(tmp_path, monkeypatch) -> None:
    _inject_nan(monkeypatch, {8}, weights=True, finite_loss=True)
    with pytest.raises(DivergenceError, match=r"step 8.*non-finite weights in generator_net"):
        _reliability(_small(), checkpoint_every=4).fit(_kill_worker.blobs(), run_dir=tmp_path)
    assert load_file(tmp_path / "checkpoint.safetensors")[1]["step"] == 4


@pytest.mark.parametrize("with_run_dir", [True, False])
def test_rollback_reloads_the_last_good_state_and_halves_the_learning_rate(tmp_path, monkeypatch, with_run_dir) -> None:
    _inject_nan(monkeypatch, {7, 13}, weights=True)
    est = _reliability(_small(), checkpoint_every=5, on_divergence="rollback", max_rollbacks=3)
    est.fit(_kill_worker.blobs(), run_dir=tmp_path if with_run_dir else None)
    assert est.n_iter_ == 20
    events = [h["divergence"] for h in est.history_ if "divergence" in h]
    assert [(e["at_step"], e["rollback"], e["lr_factor"]) for e in events] == [(7, 1, 0.5), (13, 2, 0.25)]
    for opt in est.method_.optimizers.values():
        assert opt.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.25)
    assert all(torch.isfinite(p).all() for p in est.method_.parameters())
    if with_run_dir:
        meta = load_file(tmp_path / "checkpoint.safetensors")[1]
        assert (meta["step"], meta["rollbacks"], meta["lr_factor"]) == (20, 2, 0.25)


def test_rollback_gives_up_after_max_rollbacks(monkeypatch) -> None:
    _inject_nan(monkeypatch, {"always"})
    est = _reliability(_small(), checkpoint_every=5, on_divergence="rollback", max_rollbacks=2)
    with pytest.raises(DivergenceError, match=r"after 2 rollback\(s\) that cut the learning rate to x0.25"):
        est.fit(_kill_worker.blobs())


def test_rollback_rescues_a_real_divergence_from_a_huge_learning_rate() -> None:
    X = _kill_worker.blobs()
    with pytest.raises(DivergenceError, match="step 2: non-finite loss"):
        _small(lr=1e3, loss="wgan-gp").fit(X)
    est = _reliability(_small(lr=1e3, loss="wgan-gp"), on_divergence="rollback", max_rollbacks=20,
                       checkpoint_every=10).fit(X)
    rollbacks = [h["divergence"] for h in est.history_ if "divergence" in h]
    assert est.n_iter_ == 20 and rollbacks
    assert est.method_.optimizers["g"].param_groups[0]["lr"] == pytest.approx(1e3 * rollbacks[-1]["lr_factor"])


@pytest.mark.parametrize("name, value, words", [
    ("on_divergence", "retry", "on_divergence must be"),
    ("max_rollbacks", -1, "max_rollbacks must be"),
    ("checkpoint_every", 0, "checkpoint_every must be"),
])
def test_reliability_parameters_are_validated(name, value, words) -> None:
    with pytest.raises(Exception) as info:
        _reliability(_small(), **{name: value}).fit(_kill_worker.blobs())
    assert info.type.__name__ in ("GanclusterError", "ConfigError") and words in str(info.value)


# ---- 5. full disk, read-only folder ------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["fsync-ENOSPC", "write-ENOSPC", "mkstemp-EROFS", "replace-EACCES"])
def test_a_failed_checkpoint_write_fails_cleanly_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failure) -> None:
    import gancluster.checkpoint as ck

    X = _kill_worker.blobs()
    _reliability(_small(max_steps=10), checkpoint_every=5).fit(X, run_dir=tmp_path)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    where, code = failure.split("-")
    err = getattr(errno, code)

    def fail(*args, **kwargs):
        raise OSError(err, __import__("os").strerror(err))

    if where == "fsync":
        monkeypatch.setattr(ck.os, "fsync", fail)
    elif where == "mkstemp":
        monkeypatch.setattr(ck.tempfile, "mkstemp", fail)
    elif where == "replace":
        monkeypatch.setattr(ck.os, "replace", fail)
    else:  # the disk fills up half-way through the data
        real_fdopen = ck.os.fdopen

        class HalfFull:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def fileno(self):
                return self.fh.fileno()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])
                self.fh.flush()
                fail()

        monkeypatch.setattr(ck.os, "fdopen", lambda fd, mode: HalfFull(real_fdopen(fd, mode)))
    with pytest.raises(OutputError) as info:
        _reliability(_small(max_steps=20), checkpoint_every=5).fit(X, run_dir=tmp_path, resume=True)
    assert __import__("os").strerror(err) in str(info.value) and "previous file (if any) is unchanged" in str(info.value)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    assert load_file(tmp_path / "checkpoint.safetensors")[1]["step"] == 10
    assert not list(tmp_path.glob(".checkpoint.safetensors.*.tmp")), "no temp file is left behind"


def test_cli_reports_a_full_disk_in_one_line_and_keeps_what_it_had(tmp_path, monkeypatch, capsys) -> None:
    import gancluster.checkpoint as ck
    from gancluster.cli import main

    csv = tmp_path / "points.csv"
    X = _kill_worker.blobs(60)
    csv.write_text("".join(f"{a:.4f},{b:.4f}\n" for a, b in X))

    real_fsync = ck.os.fsync

    def full_for_checkpoints(fd):
        if "checkpoint" in ck.os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(ck.os, "fsync", full_for_checkpoints)
    run = tmp_path / "run"
    code = main(["train", str(csv), "-k", "3", "--max-steps", "3", "--run-dir", str(run), "--set", "verbose=0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "No space left on device" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not run.exists(), "a run refused before its first checkpoint leaves nothing behind"


# ---- 6. reproducibility record ------------------------------------------------------------------------


def test_run_folder_records_versions_commit_device_seed_and_resolved_settings(tmp_path) -> None:
    import gancluster

    X = _kill_worker.blobs()
    est = ClusterGAN(n_clusters=3, max_steps=4, batch_size=32, latent_dim=4, warmup_steps=2)  # random_state=None
    est.fit(X, run_dir=tmp_path)
    est.max_steps = 6
    est.fit(X, run_dir=tmp_path, resume=True)
    start, resume = [json.loads(line) for line in (tmp_path / "provenance.jsonl").read_text().splitlines()]
    assert (start["event"], resume["event"], resume["step"]) == ("start", "resume", 4)
    assert isinstance(start["seed"], int) and resume["seed"] == start["seed"]  # the seed actually used, kept on resume
    assert start["gancluster"] == gancluster.__version__ and start["torch"] == torch.__version__
    assert start["device"] == "cpu" and "git_commit" in start and start["numpy"] and start["python"]
    assert start["settings"]["loss"] == "hinge" and start["settings"]["warmup_steps"] == 2  # resolved recipe
    assert start["train"]["max_steps"] == 4 and start["train"]["seed"] == start["seed"]
    assert start["data"]["shape"] == [200, 2] and len(start["data"]["sha256"]) == 64
    assert math.isfinite(load_file(tmp_path / "checkpoint.safetensors")[1]["elapsed"])
