"""Clustering metrics, a name -> metric registry and JSON-lines result logging."""

from __future__ import annotations

from gancluster.metrics.clustering import (
    NMI_AVERAGES,
    ari,
    cluster_acc,
    cluster_shares,
    contingency_matrix,
    evaluate_clustering,
    hungarian_mapping,
    nmi,
    purity,
    total_variation,
)
from gancluster.metrics.fid import (
    FeatureStats,
    FIDResult,
    compute_fid,
    fid_to_dataset,
    frechet_distance,
    real_stats,
)
from gancluster.metrics.inception_score import ISResult, classifier_score, inception_score
from gancluster.metrics.modes import ModeMetrics, mode_metrics_2d, share_vs_prior, stacked_mnist_metrics
from gancluster.metrics.registry import append_jsonl, get_metric, list_metrics, register_metric

__all__ = [
    "FIDResult",
    "FeatureStats",
    "ISResult",
    "ModeMetrics",
    "NMI_AVERAGES",
    "classifier_score",
    "compute_fid",
    "fid_to_dataset",
    "frechet_distance",
    "inception_score",
    "mode_metrics_2d",
    "real_stats",
    "share_vs_prior",
    "stacked_mnist_metrics",
    "append_jsonl",
    "ari",
    "cluster_acc",
    "cluster_shares",
    "contingency_matrix",
    "evaluate_clustering",
    "get_metric",
    "hungarian_mapping",
    "list_metrics",
    "nmi",
    "purity",
    "register_metric",
    "total_variation",
]
