"""Classical clustering baselines the papers compare with: k-means, GMM, agglomerative, NMF.

They run on the same flattened data as the GANs so a table row means the same thing for both.
Each is a function ``(X, n_clusters, seed) -> labels`` registered by name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import GanclusterError

BaselineFn = Callable[[np.ndarray, int, int], np.ndarray]

#: Agglomerative clustering is O(n^2) in memory; above this it runs on a subsample and the rest is
#: assigned to the nearest cluster mean.
AGGLOMERATIVE_MAX_SAMPLES = 10_000


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float32).reshape(len(X), -1)


def kmeans(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """k-means with 10 k-means++ restarts."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(_flat(X))


def gmm(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Diagonal-covariance Gaussian mixture on 50 PCA components (full pixels make it singular)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    flat = _flat(X)
    feats = PCA(min(50, *flat.shape), random_state=seed).fit_transform(flat) if flat.shape[1] > 50 else flat
    model = GaussianMixture(n_clusters, covariance_type="diag", n_init=3, random_state=seed, reg_covar=1e-4)
    return model.fit_predict(feats)


def agglomerative(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Ward linkage; on large data fitted on a seeded subsample, the rest goes to the nearest mean."""
    from sklearn.cluster import AgglomerativeClustering

    flat = _flat(X)
    n = flat.shape[0]
    if n <= AGGLOMERATIVE_MAX_SAMPLES:
        return AgglomerativeClustering(n_clusters).fit_predict(flat)
    idx = np.random.default_rng(seed).choice(n, AGGLOMERATIVE_MAX_SAMPLES, replace=False)
    sub = AgglomerativeClustering(n_clusters).fit_predict(flat[idx])
    means = np.stack([flat[idx][sub == k].mean(0) for k in range(n_clusters)])
    d = (flat**2).sum(1, keepdims=True) - 2 * flat @ means.T + (means**2).sum(1)
    return d.argmin(1)


def nmf(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Non-negative matrix factorisation with K components; a sample's cluster is its largest weight."""
    from sklearn.decomposition import NMF

    flat = _flat(X)
    if flat.min() < 0:
        flat = flat - flat.min(0)
    weights = NMF(n_clusters, init="nndsvda", max_iter=400, random_state=seed).fit_transform(flat)
    return weights.argmax(1)


BASELINES: dict[str, BaselineFn] = {
    "kmeans": kmeans,
    "gmm": gmm,
    "agglomerative": agglomerative,
    "nmf": nmf,
}


def run_baseline(name: str, X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Labels from the named classical clusterer."""
    if name not in BASELINES:
        raise GanclusterError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return np.asarray(BASELINES[name](X, n_clusters, seed), dtype=np.int64)
