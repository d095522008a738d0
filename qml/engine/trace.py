"""Record a quantum function once into engine gates, each parameter tied to where it comes from.

The function ``f(inputs, weights)`` is run twice by PennyLane's queuing on random values, each time on a
batch of two rows (no simulation),
decomposed to the gates of :mod:`.gates`, and every gate parameter is expressed as ``a * prod(source[e] for
e in factors) + b``: a constant (no factor), one input or weight times a scale plus an offset (``RX(x_i)``,
``RZ(w / 2)``), or the product of two sources (the IQP embedding's ``ZZ(x_i x_j)``). Sources are the inputs
of one row followed by the flattened weights. The second run checks each relation, so a function whose
gates or parameters depend on values in any other way is refused (:class:`NotTraceable`) instead of being
run wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pennylane as qp
import torch
from pennylane.devices.preprocess import decompose

from .gates import gate_kind
from .pauli import MAX_TABLE_BYTES, PauliSum, pauli_sum

_MAX_FACTORS = 2


class NotTraceable(ValueError):
    """The circuit cannot be compiled by the torch engine; the message says why."""


@dataclass(frozen=True)
class Param:
    scale: float
    offset: float
    factors: tuple[int, ...]  # indices into [inputs..., weights...]; () for a constant


@dataclass(frozen=True)
class TracedGate:
    op: qp.operation.Operator  # the recorded operation (its matrix form, wires, hyperparameters)
    wires: tuple[int, ...]  # positions in the device's wire order
    params: tuple[Param, ...]  # one per parameter of ``op``

    @property
    def param(self) -> Param | None:
        """The first parameter's relation (the engine's gates have at most one), None without one."""
        return self.params[0] if self.params else None


@dataclass(frozen=True)
class TracedCircuit:
    n_wires: int
    n_inputs: int
    n_weights: int
    gates: tuple[TracedGate, ...]
    # each <Z...Z> on these wire positions (() is the identity), or, where any observable is not a Z word,
    # every one as a PauliSum
    observables: tuple[tuple[int, ...], ...] | tuple[PauliSum, ...]


def _engine_gate(op) -> bool:
    return gate_kind(op) is not None


def _record(fn, n_wires: int, inputs: torch.Tensor, weights: torch.Tensor, keep=_engine_gate):
    tape = qp.tape.make_qscript(fn)(inputs, weights)
    try:
        (tape,), _ = decompose(
            tape, stopping_condition=keep, skip_initial_state_prep=False, name="qhybrid.torch"
        )
    except qp.exceptions.DeviceError as exc:
        raise NotTraceable(str(exc)) from None
    wire_index = {w: i for i, w in enumerate(range(n_wires))}
    unknown = [w for w in tape.wires if w not in wire_index]
    if unknown:
        raise NotTraceable(f"the circuit uses wires {unknown} outside 0..{n_wires - 1}")
    return tape, wire_index


def _observable(mp, wire_index, n: int) -> tuple[int, ...] | PauliSum:
    """A ``<Z...Z>`` word as its wire positions; any other observable with a Pauli form as a
    :class:`.pauli.PauliSum`."""
    if not isinstance(mp, qp.measurements.ExpectationMP) or mp.obs is None:
        raise NotTraceable(f"the torch engine measures expectation values only, got {mp}")
    rep = mp.obs.pauli_rep
    if rep is not None and len(rep) == 1:
        ((pw, coeff),) = rep.items()
        if abs(coeff - 1) < 1e-12 and all(letter == "Z" for letter in pw.values()):
            return tuple(sorted(wire_index[w] for w in pw))
    obs = pauli_sum(mp.obs, wire_index, n)
    if obs is None:
        raise NotTraceable(
            f"the torch engine measures sums of Pauli words with fixed real coefficients, got {mp.obs}"
        )
    if obs.table_bytes() > MAX_TABLE_BYTES:
        raise NotTraceable(
            f"the observable {type(mp.obs).__name__} flips {len(obs.masks)} distinct sets of wires; its "
            f"table on {n} qubits would take {obs.table_bytes() / 2**30:.1f} GiB"
        )
    return obs


def _observables(tape, wire_index, n: int) -> tuple:
    """Z words as wire tuples; if any observable is not one, every observable as a :class:`.pauli.PauliSum`."""
    found = [_observable(mp, wire_index, n) for mp in tape.measurements]
    if all(isinstance(o, tuple) for o in found):
        return tuple(found)
    return tuple(o if isinstance(o, PauliSum) else PauliSum(n, ((1.0, 0, _z_mask(o, n), 0),)) for o in found)


def _z_mask(word: tuple[int, ...], n: int) -> int:
    return sum(1 << (n - 1 - w) for w in word)


def _values(p) -> list[float]:
    if not isinstance(p, torch.Tensor):  # a Python float as a tensor would be float32
        return [float(v) for v in np.asarray(p, dtype=np.float64).reshape(-1)]
    return [float(v) for v in p.detach().reshape(-1)]


def _value(p) -> float:
    return _values(p)[0]


_ROWS = 2  # the trace's batch: a parameter must follow the same relation in every row


def _relation(p, sources: torch.Tensor, n_inputs: int) -> Param:
    """``p``'s relation to row 0's sources ``[inputs of row 0, weights]``; ``sources`` is ``[inputs of every
    row, weights]``."""
    if not isinstance(p, torch.Tensor) or not p.requires_grad:
        return Param(0.0, _value(p), ())
    if p.numel() not in (1, _ROWS):
        raise NotTraceable("a gate parameter holds several values per circuit")
    (grad,) = torch.autograd.grad(p.reshape(-1)[0], sources, retain_graph=True, allow_unused=True)
    found = [] if grad is None else [int(i) for i in torch.nonzero(grad).reshape(-1)]
    if any(n_inputs <= i < _ROWS * n_inputs for i in found):
        raise NotTraceable("a gate parameter of one row depends on another row's inputs")
    factors = tuple(i if i < n_inputs else i - (_ROWS - 1) * n_inputs for i in found)
    if not factors:
        return Param(0.0, _value(p), ())
    if len(factors) > _MAX_FACTORS:
        raise NotTraceable(f"a gate parameter depends on {len(factors)} inputs or weights")
    src = _row_sources(sources.detach(), n_inputs, 0)
    if len(factors) == 1:
        scale = float(grad[found[0]])
        return Param(scale, _value(p) - scale * float(src[factors[0]]), factors)
    return Param(_value(p) / float(src[factors[0]] * src[factors[1]]), 0.0, factors)


def _row_sources(sources: torch.Tensor, n_inputs: int, row: int) -> torch.Tensor:
    return torch.cat([sources[row * n_inputs : (row + 1) * n_inputs], sources[_ROWS * n_inputs :]])


def _predict(param: Param, sources: torch.Tensor) -> float:
    if not param.factors:
        return param.offset
    return param.scale * float(torch.prod(sources[list(param.factors)])) + param.offset


def _checked_relation(op, op2, j: int, sources, sources2, n_inputs: int) -> Param:
    """Parameter ``j`` of ``op``'s relation to the sources, checked on every row of both runs."""
    param = _relation(op.data[j], sources, n_inputs)
    for run, p in ((sources, op.data[j]), (sources2, op2.data[j])):
        got = _values(p)
        rows = range(len(got)) if len(got) == _ROWS else [0]
        want = [_predict(param, _row_sources(run.detach(), n_inputs, r)) for r in rows]
        if any(abs(a - b) > 1e-9 for a, b in zip(want, got, strict=True)):
            raise NotTraceable(
                f"a parameter of {op.name} is not a scaled input, weight or product of two, the same in every row"
            )
    return param


@torch.enable_grad()  # the relations are read off autograd, also when a layer first runs under no_grad
def trace(
    fn, n_wires: int, n_inputs: int, weight_shape: tuple[int, ...], seed: int = 1234, keep=_engine_gate
) -> TracedCircuit:
    """Record ``fn(inputs, weights)`` into a :class:`TracedCircuit`. It runs twice on random values, each
    time with a batch of two rows; every parameter's relation, read off row 0 of the first run, must give
    the other row and the other run (so a parameter that depends on the row's position, not only on its
    inputs, is refused). Operations are decomposed until ``keep(op)`` holds (the engine's gates by
    default)."""
    n_weights = int(np.prod(weight_shape)) if weight_shape else 1
    generator = torch.Generator().manual_seed(seed)
    runs = []
    for _ in range(2):
        size = _ROWS * n_inputs + n_weights
        sources = (torch.rand(size, generator=generator, dtype=torch.float64) + 0.5).requires_grad_()
        inputs = sources[: _ROWS * n_inputs].reshape(_ROWS, n_inputs)
        weights = sources[_ROWS * n_inputs :].reshape(weight_shape)
        runs.append((sources, *_record(fn, n_wires, inputs, weights, keep)))
    (sources, tape, wire_index), (sources2, tape2, _) = runs
    if [(op.name, op.wires) for op in tape.operations] != [(op.name, op.wires) for op in tape2.operations]:
        raise NotTraceable("the circuit's gates change with the values of its inputs or weights")
    gates = []
    for op, op2 in zip(tape.operations, tape2.operations, strict=True):
        if isinstance(op, qp.operation.Channel):
            if any(isinstance(p, torch.Tensor) and p.requires_grad for p in op.data):
                raise NotTraceable(
                    f"{op.name} has a trainable or input-dependent parameter; noise must be fixed"
                )
            params = ()  # fixed values, read from the recorded operation
        else:
            params = tuple(
                _checked_relation(op, op2, j, sources, sources2, n_inputs) for j in range(op.num_params)
            )
        gates.append(TracedGate(op, tuple(wire_index[w] for w in op.wires), params))
    observables = _observables(tape, wire_index, n_wires)
    return TracedCircuit(n_wires, n_inputs, n_weights, tuple(gates), observables)
