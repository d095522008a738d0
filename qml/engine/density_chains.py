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
        self.per_row = any(per_row)
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


#: A qubit's ``|0><0| = (I + Z) / 2`` as Pauli coefficients ``Tr(P rho)``.
ZERO = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)


class StartChains(Chains):
    """The same for the start state: each chain applied to ``|0><0|``, one ``(R or 1, 4)`` vector per chain,
    returned stacked in chain order as ``(R or 1, chains, 4)``."""

    def __init__(self, chains: list[list[int]], per_row: list[bool]):
        super().__init__(chains, per_row)
        order = [c for _, _, members, _ in self.groups for c in members]
        self.inverse = torch.tensor([order.index(c) for c in range(self.n)], dtype=torch.long)
        self.identity = order == list(range(self.n))

    def __call__(self, mats: torch.Tensor) -> torch.Tensor:
        parts = []
        rows = mats.shape[0] if self.per_row and mats is not None else 1
        for length, per_row, members, index in self.groups:
            source = mats if per_row else (mats[:1] if mats is not None else None)
            v = ZERO.expand(1, len(members), 4)
            for p in range(length):
                v = (source[:, index[:, p]] @ v[..., None])[..., 0]
            parts.append(v.expand(rows, -1, -1))
        stacked = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return stacked if self.identity else stacked[:, self.inverse]
