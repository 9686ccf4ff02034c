"""Nearest-neighbour graphs of a dataset, computed once, in chunks, on the data's own device."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pca_features(data: Tensor, n_components: int = 50, seed: int = 0) -> Tensor:
    """Project flattened data on its top principal components (all of them if it has fewer)."""
    flat = data.reshape(data.shape[0], -1).float()
    centred = flat - flat.mean(0)
    q = min(n_components, flat.shape[0], flat.shape[1])
    if q == flat.shape[1]:
        return centred
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(centred, q=q, center=False, niter=3)
    return centred @ v


def knn_graph(data: Tensor, k: int, features: Tensor | None = None, chunk: int = 4096,
              metric: str = "auto") -> Tensor:
    """Indices (n, k) of each sample's k nearest neighbours (itself excluded).

    ``features`` defaults to 50 PCA components of the data. ``metric="auto"`` takes cosine
    similarity for images (stroke patterns matter, brightness does not) and Euclidean distance for
    vectors (on low-dimensional data the angle around the mean says little about nearness).
    With fewer than k + 1 samples, k shrinks.
    """
    if metric == "auto":
        metric = "cosine" if data.dim() > 2 else "euclidean"
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'auto', 'cosine' or 'euclidean', got {metric!r}")
    feats = (pca_features(data) if features is None else features).float()
    if metric == "cosine":
        feats = F.normalize(feats, dim=1)
    n = feats.shape[0]
    k = max(1, min(k, n - 1))
    sq = (feats**2).sum(1)
    out = []
    for start in range(0, n, chunk):
        block = feats[start : start + chunk]
        # both metrics rank by a score to maximise: cosine similarity, or minus squared distance
        score = block @ feats.t() if metric == "cosine" else 2 * block @ feats.t() - sq[None] - sq[start : start + chunk, None]
        rows = torch.arange(score.shape[0], device=score.device)
        score[rows, rows + start] = -float("inf")
        out.append(score.topk(k, dim=1).indices)
    return torch.cat(out)
