"""Expectation values of any sum of Pauli words (``X(0) @ Y(2)``, a molecular Hamiltonian), in the engine.

A Pauli word maps basis state ``j`` to ``i**ny (-1)**popcount(j & z) |j ^ x>``, where ``x`` marks its X and Y
wires, ``z`` its Z and Y wires and ``ny`` counts its Ys. The terms of a sum that flip the same wires (the same
``x``) share one gather, so an observable is stored as its distinct flip masks ``m`` and one coefficient
vector per mask: ``(H psi)[k] = sum_m D_m[k] psi[k ^ m]``. A molecular Hamiltonian has few masks (LiH on 12
qubits: 631 terms, 25 masks), a diagonal one (a QAOA cost) only ``m = 0``. Values are ``Re <psi|H|psi>``; the
state's cotangent is ``2 H psi`` (times each value's cotangent), the convention of :mod:`.measure`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import arrays

#: The largest observable table (flip masks x 2**n entries, a complex coefficient and an index each) the
#: engine builds; a wider or denser observable runs on Aer.
MAX_TABLE_BYTES = 1 << 30


@dataclass(frozen=True)
class PauliSum:
    """``sum_t coeff_t P_t`` on ``n`` wires; each term ``(coeff, x mask, z mask, number of Ys)``, bit
    ``n - 1 - w`` for wire ``w`` (wire 0 is the most significant bit, PennyLane's order)."""

    n: int
    terms: tuple[tuple[float, int, int, int], ...]

    @property
    def masks(self) -> tuple[int, ...]:
        return tuple(sorted({t[1] for t in self.terms}))

    def table_bytes(self) -> int:
        return len(self.masks) * 2**self.n * 24


def word_masks(word, position, n: int) -> tuple[int, int, int]:
    """A PennyLane Pauli word (``{wire: "X" | "Y" | "Z"}``) as ``(x mask, z mask, number of Ys)``, bit
    ``n - 1 - position[wire]`` for each wire: ``P|k> = i**ny (-1)**popcount(k & z) |k ^ x>``."""
    x = z = ny = 0
    for wire, letter in word.items():
        bit = 1 << (n - 1 - position[wire])
        x |= bit if letter in "XY" else 0
        z |= bit if letter in "ZY" else 0
        ny += letter == "Y"
    return x, z, ny


def pauli_sum(obs, wire_index: dict, n: int) -> PauliSum | None:
    """``obs`` as a :class:`PauliSum` on the device's wire positions, or None when it has no Pauli form
    with fixed real coefficients (a ``Hermitian`` matrix, a trainable coefficient)."""
    rep = obs.pauli_rep
    if rep is None:
        return None
    terms = []
    for word, coeff in rep.items():
        if getattr(coeff, "requires_grad", False):
            return None
        c = complex(np.asarray(coeff.detach() if hasattr(coeff, "detach") else coeff))
        if abs(c.imag) > 1e-12:
            return None
        terms.append((c.real, *word_masks(word, wire_index, n)))
    return PauliSum(n, tuple(terms))


def _table(obs: PauliSum) -> tuple[np.ndarray, np.ndarray]:
    """``(masks, 2**n)`` coefficient vectors ``D_m`` and gather indices ``k ^ m``."""
    k = np.arange(2**obs.n, dtype=np.int64)
    masks = obs.masks
    coeffs = np.zeros((len(masks), k.size), dtype=np.complex128)
    row = {m: i for i, m in enumerate(masks)}
    for c, x, z, ny in obs.terms:  # (P psi)[k] = i**ny (-1)**popcount((k ^ x) & z) psi[k ^ x]
        sign = 1.0 - 2.0 * (np.bitwise_count((k ^ x) & z) & 1)
        coeffs[row[x]] += (c * 1j**ny) * sign
    index = np.stack([k ^ m for m in masks])
    return coeffs, index


@functools.lru_cache(maxsize=64)
def _placed(obs: PauliSum, at) -> tuple:
    """The table at ``at``, and whether its first mask flips nothing (those terms need no gather)."""
    coeffs, index = _table(obs)
    return arrays.place(coeffs, at), arrays.place(index, at), obs.masks[0] == 0


def apply(obs: PauliSum, psi):
    """``H psi`` for ``(2**n, Q)`` states."""
    coeffs, index, diagonal = _placed(obs, arrays.where(psi))
    xp = arrays.of(psi)
    out = coeffs[0][:, None] * (psi if diagonal else xp.take(psi, index[0]))
    for m in range(1, coeffs.shape[0]):
        out = out + coeffs[m][:, None] * xp.take(psi, index[m])
    return out


def expectations(psi, observables: tuple[PauliSum, ...]):
    """``(len(observables), Q)`` values ``Re <psi|H|psi>`` of ``(2**n, Q)`` states."""
    xp = arrays.of(psi)
    return xp.stack([(psi.conj() * apply(h, psi)).real.sum(0) for h in observables], 0)


def state_cotangent(grad, psi, observables: tuple[PauliSum, ...]):
    """The state's cotangent ``2 sum_k grad_k H_k psi`` from the ``(len(observables), Q)`` values' one."""
    out = 0
    for k, h in enumerate(observables):
        out = out + apply(h, psi) * (2 * grad[k])
    return out
