"""Nearest-neighbour graphs of a dataset, computed once, in chunks, on the data's own device.

Data streamed from disk (:class:`gancluster.streaming.ArraySource`) are never loaded whole: the
PCA is fitted on a random subsample of ``PCA_FIT_ROWS`` rows and every row is projected chunk by
chunk; the graph is then exact on those PCA features (which are small: n x 50 floats).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


#: rows the PCA of streamed data is fitted on
PCA_FIT_ROWS = 20_000


def pca_features(data: Tensor, n_components: int = 50, seed: int = 0) -> Tensor:
    """Project flattened data on its top principal components (all of them if it has fewer)."""
    if not isinstance(data, Tensor):  # streamed from disk: fit on a subsample, project in chunks
        return _streamed_pca_features(data, n_components, seed)
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


def _streamed_pca_features(source, n_components: int, seed: int) -> Tensor:
    from .streaming import row_chunks

    n = source.shape[0]
    gen = torch.Generator().manual_seed(seed)
    fit_rows = torch.randperm(n, generator=gen)[: min(n, PCA_FIT_ROWS)]
    sample = source[fit_rows].reshape(fit_rows.numel(), -1).float()
    mean = sample.mean(0)
    centred = sample - mean
    q = min(n_components, centred.shape[0], centred.shape[1])
    if q == centred.shape[1]:
        v = None
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, _, v = torch.pca_lowrank(centred, q=q, center=False, niter=3)
    out = []
    for block in row_chunks(source):
        block = block.reshape(block.shape[0], -1).float() - mean
        out.append(block if v is None else block @ v)
    return torch.cat(out)


def moment_normalise(images: Tensor) -> Tensor:
    """Deskew and centre each image by its intensity moments (the classic handwriting normalisation).

    Each image is sheared so that its ink has no slant (the covariance of column and row,
    over the row variance) and shifted so its centre of mass is the image centre. Slant and
    position are what make two different glyphs (a slanted 4 and an upright 9) close in pixel space;
    a k-NN graph on normalised images pairs digits by shape. Used for graphs only, never for training.
    """
    x = images.float()
    n, _, h, w = x.shape
    rows, cols = torch.meshgrid(torch.arange(h, dtype=x.dtype, device=x.device),
                                torch.arange(w, dtype=x.dtype, device=x.device), indexing="ij")
    ink = x.mean(1)
    mass = ink.sum((1, 2)).clamp_min(1e-6)
    mc = (ink * cols).sum((1, 2)) / mass
    mr = (ink * rows).sum((1, 2)) / mass
    cov = (ink * (cols - mc[:, None, None]) * (rows - mr[:, None, None])).sum((1, 2)) / mass
    var = (ink * (rows - mr[:, None, None]) ** 2).sum((1, 2)) / mass
    slant = cov / var.clamp_min(1e-6)
    # normalised coordinates (align_corners=True): output (u, v) reads input (u + a v - a c_v + c_u, v + c_v)
    cu = (mc - (w - 1) / 2) / ((w - 1) / 2)
    cv = (mr - (h - 1) / 2) / ((h - 1) / 2)
    a = slant * (h - 1) / (w - 1)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1
    theta[:, 0, 1] = a
    theta[:, 0, 2] = cu - a * cv
    theta[:, 1, 1] = 1
    theta[:, 1, 2] = cv
    out = []
    for start in range(0, n, 4096):  # chunks keep the sampling grid small
        sl = slice(start, start + 4096)
        grid = F.affine_grid(theta[sl], [theta[sl].shape[0], *x.shape[1:]], align_corners=True)
        out.append(F.grid_sample(x[sl], grid, align_corners=True))
    return torch.cat(out)


def hog_features(images: Tensor, cell: int = 4, bins: int = 9, block: int = 2) -> Tensor:
    """Histograms of oriented gradients (Dalal and Triggs, 2005): a fixed, label-free shape descriptor.

    Each ``cell`` x ``cell`` patch gets a histogram of its gradient orientations (unsigned, ``bins``
    bins, votes weighted by gradient magnitude and split between the two nearest bins); each
    ``block`` x ``block`` group of cells is normalised (L2, clipped at 0.2, renormalised), so edges
    count, not their contrast. Neighbours in this space compare outlines rather than ink: on
    FMNIST-5 the 10-NN graph's label agreement is 0.937 against 0.929 on PCA pixels. Colour images
    are averaged to one channel. Used for graphs only, never for training.
    """
    x = images.float().mean(1, keepdim=True)  # the gradients ignore an offset, the block norms a scale
    h, w = x.shape[-2:]
    if h < cell * block or w < cell * block:
        raise ValueError(f"HOG needs images of at least {cell * block}x{cell * block} pixels, got {h}x{w}")
    dx = torch.tensor([-1.0, 0.0, 1.0], device=x.device).view(1, 1, 1, 3)
    out = []
    for start in range(0, x.shape[0], 4096):
        part = x[start : start + 4096]
        gx = F.conv2d(F.pad(part, (1, 1, 0, 0), mode="replicate"), dx)
        gy = F.conv2d(F.pad(part, (0, 0, 1, 1), mode="replicate"), dx.transpose(2, 3))
        magnitude = (gx**2 + gy**2).sqrt()
        position = torch.atan2(gy, gx).remainder(torch.pi) / torch.pi * bins - 0.5
        low = position.floor()
        upper_share = position - low
        low = low.long().remainder(bins)
        hist = torch.zeros(part.shape[0], bins, h, w, device=x.device)
        hist.scatter_add_(1, low, magnitude * (1 - upper_share))
        hist.scatter_add_(1, (low + 1).remainder(bins), magnitude * upper_share)
        cells = F.avg_pool2d(hist, cell)  # (n, bins, h // cell, w // cell)
        blocks = cells.unfold(2, block, 1).unfold(3, block, 1).permute(0, 2, 3, 1, 4, 5).flatten(3)
        blocks = F.normalize(F.normalize(blocks, dim=3).clamp(max=0.2), dim=3)
        out.append(blocks.flatten(1))
    return torch.cat(out)
