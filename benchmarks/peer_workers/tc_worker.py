"""TensorCircuit-NG on its JAX backend, complex128: ``jit(value_and_grad)`` of the loss, the batch vmapped
inside (the idiom its documentation gives for batched variational training)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import tensorcircuit as tc  # noqa: E402
from protocol import energy_diagonal, ring, serve  # noqa: E402

tc.set_backend("jax")
tc.set_dtype("complex128")


def z_values(probs, n):
    """<Z_i> of every wire from the 2**n probabilities (wire 0 most significant)."""
    p = probs.reshape([2] * n)
    out = []
    for i in range(n):
        marginal = jnp.sum(p, axis=tuple(a for a in range(n) if a != i))
        out.append(marginal[0] - marginal[1])
    return jnp.stack(out)


def build_layer(cell):
    n, x, w = cell["n"], jnp.asarray(cell["x"]), jnp.asarray(cell["w"])

    def sample(xs, ws):
        c = tc.Circuit(n)
        for i in range(n):
            c.rx(i, theta=xs[i])
        for layer in range(ws.shape[0]):
            for i in range(n):
                c.rz(i, theta=ws[layer, i, 0])
                c.ry(i, theta=ws[layer, i, 1])
                c.rz(i, theta=ws[layer, i, 2])
            for a, b in ring(n):
                c.cnot(a, b)
        return z_values(jnp.abs(c.state()) ** 2, n)

    return _jit_step(sample, w, x)


def build_qaoa(cell):
    n, p = cell["n"], cell["p"]
    diagonal = jnp.asarray(energy_diagonal(cell))
    params = jnp.asarray(cell["params"])

    def energy(angles):
        c = tc.Circuit(n)
        for i in range(n):
            c.h(i)
        for k in range(p):
            for i, j, coupling in cell["zz"]:
                c.rzz(i, j, theta=2 * angles[k] * coupling)
            for i, h in cell["z"]:
                c.rz(i, theta=2 * angles[k] * h)
            for i in range(n):
                c.rx(i, theta=2 * angles[p + k])
        return jnp.sum(jnp.abs(c.state()) ** 2 * diagonal)

    value_and_grad = jax.jit(jax.value_and_grad(energy))

    def step():
        value, grad = value_and_grad(params)
        grad.block_until_ready()
        return np.array([float(value)]), np.asarray(grad)

    return step


def build_noise(cell):
    """The layer on ``DMCircuit``: Qiskit's ``depolarizing_error(p, k)`` (``rho -> (1-p) rho + p I/2**k``)
    after every gate is TensorCircuit's general depolarising channel with ``p / 4**k`` per Pauli string;
    thermal relaxation is its ``thermalrelaxationchannel`` after every gate, on each qubit of a CNOT."""
    n, x, w, noise = cell["n"], jnp.asarray(cell["x"]), jnp.asarray(cell["w"]), cell["noise"]
    if "t1" in noise:  # thermal relaxation, on each qubit of a two-qubit gate (Aer's relax.expand(relax))
        t1, t2 = noise["t1"], noise["t2"]
        one = tc.channels.thermalrelaxationchannel(t1, t2, noise["gate_time_1q"], "ByChoi")
        each = tc.channels.thermalrelaxationchannel(t1, t2, noise["gate_time_2q"], "ByChoi")

        def after_two(c, a, b):
            c.apply_general_kraus(each, a)
            c.apply_general_kraus(each, b)

    else:
        one = tc.channels.generaldepolarizingchannel(noise["depolarizing_1q"] / 4, 1)
        two = tc.channels.generaldepolarizingchannel(noise["depolarizing_2q"] / 16, 2)

        def after_two(c, a, b):
            c.apply_general_kraus(two, a, b)

    def sample(xs, ws):
        c = tc.DMCircuit(n)
        for i in range(n):
            c.rx(i, theta=xs[i])
            c.apply_general_kraus(one, i)
        for layer in range(ws.shape[0]):
            for i in range(n):
                for gate, k in ((c.rz, 0), (c.ry, 1), (c.rz, 2)):
                    gate(i, theta=ws[layer, i, k])
                    c.apply_general_kraus(one, i)
            for a, b in ring(n):
                c.cnot(a, b)
                after_two(c, a, b)
        return z_values(jnp.real(jnp.diagonal(c.densitymatrix())), n)

    return _jit_step(sample, w, x)


def _jit_step(sample, w, x):
    def loss(ws, xs):
        values = jax.vmap(sample, in_axes=(0, None))(xs, ws)
        return jnp.sum(values), values

    value_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True))

    def step():
        (_, values), grad = value_and_grad(w, x)
        grad.block_until_ready()
        return np.asarray(values), np.asarray(grad)

    return step


def build(name, cell):
    return {"qaoa": build_qaoa, "noise": build_noise, "relax": build_noise}.get(cell["regime"], build_layer)(
        cell
    )


if __name__ == "__main__":
    serve(build)
