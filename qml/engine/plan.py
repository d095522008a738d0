"""A traced circuit turned, once, into the few passes the engine makes over the state.

* **Prefix**: one-qubit gates that act on a wire before any multi-qubit gate touches it commute with
  everything before them on other wires, so they are moved to the front: each wire's product of them acts on
  ``|0>``, and the starting state is the Kronecker product of those ``n`` two-vectors (no pass over the state
  per gate; with an angle embedding followed by a rotation layer, both are in it).
* **Permutation stages**: runs of parameterless 0/1 gates (a ring of CNOTs) become one gather of the basis.
* **Diagonal stages**: runs of diagonal gates (``RZ``, ``IsingZZ``, ``MultiRZ``, ``CZ``, phase shifts: the
  cost layer of QAOA, the phases of the IQP embedding) become one phase per basis state, multiplied in one
  pass, unless a gate lies inside an open block, which takes it.
* **Blocks**: the other gates are fused, as Aer's fusion does, into matrices on at most ``block_wires``
  contiguous wires (gates on disjoint wires commute, so open blocks wait until a gate or a permutation
  touches them; blocks flushed together are packed side by side). A block of one-qubit gates is built as a
  Kronecker product of per-wire products; any other block gate by gate. Gates on wires too far apart for a
  block run alone on their wires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gates import local_permutation
from .trace import TracedCircuit


@dataclass
class PermStage:
    index: np.ndarray  # y[i] = x[index[i]]
    inverse: np.ndarray


@dataclass
class DiagStage:
    gates: list[int] = field(default_factory=list)
    sources: set = field(default_factory=set)  # the distinct parameter sources its phases depend on


#: A diagonal stage keeps one phase vector per parameter source (2**n floats each); past this many floats
#: in all a new stage starts.
DIAG_FLOATS = 1 << 24


@dataclass
class Block:
    wires: tuple[int, ...]  # contiguous ascending range, or the gate's own wires for a lone far gate
    gates: list[int] = field(default_factory=list)  # indices into the traced gates, in circuit order

    @property
    def span(self) -> set[int]:
        return set(self.wires)


@dataclass
class Plan:
    n: int
    prefix: list[list[int]]  # per wire, the one-qubit gates applied to |0>, in order
    stages: list  # PermStage | DiagStage | Block
    block_wires: int


def _split_prefix(traced: TracedCircuit) -> tuple[list[list[int]], list[int]]:
    prefix: list[list[int]] = [[] for _ in range(traced.n_wires)]
    closed: set[int] = set()
    rest = []
    for i, gate in enumerate(traced.gates):
        if len(gate.wires) == 1 and gate.wires[0] not in closed:
            prefix[gate.wires[0]].append(i)
        else:
            closed.update(gate.wires)
            rest.append(i)
    return prefix, rest


def _compose_permutation(index: np.ndarray, src: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """The index after one more permutation gate (``y = G x`` with ``(G x)[r] = x[src[r]]``)."""
    k = len(wires)
    axes = index.reshape([2] * n)
    moved = np.moveaxis(axes, list(wires), list(range(k))).reshape(2**k, -1)
    moved = moved[src]
    return np.moveaxis(moved.reshape([2] * n), list(range(k)), list(wires)).reshape(-1)


def _range(wires: set[int]) -> tuple[int, ...]:
    return tuple(range(min(wires), max(wires) + 1))


class _Fuser:
    def __init__(self, traced: TracedCircuit, kinds: list[str], block_wires: int):
        self.traced, self.kinds, self.k = traced, kinds, block_wires
        self.open: list[Block] = []
        self.stages: list = []

    def _emit(self, blocks: list[Block]) -> None:
        # blocks flushed together are disjoint and commute: pack neighbours into one wider block
        packed: list[Block] = []
        for block in sorted(blocks, key=lambda b: min(b.wires)):
            last = packed[-1] if packed else None
            if last is not None and len(_range(last.span | block.span)) <= self.k:
                merged = Block(_range(last.span | block.span), sorted(last.gates + block.gates))
                packed[-1] = merged
            else:
                packed.append(block)
        self.stages.extend(packed)

    def _flush(self, wires: set[int]) -> None:
        hit = [b for b in self.open if b.span & wires]
        for b in hit:
            self.open.remove(b)
        if hit:
            self._emit(hit)

    def add(self, i: int) -> None:
        gate = self.traced.gates[i]
        wires = set(gate.wires)
        if self.kinds[i] == "perm":
            # Everything still open precedes this gate; emitting it all now (packed) lets a ring of CNOTs
            # become one gather instead of one gather between every two flushed blocks.
            if any(b.span & wires for b in self.open):
                self._flush(set(range(self.traced.n_wires)))
            n = self.traced.n_wires
            last = self.stages[-1] if self.stages else None
            if not isinstance(last, PermStage):
                last = PermStage(np.arange(2**n), np.empty(0, dtype=np.int64))
                self.stages.append(last)
            last.index = _compose_permutation(last.index, local_permutation(gate.op), gate.wires, n)
            return
        if self.kinds[i] == "diag":
            self._add_diagonal(i, gate, wires)
            return
        hit = [b for b in self.open if b.span & wires]
        union = wires.union(*(b.span for b in hit))
        if len(_range(union)) <= self.k:
            for b in hit:
                self.open.remove(b)
            gates = sorted(g for b in hit for g in b.gates) + [i]
            self.open.append(Block(_range(union), gates))
            return
        self._flush(wires)
        if len(_range(wires)) <= self.k:
            self.open.append(Block(_range(wires), [i]))
        else:
            self.stages.append(Block(gate.wires, [i]))  # a lone gate on far-apart wires

    def _add_diagonal(self, i: int, gate, wires: set[int]) -> None:
        hit = [b for b in self.open if b.span & wires]
        if len(hit) == 1 and wires <= hit[0].span:  # cheaper inside the block's matrix than as a pass
            # (only where no other open block holds a gate on these wires: it would have to come first)
            hit[0].gates.append(i)
            return
        if hit:
            self._flush(set(range(self.traced.n_wires)))
        source = gate.param.factors if gate.param is not None and gate.param.factors else None
        last = self.stages[-1] if self.stages else None
        grown = len(last.sources | {source}) if isinstance(last, DiagStage) else 0
        if not isinstance(last, DiagStage) or grown * 2**self.traced.n_wires > DIAG_FLOATS:
            last = DiagStage()
            self.stages.append(last)
        last.gates.append(i)
        if source is not None:
            last.sources.add(source)

    def finish(self) -> list:
        if self.open:
            blocks, self.open = self.open, []
            self._emit(blocks)
        for stage in self.stages:
            if isinstance(stage, PermStage):
                stage.inverse = np.argsort(stage.index)
        return self.stages


def default_block_wires(n: int) -> int:
    """Widest fused block: the whole register up to 5 qubits (few, larger products win there), else 4 (the
    fastest pass per wire measured on 12- and 20-qubit states on one core)."""
    return n if n <= 5 else 4


def make_plan(traced: TracedCircuit, kinds: list[str], block_wires: int | None = None) -> Plan:
    """Fuse ``traced`` (gate kinds from :func:`.gates.gate_kind`) into a :class:`Plan`."""
    k = block_wires or default_block_wires(traced.n_wires)
    prefix, rest = _split_prefix(traced)
    fuser = _Fuser(traced, kinds, k)
    for i in rest:
        fuser.add(i)
    return Plan(traced.n_wires, prefix, fuser.finish(), k)
