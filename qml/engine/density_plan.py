"""A noisy circuit as superoperator items, and the items grouped into passes over the density matrix.

The circuit is traced down to the gates Aer runs (:func:`qhybrid.qml.aer.compile.native_gates`) and
PennyLane channels. Each gate becomes an *item*: its Pauli transfer matrix (constant, or built from one angle
per row) followed by the error the noise model attaches to that gate name and those qubits, so errors land
exactly where Aer puts them. A channel is an item with its transfer matrix.

Items are then grouped so that each pass over the ``4**n`` amplitudes does as much as it can:

* one-qubit items before the first multi-qubit item on their wire act on that qubit's own ``2 x 2`` density
  matrix: the start is a product state (no pass at all);
* the one-qubit items between two multi-qubit items on a wire join the next multi-qubit item's pass;
* a multi-qubit item on the wires of the pass before it (a controlled rotation's CNOT, rotation, CNOT) joins
  that pass; one-qubit items left at the end join the last pass on their wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pennylane as qp

from ..aer.compile import NATIVE_OPS, native_gates
from .superops import fixed_gate, gate_error, is_rotation, ptm
from .trace import NotTraceable, Param, TracedCircuit


@dataclass(frozen=True)
class Item:
    """One gate and its error, or one channel, on ``wires`` (device positions, in the gate's order)."""

    wires: tuple[int, ...]
    rotation: str | None = None  # an Aer rotation's name: its angle is ``scale * param`` per row
    param: Param | None = None
    scale: float = 1.0
    constant: np.ndarray | None = None  # the transfer matrix of a fixed gate or a channel
    error: np.ndarray | None = None  # the transfer matrix of the error applied after the gate


@dataclass
class Pass:
    wires: tuple[int, ...]  # sorted
    items: list[int] = field(default_factory=list)  # indices into the item list, in time order


@dataclass(frozen=True)
class DensityPlan:
    n_wires: int
    items: tuple[Item, ...]
    prefix: tuple[tuple[int, ...], ...]  # per wire: its one-qubit items on the initial product state
    passes: tuple[Pass, ...]


def keeps(op) -> bool:
    """What the density trace stops decomposing at: Aer's native gates (as its density-matrix method runs
    them) and PennyLane channels."""
    if isinstance(op, qp.operation.Channel):
        return True
    return op.name in NATIVE_OPS and op.name != "CSWAP"


def _channel_item(gate) -> Item:
    # the trace refused channels with trainable or input-dependent values
    kraus = [np.asarray(k, dtype=np.complex128) for k in gate.op.kraus_matrices()]
    return Item(gate.wires, constant=ptm(kraus))


def _gate_items(gate, n_wires: int, model) -> list[Item]:
    items = []
    for g in native_gates(gate.op.name, gate.wires):
        qubits = tuple(
            n_wires - 1 - w for w in g.wires
        )  # Qiskit's qubit of each wire (as the device maps them)
        error = gate_error(model, g.name, qubits)
        if g.slot is not None and is_rotation(g.name):
            items.append(Item(g.wires, g.name, gate.params[g.slot], g.scale, error=error))
        elif g.angle is not None:
            items.append(Item(g.wires, g.name, Param(0.0, g.angle, ()), 1.0, error=error))
        else:
            items.append(Item(g.wires, constant=ptm([fixed_gate(g.name)]), error=error))
    return items


def make_items(traced: TracedCircuit, model) -> list[Item]:
    """The items of a circuit traced with :func:`keeps`, under an Aer noise model (or None)."""
    items = []
    for gate in traced.gates:
        if isinstance(gate.op, qp.operation.Channel):
            items.append(_channel_item(gate))
        else:
            try:
                items.extend(_gate_items(gate, traced.n_wires, model))
            except ValueError as exc:
                raise NotTraceable(str(exc)) from None
    return items


def make_plan(n_wires: int, items: list[Item]) -> DensityPlan:
    """Group ``items`` into the product-state prefix and passes (see the module docstring)."""
    prefix: list[list[int]] = [[] for _ in range(n_wires)]
    pending: list[list[int]] = [[] for _ in range(n_wires)]
    started = [False] * n_wires
    passes: list[Pass] = []
    last: list[int | None] = [None] * n_wires  # the last pass on each wire
    for i, item in enumerate(items):
        if len(item.wires) == 1:
            (w,) = item.wires
            (pending if started[w] else prefix)[w].append(i)
            continue
        wires = tuple(sorted(item.wires))
        owners = {last[w] for w in wires}
        joinable = len(owners) == 1 and None not in owners and passes[owners.pop()].wires == wires
        if joinable:
            target = passes[last[wires[0]]]
        else:
            target = Pass(wires)
            passes.append(target)
        for w in wires:
            target.items.extend(pending[w])
            pending[w].clear()
            started[w] = True
            last[w] = passes.index(target) if joinable else len(passes) - 1
        target.items.append(i)
    for w in range(n_wires):
        if pending[w]:
            passes[last[w]].items.extend(pending[w])
    return DensityPlan(n_wires, tuple(items), tuple(tuple(p) for p in prefix), tuple(passes))
