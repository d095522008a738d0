"""Expectation values of Z words from a batch of states, in O(2**n) per row.

States are ``(2**n, Q)`` (basis first). Single-wire ``<Z_w>`` of every wire are one product with the ``(n,
2**n)`` sign matrix up to 14 qubits; wider, one halving sweep: the difference of the two halves of the last
wire's marginal is its ``<Z>``, their sum is the marginal of the remaining wires. Other words multiply the
probabilities by their sign vector.
"""

from __future__ import annotations

import numpy as np
import torch


def _signs(word: tuple[int, ...], n: int) -> np.ndarray:
    index = np.arange(2**n)
    parity = np.zeros(2**n, dtype=np.int64)
    for w in word:
        parity ^= (index >> (n - 1 - w)) & 1
    return 1.0 - 2.0 * parity


#: Up to this width single-wire values come from one product with the sign matrix (2 MiB at 14 qubits).
SIGN_MATRIX_WIRES = 14


def single_z(probs: torch.Tensor, n: int, cache) -> torch.Tensor:
    """``(2**n, Q)`` probabilities -> ``(n, Q)`` values of ``<Z_w>``."""
    if n <= SIGN_MATRIX_WIRES:
        signs = cache(("single-signs", n), np.stack([_signs((w,), n) for w in range(n)]))
        return signs @ probs
    out = [None] * n
    p = probs
    for w in range(n - 1, -1, -1):
        low, high = p.reshape(-1, 2, p.shape[-1]).unbind(1)
        out[w] = (low - high).sum(0)
        p = low + high
    return torch.stack(out)


def expectations(psi: torch.Tensor, words: tuple[tuple[int, ...], ...], n: int, cache) -> torch.Tensor:
    """``(2**n, Q)`` states -> ``(len(words), Q)`` values of ``<Z...Z>`` on each word's wires."""
    probs = psi.real**2 + psi.imag**2
    singles = single_z(probs, n, cache) if any(len(w) == 1 for w in words) else None
    if singles is not None and words == tuple((w,) for w in range(n)):
        return singles
    rows = []
    for word in words:
        if len(word) == 1:
            rows.append(singles[word[0]])
        elif not word:
            rows.append(probs.sum(0))
        else:
            rows.append(cache(("signs", word), _signs(word, n)) @ probs)
    return torch.stack(rows)
