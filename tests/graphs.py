"""Graphs shared by the classical and quantum solver tests (importable through tests/conftest.py)."""

import networkx as nx
import numpy as np


def weighted_graph(n: int, seed: int, p: float = 0.5, integer_weights: bool = False) -> nx.Graph:
    """A G(n, p) random graph whose edges carry random weights: floats in [0.1, 2), or integers 1-4."""
    g = nx.gnp_random_graph(n, p, seed=seed)
    rng = np.random.default_rng(seed)
    for u, v in g.edges:
        g[u][v]["weight"] = float(rng.integers(1, 5)) if integer_weights else float(rng.uniform(0.1, 2.0))
    return g
