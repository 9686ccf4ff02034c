"""Partitioner training: paper 003's eq. 5 on a k-NN graph of the features (SCAN), then optional self-labelling.

Eq. 5, per batch and to be minimised (means instead of the paper's sums)::

    - mean_i log <S(x_i), S(x_j)>           x_j a random one of x_i's k nearest neighbours
    + alpha * mean_i H(S(x_i))               confident per-sample assignments
    + beta * KL(mean_i S(x_i) || priors)     = beta * (log k - H(mean S)) for uniform priors

The paper prints alpha = 5 (per-sample entropy) and beta = 1e-3 (marginal entropy); taken literally
that favours confident assignments over balanced ones and every sample lands in one partition
(measured, see BENCHMARKS.md). SCAN, which the paper follows, weighs the marginal entropy by 5 and
has no per-sample term; we read the paper's two numbers as swapped: ``alpha = 1e-3``, ``beta = 5``.

k-means initialisation (optional, ``kmeans_init_steps``): before eq. 5, cross-entropy on k-means labels
of the features, as the official code trains its 2-D toy partitioner. Eq. 5 alone can end in a
local optimum that merges two separated modes and splits another (seen on the 2-D grid: NMI 0.98,
24 of 25 partitions used).

Self-labelling (SCAN's second stage, optional): samples whose assignment is confident (max
probability > ``confidence``) are their own targets; cross-entropy on an augmented view, weighted by
the inverse partition frequency among the confident samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..augment import gaussian_jitter
from ..config import require
from ..losses import balanced_cross_entropy, entropy, kl_to_priors, neighbour_agreement
from .features import PretextSettings, image_views
from .lipschitz import Partitioner, refresh_spectral_norms


@dataclass
class ScanSettings:
    """Eq. 5 weights, the graph size and the optimisation (paper: Adam 1e-4, batch 128, 100 epochs)."""

    n_neighbours: int = 20
    alpha: float = 1e-3
    beta: float = 5.0
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-4
    augment: bool = True
    jitter: float = 0.02
    self_label_steps: int = 0
    confidence: float = 0.99
    kmeans_init_steps: int = 0
    kmeans_init_samples: int = 20000

    def validate(self) -> None:
        require(self.n_neighbours >= 1, f"n_neighbours must be >= 1, got {self.n_neighbours}")
        require(self.alpha >= 0 and self.beta >= 0, f"alpha and beta must be >= 0, got {self.alpha}, {self.beta}")
        require(min(self.steps, self.self_label_steps, self.kmeans_init_steps) >= 0, "scan steps must be >= 0")
        require(self.kmeans_init_samples >= 2, f"kmeans_init_samples must be >= 2, got {self.kmeans_init_samples}")
        require(self.batch_size >= 2, f"scan batch_size must be >= 2, got {self.batch_size}")
        require(self.lr > 0, f"scan lr must be > 0, got {self.lr}")
        require(0 < self.confidence < 1, f"confidence must be in (0, 1), got {self.confidence}")


def scan_loss(p_anchor: Tensor, p_neighbour: Tensor, alpha: float, beta: float, priors: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Eq. 5 (mean form) on probability rows of anchors and one neighbour each."""
    agree = neighbour_agreement(p_anchor, p_neighbour)
    ent = entropy(p_anchor)
    marg = kl_to_priors(torch.cat([p_anchor, p_neighbour]), priors)
    loss = agree + alpha * ent + beta * marg
    return loss, {"agree": float(agree.detach()), "entropy": float(ent.detach()), "marginal_kl": float(marg.detach())}


def _view(x: Tensor, gen: torch.Generator, s: ScanSettings, pretext: PretextSettings) -> Tensor:
    if not s.augment:
        return x
    if x.dim() == 4:
        return image_views(x, gen, pretext)
    return gaussian_jitter(x, gen, s.jitter)


def _kmeans_init(partitioner: Partitioner, data: Tensor, features: Tensor | None, s: ScanSettings,
                 gen: torch.Generator, opt: torch.optim.Optimizer, log: list[dict[str, float]] | None) -> None:
    """Cross-entropy on k-means labels of the features (the official 2-D toy code's partitioner)."""
    from sklearn.cluster import KMeans

    feats = (data if features is None else features).reshape(data.shape[0], -1)
    n = min(s.kmeans_init_samples, data.shape[0])
    sub = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen))))[:n]
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    km = KMeans(partitioner.n_partitions, n_init=10, random_state=seed).fit(feats[sub.to(feats.device)].cpu().numpy())
    labels = torch.as_tensor(km.labels_, dtype=torch.long, device=data.device)
    sub = sub.to(data.device)
    bs = min(s.batch_size, n)
    for step in range(s.kmeans_init_steps):
        pick = torch.randint(0, n, (bs,), generator=gen, device=data.device)
        loss = F.cross_entropy(partitioner(data[sub[pick]]), labels[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 200 == 0 or step == s.kmeans_init_steps - 1):
            log.append({"phase": "kmeans-init", "step": step, "loss": float(loss.detach())})


def train_partitioner(partitioner: Partitioner, data: Tensor, neighbours: Tensor, settings: ScanSettings,
                      gen: torch.Generator, priors: Tensor, pretext: PretextSettings | None = None,
                      log: list[dict[str, float]] | None = None, features: Tensor | None = None) -> None:
    """(k-means init,) eq. 5 for ``settings.steps`` steps, then self-labelling; leaves converged spectral norms.

    ``features`` are what the k-NN graph was built on (k-means init clusters them; None: the data).
    """
    settings.validate()
    pretext = pretext or PretextSettings()
    priors = priors.to(data.device)
    opt = torch.optim.Adam(partitioner.parameters(), lr=settings.lr)
    partitioner.train()
    bs = min(settings.batch_size, data.shape[0])
    start = time.perf_counter()
    if settings.kmeans_init_steps > 0:
        _kmeans_init(partitioner, data, features, settings, gen, opt, log)
    for step in range(settings.steps):
        idx = torch.randint(0, data.shape[0], (bs,), generator=gen, device=data.device)
        pick = torch.randint(0, neighbours.shape[1], (bs,), generator=gen, device=data.device)
        x = _view(data[idx], gen, settings, pretext)
        x_nn = _view(data[neighbours[idx, pick]], gen, settings, pretext)
        probs = F.softmax(partitioner(torch.cat([x, x_nn])), dim=1)
        loss, parts = scan_loss(*probs.chunk(2), settings.alpha, settings.beta, priors)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 200 == 0 or step == settings.steps - 1):
            log.append({"phase": "scan", "step": step, "loss": float(loss.detach()), **parts,
                        "seconds": time.perf_counter() - start})
    for step in range(settings.self_label_steps):
        idx = torch.randint(0, data.shape[0], (bs,), generator=gen, device=data.device)
        x = data[idx]
        with torch.no_grad():
            partitioner.eval()
            p = F.softmax(partitioner(x), dim=1)
            partitioner.train()
        conf, target = p.max(1)
        mask = conf > settings.confidence
        if not mask.any():
            continue
        logits = partitioner(_view(x[mask], gen, settings, pretext))
        loss = balanced_cross_entropy(logits, target[mask])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 200 == 0 or step == settings.self_label_steps - 1):
            log.append({"phase": "self-label", "step": step, "loss": float(loss.detach()), "confident": float(mask.float().mean()),
                        "seconds": time.perf_counter() - start})
    refresh_spectral_norms(partitioner)
    partitioner.eval()


@torch.no_grad()
def partition_logits(partitioner: Partitioner, data: Tensor, batch_size: int = 2048) -> Tensor:
    """Logits of ``data`` in eval mode, batched."""
    was = partitioner.training
    partitioner.eval()
    out = torch.cat([partitioner(data[i : i + batch_size]) for i in range(0, data.shape[0], batch_size)])
    partitioner.train(was)
    return out


def neighbour_graph(features: Tensor, k: int, metric: str = "euclidean") -> Tensor:
    """Indices ``(n, k)`` of each sample's k nearest neighbours (itself excluded).

    ``euclidean`` (raw low-dimensional features) uses a KD-tree; ``cosine`` (normalised pretext
    embeddings) the shared chunked :func:`gancluster.neighbours.knn_graph`.
    """
    n = features.shape[0]
    k = max(1, min(k, n - 1))
    if metric == "cosine":
        from ..neighbours import knn_graph

        return knn_graph(features, k, features=features)
    from sklearn.neighbors import NearestNeighbors

    arr = features.reshape(n, -1).detach().cpu().numpy()
    idx = NearestNeighbors(n_neighbors=k + 1).fit(arr).kneighbors(arr, return_distance=False)
    out = torch.empty((n, k), dtype=torch.long)
    rows = torch.as_tensor(idx)
    own = rows == torch.arange(n)[:, None]
    # drop the sample itself (normally column 0; with duplicate points it may sit elsewhere)
    keep = ~own
    keep[own.sum(1) == 0, -1] = False
    out[:] = rows[keep].view(n, k)
    return out.to(features.device)
