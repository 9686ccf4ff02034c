"""PGMGAN on Stacked-MNIST (PGMGAN paper Table 1): modes and KL (log10) against training time.

Used by ``gancluster reproduce pgmgan-stacked-mnist`` and by ``benchmarks/pgmgan_stacked_mnist.py``,
so both print numbers from the same code. The partitioner (SimCLR pretext on a subset, k-NN graph of
its embeddings, eq. 5) trains first and is not counted in the GAN's time budget; every
``eval_every`` seconds of GAN training, 10,000 samples are labelled channel by channel by the shipped
MNIST classifier; at the end 50,000 samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score

from ..classifier import DomainClassifier, load_domain_classifier, predict_channels
from ..data_stacked import make_stacked_mnist
from ..methods.pgmgan import PGMGANMethod
from ..metrics.modes import stacked_mnist_metrics
from ..pgmgan import PGMGAN
from ..priors import check_priors
from ..train import TrainConfig, Trainer

STACKED_SHAPE = (3, 28, 28)
#: PGMGAN paper: Table 1 (modes, KL log10) and Table 5 (partitioner NMI against the 1000 modes).
PAPER = {"modes": 1000, "kl": 0.02, "nmi": 0.48}
#: The i-ResNet partitioner of our runs: 1 block per stage, bottleneck widths 16 / 32 (the estimator's
#: default, 2 x 2 blocks of 32 / 64, costs twice the partitioner time on 2 CPU cores).
LEAN_PARTITIONER = {"widths": (16, 32), "blocks": 1}


def base_params(k: int, quick: bool) -> dict[str, Any]:
    """The experiment's own PGMGAN parameters (batch 64: the run that showed the 28x28 GAN recover
    from its collapsed phase used it; BENCHMARKS.md)."""
    params: dict[str, Any] = dict(n_clusters=k, device="cpu", batch_size=64, partition_subset=10_000,
                                  pretext_steps=300, scan_steps=1000)
    if quick:
        params.update(pretext_steps=50, scan_steps=100, partition_subset=2000)
    return params


def resolved_n_critic(params: dict[str, Any]) -> int:
    """The critic steps the current recipe gives Stacked-MNIST with these PGMGAN parameters."""
    est = PGMGAN(**params)
    est._check_params()
    return int(est.settings(STACKED_SHAPE).n_critic)


def default_steps(n_critic: int, minutes: float = 60.0) -> int:
    """Generator steps over which lambda anneals: about what one process with 2 threads runs in
    ``minutes`` on a 2.8 GHz Xeon (in an hour: 29,800-34,000 with one critic step, 20,000 with two)."""
    return round((34_000 if n_critic == 1 else 20_000) * minutes / 60)


@torch.no_grad()
def coverage(method: PGMGANMethod, clf: DomainClassifier, n: int, seed: int) -> dict[str, Any]:
    """Modes, KL (log10), per-channel KLs and first-draw acceptance on ``n`` generated samples."""
    method.eval()
    rng = torch.Generator().manual_seed(seed)
    xs = []
    for start in range(0, n, 1000):
        x, _ = method.generate(min(1000, n - start), rng)
        xs.append(x)
    m = stacked_mnist_metrics(predict_channels(clf, torch.cat(xs)))
    return {"modes": m.modes, "kl": m.kl_log10, "channel_kl": list(m.channel_kl_log10), "accept": method.last_accept_rate}


def run_stacked_mnist(
    seed: int,
    *,
    params: dict[str, Any],
    n_samples: int = 100_000,
    minutes: float = 60.0,
    steps: int | None = None,
    eval_every: float | None = 300.0,
    widths: tuple[int, int] = LEAN_PARTITIONER["widths"],
    blocks: int = LEAN_PARTITIONER["blocks"],
    eval_samples: int = 10_000,
    final_samples: int = 50_000,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Any], PGMGANMethod]:
    """One seed: partitioner, then the GAN for ``minutes`` of training time (or ``steps``, default
    :func:`default_steps`), with ``eval_samples`` generated for a point of the curve every
    ``eval_every`` seconds of training (None: no curve) and ``final_samples`` at the end.
    Returns the run's record and the trained method (for its weights)."""
    clf = load_domain_classifier("mnist")
    data = make_stacked_mnist(n_samples, seed=seed)
    x = torch.from_numpy(data.X)
    steps = default_steps(resolved_n_critic(params)) if steps is None else int(steps)
    est = PGMGAN(random_state=seed, max_steps=steps, **params)  # lambda anneals over max_steps
    est._check_params()
    settings = est.settings(tuple(x.shape[1:]))
    settings.partitioner = replace(settings.partitioner, image_widths=tuple(widths), image_depth=int(blocks))
    k = int(params["n_clusters"])
    torch.manual_seed(seed)
    method = PGMGANMethod(settings, k, tuple(x.shape[1:]), check_priors(None, k))
    curve: list[dict[str, Any]] = []

    def evaluate(m: PGMGANMethod) -> dict[str, Any]:
        out = coverage(m, clf, eval_samples, seed + 1)
        out["steps"] = int(m.steps_done)
        curve.append(out)
        log(f"eval {out}")
        return out

    cfg = TrainConfig(max_steps=steps, max_seconds=60 * minutes, batch_size=int(est.batch_size), seed=seed,
                      eval_every_seconds=eval_every or 0.0, log_every=200)
    t = time.time()
    # fit() trains the partitioner first, outside the GAN's time budget
    result = Trainer(method, x, cfg, evaluate=None if eval_every is None else evaluate).fit()
    labels = method.train_labels.numpy()
    nmi = float(normalized_mutual_info_score(data.y, labels))
    log(f"seed {seed}: partitioner {method.partitioner_seconds:.0f} s, NMI vs 1000 modes {nmi:.3f}, "
        f"partitions used {np.unique(labels).size}, fit wall {time.time() - t:.0f} s")
    for rec in method.prepare_log[-4:]:
        log(str(rec))
    for rec, h in zip(curve, [h for h in result.history if "eval" in h]):
        rec["seconds"] = h["seconds"]
    final = coverage(method, clf, final_samples, seed + 2)
    run = {"seed": seed, "partitioner_seconds": float(method.partitioner_seconds), "nmi": nmi, "steps": result.steps,
           "train_seconds": result.seconds, "curve": curve, "final": final, "wall_seconds": time.time() - t,
           "minutes": minutes, "k": k, "n_critic": int(settings.n_critic), "max_steps": steps}
    return run, method
