"""The order in which the adjoint's reversed pass undoes a circuit, in layers of commuting gates.

The reversed pass (:meth:`.joint.JointCircuitBuilder.reverse_pair`) saves something (probabilities, or a
snapshot of the paired state) before each layer that holds a rotation needing a derivative, and one save
serves every rotation of its layer. Each save costs about a pass over the state, and a snapshot also holds
a state's worth of memory per row, so the pass should need as few layers with such rotations as it can.

Two gates commute when their wires are disjoint or both are diagonal (:data:`DIAGONAL_GATES`). The pass
may undo any gate whose later non-commuting gates are all undone (it is *ready*); ready gates pairwise
commute. The schedule undoes every ready gate that needs no derivative first, and only when none is left
takes all ready rotations as one layer. A strongly entangling layer's rotations sit between two CNOT
rings; undone as soon as each is ready they would be spread over the ring's twelve steps (26 saves for
two layers on 12 qubits, measured), where this schedule needs one save per rotation layer (6). A QAOA cost
layer's phase gates, on a graph's overlapping edges, are one layer.

The layers are in reversed order (the last gate of the circuit first), each layer in decreasing gate index.
"""

from __future__ import annotations

#: Native gates diagonal in the computational basis (multiplexed Z-type rotations are diagonal too): any two
#: of them commute, whatever wires they share.
DIAGONAL_GATES = frozenset({"rz", "p", "rzz", "z", "s", "t", "cz"})


def _blockers(gates) -> list[set[int]]:
    """For each gate, the later gates that share a wire with it and do not commute with it."""
    on_wire: dict[int, list[int]] = {}
    for i, gate in enumerate(gates):
        for w in gate.wires:
            on_wire.setdefault(w, []).append(i)
    blockers: list[set[int]] = [set() for _ in gates]
    for indices in on_wire.values():
        for a, i in enumerate(indices):
            diagonal = gates[i].name in DIAGONAL_GATES
            for j in indices[a + 1 :]:
                if not (diagonal and gates[j].name in DIAGONAL_GATES):
                    blockers[i].add(j)
    return blockers


def reversed_layers(structure, measured: frozenset = frozenset()) -> list[list[int]]:
    """The structure's gates in the order the reversed pass undoes them, as layers of commuting gates.

    ``measured``: indices of the gates that need a derivative (a save before their layer). Cached on the
    structure per ``measured``.
    """
    key = ("reversed_layers", measured)
    if key not in structure.circuits:
        structure.circuits[key] = _schedule(structure.gates, measured)
    return structure.circuits[key]


def _schedule(gates, measured: frozenset) -> list[list[int]]:
    blockers = _blockers(gates)
    blocks: list[list[int]] = [[] for _ in gates]  # gate j -> the earlier gates it blocks
    for i, later in enumerate(blockers):
        for j in later:
            blocks[j].append(i)
    ready = {i for i, later in enumerate(blockers) if not later}
    layers: list[list[int]] = []
    while ready:
        free = [i for i in ready if i not in measured]
        layer = sorted(free or ready, reverse=True)
        layers.append(layer)
        ready.difference_update(layer)
        for j in layer:
            for i in blocks[j]:
                blockers[i].discard(j)
                if not blockers[i]:
                    ready.add(i)
    return layers


def layer_of(structure, measured: frozenset = frozenset()) -> dict[int, int]:
    """Gate index -> index of its layer in :func:`reversed_layers`."""
    return {i: k for k, layer in enumerate(reversed_layers(structure, measured)) for i in layer}
