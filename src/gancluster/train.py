"""The one training loop every method uses.

It reads top to bottom: build batches from in-memory tensors, call ``method.train_step`` until the
step or time budget runs out, and on the way log, evaluate, draw sample grids and checkpoint.
Resuming restores weights, optimizers, RNG states, the data order and the step counter, so a run
that is killed and resumed ends where an uninterrupted one would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .checkpoint import load_file, pack_training_state, save_file, unpack_training_state
from .config import require, to_dict
from .errors import DivergenceError
from .methods.base import Batch, Method
from .metrics.registry import append_jsonl

EvalFn = Callable[[Method], dict[str, float]]


@dataclass
class TrainConfig:
    """Budget and bookkeeping of a run. Training stops at ``max_steps`` or ``max_seconds``."""

    max_steps: int = 10_000
    max_seconds: float | None = None
    batch_size: int = 64
    seed: int = 0
    log_every: int = 100
    eval_every_seconds: float = 30.0
    checkpoint_every: int = 1000
    progress: bool = False

    def validate(self) -> None:
        require(self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}")
        require(self.max_seconds is None or self.max_seconds > 0, f"max_seconds must be > 0, got {self.max_seconds}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.log_every >= 1 and self.checkpoint_every >= 1, "log_every and checkpoint_every must be >= 1")


class BatchSampler:
    """Random batches without replacement from an in-memory tensor, one permutation per epoch.

    Batches never come out short: the tail of an epoch that does not fill a batch is dropped, which
    avoids the last-partial-batch crash users hit with BatchNorm in the ClusterGAN port.
    """

    def __init__(self, data: Tensor, batch_size: int, rng: torch.Generator) -> None:
        self.data = data
        self.batch_size = min(batch_size, data.shape[0])
        self.rng = rng
        self.perm = torch.randperm(data.shape[0], generator=rng)
        self.pos = 0
        self.seen = 0

    def __call__(self) -> Batch:
        if self.pos + self.batch_size > self.perm.numel():
            self.perm = torch.randperm(self.data.shape[0], generator=self.rng)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        self.seen += self.batch_size
        return Batch(self.data[idx], idx, self.data)


@dataclass
class TrainResult:
    steps: int
    seconds: float
    images_seen: int
    history: list[dict[str, Any]]


class Trainer:
    """Runs ``method`` on ``data`` under ``cfg``; writes into ``run_dir`` when one is given."""

    def __init__(
        self,
        method: Method,
        data: Tensor,
        cfg: TrainConfig,
        run_dir: str | Path | None = None,
        evaluate: EvalFn | None = None,
        snapshot: Callable[[Method, Path], None] | None = None,
        on_checkpoint: Callable[[Path], None] | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> None:
        cfg.validate()
        self.method, self.data, self.cfg = method, data, cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.evaluate = evaluate
        self.snapshot = snapshot if self.run_dir is not None else None
        self.on_checkpoint = on_checkpoint
        self.extra_meta = extra_meta or {}
        device = next(method.parameters()).device
        self.rng = torch.Generator(device=device).manual_seed(cfg.seed)
        self.data_rng = torch.Generator().manual_seed(cfg.seed + 1)
        self.batches = BatchSampler(data, cfg.batch_size, self.data_rng)
        self.step = 0
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []

    # -- checkpoints -------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoint.safetensors" if self.run_dir else None

    def save_checkpoint(self) -> None:
        if self.checkpoint_path is None:
            return
        tensors, meta = pack_training_state(self.method, self.method.optimizers)
        tensors["trainer.rng"] = self.rng.get_state()
        tensors["trainer.data_rng"] = self.data_rng.get_state()
        tensors["trainer.perm"] = self.batches.perm
        meta.update(
            method=self.method.name,
            step=self.step,
            elapsed=self.elapsed,
            data_pos=self.batches.pos,
            seen=self.batches.seen,
            train=to_dict(self.cfg),
            settings=self.method.settings_dict(),
            **self.extra_meta,
        )
        save_file(self.checkpoint_path, tensors, meta)
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.checkpoint_path)

    def resume(self) -> bool:
        """Continue from ``run_dir/checkpoint.safetensors`` if it exists. Returns whether it did."""
        path = self.checkpoint_path
        if path is None or not path.exists():
            return False
        tensors, meta = load_file(path, expect_method=self.method.name)
        unpack_training_state(self.method, self.method.optimizers, tensors, meta, path)
        self.rng.set_state(tensors["trainer.rng"])
        self.data_rng.set_state(tensors["trainer.data_rng"])
        self.batches.perm = tensors["trainer.perm"].clone()
        self.batches.pos = int(meta["data_pos"])
        self.batches.seen = int(meta["seen"])
        self.step = int(meta["step"])
        self.elapsed = float(meta["elapsed"])
        return True

    # -- the loop ----------------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if self.run_dir is not None:
            append_jsonl(self.run_dir / "metrics.jsonl", record)

    def fit(self) -> TrainResult:
        cfg, method = self.cfg, self.method
        method.train()
        method.prepare(self.data)
        progress = _Progress(cfg, self.step, self.elapsed) if cfg.progress else None
        start = time.perf_counter() - self.elapsed  # preparation is not counted as training time
        next_eval = self.elapsed + cfg.eval_every_seconds
        while self.step < cfg.max_steps:
            if cfg.max_seconds is not None and time.perf_counter() - start >= cfg.max_seconds:
                break
            logs = method.train_step(self.batches, self.rng)
            self.step += 1
            self.elapsed = time.perf_counter() - start
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            if bad:
                raise DivergenceError(
                    f"training diverged at step {self.step}: non-finite {bad}. The last good checkpoint "
                    "(if any) is kept; lower the learning rate or try loss='wgan-gp'."
                )
            if self.step % cfg.log_every == 0:
                self._log({"step": self.step, "seconds": round(self.elapsed, 3), "images": self.batches.seen, **logs})
            if (self.evaluate is not None or self.snapshot is not None) and self.elapsed >= next_eval:
                self._run_eval()
                next_eval = self.elapsed + cfg.eval_every_seconds
                start = time.perf_counter() - self.elapsed  # evaluation time is not training time
            if self.step % cfg.checkpoint_every == 0:
                self.save_checkpoint()
            if progress is not None:
                progress.update(self.step, self.elapsed, logs, self.history)
        if progress is not None:
            progress.close()
        if self.evaluate is not None or self.snapshot is not None:
            self._run_eval()
        self.save_checkpoint()
        method.eval()
        return TrainResult(self.step, self.elapsed, self.batches.seen, self.history)

    def _run_eval(self) -> None:
        """Score the model (``evaluate``) and draw its samples (``snapshot``) at this step."""
        self.method.eval()
        with torch.no_grad():
            if self.snapshot is not None:
                self.snapshot(self.method, self.run_dir / "samples" / f"step_{self.step:07d}.png")
            if self.evaluate is not None:
                scores = self.evaluate(self.method)
                self._log({"step": self.step, "seconds": round(self.elapsed, 3), "images": self.batches.seen,
                           "eval": scores})
        self.method.train()


class _Progress:
    """A progress bar over whichever budget binds first: steps, or seconds when a time budget is set."""

    def __init__(self, cfg: TrainConfig, step: int, elapsed: float) -> None:
        from tqdm.auto import tqdm

        self.by_time = cfg.max_seconds is not None
        total = cfg.max_seconds if self.by_time else cfg.max_steps
        initial = elapsed if self.by_time else step
        fmt = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]" if self.by_time else None
        self.bar = tqdm(total=total, initial=initial, unit="s" if self.by_time else "step", dynamic_ncols=True,
                        mininterval=1.0, bar_format=fmt)
        self.last_postfix = 0.0

    def update(self, step: int, elapsed: float, logs: dict[str, float], history: list[dict[str, Any]]) -> None:
        target = min(elapsed, self.bar.total) if self.by_time else step
        self.bar.update(target - self.bar.n)
        if elapsed - self.last_postfix >= 1.0:
            self.last_postfix = elapsed
            post = {"step": step, **{k: f"{v:.3g}" for k, v in logs.items() if k.startswith("loss")}}
            evals = [h["eval"] for h in history if "eval" in h]
            if evals:
                post.update({k: evals[-1][k] for k in ("acc", "nmi") if k in evals[-1]})
            self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        self.bar.close()
