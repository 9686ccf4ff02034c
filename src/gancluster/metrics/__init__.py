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
from gancluster.metrics.registry import append_jsonl, get_metric, list_metrics, register_metric

__all__ = [
    "NMI_AVERAGES",
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
