"""Embeddings and ansätze: small functions over wires and weights, registered by name.

Embeddings map a feature vector ``x`` (or a batch ``(batch, n_features)``) onto wires:

* ``angle``:   ``RX(x_i)`` on wire ``i`` (needs ``n_features <= n_wires``)
* ``amplitude``: the normalised, zero-padded ``x`` as the amplitudes of ``|psi>`` (``n_features <= 2**n_wires``)
* ``iqp``:     ``H`` then ``RZ(x_i)`` and ``ZZ(x_i x_j)`` phases (``n_features == n_wires``)
* ``reupload``: angle embedding repeated before every ansatz layer (data re-uploading)

Ansätze apply trainable layers; with ``entangling=False`` the same rotations run without any two-qubit gate,
the separable control of quantum-ML benchmarks:

* ``strongly_entangling``: ``Rot`` on every wire, then a ring of CNOTs; weights ``(layers, wires, 3)``
* ``basic_entangler``:  ``RX`` on every wire, then a ring of CNOTs; weights ``(layers, wires)``
* ``hardware_efficient``: ``RY``, ``RZ`` on every wire, then a CNOT chain; weights ``(layers, wires, 2)``

Example:
    >>> import pennylane as qp
    >>> from qhybrid.qml.circuits import get_ansatz, get_embedding
    >>> emb, ans = get_embedding("angle"), get_ansatz("basic_entangler")
    >>> ans.shape(n_layers=2, n_wires=3)
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pennylane as qp

from .validation import ArgumentTypeError, describe


@dataclass(frozen=True)
class Embedding:
    name: str
    apply: Callable  # (x, wires) -> None
    max_features: Callable[[int], int]  # n_wires -> most features it can take
    exact_features: bool = False
    reupload: bool = False

    def check(self, n_features: int, n_wires: int) -> None:
        limit = self.max_features(n_wires)
        if n_features > limit or (self.exact_features and n_features != limit):
            need = f"exactly {limit}" if self.exact_features else f"at most {limit}"
            raise ValueError(
                f"embedding {self.name!r} on {n_wires} qubits takes {need} features, got {n_features}"
            )


@dataclass(frozen=True)
class Ansatz:
    name: str
    layer: Callable  # (weights of one layer, wires, entangling) -> None
    weights_per_wire: int

    def shape(self, n_layers: int, n_wires: int) -> tuple[int, ...]:
        if self.weights_per_wire == 1:
            return (n_layers, n_wires)
        return (n_layers, n_wires, self.weights_per_wire)

    def apply(self, weights, wires, entangling: bool = True) -> None:
        for layer_weights in weights:
            self.layer(layer_weights, wires, entangling)


def angle_embedding(x, wires) -> None:
    """``RX(x_i)`` on wire ``i``."""
    qp.AngleEmbedding(x, wires=wires, rotation="X")


def amplitude_embedding(x, wires) -> None:
    """Amplitudes of the normalised, zero-padded feature vector."""
    qp.AmplitudeEmbedding(x, wires=wires, normalize=True, pad_with=0.0)


def iqp_embedding(x, wires) -> None:
    """Havlíček et al.'s IQP feature map: ``H`` layer, ``RZ(x_i)`` and ``ZZ(x_i x_j)`` on every pair."""
    qp.IQPEmbedding(x, wires=wires, n_repeats=1)


def _ring(wires) -> list[tuple]:
    wires = list(wires)
    if len(wires) < 2:
        return []
    if len(wires) == 2:
        return [(wires[0], wires[1])]
    return [(wires[i], wires[(i + 1) % len(wires)]) for i in range(len(wires))]


def strongly_entangling_layer(weights, wires, entangling: bool = True) -> None:
    """``Rot(phi, theta, omega)`` on every wire, then CNOTs around a ring."""
    for i, w in enumerate(wires):
        qp.Rot(weights[..., i, 0], weights[..., i, 1], weights[..., i, 2], wires=w)
    if entangling:
        for a, b in _ring(wires):
            qp.CNOT(wires=[a, b])


def basic_entangler_layer(weights, wires, entangling: bool = True) -> None:
    """``RX(theta)`` on every wire, then CNOTs around a ring."""
    for i, w in enumerate(wires):
        qp.RX(weights[..., i], wires=w)
    if entangling:
        for a, b in _ring(wires):
            qp.CNOT(wires=[a, b])


def hardware_efficient_layer(weights, wires, entangling: bool = True) -> None:
    """``RY``, ``RZ`` on every wire, then a linear chain of CNOTs."""
    wires = list(wires)
    for i, w in enumerate(wires):
        qp.RY(weights[..., i, 0], wires=w)
        qp.RZ(weights[..., i, 1], wires=w)
    if entangling:
        for a, b in zip(wires[:-1], wires[1:], strict=True):
            qp.CNOT(wires=[a, b])


def one_per_wire(n_wires: int) -> int:
    return n_wires


def amplitudes_of(n_wires: int) -> int:
    return 2**n_wires


# Module-level functions (not lambdas) so that layers holding these objects can be pickled.
EMBEDDINGS: dict[str, Embedding] = {
    "angle": Embedding("angle", angle_embedding, one_per_wire),
    "amplitude": Embedding("amplitude", amplitude_embedding, amplitudes_of),
    "iqp": Embedding("iqp", iqp_embedding, one_per_wire, exact_features=True),
    "reupload": Embedding("reupload", angle_embedding, one_per_wire, reupload=True),
}

ANSATZE: dict[str, Ansatz] = {
    "strongly_entangling": Ansatz("strongly_entangling", strongly_entangling_layer, 3),
    "basic_entangler": Ansatz("basic_entangler", basic_entangler_layer, 1),
    "hardware_efficient": Ansatz("hardware_efficient", hardware_efficient_layer, 2),
}


def get_embedding(embedding) -> Embedding:
    """An :class:`Embedding` by name, or wrap a callable ``f(x, wires)`` (taking up to one feature per wire)."""
    if isinstance(embedding, Embedding):
        return embedding
    if callable(embedding):
        return Embedding(getattr(embedding, "__name__", "custom"), embedding, one_per_wire)
    if not isinstance(embedding, str):
        raise ArgumentTypeError(
            f"embedding must be a name or a callable f(x, wires), got {describe(embedding)}"
        )
    if embedding not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {embedding!r}; allowed: {', '.join(EMBEDDINGS)} or a callable")
    return EMBEDDINGS[embedding]


def get_ansatz(ansatz, weights_per_wire: int = 3) -> Ansatz:
    """An :class:`Ansatz` by name, or wrap a callable ``f(layer_weights, wires, entangling)``."""
    if isinstance(ansatz, Ansatz):
        return ansatz
    if callable(ansatz):
        return Ansatz(getattr(ansatz, "__name__", "custom"), ansatz, weights_per_wire)
    if not isinstance(ansatz, str):
        raise ArgumentTypeError(
            f"ansatz must be a name or a callable f(layer_weights, wires, entangling), got {describe(ansatz)}"
        )
    if ansatz not in ANSATZE:
        raise ValueError(f"unknown ansatz {ansatz!r}; allowed: {', '.join(ANSATZE)} or a callable")
    return ANSATZE[ansatz]


def default_n_qubits(embedding: Embedding, n_features: int) -> int:
    """The fewest qubits an embedding needs for ``n_features``."""
    if embedding.name == "amplitude":
        return max(1, (n_features - 1).bit_length())
    return n_features
