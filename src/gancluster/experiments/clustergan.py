"""ClusterGAN's paper tables (MNIST, Fashion-MNIST) as a function returning one row per run.

Used by ``gancluster reproduce clustergan-mnist`` and by ``benchmarks/clustergan_mnist.py``, so both
print numbers from the same code.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..clustergan import ClusterGAN
from ..data import Dataset, load_dataset
from ..classifier import DOMAIN_CLASSIFIERS
from ..metrics import cluster_shares, compute_fid, evaluate_clustering, total_variation
from ..metrics.generation import diversity_ratio

#: Per-dataset settings of the official code (REFERENCE.md): latent size and beta_n (beta_c = 10).
DATASET_PARAMS: dict[str, dict[str, Any]] = {
    "mnist": {"latent_dim": 30, "beta_n": 10.0},
    "fashion-mnist": {"latent_dim": 40, "beta_n": 0.0},
}

#: Named recipes: the paper's, our best CPU recipe, and the best recipe with one switch off.
VARIANTS: dict[str, dict[str, Any]] = {
    "best": {},
    "faithful": {"recipe": "faithful"},
    "no-warmup": {"warmup_steps": 0},
    "one-head": {"warmup_heads": 1},
    "no-real-data": {"real_agreement": 0.0, "real_prior_match": 0.0, "warmup_steps": 0},
    "no-prior-match": {"real_prior_match": 0.0},
    "no-neighbours": {"real_agreement": 0.0},
    "no-augment": {"real_augment": False},
    "pixel-graph": {"real_graph": "pixels"},
    "self-label": {"real_self_label": 1.0},
}

#: The papers' numbers (ACC as printed there, NMI, ARI), for side-by-side tables.
PAPER: dict[str, dict[str, tuple[float, float, float]]] = {
    "mnist": {"paper, best run": (0.95, 0.89, 0.89), "official README, mean of 10 (ACC = purity)": (0.91, 0.85, 0.83)},
    "fashion-mnist": {"paper, best run": (0.63, 0.64, 0.50),
                      "official README, mean of 10 (ACC = purity)": (0.61, 0.62, 0.46)},
}


def generated_quality(model: ClusterGAN, real: Dataset | None = None, per_mode: int = 1000) -> dict[str, float]:
    """How faithful the generated clusters are, judged by the model's own encoder.

    ``mode_agreement``: share of samples of each latent mode that the encoder puts back in that mode
    (mean over modes); ``generated_tv``: total variation between the encoder's cluster shares of
    generated data and the priors. With ``real`` (the test split): ``diversity_ratio``, the spread of
    samples inside each latent mode over the spread of real data inside each encoder cluster (near 0
    when a mode draws the same image whatever its noise), and ``fid_domain``, the FID on the
    features of the shipped classifier of that dataset (when there is one; 5,000 samples a side).
    """
    k = int(model.n_clusters)
    agree, xs, ms = [], [], []
    for c in range(k):
        x, _ = model.sample(per_mode, cluster=c, random_state=c)
        agree.append(float((model.predict(x) == c).mean()))
        xs.append(x[:200])
        ms.append(np.full(min(per_mode, 200), c))
    x, _ = model.sample(per_mode * k, random_state=123)
    shares = cluster_shares(model.predict(x), k)
    out = {"mode_agreement": float(np.mean(agree)), "generated_tv": total_variation(shares, model.priors_)}
    if real is not None:
        real_x = real.X[:5000]
        out["diversity_ratio"] = diversity_ratio(np.concatenate(xs), np.concatenate(ms), real_x, model.predict(real_x))
        if real.name in DOMAIN_CLASSIFIERS:
            out["fid_domain"] = compute_fid(x[:5000], real_x, features=real.name).value
    return out


def run_params(dataset: str, variant: str, **overrides: Any) -> dict[str, Any]:
    """The ClusterGAN parameters of one run: the dataset's, then the variant's, then ``overrides``."""
    return {**DATASET_PARAMS.get(dataset, {}), **VARIANTS[variant], **overrides}


def run_clustergan(
    dataset: str,
    variant: str,
    seed: int,
    *,
    max_seconds: float | None,
    max_steps: int,
    train: Dataset | None = None,
    test: Dataset | None = None,
    generation: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Train on the training split, score on the test split; one result row.

    ``generation=False`` skips judging the generated samples (runs that end before the GAN trains).
    """
    train = train if train is not None else load_dataset(dataset, split="train")
    test = test if test is not None else load_dataset(dataset, split="test")
    params = run_params(dataset, variant, **overrides)
    model = ClusterGAN(n_clusters=10, max_steps=max_steps, max_seconds=max_seconds, random_state=seed, **params)
    t0 = time.perf_counter()
    model.fit(train.X, eval_set=(test.X, test.y))
    wall = time.perf_counter() - t0
    scores = evaluate_clustering(test.y, model.predict(test.X))
    return {
        "dataset": dataset, "variant": variant, "seed": seed, "params": params,
        "acc": scores["acc"], "nmi": scores["nmi"], "ari": scores["ari"], "purity": scores["purity"],
        "train_seconds": model.train_seconds_, "wall_seconds": wall, "steps": model.n_iter_,
        "curve": [(h["seconds"], h["eval"]["acc"]) for h in model.history_ if "eval" in h],
        **(generated_quality(model, test) if generation else {}),
    }
