"""Quantum kernels: Gram matrices of feature-map circuits run on qhybrid's backends.

A feature map ``U(x)`` embeds a sample as ``|phi(x)> = U(x)|0>``; the kernels of the qml-benchmarks study
(Bowles, Ahmed & Schuld, arXiv:2403.07059) are

* :class:`FidelityKernel`: ``k(x, x') = |<phi(x')|phi(x)>|^2`` (the IQP kernel);
* :class:`ProductKernel`: the same for a feature map without entangling gates, a product over wires of
  one-qubit fidelities (the separable kernel);
* :class:`ProjectedKernel`: ``k(x, x') = exp(-gamma sum_k sum_P (<P_k>_x - <P_k>_x')^2)`` over the one-qubit
  Pauli expectations ``P in {X, Y, Z}`` of every qubit ``k``, i.e. ``2 sum_k ||rho_k(x) - rho_k(x')||_F^2``
  over the one-qubit reduced density matrices (Huang et al. 2021).

How a Gram matrix is computed depends on the backend (``method``):

* ``"statevector"`` (exact pure states: ``aer``, ``aer.mps``, ``default``, ``lightning`` without shots):
  the ``N`` states come from ONE broadcast execution of ``N`` circuits, and the Gram matrix is one matrix
  product, ``|A* B^T|^2``. The projected kernel reads the one-qubit reduced states from the same states; the
  product kernel runs the one-qubit map of every (sample, wire) on a one-wire device.
* ``"fidelity"`` (shots or noise: ``aer.shots``, ``aer.density``, or any backend with ``shots``):
  compute-uncompute circuits ``U(x')^dagger U(x)|0>``, the kernel being the probability of all zeros;
  ``O(N^2)`` circuits, broadcast, only the upper triangle of a symmetric Gram matrix.
* ``"expval"`` (the projected kernel with shots or noise): the ``3 n`` Pauli expectations of each sample,
  sampled or from the density matrix, still ``O(N)`` circuits in one broadcast execution.

Example:
    >>> import numpy as np
    >>> from functools import partial
    >>> kernel = FidelityKernel(partial(iqp_feature_map, repeats=2), n_wires=2)
    >>> states = kernel.embed(np.array([[0.1, 0.2], [0.3, -0.4]]))
    >>> gram = kernel.gram(states)
    >>> kernel.method, gram.shape, bool(np.allclose(np.diag(gram), 1.0))
    ('statevector', (2, 2), True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pennylane as qp
from scipy.spatial.distance import cdist

from .aer import AerDevice, available_memory_bytes
from .backends import MAX_QUBITS, backend_choices, backend_info, check_fits, device_backend, make_device
from .noise import as_aer_noise_model

__all__ = [
    "FidelityKernel",
    "ProductKernel",
    "ProjectedKernel",
    "bloch_vectors",
    "check_kernel_width",
    "hamiltonian_feature_map",
    "iqp_feature_map",
    "kernel_method",
    "separable_feature_map",
]

# Aer's joint runs (rows as an index register) turn every parameterised gate into a diagonal over the rows,
# which the feature maps are dense in; measured on 300 rows of the IQP map (2 repeats): joint 10 / 19 / 33
# / 212 ms against parameter sets 21 / 21 / 24 / 55 ms at 2 / 3 / 4 / 8 wires (743 / 165 ms at 10).
_JOINT_MAX_WIRES = 3
# Rows of states or probabilities one broadcast execution may return at once.
_CHUNK_BYTES = 1 << 28


# ------------------------------------------------------------------------------------------ feature maps


def iqp_feature_map(x, wires, repeats: int = 2) -> None:
    """Havlíček et al.'s IQP map, ``repeats`` times: ``H`` on every wire, ``RZ(x_i)``, then ``IsingZZ(x_i
    x_j)`` on every pair ``i < j``; the same unitary as ``qp.IQPEmbedding(x, wires, n_repeats=repeats)``,
    with ``IsingZZ`` (Aer's native ``rzz``) in place of a two-wire ``MultiRZ``. ``x``: ``(n,)`` or
    ``(batch, n)``."""
    wires = list(wires)
    for _ in range(repeats):
        for w in wires:
            qp.Hadamard(w)
        for i, w in enumerate(wires):
            qp.RZ(x[..., i], w)
        for i in range(len(wires)):
            for j in range(i + 1, len(wires)):
                qp.IsingZZ(x[..., i] * x[..., j], [wires[i], wires[j]])


def hamiltonian_feature_map(x, wires, rotations, t: float = 1 / 3, trotter_steps: int = 5) -> None:
    """The projected kernel's embedding (qml-benchmarks' ``embedding="Hamiltonian"``): ``Rot`` by the fixed
    ``rotations[k]`` on every wire, then ``trotter_steps`` Trotter steps of the Heisenberg XYZ evolution
    ``exp(-i tau x_j (XX + YY + ZZ) / 2)`` on the chain ``(j, j+1)``, with ``tau = t (n_wires - 1) /
    trotter_steps``. Takes ``n_wires - 1`` features."""
    wires = list(wires)
    tau = t * (len(wires) - 1) / trotter_steps
    for k, w in enumerate(wires):
        qp.Rot(*rotations[k], wires=w)
    for _ in range(trotter_steps):
        for j in range(len(wires) - 1):
            pair = [wires[j], wires[j + 1]]
            qp.IsingXX(x[..., j] * tau, pair)
            qp.IsingYY(x[..., j] * tau, pair)
            qp.IsingZZ(x[..., j] * tau, pair)


def separable_feature_map(x, wires, layers: int = 1) -> None:
    """The separable kernel's embedding: on wire ``k``, ``layers`` times ``RX(-pi/4)`` then ``RY(-x_k)``
    (qml-benchmarks' ``SeparableKernelClassifier``, whose circuit is this map followed by its inverse)."""
    for k, w in enumerate(wires):
        for _ in range(layers):
            qp.RX(-np.pi / 4, w)
            qp.RY(-x[..., k], w)


# --------------------------------------------------------------------------------------------- checks


def kernel_method(backend: str, shots: int | None = None, noise=None) -> str:
    """``"statevector"`` where the backend gives exact pure states (``BackendInfo.pure_states``, no shots,
    no noise), else ``"fidelity"``."""
    if backend not in backend_choices():
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(backend_choices())}")
    backend = device_backend(backend, shots, noise)
    if backend_info(backend).engine == "torch":
        raise ValueError(
            f"backend {backend!r} runs QuantumLayer models; a quantum kernel needs a PennyLane device: "
            "'auto' (Aer), 'aer', 'default' or 'lightning'"
        )
    pure = backend_info(backend).pure_states and shots is None and as_aer_noise_model(noise) is None
    return "statevector" if pure else "fidelity"


def check_kernel_width(what: str, n_wires: int, backend: str, n_features: int) -> None:
    """Refuse a circuit wider than the backend allows here (at most ``MAX_QUBITS``, and one state must fit
    in memory), naming the features that asked for it."""
    if n_wires > MAX_QUBITS:
        raise ValueError(
            f"{what} needs {n_wires} qubits for {n_features} features; qhybrid's backends allow 1..{MAX_QUBITS}"
        )
    try:
        check_fits(backend, n_wires)
    except ValueError as err:
        raise ValueError(f"{what} needs {n_wires} qubits for {n_features} features: {err}") from None


def _chunks(n_rows: int, bytes_per_row: int) -> list[slice]:
    size = max(1, _CHUNK_BYTES // bytes_per_row)
    return [slice(s, min(s + size, n_rows)) for s in range(0, n_rows, size)]


def _device(backend: str, n_wires: int, shots, noise, seed):
    device = make_device(backend, n_wires, shots=shots, noise=noise, seed=seed)
    if isinstance(device, AerDevice) and n_wires > _JOINT_MAX_WIRES:
        device.joint_runs = False
    return device


# -------------------------------------------------------------------------------------------- kernels


class _Kernel:
    """A feature map on a device of ``backend``; counts the circuits it runs (each broadcast row one)."""

    def __init__(
        self,
        feature_map: Callable,
        n_wires: int,
        backend: str = "aer",
        *,
        shots=None,
        noise=None,
        seed: int | None = None,
    ) -> None:
        self.feature_map = feature_map
        self.n_wires = int(n_wires)
        self.backend = backend
        self.method = kernel_method(backend, shots, noise)
        self.noisy = as_aer_noise_model(noise) is not None
        self.circuit_executions = 0
        self._options = {"shots": shots, "noise": noise, "seed": seed}
        self._build()

    def _build(self) -> None:
        """The device and the QNodes (made again when an unpickled kernel is loaded)."""
        self.device = _device(self.backend, self.n_wires, **self._options)
        feature_map, wires = self.feature_map, list(range(self.n_wires))

        @qp.qnode(self.device, diff_method=None)
        def overlap(x1, x2):
            feature_map(x1, wires)
            qp.adjoint(feature_map)(x2, wires)
            return qp.probs(wires=wires)

        @qp.qnode(self.device, diff_method=None)
        def state(x):
            feature_map(x, wires)
            return qp.state()

        self._overlap, self._state = overlap, state

    def __getstate__(self) -> dict:
        # devices and QNodes do not pickle; the feature map and the options rebuild them
        return {
            k: v for k, v in self.__dict__.items() if k not in ("device", "_overlap", "_state", "_paulis")
        }

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._build()

    def _checked(self, X) -> np.ndarray:
        """``X`` as a float array whose every column the feature map reads: a map on fewer wires than
        features would drop the others silently, so that is refused, naming the columns (checked once per
        width, by recording the map on differentiable values: a column no gate depends on is unread)."""
        import torch

        X = np.asarray(X, dtype=float)
        width = X.shape[-1] if X.ndim else 0
        checked = self.__dict__.setdefault("_read_widths", set())
        if width in checked or width == 0:
            return X
        x = torch.linspace(0.3, 0.9, width, dtype=torch.float64).requires_grad_()
        tape = qp.tape.make_qscript(self.feature_map)(x, list(range(self.n_wires)))
        params = [
            p for op in tape.operations for p in op.data if isinstance(p, torch.Tensor) and p.requires_grad
        ]
        read = torch.zeros(width, dtype=torch.bool)
        for p in params:
            (grad,) = torch.autograd.grad(p.sum(), x, retain_graph=True, allow_unused=True)
            if grad is not None:
                read |= grad != 0
        unread = [int(i) for i in torch.nonzero(~read).reshape(-1)]
        if unread:
            raise ValueError(
                f"the feature map on {self.n_wires} wires reads {width - len(unread)} of the {width} features; "
                f"columns {unread} would be dropped: give {width - len(unread)} features or a map that reads them all"
            )
        checked.add(width)
        return X

    def _states(self, X: np.ndarray) -> np.ndarray:
        """``(N, 2**n)`` states of the feature map, one broadcast execution per memory chunk."""
        parts = [
            np.asarray(self._state(X[rows])).reshape(rows.stop - rows.start, -1)
            for rows in _chunks(len(X), 16 * 2**self.n_wires)
        ]
        self.circuit_executions += len(X)
        return np.concatenate(parts)

    def _fidelities(self, X1: np.ndarray, X2: np.ndarray) -> np.ndarray:
        """``P(0...0)`` of ``U(X2[m])^dagger U(X1[m])|0>`` for every row pair ``m``, broadcast."""
        out = np.empty(len(X1))
        for rows in _chunks(len(X1), 16 * 2**self.n_wires):  # a simulator may hold each row's state
            probs = np.asarray(self._overlap(X1[rows], X2[rows]))
            out[rows] = probs.reshape(rows.stop - rows.start, -1)[:, 0]
        self.circuit_executions += len(X1)
        return out

    def _fidelity_gram(self, A: np.ndarray, B: np.ndarray | None) -> np.ndarray:
        """The Gram matrix by compute-uncompute circuits: every pair of ``A x B``, or the upper triangle of
        ``A x A`` (its diagonal is 1 unless noise makes it less)."""
        if B is not None:
            i, j = np.divmod(np.arange(len(A) * len(B)), len(B))
            return self._fidelities(A[i], B[j]).reshape(len(A), len(B))
        i, j = np.triu_indices(len(A), k=0 if self.noisy else 1)
        gram = np.eye(len(A))
        if len(i):
            gram[i, j] = self._fidelities(A[i], A[j])
        gram[j, i] = gram[i, j]
        return gram

    def _row_bytes(self) -> int:
        """Bytes of one sample's states."""
        return 16 * 2**self.n_wires

    def check_fits(self, n_rows: int) -> None:
        """Refuse ``n_rows`` training samples whose states, kept for predictions, would not fit in half the
        available memory."""
        if self.method != "statevector":
            return
        row, have = self._row_bytes(), available_memory_bytes() // 2
        if n_rows * row > have:
            raise ValueError(
                f"{n_rows} training samples keep {n_rows * row / 2**30:.1f} GiB of {self.n_wires}-qubit states "
                f"but only {have / 2**30:.1f} GiB may be held here; at most {have // row} training samples fit"
            )

    def cross_gram(self, X, train: np.ndarray, **options) -> np.ndarray:
        """``K(X, train)`` for new samples ``X`` against an :meth:`embed` result, embedding ``X`` a chunk of
        rows at a time (their states are never all held at once)."""
        X = np.asarray(X, dtype=float)
        if self.method == "fidelity":
            return self.gram(X, train, **options)
        rows = _chunks(len(X), self._row_bytes())
        return np.concatenate([self.gram(self.embed(X[r]), train, **options) for r in rows])


class FidelityKernel(_Kernel):
    """``k(x, x') = |<phi(x')|phi(x)>|^2`` of ``feature_map(x, wires)`` on ``n_wires`` qubits of ``backend``.

    :meth:`embed` turns samples into what :meth:`gram` takes: their states (``"statevector"``) or the
    samples themselves (``"fidelity"``, whose circuits run in :meth:`gram`). ``shots``, ``noise`` and
    ``seed`` go to :func:`~qhybrid.qml.backends.make_device`.
    """

    def embed(self, X) -> np.ndarray:
        """What :meth:`gram` needs of the samples ``X`` (``(N, n_features)``)."""
        X = self._checked(X)
        return self._states(X) if self.method == "statevector" else X

    def gram(self, A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
        """``K[i, j] = k(a_i, b_j)`` from two :meth:`embed` results; ``B=None``: the symmetric ``K(A, A)``."""
        if self.method == "fidelity":
            return self._fidelity_gram(A, B)
        if B is None:
            gram = np.abs(A.conj() @ A.T) ** 2
            return (gram + gram.T) / 2
        return np.abs(A.conj() @ B.T) ** 2


class ProductKernel(FidelityKernel):
    """:class:`FidelityKernel` of a feature map that puts feature ``k`` on wire ``k`` alone (no entangling
    gate), ``k(x, x') = prod_k |<phi(x'_k)|phi(x_k)>|^2``.

    With the statevector method the one-qubit states of every (sample, wire) come from one broadcast
    execution on a one-wire device, so the width is not limited by a ``2**n`` state; with shots or noise
    the ``n``-wire compute-uncompute circuits run as for :class:`FidelityKernel`.
    """

    def __init__(
        self,
        feature_map: Callable,
        n_wires: int,
        backend: str = "aer",
        *,
        shots=None,
        noise=None,
        seed: int | None = None,
    ) -> None:
        pure = kernel_method(backend, shots, noise) == "statevector"
        super().__init__(feature_map, 1 if pure else n_wires, backend, shots=shots, noise=noise, seed=seed)
        self.n_features = int(n_wires)

    def embed(self, X) -> np.ndarray:
        """``(N, n, 2)`` one-qubit states (statevector method), or the samples."""
        X = np.asarray(X, dtype=float)
        if self.method != "statevector":
            return X
        return self._states(X.reshape(-1, 1)).reshape(len(X), self.n_features, 2)

    def gram(self, A: np.ndarray, B: np.ndarray | None = None) -> np.ndarray:
        """``K[i, j] = prod_k |<a_ik|b_jk>|^2`` from two :meth:`embed` results; ``B=None``: ``K(A, A)``."""
        if self.method == "fidelity":
            return self._fidelity_gram(A, B)
        other = A if B is None else B
        gram = np.ones((len(A), len(other)))
        for k in range(self.n_features):
            gram *= np.abs(A[:, k].conj() @ other[:, k].T) ** 2
        return (gram + gram.T) / 2 if B is None else gram

    def _row_bytes(self) -> int:
        return 32 * self.n_features


class ProjectedKernel(_Kernel):
    """``k(x, x') = exp(-gamma sum_k sum_{P in X,Y,Z} (<P_k>_x - <P_k>_x')^2)`` of ``feature_map``.

    :meth:`embed` gives the ``(N, n_wires, 3)`` Pauli expectations: read from the states of one broadcast
    execution (``"statevector"``), or measured, sampled or on the density matrix (``method == "expval"``).
    """

    def __init__(
        self,
        feature_map: Callable,
        n_wires: int,
        backend: str = "aer",
        *,
        shots=None,
        noise=None,
        seed: int | None = None,
    ) -> None:
        super().__init__(feature_map, n_wires, backend, shots=shots, noise=noise, seed=seed)
        if self.method == "fidelity":
            self.method = "expval"

    def _build(self) -> None:
        super()._build()
        feature_map, wires = self.feature_map, list(range(self.n_wires))

        @qp.qnode(self.device, diff_method=None)
        def paulis(x):
            feature_map(x, wires)
            return [qp.expval(P(w)) for w in wires for P in (qp.X, qp.Y, qp.Z)]

        self._paulis = paulis

    def embed(self, X) -> np.ndarray:
        """``(N, n_wires, 3)`` Pauli expectations of the samples ``X`` (``(N, n_features)``)."""
        X = self._checked(X)
        if self.method == "statevector":
            return bloch_vectors(self._states(X), self.n_wires)
        parts = [
            np.asarray(self._paulis(X[rows])).reshape(self.n_wires, 3, rows.stop - rows.start)
            for rows in _chunks(len(X), 16 * 2**self.n_wires)
        ]
        self.circuit_executions += len(X)
        return np.concatenate(parts, axis=2).transpose(2, 0, 1)

    def gram(self, A: np.ndarray, B: np.ndarray | None = None, gamma: float = 1.0) -> np.ndarray:
        """``exp(-gamma d^2)`` of the squared distances between the rows of two :meth:`embed` results."""
        a = A.reshape(len(A), -1)
        b = a if B is None else B.reshape(len(B), -1)
        return np.exp(-gamma * cdist(a, b, "sqeuclidean"))


def bloch_vectors(states: np.ndarray, n_wires: int) -> np.ndarray:
    """``(N, n_wires, 3)``: ``<X_k>, <Y_k>, <Z_k>`` of every qubit ``k`` (wire 0 the most significant bit,
    as in PennyLane) of the rows of ``states`` ``(N, 2**n_wires)``."""
    out = np.empty((len(states), n_wires, 3))
    for k in range(n_wires):
        split = states.reshape(len(states), 2**k, 2, -1)
        zero, one = split[:, :, 0, :], split[:, :, 1, :]
        coherence = np.einsum("nlr,nlr->n", zero, one.conj())  # rho_k[0, 1]
        out[:, k, 0] = 2 * coherence.real
        out[:, k, 1] = -2 * coherence.imag
        out[:, k, 2] = (
            np.einsum("nlr,nlr->n", zero, zero.conj()).real - np.einsum("nlr,nlr->n", one, one.conj()).real
        )
    return out
