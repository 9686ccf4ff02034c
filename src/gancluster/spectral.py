"""A spectral partition of the k-NN graph whose cluster sizes follow the given priors.

Why: the real-data warm-up (neighbour agreement + prior matching, :mod:`gancluster.methods.real_clusters`)
has a trivial optimum under heavy imbalance: every sample gets the prior vector itself. With two
clusters at 90:10 that costs only ``-log(0.9² + 0.1²) = 0.2`` of agreement, and the warm-up stays
there (BENCHMARKS.md, NEMGAN Table I). The k-NN graph itself does separate the classes (3 vs 5
at 90:10: 98 % of neighbours share a class), so a partition of the graph gives the warm-up a
non-trivial start.

Steps:

1. *Fine clusters*: the ``n_fine`` leading eigenvectors of the normalised adjacency
   ``D^-1/2 A D^-1/2`` of the symmetrised graph, rows normalised (Ng, Jordan & Weiss 2001), then
   k-means. ``n_fine`` (10) is at least the number of clusters: the clusters a user asks for are
   often unions of natural ones (paper 000's MNIST-5 groups ten digits into five), and a
   minority of 10 % is one natural cluster among about ten.
2. *Merge*: every partition of the fine clusters into ``K`` groups is scored by its normalised
   cut on the graph plus the total variation between its group masses and the priors (groups
   matched to priors by the Hungarian algorithm); the best one wins. Exhaustive: at most
   S(10, 5) = 42,525 partitions.
3. *Sizes*: with no merge (``K >= n_fine``), each k-means centre takes the prior closest to its
   own mass, and rows go to the centres by an entropic optimal transport (Sinkhorn) whose column
   masses are the priors.

Cluster ``k`` of the result carries about ``priors[k]`` of the rows, so its id is the latent mode
with that mass. A tiny regularisation of the graph (every pair joined with weight ``tau / n``,
``tau`` 1 % of the mean degree) splits the eigenvalue 1 that disconnected pieces share, which
the Lanczos solver otherwise resolves badly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import linear_sum_assignment
from scipy.sparse.linalg import LinearOperator, eigsh
from scipy.special import logsumexp
from sklearn.cluster import KMeans
from torch import Tensor

from .errors import GanclusterError

#: regularisation of the graph, as a share of its mean degree (module doc)
TAU_SHARE = 0.01
#: fine clusters found before merging into the requested number
N_FINE = 10


def graph_adjacency(graph: Tensor) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency of a k-NN graph given as an (n, k) tensor of neighbour indices."""
    g = graph.detach().cpu().numpy()
    n, k = g.shape
    rows = np.repeat(np.arange(n), k)
    a = sp.csr_matrix((np.ones(n * k), (rows, g.ravel())), shape=(n, n))
    a = a.maximum(a.T).tolil()
    a.setdiag(0)
    a = a.tocsr()
    a.eliminate_zeros()
    return a


def spectral_embedding(adjacency: sp.csr_matrix, n_components: int, seed: int = 0) -> np.ndarray:
    """Rows of the graph in the space of its ``n_components`` leading normalised eigenvectors, rows normalised."""
    n = adjacency.shape[0]
    degree = np.asarray(adjacency.sum(1)).ravel()
    tau = TAU_SHARE * float(degree.mean())
    inv_sqrt = 1.0 / np.sqrt(degree + tau)
    sparse_part = sp.diags(inv_sqrt) @ adjacency @ sp.diags(inv_sqrt)

    def matvec(v: np.ndarray) -> np.ndarray:  # (D + tau)^-1/2 (A + tau/n 11^T) (D + tau)^-1/2 v
        v = v.reshape(n, -1)
        return sparse_part @ v + (tau / n) * inv_sqrt[:, None] * (inv_sqrt @ v)[None, :]

    operator = LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
    start = np.random.default_rng(seed).random(n)  # eigsh starts from an unseeded random vector otherwise
    _, vectors = eigsh(operator, k=n_components, which="LA", v0=start)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)


def transport_assign(cost: np.ndarray, masses: np.ndarray, sharpness: float = 20.0, iterations: int = 500) -> np.ndarray:
    """Column of each row under the entropic transport plan that gives column ``k`` the share ``masses[k]``.

    ``cost`` is (n, K); ``sharpness`` scales it by its mean (higher: closer to the exact transport).
    """
    n, k = cost.shape
    log_kernel = -sharpness * cost / max(float(cost.mean()), 1e-12)
    log_rows = np.full(n, -np.log(n))
    log_cols = np.log(np.asarray(masses, dtype=np.float64))
    u, v = np.zeros(n), np.zeros(k)
    for _ in range(iterations):
        u = log_rows - logsumexp(log_kernel + v[None, :], axis=1)
        v = log_cols - logsumexp(log_kernel + u[:, None], axis=0)
    return (log_kernel + v[None, :]).argmax(1)


def set_partitions(n_items: int, n_groups: int) -> Iterator[list[int]]:
    """Every partition of ``n_items`` into exactly ``n_groups`` non-empty groups, as group ids (canonical order)."""
    labels: list[int] = []

    def extend(used: int) -> Iterator[list[int]]:
        i = len(labels)
        if i == n_items:
            if used == n_groups:
                yield list(labels)
            return
        if n_items - i < n_groups - used:
            return
        for g in range(min(used + 1, n_groups)):
            labels.append(g)
            yield from extend(max(used, g + 1))
            labels.pop()

    yield from extend(0)


def merge_clusters(affinity: np.ndarray, masses: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Prior index of each fine cluster: the merge with the lowest normalised cut + K * TV to the priors.

    ``affinity`` (m, m) counts graph edges between fine clusters, ``masses`` (m,) their shares.
    """
    m, k = len(masses), len(priors)
    best_score, best = np.inf, np.zeros(m, dtype=np.int64)
    for labels in set_partitions(m, k):
        member = np.eye(k)[labels]  # (m, k)
        between = member.T @ affinity @ member
        volume = between.sum(1)
        ncut = float(((volume - np.diag(between)) / np.maximum(volume, 1e-12)).sum())
        mismatch = np.abs((member.T @ masses)[:, None] - priors[None, :])
        rows, cols = linear_sum_assignment(mismatch)
        score = ncut + k * 0.5 * float(mismatch[rows, cols].sum())
        if score < best_score:
            to_prior = np.empty(k, dtype=np.int64)
            to_prior[rows] = cols
            best_score, best = score, to_prior[np.asarray(labels)]
    return best


def fine_clusters(adjacency: sp.csr_matrix, n_fine: int = N_FINE, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 1: k-means in the spectral embedding; returns (fine cluster per row, embedding, centres)."""
    if adjacency.shape[0] <= n_fine + 1:
        raise GanclusterError(f"a spectral partition into {n_fine} fine clusters needs more than {n_fine + 1} rows, "
                              f"got {adjacency.shape[0]}")
    embedding = spectral_embedding(adjacency, n_fine, seed)
    kmeans = KMeans(n_fine, n_init=10, random_state=seed).fit(embedding)
    return kmeans.labels_, embedding, kmeans.cluster_centers_


def spectral_partition(graph: Tensor, priors: Tensor | np.ndarray, seed: int = 0, n_fine: int = N_FINE) -> Tensor:
    """Cluster id of every row of ``graph`` (n, k neighbours); cluster ``k`` holds about ``priors[k]`` of the rows."""
    masses = np.asarray(priors.detach().cpu() if isinstance(priors, Tensor) else priors, dtype=np.float64)
    masses = masses / masses.sum()
    n_clusters = masses.shape[0]
    if n_clusters < 2:
        raise GanclusterError(f"a spectral partition needs >= 2 clusters, got {n_clusters}")
    n_fine = max(n_fine, n_clusters)
    adjacency = graph_adjacency(graph)
    fine, embedding, centres = fine_clusters(adjacency, n_fine, seed)
    if n_fine == n_clusters:  # centre j goes to the prior closest to its natural mass, then exact sizes
        natural = np.bincount(fine, minlength=n_clusters) / len(fine)
        rows, priors_of = linear_sum_assignment(np.abs(natural[:, None] - masses[None, :]))
        ordered = np.empty_like(centres)
        ordered[priors_of] = centres[rows]
        labels = transport_assign(((embedding[:, None, :] - ordered[None, :, :]) ** 2).sum(-1), masses)
    else:
        member = sp.csr_matrix((np.ones(len(fine)), (np.arange(len(fine)), fine)), shape=(len(fine), n_fine))
        affinity = (member.T @ adjacency @ member).toarray()
        labels = merge_clusters(affinity, np.bincount(fine, minlength=n_fine) / len(fine), masses)[fine]
    return torch.as_tensor(labels, dtype=torch.long, device=graph.device)


def labelled_partition(graph: Tensor, index: Tensor, labels: Tensor, n_clusters: int, seed: int = 0,
                       n_fine: int = N_FINE) -> Tensor:
    """Cluster id of every row from a few labelled ones: each fine cluster takes its labelled majority.

    For prior learning, where the priors are unknown: rows of a fine cluster holding no labelled
    row get -1 (no target). The shares of this partition need not follow the labelled sample's
    own, which with 1 % labels are off by up to 0.125 at 70:30 (MNIST-2 3 vs 5, 3 draws; the
    partition's were within 0.0074, an offline check).
    """
    fine, _, _ = fine_clusters(graph_adjacency(graph), max(n_fine, n_clusters), seed)
    votes = np.zeros((fine.max() + 1, n_clusters))
    np.add.at(votes, (fine[index.cpu().numpy()], labels.cpu().numpy()), 1)
    majority = np.where(votes.sum(1) > 0, votes.argmax(1), -1)
    return torch.as_tensor(majority[fine], dtype=torch.long, device=graph.device)
