"""The prior-sized spectral partition of a k-NN graph (gancluster.spectral)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancluster.errors import GanclusterError
from gancluster.metrics import evaluate_clustering
from gancluster.neighbours import knn_graph
from gancluster.spectral import (
    graph_adjacency, labelled_partition, set_partitions, spectral_partition, transport_assign,
)


def imbalanced_rings(sizes: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Noisy circles of radius 1 around centres 4 apart, one per cluster, of the given sizes."""
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for k, n in enumerate(sizes):
        angle = rng.uniform(0, 2 * np.pi, n)
        ring = np.stack([np.cos(angle), np.sin(angle)], 1) + 0.1 * rng.standard_normal((n, 2))
        points.append(ring + np.array([4.0 * k, 0.0]))
        labels.append(np.full(n, k))
    return torch.tensor(np.concatenate(points), dtype=torch.float32), np.concatenate(labels)


def test_adjacency_is_symmetric_without_self_loops() -> None:
    graph = torch.tensor([[1, 2], [0, 2], [0, 1], [0, 1]])
    a = graph_adjacency(graph)
    assert (a != a.T).nnz == 0 and a.diagonal().sum() == 0
    assert a[3, 0] == 1 and a[0, 3] == 1  # 3 -> 0 only, symmetrised


@pytest.mark.parametrize("sizes", [(540, 60), (300, 100, 50)])
def test_partition_recovers_imbalanced_clusters_with_the_prior_sizes(sizes: tuple[int, ...]) -> None:
    x, y = imbalanced_rings(sizes)
    priors = np.array(sizes) / sum(sizes)
    labels = spectral_partition(knn_graph(x, 8), priors).numpy()
    assert evaluate_clustering(y, labels)["acc"] > 0.98
    # cluster k takes the share priors[k]: ids follow the priors' order, not an arbitrary one
    assert np.abs(np.bincount(labels, minlength=len(sizes)) / len(y) - priors).max() < 0.02
    assert (labels == y).mean() > 0.98


def test_partition_is_deterministic() -> None:
    x, _ = imbalanced_rings((200, 50))
    graph = knn_graph(x, 8)
    assert torch.equal(spectral_partition(graph, [0.8, 0.2]), spectral_partition(graph, [0.8, 0.2]))


def test_transport_gives_each_column_its_mass() -> None:
    rng = np.random.default_rng(0)
    cost = rng.random((1000, 3))
    counts = np.bincount(transport_assign(cost, np.array([0.6, 0.3, 0.1])), minlength=3) / 1000
    assert np.allclose(counts, [0.6, 0.3, 0.1], atol=0.02)


def test_one_cluster_is_refused() -> None:
    with pytest.raises(GanclusterError, match=">= 2 clusters"):
        spectral_partition(torch.zeros((10, 3), dtype=torch.long), [1.0])


def test_merge_joins_natural_clusters_into_the_groups_the_priors_ask_for() -> None:
    # four blobs; 0-2 overlap, 3 stands apart. Asked for shares 0.75 / 0.25, the masses alone
    # prefer {0, 2, 3} vs {1} (450 : 150 rows) to {0, 1, 2} vs {3} (455 : 145), which cuts no edges.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [150, 150, 155, 145])
    centres = np.array([[0.0, 0.0], [1.5, 0.0], [0.75, 1.3], [8.0, 0.0]])
    x = torch.tensor(centres[y] + 0.5 * rng.standard_normal((600, 2)), dtype=torch.float32)
    for n_fine in (4, 10):
        labels = spectral_partition(knn_graph(x, 8), [0.75, 0.25], n_fine=n_fine).numpy()
        assert (labels == (y == 3)).mean() > 0.98


def test_set_partitions_counts_are_stirling_numbers() -> None:
    assert sum(1 for _ in set_partitions(5, 2)) == 15
    assert sum(1 for _ in set_partitions(10, 5)) == 42525
    assert all(len(set(p)) == 3 for p in set_partitions(6, 3))


def test_more_clusters_than_fine_ones_use_sizes_from_the_priors() -> None:
    x, y = imbalanced_rings((200, 100, 60, 40))
    labels = spectral_partition(knn_graph(x, 8), [0.5, 0.25, 0.15, 0.1], n_fine=4).numpy()
    assert (labels == y).mean() > 0.98


def test_labelled_partition_names_fine_clusters_by_their_labelled_majority() -> None:
    x, y = imbalanced_rings((450, 50))
    graph = knn_graph(x, 8)
    index = torch.tensor([0, 5, 10, 20, 460, 470])  # a few labelled rows of each ring (rows 450+ are ring 1)
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    targets = labelled_partition(graph, index, labels, n_clusters=2, n_fine=2).numpy()
    assert (targets == y).mean() > 0.98
    # fine clusters without a labelled row get no target
    sparse = labelled_partition(graph, torch.tensor([460]), torch.tensor([1]), n_clusters=2, n_fine=2).numpy()
    assert set(np.unique(sparse)) == {-1, 1} and (sparse[y == 0] == -1).mean() > 0.98
