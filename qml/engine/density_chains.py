"""Chains of one-qubit transfer matrices multiplied out together, a few torch operations per call.

A wire's one-qubit items before its first multi-qubit gate (the start state) and each ``single`` stage are
products of ``4 x 4`` matrices. Multiplying them one chain at a time costs a torch operation per item (and
as many again in the backward pass), which at 4 qubits is most of a training step. Here the chains of equal
length are multiplied side by side: position ``p`` of every chain is one gather from the stacked matrices
and one batched product, so a call costs about twice the longest chain in operations, whatever the width.

Chains whose items all ignore the row's inputs are multiplied once (one row), so their stages apply one
shared matrix to every row.
"""

from __future__ import annotations

import torch

EYE4 = torch.eye(4, dtype=torch.float64)


class Chains:
    """``chains``: lists of slots into the stacked one-qubit matrices, in time order (may be empty);
    ``per_row``: for each chain, whether it depends on the row."""

    def __init__(self, chains: list[list[int]], per_row: list[bool]):
        self.n = len(chains)
        groups: dict[tuple[int, bool], list[int]] = {}
        for c, (chain, rows) in enumerate(zip(chains, per_row, strict=True)):
            groups.setdefault((len(chain), rows), []).append(c)
        self.groups = [
            (
                length,
                rows,
                members,
                torch.tensor([chains[c] for c in members], dtype=torch.long).reshape(len(members), length),
            )
            for (length, rows), members in groups.items()
        ]

    def __call__(self, mats: torch.Tensor) -> list[torch.Tensor]:
        """Each chain's product, ``(R or 1, 4, 4)``, from the stacked ``(R, I, 4, 4)`` matrices."""
        out: list = [None] * self.n
        for length, rows, members, index in self.groups:
            source = mats if rows else mats[:1]
            if length == 0:
                product = EYE4.expand(1, len(members), 4, 4)
            else:
                product = source[:, index[:, 0]]
                for p in range(1, length):
                    product = source[:, index[:, p]] @ product
            for j, c in enumerate(members):
                out[c] = product[:, j]
        return out
