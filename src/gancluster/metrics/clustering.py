"""Clustering quality metrics over integer label vectors.

Cluster ids are arbitrary names, so every score here is invariant to relabelling the
predicted clusters. ``cluster_acc`` is the standard "unsupervised clustering accuracy"
(one-to-one Hungarian matching); ``purity`` is the more lenient many-to-one variant, so
``purity >= cluster_acc`` always holds. All functions are pure and validate their input,
raising :class:`~gancluster.errors.GanclusterError` with a message naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from gancluster.errors import GanclusterError

LabelsLike = Union[Sequence[int], np.ndarray]

NMI_AVERAGES = ("arithmetic", "geometric", "min", "max")

__all__ = [
    "NMI_AVERAGES",
    "ari",
    "cluster_acc",
    "cluster_shares",
    "contingency_matrix",
    "evaluate_clustering",
    "hungarian_mapping",
    "nmi",
    "purity",
    "total_variation",
]


def _as_labels(labels: LabelsLike, name: str) -> np.ndarray:
    """Coerce ``labels`` to a 1-D int64 array, rejecting anything that is not a label vector."""
    try:
        arr = np.asarray(labels)
    except (TypeError, ValueError) as exc:  # ragged nested lists etc.
        raise GanclusterError(f"{name} could not be read as a 1-D array of integer labels: {exc}") from exc
    if arr.ndim != 1:
        raise GanclusterError(f"{name} must be 1-D, got an array with shape {arr.shape}")
    if arr.size == 0:
        raise GanclusterError(f"{name} is empty; at least one label is needed")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        # Labels that went through a float array (e.g. torch/pandas) are accepted if integral.
        if not np.all(np.isfinite(arr)):
            raise GanclusterError(f"{name} contains NaN or infinite values; labels must be integers")
        if not np.all(arr == np.round(arr)):
            raise GanclusterError(f"{name} contains non-integer values; labels must be integers")
        return arr.astype(np.int64)
    raise GanclusterError(f"{name} must contain integer labels, got dtype {arr.dtype}")


def _as_label_pair(y_true: LabelsLike, y_pred: LabelsLike) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise GanclusterError(
            f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}"
        )
    return t, p


def _contingency(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contingency table plus the sorted class and cluster ids that index its rows and columns."""
    classes, t_idx = np.unique(t, return_inverse=True)
    clusters, p_idx = np.unique(p, return_inverse=True)
    table = np.zeros((classes.size, clusters.size), dtype=np.int64)
    np.add.at(table, (t_idx.ravel(), p_idx.ravel()), 1)
    return table, classes, clusters


def contingency_matrix(y_true: LabelsLike, y_pred: LabelsLike) -> np.ndarray:
    """Count matrix ``C[i, j]`` = #samples of true class ``i`` put in predicted cluster ``j``.

    Rows follow the sorted unique values of ``y_true``, columns the sorted unique values of
    ``y_pred``; it is the shared input of ACC and purity.
    """
    t, p = _as_label_pair(y_true, y_pred)
    return _contingency(t, p)[0]


def hungarian_mapping(y_true: LabelsLike, y_pred: LabelsLike) -> dict[int, int]:
    """Map every predicted cluster id to a true class id, maximising the number of matches.

    The assignment is one-to-one (``scipy.optimize.linear_sum_assignment`` on the
    contingency table), which is what ``cluster_acc`` scores. The table may be rectangular:

    * more classes than clusters: every cluster is matched, some classes get no cluster;
    * more clusters than classes: the clusters left unmatched by the one-to-one assignment
      are mapped to their majority class (smallest class id on ties), so the returned dict
      covers every predicted cluster and can be used to relabel predictions. Note that this
      makes the mapping many-to-one for those clusters; ``cluster_acc`` still counts their
      samples as wrong.
    """
    t, p = _as_label_pair(y_true, y_pred)
    table, classes, clusters = _contingency(t, p)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(clusters[c]): int(classes[r]) for r, c in zip(rows, cols)}
    for j, cluster in enumerate(clusters):
        if int(cluster) not in mapping:
            mapping[int(cluster)] = int(classes[int(np.argmax(table[:, j]))])
    return dict(sorted(mapping.items()))


def cluster_acc(y_true: LabelsLike, y_pred: LabelsLike) -> float:
    """Unsupervised clustering accuracy: best one-to-one cluster->class matching (Hungarian).

    Clusters without a partner class (when there are more clusters than classes) count as
    wrong, so over-clustering is penalised, unlike ``purity``.
    """
    t, p = _as_label_pair(y_true, y_pred)
    table = _contingency(t, p)[0]
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / t.shape[0])


def purity(y_true: LabelsLike, y_pred: LabelsLike) -> float:
    """Fraction of samples in their cluster's majority class (many-to-one matching).

    An upper bound on ``cluster_acc``; it reaches 1 trivially with one cluster per sample,
    so report it together with ACC/NMI rather than alone.
    """
    t, p = _as_label_pair(y_true, y_pred)
    table = _contingency(t, p)[0]
    return float(table.max(axis=0).sum() / t.shape[0])


def nmi(y_true: LabelsLike, y_pred: LabelsLike, average: str = "arithmetic") -> float:
    """Normalized mutual information (sklearn), normalised by the ``average`` of the entropies.

    ``average`` is one of ``NMI_AVERAGES``; papers differ ("arithmetic" is sklearn's
    default, "geometric" is common in older clustering papers), so it is explicit here.
    """
    if average not in NMI_AVERAGES:
        raise GanclusterError(f"unknown NMI average {average!r}; expected one of {', '.join(NMI_AVERAGES)}")
    t, p = _as_label_pair(y_true, y_pred)
    return float(normalized_mutual_info_score(t, p, average_method=average))


def ari(y_true: LabelsLike, y_pred: LabelsLike) -> float:
    """Adjusted Rand index (sklearn): pair-counting agreement corrected for chance (0 = random)."""
    t, p = _as_label_pair(y_true, y_pred)
    return float(adjusted_rand_score(t, p))


def evaluate_clustering(y_true: LabelsLike, y_pred: LabelsLike) -> dict[str, float]:
    """All standard scores at once, with the keys used in result logs.

    Keys: ``acc``, ``purity``, ``nmi`` (arithmetic), ``nmi_geometric``, ``ari``.
    """
    t, p = _as_label_pair(y_true, y_pred)
    return {
        "acc": cluster_acc(t, p),
        "purity": purity(t, p),
        "nmi": nmi(t, p, "arithmetic"),
        "nmi_geometric": nmi(t, p, "geometric"),
        "ari": ari(t, p),
    }


def _as_distribution(x: LabelsLike | Sequence[float], name: str, atol: float) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GanclusterError(f"{name} could not be read as a 1-D array of probabilities: {exc}") from exc
    if arr.ndim != 1:
        raise GanclusterError(f"{name} must be 1-D, got an array with shape {arr.shape}")
    if arr.size == 0:
        raise GanclusterError(f"{name} is empty; a probability vector needs at least one entry")
    if not np.all(np.isfinite(arr)):
        raise GanclusterError(f"{name} contains NaN or infinite values")
    if np.any(arr < 0):
        raise GanclusterError(f"{name} has negative entries (min {arr.min():g}); probabilities must be >= 0")
    total = float(arr.sum())
    if abs(total - 1.0) > atol:
        raise GanclusterError(f"{name} must sum to 1 (within {atol:g}), got {total:.6g}")
    return arr


def total_variation(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, atol: float = 1e-6) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` between two probability vectors.

    Used to compare cluster-size distributions (e.g. ``cluster_shares`` against the
    prior); it lies in [0, 1]. Both inputs must be non-negative, sum to 1 within ``atol``
    and have the same length.
    """
    pa = _as_distribution(p, "p", atol)
    qa = _as_distribution(q, "q", atol)
    if pa.shape != qa.shape:
        raise GanclusterError(f"p and q must have the same length, got {pa.shape[0]} and {qa.shape[0]}")
    return float(0.5 * np.abs(pa - qa).sum())


def cluster_shares(labels: LabelsLike, n_clusters: int) -> np.ndarray:
    """Fraction of ``labels`` in each cluster ``0..n_clusters-1`` (empty clusters get 0).

    Makes collapsed or unused clusters visible; labels outside the range are an error
    rather than being silently dropped.
    """
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise GanclusterError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    arr = _as_labels(labels, "labels")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_clusters:
        raise GanclusterError(
            f"labels must lie in 0..{int(n_clusters) - 1} for n_clusters={int(n_clusters)}, "
            f"got values in {lo}..{hi}"
        )
    counts = np.bincount(arr, minlength=int(n_clusters))
    return counts.astype(np.float64) / arr.shape[0]
