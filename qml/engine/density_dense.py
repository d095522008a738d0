"""The matrices of the density engine's ``dense`` stages, built with few torch operations per call.

A dense stage is a multi-qubit item (a gate with an error that is no Pauli channel, a two-qubit rotation, a
channel) with the one-qubit items around it on its wires. Its matrix is the product, in time order, of the
multi-qubit items (placed on the stage's qubits) and of each run of one-qubit items, a Kronecker product of
one chain per qubit. Those chains are multiplied side by side with every other stage's (:class:`.Chains`),
so a stage costs a Kronecker product and a matrix product per run, whatever the run's length.
"""

from __future__ import annotations

import torch

from .density_chains import EYE4, Chains


def embed(s: torch.Tensor, positions: tuple[int, ...], k: int) -> torch.Tensor:
    """``(L, 4**m, 4**m)`` acting on qubits ``positions`` of a ``k``-qubit stage, as ``(L, 4**k, 4**k)``."""
    m = len(positions)
    if positions == tuple(range(k)):
        return s
    lead = s.shape[0]
    eye = torch.eye(4 ** (k - m), dtype=s.dtype, device=s.device)
    t = (s[:, :, None, :, None] * eye[None, None, :, None, :]).reshape(lead, *([4] * 2 * k))
    order = list(positions) + [p for p in range(k) if p not in positions]  # axis j holds qubit order[j]
    inverse = [order.index(p) for p in range(k)]
    axes = [0] + [1 + j for j in inverse] + [1 + k + j for j in inverse]
    return t.permute(axes).reshape(lead, 4**k, 4**k)


def kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched Kronecker product of ``(La, m, m)`` and ``(Lb, k, k)`` (broadcast over the batch)."""
    m, k = a.shape[-1], b.shape[-1]
    out = a[:, :, None, :, None] * b[:, None, :, None, :]
    return out.reshape(out.shape[0], m * k, m * k)


class DenseStages:
    """``stages``: the plan's dense stages; ``slot``: item -> its row in the stacked one-qubit matrices;
    ``row_items``: the items that depend on the row's inputs."""

    def __init__(self, items, stages, slot: dict, row_items: set):
        chains: list[list[int]] = []
        per_row: list[bool] = []
        self.programs = []
        for stage in stages:
            k, program, run = len(stage.wires), [], {}

            def close(program=program, run=run):
                if run:
                    steps = []
                    for q, members in sorted(run.items()):
                        steps.append((q, len(chains)))
                        chains.append([slot[i] for i in members])
                        per_row.append(any(i in row_items for i in members))
                    program.append(("run", steps))
                    run.clear()

            for i in stage.items:
                positions = tuple(stage.wires.index(w) for w in items[i].wires)
                if len(positions) == 1:
                    run.setdefault(positions[0], []).append(i)
                    continue
                close()
                program.append(("item", i, positions))
            close()
            self.programs.append((k, program))
        self.chains = Chains(chains, per_row)

    def __call__(self, one: torch.Tensor | None, ops: dict) -> list[torch.Tensor]:
        """Each dense stage's matrix, from the stacked one-qubit matrices and the multi-qubit items' ``ops``."""
        products = self.chains(one)
        out = []
        for k, program in self.programs:
            matrix = None
            for step in program:
                if step[0] == "run":
                    factors = dict(step[1])
                    m = None
                    for q in range(k):
                        f = products[factors[q]] if q in factors else EYE4[None]
                        m = f if m is None else kron(m, f)
                else:
                    _, i, positions = step
                    m = embed(ops[i], positions, k)
                matrix = m if matrix is None else m @ matrix
            out.append(matrix)
        return out
