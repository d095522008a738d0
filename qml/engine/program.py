"""Everything a call of a compiled circuit reads, laid out once: index tables and constant matrices.

* **Rotations**: every gate with a parameter, grouped by width and by whether its parameter reads the row's
  inputs (per-row) or only weights (shared): ``A + cos(f t) C + sin(f t) S`` with ``t = scale * src[f0] *
  src[f1] + offset`` over the sources ``[inputs, weights, 1]``.
* **Banks**: per width, the shared matrices (constant gates, then shared rotations; slot 0 of the 2x2 bank is
  the identity) and the per-row rotations. A gate's matrix is a slot in one of them.
* **Chains**: the one-qubit gates of each prefix wire and of each wire of a one-qubit block, as slot tables
  padded with the identity; shared chains index the shared 2x2 bank, per-row chains the shared bank
  followed by the per-row one.
* **Stages**: what :mod:`.call` runs: permutations (index and inverse), diagonal phases
  (:class:`.phases.DiagonalPhases`) and blocks, each block a Kronecker product of chains or a list of gates;
  a permutation last before ``<Z...Z>`` values is kept apart (``final_perm``) and applied to the
  probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arrays, kernels
from .gates import fixed_matrix, trig_constants
from .phases import DiagonalPhases
from .plan import Block, DiagStage, PermStage, Plan
from .trace import TracedCircuit


@dataclass
class Rotations:
    """Rotations of one width and kind (shared or per-row), computed in one expression."""

    arrays: dict  # freq, a, c, s, scale, offset, f0, f1

    @classmethod
    def of(cls, traced: TracedCircuit, gates: list) -> Rotations:
        forms = [trig_constants(g.op) for g in gates]
        one = traced.n_inputs + traced.n_weights
        factors = [list(g.param.factors) + [one] * (2 - len(g.param.factors)) for g in gates]
        return cls(
            {
                "freq": np.array([f[0] for f in forms]),
                "a": np.stack([f[1] for f in forms]),
                "c": np.stack([f[2] for f in forms]),
                "s": np.stack([f[3] for f in forms]),
                "scale": np.array([g.param.scale for g in gates]),
                "offset": np.array([g.param.offset for g in gates]),
                "f0": np.array([f[0] for f in factors]),
                "f1": np.array([f[1] for f in factors]),
            }
        )


def _constant_matrix(gate) -> np.ndarray:
    if gate.param is None:
        return fixed_matrix(gate.op)
    f, a, c, s = trig_constants(gate.op)
    t = gate.param.offset
    return a + np.cos(f * t) * c + np.sin(f * t) * s


class Bank:
    """The matrices of ``gate_ids`` grouped by width: per width, the shared bank (constant gates, then
    rotations that read only weights) and the per-row bank (rotations that read the row's inputs)."""

    def __init__(self, traced: TracedCircuit, gate_ids: list[int]):
        constants: dict[int, list] = {2: [np.eye(2, dtype=np.complex128)]}
        rotations: dict[tuple[int, bool], list] = {}
        placed = []
        for i in gate_ids:
            gate = traced.gates[i]
            d = 2 ** len(gate.wires)
            if gate.param is None or not gate.param.factors:
                constants.setdefault(d, []).append(_constant_matrix(gate))
                placed.append((i, d, False, None, len(constants[d]) - 1))
            else:
                per_row = any(f < traced.n_inputs for f in gate.param.factors)
                group = rotations.setdefault((d, per_row), [])
                group.append(gate)
                placed.append((i, d, per_row, group, len(group) - 1))
        self.constants = {d: np.stack(ms) for d, ms in constants.items()}
        self.rotations = {key: Rotations.of(traced, gates) for key, gates in rotations.items()}
        #: gate -> (width, per_row, slot in that width's shared or per-row bank)
        self.slot = {}
        for i, d, per_row, group, j in placed:
            offset = len(constants.get(d, ())) if group is not None and not per_row else 0
            self.slot[i] = (d, per_row, offset + j)
        self.widths = sorted(set(self.constants) | {d for d, _ in rotations})
        self.shared_size = {
            d: len(constants.get(d, ())) + len(rotations.get((d, False), ())) for d in self.widths
        }


@dataclass
class ChainBlock:
    chains: list[int]  # one chain per wire of the block
    per_row: bool


@dataclass
class GateBlock:
    gates: list[tuple[int, bool, int, tuple[int, ...]]]  # (width, per_row, slot, wires within the block)
    k: int
    per_row: bool


class Program:
    """The layout of one compiled circuit; :meth:`tensors` gives its arrays on a device (cached)."""

    def __init__(self, traced: TracedCircuit, plan: Plan):
        self.traced, self.plan = traced, plan
        self.n, self.n_inputs, self.n_weights = traced.n_wires, traced.n_inputs, traced.n_weights
        blocks = [s for s in plan.stages if isinstance(s, Block)]
        chain_blocks = {id(b) for b in blocks if self._one_qubit(b)}
        needed = {g for c in plan.prefix for g in c} | {g for b in blocks for g in b.gates}
        self._bank(sorted(needed))
        chains = [list(c) for c in plan.prefix]
        self.stages = []
        for stage in plan.stages:
            if isinstance(stage, PermStage):
                self.stages.append(("perm", stage.index, stage.inverse))
            elif isinstance(stage, DiagStage):
                phases = DiagonalPhases(traced, stage.gates)
                self.stages.append(("diag", phases))
            elif id(stage) in chain_blocks:
                ids = []
                for w in stage.wires:
                    ids.append(len(chains))
                    chains.append([g for g in stage.gates if traced.gates[g].wires == (w,)])
                per_row = any(self.slot[g][1] for g in stage.gates)
                self.stages.append(("block", stage.wires, ChainBlock(ids, per_row)))
            else:
                local = {w: i for i, w in enumerate(stage.wires)}
                gates = [(*self.slot[g], tuple(local[w] for w in traced.gates[g].wires)) for g in stage.gates]
                per_row = any(g[1] for g in gates)
                self.stages.append(("block", stage.wires, GateBlock(gates, len(stage.wires), per_row)))
        self._chains(chains)
        #: A permutation last before ``<Z...Z>`` values is not made on the state: the probabilities are
        #: gathered instead (half the bytes), and the way back has no state to undo through it.
        self.final_perm = None
        if (
            self.stages
            and self.stages[-1][0] == "perm"
            and all(isinstance(o, tuple) for o in traced.observables)
        ):
            self.final_perm = self.stages.pop()
        self._devices: dict = {}

    def _one_qubit(self, block: Block) -> bool:
        gates = self.traced.gates
        return all(len(gates[g].wires) == 1 for g in block.gates) and kernels.contiguous(block.wires)

    def _bank(self, gate_ids: list[int]) -> None:
        bank = Bank(self.traced, gate_ids)
        self.constants, self.rotations, self.slot = bank.constants, bank.rotations, bank.slot
        self.widths, self.shared_size = bank.widths, bank.shared_size

    def _chains(self, chains: list[list[int]]) -> None:
        length = max((len(c) for c in chains), default=0) or 1
        self.chain_length = length
        self.chain_row = [any(self.slot[g][1] for g in c) for c in chains]
        self.chain_pos = []  # chain -> position among the shared chains or among the per-row ones
        tables = {False: [], True: []}
        for c, row in zip(chains, self.chain_row, strict=True):
            table = np.zeros(length, dtype=np.int64)
            for step, g in enumerate(c):
                _, per_row, j = self.slot[g]
                table[step] = j + (self.shared_size[2] if per_row else 0)
            self.chain_pos.append(len(tables[row]))
            tables[row].append(table)
        self.chain_tables = {
            row: np.array(t, dtype=np.int64).reshape(-1, length) for row, t in tables.items()
        }
        # the prefix wires' chains: gathered shared ones first, then per-row ones, then put in wire order
        wires = {row: [w for w in range(self.n) if self.chain_row[w] == row] for row in (False, True)}
        self.prefix_index = {
            row: np.array([self.chain_pos[w] for w in ws], dtype=np.int64) for row, ws in wires.items()
        }
        gathered = wires[False] + wires[True]
        self.prefix_order = None if gathered == list(range(self.n)) else np.argsort(gathered)
        self.prefix_unorder = None if self.prefix_order is None else np.array(gathered)

    def tensors(self, at) -> dict:
        """The program's arrays at ``at`` (a torch device, or ``arrays.NUMPY``), made once for each. Index
        additions of the backward pass are products with one-hot matrices here, the same in numpy and
        torch."""
        if at not in self._devices:
            self._devices[at] = {k: _place(v, at) for k, v in self._arrays().items()}
        return self._devices[at]

    def _arrays(self) -> dict:
        n_sources = self.n_inputs + self.n_weights + 1
        rotations = {}
        for key, r in self.rotations.items():
            one_hot = {f"e{i}": np.eye(n_sources)[r.arrays[f"f{i}"]] for i in (0, 1)}
            rotations[key] = {**r.arrays, **one_hot}
        chains, scatter, prefix = {}, {}, {}
        rows_2 = len(self.rotations[(2, True)].arrays["f0"]) if (2, True) in self.rotations else 0
        for row, table in self.chain_tables.items():
            chains[row] = table
            bank = self.shared_size.get(2, 1) + (rows_2 if row else 0)
            scatter[row] = np.eye(bank, dtype=np.complex128)[:, table.reshape(-1)]
            prefix[row] = np.eye(table.shape[0], dtype=np.complex128)[:, self.prefix_index[row]]
        return {
            "constants": {d: m[None] for d, m in self.constants.items()},
            "rotations": rotations,
            "chains": chains,
            "scatter": scatter,
            "prefix": self.prefix_index,
            "prefix_scatter": prefix,
            "prefix_order": self.prefix_order,
            "prefix_unorder": self.prefix_unorder,
            "stages": list(self.stages),
            "final_perm": self.final_perm,
        }


def _place(value, at):
    """Arrays (nested in dicts and lists, stage tuples kept) at ``at``."""
    if isinstance(value, dict):
        return {k: _place(v, at) for k, v in value.items()}
    if isinstance(value, list):
        return [_place(v, at) for v in value]
    if isinstance(value, tuple):
        return tuple(_place(v, at) if isinstance(v, np.ndarray) else v for v in value)
    return arrays.place(value, at) if isinstance(value, np.ndarray) else value
