"""Clustering on hand-made graphs: plain components, and cannot-link pairs cut at the weakest evidence."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dagster_project.identity.clustering import cluster_nodes

NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


def _edges(*triples):
    a, b, s = zip(*triples)
    return np.array(a), np.array(b), np.array(s, dtype=float)


def test_components_without_cannot_link():
    a, b, s = _edges((0, 1, 2.0), (1, 2, 0.9), (4, 3, 0.7))
    assert cluster_nodes(6, a, b, s, NO_PAIRS).tolist() == [0, 0, 0, 1, 1, 2]


def test_labels_are_numbered_by_smallest_node():
    a, b, s = _edges((5, 2, 1.0), (0, 4, 1.0))
    # clusters {0,4} {1} {2,5} {3}: numbered in order of their smallest node
    assert cluster_nodes(6, a, b, s, NO_PAIRS).tolist() == [0, 1, 2, 3, 0, 2]


def test_isolated_nodes_and_no_edges():
    empty = np.zeros(0, dtype=np.int64)
    assert cluster_nodes(4, empty, empty, np.zeros(0), NO_PAIRS).tolist() == [0, 1, 2, 3]
    assert cluster_nodes(0, empty, empty, np.zeros(0), NO_PAIRS).tolist() == []


def test_chain_breaks_at_its_weakest_edge():
    # 0 -2.0- 1 -0.6- 2 -0.9- 3, and a person said 0 and 3 are not the same
    a, b, s = _edges((0, 1, 2.0), (1, 2, 0.6), (2, 3, 0.9))
    labels = cluster_nodes(4, a, b, s, np.array([[0, 3]]))
    assert labels.tolist() == [0, 0, 1, 1]


def test_cannot_link_inside_a_strong_chain_cuts_the_weakest_link_between_them():
    # Exact keys (2.0) chain 0-1-2; a Splink edge 2-3 (0.97); a person linked 3-4 (3.0).
    # "0 is not 4": the only edge whose loss separates them at least cost is the Splink one.
    a, b, s = _edges((0, 1, 2.0), (1, 2, 2.0), (2, 3, 0.97), (3, 4, 3.0))
    labels = cluster_nodes(5, a, b, s, np.array([[4, 0]]))
    assert labels.tolist() == [0, 0, 0, 1, 1]


def test_cannot_link_between_equally_strong_edges_is_decided_by_node_order():
    # A path 0-1-2 of equal edges and "0 is not 2": edge (0,1) comes first, (1,2) is refused.
    a, b, s = _edges((2, 1, 2.0), (1, 0, 2.0))
    assert cluster_nodes(3, a, b, s, np.array([[0, 2]])).tolist() == [0, 0, 1]


def test_untouched_components_keep_their_shape_next_to_a_broken_one():
    a, b, s = _edges((0, 1, 0.8), (1, 2, 0.7), (3, 4, 0.6), (5, 6, 0.55))
    labels = cluster_nodes(8, a, b, s, np.array([[0, 2], [7, 7]]))
    assert labels.tolist() == [0, 0, 1, 2, 2, 3, 3, 4]


def test_cannot_link_across_components_changes_nothing():
    a, b, s = _edges((0, 1, 0.8), (2, 3, 0.8))
    assert cluster_nodes(4, a, b, s, np.array([[0, 3]])).tolist() == [0, 0, 1, 1]


def test_several_cannot_link_pairs_in_one_star():
    # Hub 0 with spokes 1..4; 1, 2 and 3 pairwise apart: the hub keeps its strongest spoke.
    a, b, s = _edges((0, 1, 0.9), (0, 2, 0.95), (0, 3, 0.8), (0, 4, 0.99))
    labels = cluster_nodes(5, a, b, s, np.array([[1, 2], [2, 3], [1, 3]]))
    assert labels[0] == labels[2] == labels[4]
    assert len({labels[1], labels[2], labels[3]}) == 3
    assert labels.tolist() == [0, 1, 0, 2, 0]


def test_same_result_whatever_the_edge_order_or_direction():
    rng = np.random.default_rng(3)
    n = 300
    a, b = rng.integers(0, n, 600), rng.integers(0, n, 600)
    s = rng.choice([2.0, 0.9, 0.7, 0.6], 600)
    pairs = rng.integers(0, n, (20, 2))
    expected = cluster_nodes(n, a, b, s, pairs)
    order = rng.permutation(600)
    assert cluster_nodes(n, b[order], a[order], s[order], pairs[:, ::-1]).tolist() == expected.tolist()
    # every cannot-link pair ended up apart
    assert all(expected[x] != expected[y] for x, y in pairs if x != y)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        cluster_nodes(3, np.array([0]), np.array([1, 2]), np.array([1.0]), NO_PAIRS)
    with pytest.raises(ValueError, match="out of range"):
        cluster_nodes(3, np.array([0]), np.array([3]), np.array([1.0]), NO_PAIRS)
    with pytest.raises(ValueError, match="cannot_link node out of range"):
        cluster_nodes(3, np.array([0]), np.array([1]), np.array([1.0]), np.array([[0, 5]]))


def test_two_million_nodes_match_scipy_components():
    rng = np.random.default_rng(11)
    n, m = 2_000_000, 1_500_000
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    s = rng.random(m)
    labels = cluster_nodes(n, a, b, s, rng.integers(0, n, (50, 2)))
    n_plain, plain = connected_components(coo_matrix((np.ones(m, dtype=np.int8), (a, b)), shape=(n, n)), directed=False)
    # cannot-link pairs can only add clusters; random pairs rarely share a component
    assert len(labels) == n
    assert labels.max() + 1 >= n_plain
    no_pairs = cluster_nodes(n, a, b, s, NO_PAIRS)
    assert no_pairs.max() + 1 == n_plain
    # same partition as scipy (labels may be numbered differently)
    assert len(np.unique(no_pairs.astype(np.int64) * n_plain + plain)) == n_plain
