"""Tests for gancluster.metrics: hand-computed cases, sklearn and brute-force cross-checks."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from gancluster.errors import GanclusterError
from gancluster.metrics import (
    append_jsonl,
    ari,
    cluster_acc,
    cluster_shares,
    contingency_matrix,
    evaluate_clustering,
    get_metric,
    hungarian_mapping,
    list_metrics,
    nmi,
    purity,
    register_metric,
    total_variation,
)
from gancluster.metrics import registry as registry_module

# --- hand-computed cases ----------------------------------------------------------------------

# Contingency (rows classes 0/1, cols clusters 3/7) = [[1, 3], [4, 2]].
# Best one-to-one matching: 7->0 (3) and 3->1 (4) = 7/10; purity: 4 + 3 = 7/10.
CASE_2X2_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
CASE_2X2_PRED = [7, 7, 7, 3, 7, 7, 3, 3, 3, 3]

# Contingency [[4, 3], [1, 2]]: both clusters' majority is class 0, so purity (4 + 3 = 7/10)
# beats one-to-one ACC (max(4 + 2, 3 + 1) = 6/10).
CASE_SHARED_TRUE = [0] * 7 + [1] * 3
CASE_SHARED_PRED = [0, 0, 0, 0, 1, 1, 1, 0, 1, 1]

# Three clusters, two classes: contingency [[2, 1, 0], [0, 0, 3]] (pred refines true).
CASE_OVER_TRUE = [0, 0, 0, 1, 1, 1]
CASE_OVER_PRED = [0, 0, 1, 2, 2, 2]


def test_contingency_matrix_rows_and_columns_follow_sorted_labels() -> None:
    table = contingency_matrix(CASE_2X2_TRUE, CASE_2X2_PRED)
    np.testing.assert_array_equal(table, [[1, 3], [4, 2]])
    # pairs (2,5), (2,1), (0,1): row 0 = class 0, row 1 = class 2; col 0 = cluster 1, col 1 = cluster 5
    table = contingency_matrix([2, 2, 0], [5, 1, 1])
    np.testing.assert_array_equal(table, [[1, 0], [1, 1]])


def test_perfect_clustering_with_permuted_labels_scores_one() -> None:
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [2, 2, 0, 0, 1, 1, 1]
    assert cluster_acc(y_true, y_pred) == 1.0
    assert purity(y_true, y_pred) == 1.0
    assert nmi(y_true, y_pred) == pytest.approx(1.0)
    assert nmi(y_true, y_pred, "geometric") == pytest.approx(1.0)
    assert ari(y_true, y_pred) == pytest.approx(1.0)
    assert hungarian_mapping(y_true, y_pred) == {0: 1, 1: 2, 2: 0}


def test_known_2x2_case() -> None:
    assert cluster_acc(CASE_2X2_TRUE, CASE_2X2_PRED) == pytest.approx(0.7)
    assert purity(CASE_2X2_TRUE, CASE_2X2_PRED) == pytest.approx(0.7)
    assert hungarian_mapping(CASE_2X2_TRUE, CASE_2X2_PRED) == {3: 1, 7: 0}


def test_purity_exceeds_acc_when_two_clusters_share_a_class() -> None:
    assert cluster_acc(CASE_SHARED_TRUE, CASE_SHARED_PRED) == pytest.approx(0.6)
    assert purity(CASE_SHARED_TRUE, CASE_SHARED_PRED) == pytest.approx(0.7)
    assert hungarian_mapping(CASE_SHARED_TRUE, CASE_SHARED_PRED) == {0: 0, 1: 1}


def test_more_clusters_than_classes() -> None:
    # Only two clusters can be matched: 0->0 (2) and 2->1 (3); cluster 1 counts as wrong for ACC.
    assert cluster_acc(CASE_OVER_TRUE, CASE_OVER_PRED) == pytest.approx(5 / 6)
    assert purity(CASE_OVER_TRUE, CASE_OVER_PRED) == 1.0
    # The unmatched cluster 1 falls back to its majority class 0.
    assert hungarian_mapping(CASE_OVER_TRUE, CASE_OVER_PRED) == {0: 0, 1: 0, 2: 1}


def test_more_classes_than_clusters() -> None:
    # Contingency [[3, 0], [2, 0], [0, 2]]: class 1 gets no cluster.
    y_true = [0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 0, 0, 1, 1]
    assert cluster_acc(y_true, y_pred) == pytest.approx(5 / 7)
    assert purity(y_true, y_pred) == pytest.approx(5 / 7)
    assert hungarian_mapping(y_true, y_pred) == {0: 0, 1: 2}


def test_single_cluster_acc_is_majority_fraction() -> None:
    assert cluster_acc([0, 0, 0, 1], [4, 4, 4, 4]) == pytest.approx(0.75)


def test_nmi_averages_hand_computed_on_asymmetric_case() -> None:
    # pred refines true, so MI = H(true) = ln 2 and H(pred) = H(1/3, 1/6, 1/2) > ln 2.
    h_true = math.log(2)
    h_pred = -sum(p * math.log(p) for p in (1 / 3, 1 / 6, 1 / 2))
    mi = h_true
    expected = {
        "arithmetic": mi / ((h_true + h_pred) / 2),
        "geometric": mi / math.sqrt(h_true * h_pred),
        "min": mi / min(h_true, h_pred),
        "max": mi / max(h_true, h_pred),
    }
    for average, value in expected.items():
        assert nmi(CASE_OVER_TRUE, CASE_OVER_PRED, average) == pytest.approx(value, rel=1e-9)
    assert nmi(CASE_OVER_TRUE, CASE_OVER_PRED) == pytest.approx(expected["arithmetic"], rel=1e-9)
    assert expected["min"] == pytest.approx(1.0)


def test_geometric_and_arithmetic_nmi_differ_and_match_sklearn() -> None:
    arith = nmi(CASE_OVER_TRUE, CASE_OVER_PRED, "arithmetic")
    geo = nmi(CASE_OVER_TRUE, CASE_OVER_PRED, "geometric")
    assert abs(arith - geo) > 1e-3
    assert geo > arith  # AM >= GM of the entropies, so the geometric normaliser is smaller
    for average in ("arithmetic", "geometric", "min", "max"):
        ref = normalized_mutual_info_score(CASE_OVER_TRUE, CASE_OVER_PRED, average_method=average)
        assert nmi(CASE_OVER_TRUE, CASE_OVER_PRED, average) == pytest.approx(ref, rel=1e-12)


def test_ari_hand_computed() -> None:
    # Pair counts: sum C(n_ij,2) = 1, rows 2, cols 1, C(4,2) = 6 -> (1 - 1/3) / (3/2 - 1/3) = 4/7.
    assert ari([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)


def test_evaluate_clustering_keys_and_values() -> None:
    result = evaluate_clustering(CASE_SHARED_TRUE, CASE_SHARED_PRED)
    assert set(result) == {"acc", "purity", "nmi", "nmi_geometric", "ari"}
    assert result["acc"] == pytest.approx(0.6)
    assert result["purity"] == pytest.approx(0.7)
    assert result["nmi"] == pytest.approx(normalized_mutual_info_score(CASE_SHARED_TRUE, CASE_SHARED_PRED))
    assert result["nmi_geometric"] == pytest.approx(
        normalized_mutual_info_score(CASE_SHARED_TRUE, CASE_SHARED_PRED, average_method="geometric")
    )
    assert result["ari"] == pytest.approx(adjusted_rand_score(CASE_SHARED_TRUE, CASE_SHARED_PRED))
    assert all(type(v) is float for v in result.values())


def test_accepts_numpy_and_integral_float_labels() -> None:
    assert cluster_acc(np.array([0, 1, 1], dtype=np.uint8), np.array([1.0, 0.0, 0.0])) == 1.0
    assert cluster_acc([True, False], [0, 1]) == 1.0


# --- cross-checks on random labels ------------------------------------------------------------


def _brute_force_acc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Max over all injective cluster->class assignments, counted directly from the labels."""
    classes = sorted(set(y_true.tolist()))
    clusters = sorted(set(y_pred.tolist()))
    k = max(len(classes), len(clusters))
    targets = classes + [None] * (k - len(classes))  # None = no partner class (always wrong)
    best = 0
    for perm in itertools.permutations(targets, len(clusters)):
        mapping = dict(zip(clusters, perm))
        hits = sum(1 for t, p in zip(y_true.tolist(), y_pred.tolist()) if mapping[p] == t)
        best = max(best, hits)
    return best / len(y_true)


def test_cluster_acc_matches_brute_force_on_random_cases() -> None:
    rng = np.random.default_rng(1234)
    for _ in range(40):
        k_true = int(rng.integers(1, 6))
        k_pred = int(rng.integers(1, 6))
        n = int(rng.integers(1, 30))
        y_true = rng.integers(0, k_true, size=n)
        y_pred = rng.integers(0, k_pred, size=n) * 3 + 1  # non-contiguous cluster ids
        acc = cluster_acc(y_true, y_pred)
        assert acc == pytest.approx(_brute_force_acc(y_true, y_pred))
        assert purity(y_true, y_pred) >= acc - 1e-12
        mapping = hungarian_mapping(y_true, y_pred)
        assert set(mapping) == set(y_pred.tolist())
        assert set(mapping.values()) <= set(y_true.tolist())
        relabelled = np.array([mapping[c] for c in y_pred.tolist()])
        if len(set(y_pred.tolist())) <= len(set(y_true.tolist())):
            # Injective mapping: relabelling with it reproduces ACC exactly.
            assert np.mean(relabelled == y_true) == pytest.approx(acc)
        else:
            # Unmatched clusters go to their majority class: never worse than one-to-one.
            assert np.mean(relabelled == y_true) >= acc - 1e-12


def test_relabelled_predictions_do_not_change_scores() -> None:
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 4, size=50)
    y_pred = rng.integers(0, 5, size=50)
    relabel = rng.permutation(5) + 10
    base = evaluate_clustering(y_true, y_pred)
    moved = evaluate_clustering(y_true, relabel[y_pred])
    for key in base:
        assert moved[key] == pytest.approx(base[key])


def test_nmi_and_ari_match_sklearn_on_random_labels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        y_true = rng.integers(0, 4, size=60)
        y_pred = rng.integers(0, 6, size=60)
        for average in ("arithmetic", "geometric", "min", "max"):
            ref = normalized_mutual_info_score(y_true, y_pred, average_method=average)
            assert nmi(y_true, y_pred, average) == pytest.approx(ref, rel=1e-12, abs=1e-15)
        assert ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred), abs=1e-15)


# --- input validation -------------------------------------------------------------------------

ALL_PAIR_METRICS = [contingency_matrix, hungarian_mapping, cluster_acc, purity, nmi, ari, evaluate_clustering]


@pytest.mark.parametrize("fn", ALL_PAIR_METRICS)
def test_mismatched_lengths_raise(fn) -> None:
    with pytest.raises(GanclusterError, match="same length"):
        fn([0, 1, 1], [0, 1])


@pytest.mark.parametrize("fn", ALL_PAIR_METRICS)
def test_empty_input_raises(fn) -> None:
    with pytest.raises(GanclusterError, match="empty"):
        fn([], [])


@pytest.mark.parametrize("fn", ALL_PAIR_METRICS)
def test_two_dimensional_input_raises(fn) -> None:
    with pytest.raises(GanclusterError, match="1-D"):
        fn([[0, 1], [1, 0]], [[0, 1], [1, 0]])


def test_non_integer_labels_raise() -> None:
    with pytest.raises(GanclusterError, match="non-integer"):
        cluster_acc([0.5, 1.0], [0, 1])
    with pytest.raises(GanclusterError, match="NaN"):
        cluster_acc([np.nan, 1.0], [0, 1])
    with pytest.raises(GanclusterError, match="integer labels"):
        cluster_acc(["a", "b"], [0, 1])


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        purity([0], [0, 1])


def test_unknown_nmi_average_raises() -> None:
    with pytest.raises(GanclusterError, match="arithmetic, geometric, min, max"):
        nmi([0, 1], [0, 1], average="harmonic")


# --- total variation / shares -----------------------------------------------------------------


def test_total_variation_values() -> None:
    assert total_variation([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert total_variation([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    assert total_variation([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.5)
    assert total_variation(np.array([0.2, 0.3, 0.5]), [0.1, 0.4, 0.5]) == pytest.approx(0.1)
    assert total_variation([0.2, 0.8], [0.6, 0.4]) == total_variation([0.6, 0.4], [0.2, 0.8])


@pytest.mark.parametrize(
    ("p", "q", "match"),
    [
        ([0.5, 0.5], [0.2, 0.3, 0.5], "same length"),
        ([0.5, 0.6], [0.5, 0.5], "sum to 1"),
        ([0.5, 0.5], [1.5, -0.5], "negative"),
        ([np.nan, 1.0], [0.5, 0.5], "NaN"),
        ([], [], "empty"),
        ([[0.5, 0.5]], [[0.5, 0.5]], "1-D"),
    ],
)
def test_total_variation_errors(p, q, match) -> None:
    with pytest.raises(GanclusterError, match=match):
        total_variation(p, q)


def test_cluster_shares() -> None:
    shares = cluster_shares([0, 0, 1, 3], 4)
    np.testing.assert_allclose(shares, [0.5, 0.25, 0.0, 0.25])
    assert shares.dtype == np.float64
    assert total_variation(shares, np.full(4, 0.25)) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("labels", "k", "match"),
    [([0, 4], 4, "0..3"), ([-1, 0], 2, "0..1"), ([0], 0, "positive"), ([0], 2.0, "positive"), ([], 2, "empty")],
)
def test_cluster_shares_errors(labels, k, match) -> None:
    with pytest.raises(GanclusterError, match=match):
        cluster_shares(labels, k)


# --- registry / jsonl -------------------------------------------------------------------------


def test_builtin_metrics_registered() -> None:
    assert {"acc", "purity", "nmi", "nmi_geometric", "ari"} <= set(list_metrics())
    assert list_metrics() == sorted(list_metrics())
    assert get_metric("acc") is cluster_acc
    assert get_metric("purity") is purity
    value = get_metric("nmi_geometric")(CASE_OVER_TRUE, CASE_OVER_PRED)
    assert value == pytest.approx(nmi(CASE_OVER_TRUE, CASE_OVER_PRED, "geometric"))
    assert value != pytest.approx(get_metric("nmi")(CASE_OVER_TRUE, CASE_OVER_PRED))


def test_get_metric_unknown_lists_known_names() -> None:
    with pytest.raises(GanclusterError, match="unknown metric 'accuracy'.*acc, ari"):
        get_metric("accuracy")


@pytest.fixture
def clean_registry():
    saved = dict(registry_module._REGISTRY)
    yield
    registry_module._REGISTRY.clear()
    registry_module._REGISTRY.update(saved)


def test_register_metric_decorator(clean_registry) -> None:
    @register_metric("always_half")
    def always_half(y_true, y_pred) -> float:
        return 0.5

    assert get_metric("always_half") is always_half
    assert "always_half" in list_metrics()

    def other(y_true, y_pred) -> float:
        return 0.0

    with pytest.raises(ValueError, match="already registered"):
        register_metric("always_half")(other)
    assert get_metric("always_half") is always_half


def test_append_jsonl_writes_parseable_lines_with_numpy_values(tmp_path) -> None:
    path = tmp_path / "nested" / "dir" / "results.jsonl"
    append_jsonl(
        path,
        {
            "acc": np.float32(0.25),
            "epoch": np.int64(3),
            "ok": np.bool_(True),
            "shares": np.array([0.5, 0.5]),
            "nested": {"k": [np.int32(1), (np.float64(2.5),)]},
        },
    )
    append_jsonl(str(path), {"loss": float("nan"), "name": "run2"})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {"acc": 0.25, "epoch": 3, "ok": True, "shares": [0.5, 0.5], "nested": {"k": [1, [2.5]]}}
    assert type(first["epoch"]) is int and type(first["ok"]) is bool
    second = json.loads(lines[1])
    assert math.isnan(second["loss"]) and second["name"] == "run2"


def test_append_jsonl_rejects_non_dict(tmp_path) -> None:
    with pytest.raises(TypeError, match="dict"):
        append_jsonl(tmp_path / "x.jsonl", [1, 2])  # type: ignore[arg-type]
    assert not (tmp_path / "x.jsonl").exists()


# --- diversity inside clusters -----------------------------------------------------------------


def test_within_cluster_spread_hand_computed_and_ignores_singletons() -> None:
    from gancluster.metrics.generation import within_cluster_spread

    # cluster 0: rows [0, 0] and [1, 3] -> mean |diff| = (1 + 3) / 2 = 2; cluster 1 has one row (skipped)
    x = np.array([[0.0, 0.0], [1.0, 3.0], [9.0, 9.0]])
    assert within_cluster_spread(x, [0, 0, 1]) == pytest.approx(2.0)
    with pytest.raises(GanclusterError, match="same length"):
        within_cluster_spread(x, [0, 0])
    with pytest.raises(GanclusterError, match="at least 2"):
        within_cluster_spread(x, [0, 1, 2])


def test_diversity_ratio_separates_a_collapsed_generator_from_a_faithful_one() -> None:
    from gancluster.metrics.generation import diversity_ratio

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20))
    labels = np.repeat(np.arange(3), 100)
    real = centres[labels] + rng.normal(size=(300, 20))
    faithful = centres[labels] + rng.normal(size=(300, 20))
    collapsed = centres[labels] + 0.01 * rng.normal(size=(300, 20))
    assert diversity_ratio(faithful, labels, real, labels) == pytest.approx(1.0, abs=0.05)
    assert diversity_ratio(collapsed, labels, real, labels) < 0.02


def test_coverage_is_high_for_fresh_data_and_low_for_samples_on_part_of_it() -> None:
    from gancluster.metrics.generation import coverage

    rng = np.random.default_rng(0)
    reference, query, fresh = (rng.standard_normal((1000, 2)) for _ in range(3))
    assert coverage(fresh, reference, query) > 0.95
    one_side = fresh[fresh[:, 0] > 0]  # samples on half the data only
    assert coverage(np.concatenate([one_side] * 3), reference, query) < 0.6
    with pytest.raises(GanclusterError, match="at least as many generated samples"):
        coverage(fresh[:10], reference, query)
