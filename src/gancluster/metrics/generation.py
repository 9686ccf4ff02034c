"""Condition C3 measured on generated data: does each cluster get its share of the samples?

A *judge* (a classifier trained on real labelled data, or the model's own inverter) labels every
generated sample with a real class. Paper 000's claim is that the generated class shares equal the
real cluster priors only when all of C1, C2 and C3 hold; :func:`generation_scores` measures that
(total variation to the target priors) and how cleanly each latent mode maps to one class
(Hungarian accuracy of mode vs judged class: the clustering of the *generated* space). These are
pure functions of label vectors; training a judge is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from gancluster.errors import GanclusterError
from gancluster.metrics.clustering import (
    LabelsLike,
    _as_distribution,
    _as_labels,
    cluster_acc,
    cluster_shares,
    nmi,
    total_variation,
)

__all__ = ["diversity_ratio", "generated_shares", "generation_scores", "prior_error", "share_tv", "within_cluster_spread"]


def generated_shares(judged: LabelsLike, n_classes: int) -> np.ndarray:
    """Share of generated samples the judge puts in each class ``0..n_classes-1``."""
    return cluster_shares(judged, n_classes)


def share_tv(judged: LabelsLike, target_priors: Sequence[float] | np.ndarray) -> float:
    """Total variation between the judged class shares of generated samples and ``target_priors``."""
    target = _as_distribution(target_priors, "target_priors", 1e-3)
    target = target / target.sum()
    return total_variation(generated_shares(judged, target.size), target)


def prior_error(learned: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Largest absolute difference between learned and true priors (Table III's criterion)."""
    a = _as_distribution(learned, "learned", 1e-3)
    b = _as_distribution(true, "true", 1e-3)
    if a.shape != b.shape:
        raise GanclusterError(f"learned and true priors differ in length: {a.size} vs {b.size}")
    return float(np.abs(a - b).max())


def generation_scores(
    modes: LabelsLike, judged: LabelsLike, target_priors: Sequence[float] | np.ndarray
) -> dict[str, float | list[float]]:
    """Scores of a batch of generated samples: their latent ``modes`` and the judge's classes.

    Keys: ``shares`` (judged class shares), ``tv`` (to ``target_priors``, the real class shares),
    ``mode_acc`` / ``mode_nmi`` (latent mode vs judged class: 1 when every mode generates one class,
    each a different one), ``n`` (number of samples).
    """
    m = _as_labels(modes, "modes")
    j = _as_labels(judged, "judged")
    if m.shape != j.shape:
        raise GanclusterError(f"modes and judged must have the same length, got {m.size} and {j.size}")
    target = _as_distribution(target_priors, "target_priors", 1e-3)
    target = target / target.sum()
    shares = generated_shares(j, target.size)
    return {
        "shares": [round(float(s), 4) for s in shares],
        "tv": total_variation(shares, target),
        "mode_acc": cluster_acc(j, m),
        "mode_nmi": nmi(j, m),
        "n": int(m.size),
    }


def within_cluster_spread(x: np.ndarray, labels: LabelsLike, max_per_cluster: int = 200) -> float:
    """Mean L1 distance (per element) between two samples of the same cluster, averaged over clusters.

    A generator that collapses inside a mode (one image per latent mode, whatever the noise) scores
    near 0 even when every mode is pure and has its right share, which the share and purity metrics
    above cannot see. The first ``max_per_cluster`` rows of each cluster are used (pairs cost n^2).
    """
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    lab = _as_labels(labels, "labels")
    if lab.size != flat.shape[0]:
        raise GanclusterError(f"x and labels must have the same length, got {flat.shape[0]} and {lab.size}")
    spreads = []
    for c in np.unique(lab):
        rows = flat[lab == c][:max_per_cluster]
        if rows.shape[0] < 2:
            continue
        m = rows.shape[0]
        total = sum(float(np.abs(rows[i] - rows).mean(1).sum()) for i in range(m))  # one row at a time: O(m d) memory
        spreads.append(total / (m * (m - 1)))
    if not spreads:
        raise GanclusterError("within_cluster_spread needs a cluster with at least 2 samples")
    return float(np.mean(spreads))


def diversity_ratio(generated: np.ndarray, modes: LabelsLike, real: np.ndarray, real_labels: LabelsLike,
                    max_per_cluster: int = 200) -> float:
    """Within-mode spread of generated samples over the within-cluster spread of real data.

    About 1 when each mode varies as much as its real cluster; near 0 for a generator that draws
    the same sample whatever the noise (collapse inside a mode).
    """
    return within_cluster_spread(generated, modes, max_per_cluster) / within_cluster_spread(
        real, real_labels, max_per_cluster)


def coverage(generated: np.ndarray, reference: np.ndarray, query: np.ndarray, quantile: float = 0.99) -> float:
    """Share of held-out real points (``query``) with a generated sample nearby.

    "Nearby" is within the ``quantile`` of the query's nearest-neighbour distances to the real
    ``reference`` set, and as many generated samples as reference points are used, so real data
    scores about ``quantile``. Low when the samples sit on part of the data only (collapse inside a
    cluster), which the shares and a judge do not see. Meant for low-dimensional vectors.
    """
    generated, reference, query = (np.asarray(a, dtype=np.float64).reshape(len(a), -1)
                                   for a in (generated, reference, query))
    if len(generated) < len(reference):
        raise GanclusterError(f"coverage needs at least as many generated samples ({len(generated)}) "
                              f"as reference points ({len(reference)})")
    radius = np.quantile(cKDTree(reference).query(query, k=1)[0], quantile)
    return float((cKDTree(generated[: len(reference)]).query(query, k=1)[0] <= radius).mean())
