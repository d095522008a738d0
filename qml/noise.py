"""Small noise specifications turned into Qiskit Aer noise models.

A :class:`NoiseSpec` names a few physical error rates; :func:`noise_model` builds the Aer ``NoiseModel``:
depolarising channels after every one- and two-qubit gate, thermal relaxation (T1, T2 over the gate time)
and a symmetric readout error on measurement (readout errors act only when sampling, so they need shots).
Errors land on the gates the device runs, after its decompositions: a controlled rotation is two CNOTs
and four one-qubit gates, each with its error; Toffoli and CSWAP run as one gate without an error. For a
real device's noise on its own gates, pass a backend (:mod:`qhybrid.qml.device_noise`).

Example:
    >>> from qhybrid.qml.noise import NoiseSpec, noise_model
    >>> model = noise_model(NoiseSpec(depolarizing_1q=0.01, depolarizing_2q=0.02))
    >>> sorted(model.noise_instructions)[:4]
    ['cx', 'cy', 'cz', 'h']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .validation import check_float, check_probability

ONE_QUBIT_GATES = ("rx", "ry", "rz", "p", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "sxdg")
# The gates the Aer device emits (qml/aer/compile.py): controlled rotations arrive as one-qubit rotations
# and CNOTs, so they are not listed, and a CRX under this noise gets the errors of its 2 CNOTs and 4
# one-qubit gates. The three-qubit gates it emits natively (ccx, cswap) get no error here.
TWO_QUBIT_GATES = ("cx", "cz", "cy", "swap", "rxx", "ryy", "rzz")


@dataclass(frozen=True)
class NoiseSpec:
    r"""Error rates of a simple device model.

    Attributes:
        depolarizing_1q: depolarising probability ``p`` after each one-qubit gate, in [0, 1].
        depolarizing_2q: depolarising probability ``p`` after each two-qubit gate, in [0, 1].
        readout: probability that a measured bit is flipped, in [0, 0.5].
        t1, t2: relaxation and dephasing times (same unit as the gate times; ``t2 <= 2 t1``).
        gate_time_1q, gate_time_2q: durations used with ``t1``/``t2``.

    Depolarising convention: Qiskit's ``depolarizing_error(p, n)``, which replaces the state by the
    maximally mixed one with probability ``p``: :math:`\rho \to (1-p)\rho + p\,I/2^n`, so ``<Z>`` shrinks
    by ``1 - p``. PennyLane's ``DepolarizingChannel(q)`` applies each of X, Y, Z with probability ``q/3``,
    which shrinks ``<Z>`` by ``1 - 4q/3``: the same channel is ``p = 4q/3``. Pass
    :func:`from_pennylane_depolarizing` of a PennyLane ``q`` to use that convention.
    """

    depolarizing_1q: float = 0.0
    depolarizing_2q: float = 0.0
    readout: float = 0.0
    t1: float | None = None
    t2: float | None = None
    gate_time_1q: float = 50e-9
    gate_time_2q: float = 300e-9

    def __post_init__(self):
        check_probability("noise depolarizing_1q", self.depolarizing_1q)
        check_probability("noise depolarizing_2q", self.depolarizing_2q)
        check_probability("noise readout", self.readout, high=0.5)
        for name in ("t1", "t2", "gate_time_1q", "gate_time_2q"):
            check_float(
                f"noise {name}", getattr(self, name), 0, low_open=True, allow_none=name in ("t1", "t2")
            )
        if (self.t1 is None) != (self.t2 is None):
            raise ValueError("noise t1 and t2 must be given together")
        if self.t1 is not None and self.t2 > 2 * self.t1:
            raise ValueError(f"noise t1={self.t1}, t2={self.t2}: need t2 <= 2*t1")

    @property
    def is_trivial(self) -> bool:
        return not (self.depolarizing_1q or self.depolarizing_2q or self.readout or self.t1)

    @classmethod
    def from_dict(cls, spec: dict) -> NoiseSpec:
        allowed = {f.name for f in fields(cls)}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown noise keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**spec)

    def to_dict(self) -> dict:
        return asdict(self)


def from_pennylane_depolarizing(q: float) -> float:
    """The :class:`NoiseSpec` depolarising probability (Qiskit's convention) of PennyLane's
    ``DepolarizingChannel(q)``: ``4 q / 3``, for ``q`` in [0, 3/4].

    Example:
        >>> NoiseSpec(depolarizing_1q=from_pennylane_depolarizing(0.03)).depolarizing_1q
        0.04
    """
    return 4.0 * check_float("PennyLane depolarizing probability q", q, 0, 0.75) / 3.0


def as_noise_spec(noise) -> NoiseSpec | None:
    """Accept ``None``, a :class:`NoiseSpec` or a dict of its fields."""
    if noise is None or isinstance(noise, NoiseSpec):
        return noise
    if isinstance(noise, dict):
        return NoiseSpec.from_dict(noise)
    raise TypeError(
        f"noise must be a NoiseSpec, a dict of its fields, a qiskit_aer.noise.NoiseModel, a PennyLane "
        f"NoiseModel (density matrices only) or None, not {type(noise).__name__}"
    )


def is_pennylane_noise(noise) -> bool:
    """Whether ``noise`` is a PennyLane ``NoiseModel`` (which only density matrices run: ``aer.density`` and
    the density engine)."""
    import pennylane as qp

    return isinstance(noise, qp.NoiseModel)


#: What a PennyLane noise model runs on, said where a backend cannot take one.
PENNYLANE_NOISE_HINT = (
    "a PennyLane NoiseModel needs density matrices: backend 'aer.density' (QNodes, QuantumLayer), or "
    "'auto'/'torch.density' for QuantumLayer models"
)


def as_aer_noise_model(noise):
    """The Aer ``NoiseModel`` for ``noise``: ``None``, a :class:`NoiseSpec` or dict of its fields, or a
    ``qiskit_aer.noise.NoiseModel`` (used as it is). ``None`` where there is no noise at all.

    Raises:
        ValueError: ``noise`` is a PennyLane ``NoiseModel`` (:data:`PENNYLANE_NOISE_HINT`).
    """
    from qiskit_aer.noise import NoiseModel

    if is_pennylane_noise(noise):
        raise ValueError(PENNYLANE_NOISE_HINT)
    if isinstance(noise, NoiseModel):
        return None if noise.is_ideal() else noise
    spec = as_noise_spec(noise)
    return None if spec is None or spec.is_trivial else noise_model(spec)


def has_readout_error(model) -> bool:
    """Whether an Aer noise model acts on measurements (so it means something only with shots)."""
    return model is not None and "measure" in model.noise_instructions


def check_readout(model, shots) -> None:
    """Refuse readout errors in an exact run: they act only on sampled measurements."""
    if has_readout_error(model) and shots is None:
        raise ValueError("readout errors act only on sampled measurements: give shots > 0 with readout noise")


def noise_model(spec: NoiseSpec | dict):
    """Build a ``qiskit_aer.noise.NoiseModel`` from a spec."""
    from qiskit_aer.noise import (
        NoiseModel,
        ReadoutError,
        depolarizing_error,
        thermal_relaxation_error,
    )

    spec = as_noise_spec(spec)
    model = NoiseModel()
    err1 = depolarizing_error(spec.depolarizing_1q, 1) if spec.depolarizing_1q else None
    err2 = depolarizing_error(spec.depolarizing_2q, 2) if spec.depolarizing_2q else None
    if spec.t1 is not None:
        relax1 = thermal_relaxation_error(spec.t1, spec.t2, spec.gate_time_1q)
        relax2 = thermal_relaxation_error(spec.t1, spec.t2, spec.gate_time_2q)
        relax2 = relax2.expand(relax2)
        err1 = relax1 if err1 is None else err1.compose(relax1)
        err2 = relax2 if err2 is None else err2.compose(relax2)
    if err1 is not None:
        model.add_all_qubit_quantum_error(err1, list(ONE_QUBIT_GATES))
    if err2 is not None:
        model.add_all_qubit_quantum_error(err2, list(TWO_QUBIT_GATES))
    if spec.readout:
        p = spec.readout
        model.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
    return model
