"""Catalyst: ``qml.qjit`` over ``lightning.qubit`` with its adjoint gradient, in its own virtualenv.

The batch is a ``catalyst.for_loop`` of per-sample gradients of ``<sum_i Z_i>`` (the gradient of the summed
loss) and the values a ``catalyst.vmap`` forward pass, both in one compiled call (gradients through
``catalyst.vmap`` did not compile with catalyst 0.15). QAOA: ``qjit(value_and_grad)`` of the energy.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import catalyst  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pennylane as qp  # noqa: E402
from protocol import Unsupported, ring, serve  # noqa: E402


def layer_gates(n, x, w):
    for i in range(n):
        qp.RX(x[i], wires=i)
    for layer in range(w.shape[0]):
        for i in range(n):
            qp.Rot(w[layer, i, 0], w[layer, i, 1], w[layer, i, 2], wires=i)
        for a, b in ring(n):
            qp.CNOT([a, b])


def build_layer(cell):
    n = cell["n"]
    dev = qp.device("lightning.qubit", wires=n)
    total = qp.Hamiltonian([1.0] * n, [qp.Z(i) for i in range(n)])

    @qp.qnode(dev, diff_method="adjoint")
    def summed(x, w):
        layer_gates(n, x, w)
        return qp.expval(total)

    @qp.qnode(dev)
    def values(x, w):
        layer_gates(n, x, w)
        return [qp.expval(qp.Z(i)) for i in range(n)]

    @qp.qjit
    def forward_backward(w, xs):
        @catalyst.for_loop(0, xs.shape[0], 1)
        def body(b, acc):
            return acc + catalyst.grad(summed, argnums=1)(xs[b], w)

        grad = body(jnp.zeros_like(w))
        vals = catalyst.vmap(values, in_axes=(0, None))(xs, w)
        return jnp.stack(vals, axis=-1), grad

    x, w = jnp.asarray(cell["x"]), jnp.asarray(cell["w"])

    def step():
        vals, grad = forward_backward(w, x)
        return np.asarray(vals), np.asarray(grad)

    return step


def build_qaoa(cell):
    n, p = cell["n"], cell["p"]
    ops = [qp.prod(*[qp.Z(i) for i in wires]) if wires else qp.I(0) for _, wires in cell["terms"]]
    hamiltonian = qp.Hamiltonian([c for c, _ in cell["terms"]], ops)

    @qp.qnode(qp.device("lightning.qubit", wires=n), diff_method="adjoint")
    def energy(angles):
        for i in range(n):
            qp.Hadamard(i)
        for k in range(p):
            for i, j, coupling in cell["zz"]:
                qp.IsingZZ(2 * angles[k] * coupling, wires=[i, j])
            for i, h in cell["z"]:
                qp.RZ(2 * angles[k] * h, wires=i)
            for i in range(n):
                qp.RX(2 * angles[p + k], wires=i)
        return qp.expval(hamiltonian)

    value_and_grad = qp.qjit(catalyst.value_and_grad(energy))
    params = jnp.asarray(cell["params"])

    def step():
        value, grad = value_and_grad(params)
        return np.array([float(value) + cell["const"]]), np.asarray(grad)

    return step


def build(name, cell):
    if cell["regime"] in ("noise", "relax"):
        raise Unsupported("no density-matrix contender written for it")
    return build_qaoa(cell) if cell["regime"] == "qaoa" else build_layer(cell)


if __name__ == "__main__":
    serve(build)
