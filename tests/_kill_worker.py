"""Helper of ``test_reliability``: the training process that the kill-and-resume test SIGKILLs.

It is imported once by a multiprocessing fork server (so each of the 20 restarts costs a fork, not
a fresh ``import torch``), and every worker resumes from whatever checkpoint the last one left.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import numpy as np
import torch

import gancluster  # noqa: F401 - imported here so that the fork server pays for it once
from gancluster import ClusterGAN


def blobs(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 4.0], [-4.0, -3.0], [4.0, -3.0]])
    y = rng.integers(0, 3, n)
    return (centres[y] + 0.4 * rng.standard_normal((n, 2))).astype(np.float32)


def estimator(max_steps: int) -> ClusterGAN:
    """A small model with both ClusterGAN phases (encoder warm-up, then GAN), checkpointing every step."""
    est = ClusterGAN(n_clusters=3, max_steps=max_steps, batch_size=32, random_state=0, latent_dim=4, warmup_steps=20)
    est.checkpoint_every = 1  # reliability parameter (read with a default by GANClusterer.fit)
    return est


def train(run_dir: str, max_steps: int, conn=None, kill_on_replace: int | None = None) -> None:
    """Train into ``run_dir`` resuming from its checkpoint; say "ready" on ``conn`` just before fitting.

    ``kill_on_replace=k``: SIGKILL this process inside the k-th checkpoint write, after the new file
    is written and fsynced but before it is renamed over the old one.
    """
    torch.set_num_threads(1)
    # a deterministic process: forked workers would otherwise start from different global RNG states
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    if kill_on_replace is not None:
        calls = {"n": 0}
        real_replace = os.replace

        def replace(src, dst):
            if str(dst).endswith("checkpoint.safetensors"):
                calls["n"] += 1
                if calls["n"] == kill_on_replace:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)

        os.replace = replace
    X = blobs()
    est = estimator(max_steps)
    if conn is not None:
        conn.send("ready")
        conn.close()
    est.fit(X, run_dir=Path(run_dir), resume=True)
