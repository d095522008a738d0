"""``DensityCircuit``: a noisy quantum function run on density matrices' Pauli coefficients, with its gradient.

The density engine is the torch engine's twin for mixed states. A circuit ``f(inputs, weights)`` is traced
once down to the gates Aer runs and PennyLane channels (:mod:`.density_plan`); an Aer noise model adds, after
each gate, the error it holds for that gate's name and qubits, exactly where Aer would. Every gate, error and
channel is a real Pauli transfer matrix (:mod:`.superops`). One-qubit items fold into a product start state
or into ``4 x 4`` passes (their chains multiplied side by side, :mod:`.density_chains`), Clifford gates
under Pauli noise into one gather per run (:mod:`.density_gather`), anything else into a dense pass of its
block. The gradient of every parameter comes from one backward sweep (:mod:`.density_call`) whatever the
channels (Kraus, thermal relaxation, amplitude damping, depolarising): no parameter shift.

Example:
    >>> import pennylane as qp, torch
    >>> def f(x, w):
    ...     qp.RX(x[..., 0], wires=0)
    ...     qp.DepolarizingChannel(0.3, wires=0)
    ...     qp.CNOT([0, 1])
    ...     return [qp.expval(qp.Z(0)), qp.expval(qp.Z(1))]
    >>> circuit = DensityCircuit(f, n_wires=2, n_inputs=1, weight_shape=(1,))
    >>> circuit(torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    tensor([[0.6000, 0.6000]], dtype=torch.float64)
"""

from __future__ import annotations

import numpy as np
import pennylane as qp
import torch
from pennylane.devices.preprocess import decompose

from . import density_loop_call
from .density_call import DensityCall, DensityLayout
from .density_chains import Chains, StartChains
from .density_dense import DenseStages
from .density_gather import Gather
from .density_plan import keeps, make_items, make_plan
from .density_singles import Singles, merge_runs, single_runs
from .memory import keep_freed_memory
from .superops import rotation_form, unsupported_noise
from .trace import NotTraceable, trace


def _floats(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


class _Rotations:
    """Every rotation item's transfer matrix (with its error) per row, in one expression per width:
    ``E K0 + cos(t) E K1 + sin(t) E K2`` (:func:`.superops.rotation_form`)."""

    def __init__(self, items, indices, n_sources: int):
        self.indices = indices
        one = n_sources  # the column of ones appended to the sources
        params = [items[i].param for i in indices]
        factors = [list(p.factors) + [one] * (2 - len(p.factors)) for p in params]
        self.f1 = torch.tensor([f[0] for f in factors])
        self.f2 = torch.tensor([f[1] for f in factors])
        self.scale = _floats([items[i].scale * p.scale for i, p in zip(indices, params, strict=True)])
        self.offset = _floats([items[i].scale * p.offset for i, p in zip(indices, params, strict=True)])
        forms = []
        for i in indices:
            k0, k1, k2 = rotation_form(items[i].rotation)
            e = items[i].error if items[i].error is not None else np.eye(len(k0))
            forms.append([e @ k0, e @ k1, e @ k2])
        self.k0, self.k1, self.k2 = (torch.as_tensor(np.stack([f[j] for f in forms])) for j in range(3))

    def __call__(self, sources: torch.Tensor) -> torch.Tensor:
        """``(R, G, 4**k, 4**k)`` from the ``(R, n_sources + 1)`` sources."""
        t = self.scale * sources[:, self.f1] * sources[:, self.f2] + self.offset
        return self.k0 + torch.cos(t)[..., None, None] * self.k1 + torch.sin(t)[..., None, None] * self.k2


def with_pennylane_noise(fn, model):
    """``fn`` with PennyLane's ``add_noise(model)`` applied to its gates once decomposed to the gates the
    engine keeps (Aer's, with ``Rot``, ``CNOT`` and controlled rotations whole: as ``add_noise(qnode, model,
    level="device")`` on default.mixed, whose gates those are), so conditions on ``Rot`` or ``CNOT`` match
    inside templates."""

    def noisy(inputs, weights):
        tape = qp.tape.make_qscript(fn)(inputs, weights)
        (tape,), _ = decompose(
            tape, stopping_condition=keeps, skip_initial_state_prep=False, name="qhybrid.torch.density"
        )
        (tape,), _ = qp.noise.add_noise(tape, model)
        for op in tape.operations:
            qp.apply(op)
        return [qp.apply(mp) for mp in tape.measurements]

    return noisy


class DensityCircuit:
    """``fn(inputs, weights)`` compiled for the density engine under ``noise_model``: an Aer ``NoiseModel``, a
    PennyLane ``NoiseModel`` (:func:`with_pennylane_noise`), or None for a circuit whose noise is PennyLane
    channels of its own; call it with ``(B, n_inputs)`` inputs and the weights. It
    computes on the CPU (numpy); tensors on another device are moved there and the values moved back.

    Raises:
        NotTraceable: (a ``ValueError``) a gate, parameter, measurement or noise model the engine does not
            run; the message names it.
    """

    def __init__(self, fn, n_wires: int, n_inputs: int, weight_shape: tuple[int, ...], noise_model=None):
        if isinstance(noise_model, qp.NoiseModel):
            fn, noise_model = with_pennylane_noise(fn, noise_model), None
        reason = unsupported_noise(noise_model)
        if reason is not None:
            raise NotTraceable(reason)
        keep_freed_memory()
        self.n_wires = n_wires
        self.traced = trace(fn, n_wires, n_inputs, tuple(weight_shape), keep=keeps)
        if any(not isinstance(o, tuple) for o in self.traced.observables):
            raise NotTraceable("the density engine measures expectations of Z words only")
        items = make_items(self.traced, noise_model)
        small = 4**n_wires <= density_loop_call.LOOP_COEFFICIENTS
        covered = small and density_loop_call.available() and density_loop_call.covers(items)
        self.loops = density_loop_call.DensityLoopProgram(self.traced, items) if covered else None
        self.plan = make_plan(n_wires, items)
        # runs of one-qubit stages as tile passes where numba compiles them (density_singles)
        self._runs = single_runs(self.plan.stages)
        first = {min(run): run for run in self._runs}
        merged = {s for run in self._runs for s in run}
        steps = []
        for s, st in enumerate(self.plan.stages):
            if s in first:
                steps.append(Singles(tuple(self.plan.stages[t].wires[0] for t in first[s]), n_wires))
            elif s in merged:
                continue
            elif st.kind == "gather":
                steps.append(Gather([(items[i].wires, items[i].matrix) for i in st.items], n_wires))
            else:
                steps.append(st.wires)
        self.layout = DensityLayout(n_wires, steps, self.traced.observables)
        n_sources = self.traced.n_inputs + self.traced.n_weights
        self._row_items = {
            i
            for i, item in enumerate(items)
            if item.param is not None and any(f < n_inputs for f in item.param.factors)
        }
        # one-qubit items: stacked, rotations first, and multiplied out chain by chain (density_chains)
        one = [i for i, item in enumerate(items) if len(item.wires) == 1]
        rotating = [i for i in one if items[i].rotation is not None]
        fixed = [i for i in one if items[i].rotation is None]
        self._slot = {i: k for k, i in enumerate(rotating + fixed)}
        self._one_rotations = _Rotations(items, rotating, n_sources) if rotating else None
        self._one_fixed = torch.as_tensor(np.stack([items[i].matrix for i in fixed]))[None] if fixed else None
        singles = [st for st in self.plan.stages if st.kind == "single"]

        def slots(chains):
            return [[self._slot[i] for i in c] for c in chains], [
                any(i in self._row_items for i in c) for c in chains
            ]

        self._start_chains = StartChains(*slots(self.plan.prefix))
        self._chains = Chains(*slots([st.items for st in singles]))
        self._single_of = {id(st): j for j, st in enumerate(singles)}
        dense = [st for st in self.plan.stages if st.kind == "dense"]
        self._dense = DenseStages(items, dense, self._slot, self._row_items)
        wide = [i for i, item in enumerate(items) if item.rotation is not None and len(item.wires) > 1]
        self._wide_rotations = _Rotations(items, wide, n_sources) if wide else None
        self._constants = {
            i: torch.as_tensor(item.matrix)[None]
            for i, item in enumerate(items)
            if len(item.wires) > 1 and item.rotation is None and not item.monomial
        }

    def _on_loops(self, inputs: torch.Tensor) -> bool:
        if self.loops is None:
            return False
        rows = inputs.shape[0] if self.loops.per_row else 1
        return 4**self.n_wires * rows <= density_loop_call.LOOP_COEFFICIENTS

    def _sources(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        rows = inputs.shape[0]
        w = weights.reshape(1, -1).to(torch.float64).expand(rows, -1)
        ones = torch.ones(rows, 1, dtype=torch.float64, device=inputs.device)
        return torch.cat([inputs.to(torch.float64), w, ones], dim=1)

    def _one_qubit(self, sources: torch.Tensor) -> torch.Tensor | None:
        """Every one-qubit item's matrix, ``(R, I, 4, 4)`` in slot order."""
        parts = []
        if self._one_rotations is not None:
            parts.append(self._one_rotations(sources))
        if self._one_fixed is not None:
            parts.append(self._one_fixed.expand(sources.shape[0], -1, -1, -1))
        return torch.cat(parts, dim=1) if parts else None

    def _wide_ops(self, sources: torch.Tensor) -> dict:
        """The matrix of every multi-qubit item of a dense stage (one row where it ignores the inputs)."""
        ops = dict(self._constants)
        if self._wide_rotations is not None:
            mats = self._wide_rotations(sources)
            for j, i in enumerate(self._wide_rotations.indices):
                ops[i] = mats[:, j] if i in self._row_items else mats[:1, j]
        return ops

    def __call__(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``(B, n_inputs)`` float inputs and the weights -> ``(B, n_observables)`` expectation values."""
        if inputs.shape[0] == 0:
            return weights.new_zeros(0, len(self.traced.observables)) + 0 * weights.sum()
        if inputs.device.type != "cpu" or weights.device.type != "cpu":
            # the density engine runs on the CPU: rows go there and the values come back (differentiably)
            return self(inputs.cpu(), weights.cpu()).to(weights.device)
        if self._on_loops(inputs):
            return density_loop_call.DensityLoopCall.apply(self.loops, inputs, weights)
        sources = self._sources(inputs, weights)
        one = self._one_qubit(sources)
        products = self._chains(one)
        start = self._start_chains(one)
        dense = iter(self._dense(one, self._wide_ops(sources)) if self._dense.programs else [])
        mats = []
        for st in self.plan.stages:
            if st.kind == "gather":
                mats.append(None)
            elif st.kind == "single":
                mats.append(products[self._single_of[id(st)]])
            else:
                mats.append(next(dense))
        return DensityCall.apply(self.layout, start, inputs.shape[0], *merge_runs(mats, self._runs))
