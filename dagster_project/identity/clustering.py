"""Records → clusters: connected components of the match graph, honouring "not the same" decisions.

Every edge (an exact shared key, a Splink match, a person's "link") joins two records; the
clusters are the connected components, computed by scipy so ten million edges take seconds.
A person's "these two are NOT the same" (a cannot-link pair) must survive that: a component
that holds such a pair is rebuilt greedily from its strongest edges down, refusing any union
that would put a cannot-link pair together, so the weakest evidence is what gets cut. Only
those few components pay the cost of a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Clustering:
    """Per node: its cluster label, and the smallest node of its connected component.

    The component (before any cannot-link cut) is what a later run re-resolves as a whole
    when anything in it changed (``resolve_scope``).
    """

    labels: np.ndarray
    component_roots: np.ndarray


def cluster_nodes(n_nodes: int, a: np.ndarray, b: np.ndarray, strength: np.ndarray,
                  cannot_link: np.ndarray) -> np.ndarray:
    """Cluster label (0..n_clusters-1, numbered by each cluster's smallest node) of every node.

    ``a``, ``b``, ``strength``: one undirected edge per position, higher strength = stronger
    evidence. ``cannot_link``: int array of shape (k, 2), node pairs that must end up apart.
    """
    return cluster_graph(n_nodes, a, b, strength, cannot_link).labels


def cluster_graph(n_nodes: int, a: np.ndarray, b: np.ndarray, strength: np.ndarray,
                  cannot_link: np.ndarray) -> Clustering:
    """``cluster_nodes``, also returning each node's component root."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    strength = np.asarray(strength, dtype=np.float64)
    cannot_link = np.asarray(cannot_link, dtype=np.int64).reshape(-1, 2)
    _check_inputs(n_nodes, a, b, strength, cannot_link)
    if n_nodes == 0:
        return Clustering(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n_nodes, n_nodes))
    _, components = connected_components(graph, directed=False)
    components = components.astype(np.int64)

    # A cluster is represented by its smallest node; components with a cannot-link pair
    # inside get their representatives from the greedy rebuild.
    roots = _smallest_node_per_label(components)[components]
    representative = roots.copy()
    cannot_link = cannot_link[cannot_link[:, 0] != cannot_link[:, 1]]  # "x is not x" cannot be honoured
    left, right = components[cannot_link[:, 0]], components[cannot_link[:, 1]]
    cannot_link = cannot_link[left == right]  # pairs already apart need nothing
    conflicted = np.unique(left[left == right])
    if len(conflicted):
        edge_in_conflict = np.isin(components[a], conflicted)
        nodes = np.flatnonzero(np.isin(components, conflicted))
        representative[nodes] = _greedy_representatives(
            nodes, a[edge_in_conflict], b[edge_in_conflict], strength[edge_in_conflict], cannot_link)
    _, labels = np.unique(representative, return_inverse=True)
    return Clustering(labels.astype(np.int64), roots)


def _check_inputs(n_nodes: int, a: np.ndarray, b: np.ndarray, strength: np.ndarray, cannot_link: np.ndarray) -> None:
    if n_nodes < 0:
        raise ValueError(f"n_nodes must not be negative, got {n_nodes}")
    if not len(a) == len(b) == len(strength):
        raise ValueError(f"a, b and strength differ in length: {len(a)}, {len(b)}, {len(strength)}")
    for name, values in (("edge", np.concatenate([a, b])), ("cannot_link", cannot_link.ravel())):
        if len(values) and (values.min() < 0 or values.max() >= n_nodes):
            raise ValueError(f"{name} node out of range 0..{n_nodes - 1}")


def _smallest_node_per_label(labels: np.ndarray) -> np.ndarray:
    """For each label value, the smallest node carrying it."""
    smallest = np.full(labels.max() + 1, len(labels), dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(len(labels), dtype=np.int64))
    return smallest


def _greedy_representatives(nodes: np.ndarray, a: np.ndarray, b: np.ndarray, strength: np.ndarray,
                            cannot_link: np.ndarray) -> np.ndarray:
    """Smallest-node representative of each of ``nodes`` after the strongest-first rebuild.

    Edges are taken by descending strength, ties by (smaller end, larger end), so the result
    does not depend on the order or direction the edges came in.
    """
    parent = {int(n): int(n) for n in nodes}
    apart: dict[int, set[int]] = {}  # root → nodes its cluster must never join
    for x, y in cannot_link.tolist():
        apart.setdefault(x, set()).add(y)
        apart.setdefault(y, set()).add(x)

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    low, high = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((high, low, -strength))
    for x, y in zip(low[order].tolist(), high[order].tolist()):
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        forbidden_x, forbidden_y = apart.get(rx, set()), apart.get(ry, set())
        if len(forbidden_y) < len(forbidden_x):
            rx, ry, forbidden_x, forbidden_y = ry, rx, forbidden_y, forbidden_x
        if any(find(z) == ry for z in forbidden_x):
            continue
        root, child = min(rx, ry), max(rx, ry)  # the smaller node stays root: it is the representative
        parent[child] = root
        merged = forbidden_x | forbidden_y
        apart.pop(child, None)
        if merged:
            apart[root] = merged
    return np.array([find(int(n)) for n in nodes], dtype=np.int64)
