"""Expectation values of Z words from a batch of states, in O(2**n) per row.

States are ``(2**n, Q)`` (basis first). Single-wire ``<Z_w>`` of every wire are one product with the ``(n,
2**n)`` sign matrix up to 14 qubits; wider, one halving sweep: the difference of the two halves of the last
wire's marginal is its ``<Z>``, their sum is the marginal of the remaining wires. Other words multiply the
probabilities by their sign vector.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from . import arrays


@functools.lru_cache(maxsize=256)
def _sign_tensor(words: tuple[tuple[int, ...], ...], n: int, at) -> torch.Tensor:
    """The ``(len(words), 2**n)`` sign vectors of ``words``, made once per device (or for numpy)."""
    return arrays.place(np.stack([_signs(w, n) for w in words]), at)


def _signs(word: tuple[int, ...], n: int) -> np.ndarray:
    index = np.arange(2**n)
    parity = np.zeros(2**n, dtype=np.int64)
    for w in word:
        parity ^= (index >> (n - 1 - w)) & 1
    return 1.0 - 2.0 * parity


#: Up to this width single-wire values come from one product with the sign matrix (2 MiB at 14 qubits).
SIGN_MATRIX_WIRES = 14


def single_z(probs: torch.Tensor, n: int) -> torch.Tensor:
    """``(2**n, Q)`` probabilities -> ``(n, Q)`` values of ``<Z_w>``."""
    if n <= SIGN_MATRIX_WIRES:
        return _sign_tensor(tuple((w,) for w in range(n)), n, arrays.where(probs)) @ probs
    out = [None] * n
    p = probs
    for w in range(n - 1, -1, -1):
        pair = p.reshape(-1, 2, p.shape[-1])
        low, high = pair[:, 0], pair[:, 1]
        out[w] = (low - high).sum(0)
        p = low + high
    return arrays.of(probs).stack(out, 0)


def expectations(psi: torch.Tensor, words: tuple[tuple[int, ...], ...], n: int, gather=None) -> torch.Tensor:
    """``(2**n, Q)`` states -> ``(len(words), Q)`` values of ``<Z...Z>`` on each word's wires; with
    ``gather``, of the states ``psi[gather]`` (a permutation of the basis, made on the probabilities)."""
    probs = psi.real**2 + psi.imag**2
    if gather is not None:
        probs = arrays.of(probs).take(probs, gather)
    if words == tuple((w,) for w in range(n)):
        return single_z(probs, n)
    if n <= SIGN_MATRIX_WIRES:
        return _sign_tensor(words, n, arrays.where(probs)) @ probs
    return arrays.of(probs).stack([_signs_of(word, n, arrays.where(probs)) @ probs for word in words], 0)


def _signs_of(word: tuple[int, ...], n: int, at):
    return _sign_tensor((word,), n, at)[0]


def _signed_sum(grad):
    """``sum_w grad_w s_w`` over the ``k`` wires of ``grad`` (``(k, Q)``) as a ``(2**k, Q)`` array."""
    out = arrays.of(grad).zeros_like(grad[:1])
    for w in range(grad.shape[0]):  # doubling: each wire's sign splits every entry in two
        out = arrays.of(grad).stack([out + grad[w], out - grad[w]], 1).reshape(-1, grad.shape[1])
    return out


def sign_cotangent(grad: torch.Tensor, words: tuple[tuple[int, ...], ...], n: int) -> torch.Tensor:
    """The cotangent of the probabilities, ``(2**n, Q)``, from that of the ``(len(words), Q)`` values:
    ``sum_k grad_k s_k``, ``s_k`` the sign vector of word ``k``."""
    at = arrays.where(grad)
    if n <= SIGN_MATRIX_WIRES:
        return _sign_tensor(words, n, at).T @ grad
    if words == tuple((w,) for w in range(n)):  # sum_w grad_w s_w: the two halves' sums, added outer
        half = n // 2
        left, right = _signed_sum(grad[:half]), _signed_sum(grad[half:])
        return (left[:, None, :] + right[None, :, :]).reshape(-1, grad.shape[1])
    out = 0
    for k, word in enumerate(words):
        out = out + _signs_of(word, n, at)[:, None] * grad[k]
    return out
