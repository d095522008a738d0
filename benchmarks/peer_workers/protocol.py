"""What every worker of ``benchmarks/peers.py`` shares: the line protocol and the circuits' description.

A worker hosts contenders in one virtualenv (qhybrid's own, or a peer's) and imports nothing of qhybrid, so
that it runs where qhybrid is not installed. It reads one JSON command a line on stdin and answers one JSON
line on stdout (library chatter goes to stderr):

  {"cmd": "setup", "contender": name, "cell": {...}}  build the step and call it once (the first call, JIT
        compile included); answers {"ok": true, "first_s", "values", "grad"} or {"ok": false, "why"}
  {"cmd": "time", "contender": name, "calls": k}   k calls back to back, as a training loop makes them:
        {"wall": seconds per call}
  {"cmd": "drop", "contender": name}   forget its step

A worker may host several contenders of its virtualenv, each with its own step.

A cell is ``{"regime": "exact", "n", "batch", "layers", "x", "w"}`` (angle embedding ``RX(x_i)``, then per
layer ``Rot(w[l, i])`` on every wire and CNOTs around a ring; ``<Z_i>`` of every wire; loss = sum of all
outputs; gradient of the weights) or ``{"regime": "qaoa", "n", "p", "params", "zz": [[i, j, J]], "z": [[i,
h]], "terms": [[coeff, [wires]]], "const"}`` (Hadamards, then per layer ``IsingZZ(2 gamma J)``, ``RZ(2 gamma
h)``, ``RX(2 beta)``; energy = sum coeff <Z...Z> + const; its gradient in ``params = [gammas, betas]``).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


class Unsupported(Exception):
    """This contender does not run this cell."""


def ring(n: int) -> list[tuple[int, int]]:
    if n < 2:
        return []
    if n == 2:
        return [(0, 1)]
    return [(i, (i + 1) % n) for i in range(n)]


def threads() -> int:
    return int(os.environ.get("OMP_NUM_THREADS", "1"))


def energy_diagonal(cell: dict) -> np.ndarray:
    """The QAOA energy of every basis state (wire 0 most significant)."""
    n = cell["n"]
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(n))) & 1
    signs = 1 - 2 * bits
    out = np.full(2**n, float(cell["const"]))
    for coeff, wires in cell["terms"]:
        out += coeff * np.prod(signs[:, wires], axis=1) if wires else coeff
    return out


def serve(build) -> None:
    """``build(contender, cell) -> step``, ``step() -> (values, grad)`` as numpy arrays."""
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints goes to stderr
    steps = {}
    for line in sys.stdin:
        msg = json.loads(line)
        name = msg.get("contender")
        if msg["cmd"] == "setup":
            steps.pop(name, None)
            try:
                start = time.perf_counter()
                steps[name] = build(name, msg["cell"])
                values, grad = steps[name]()
                answer = {
                    "ok": True,
                    "first_s": time.perf_counter() - start,
                    "values": np.asarray(values, dtype=float).tolist(),
                    "grad": np.asarray(grad, dtype=float).ravel().tolist(),
                }
            except Unsupported as why:
                answer = {"ok": False, "why": str(why)}
            except Exception as exc:  # a peer failing is a row of the table, not a crash of the run
                answer = {"ok": False, "why": f"{type(exc).__name__}: {exc}"[:300]}
        elif msg["cmd"] == "time":
            calls = int(msg.get("calls", 1))
            start = time.perf_counter()
            for _ in range(calls):
                steps[name]()
            answer = {"wall": (time.perf_counter() - start) / calls}
        else:
            steps.pop(name, None)
            answer = {"ok": True}
        out.write(json.dumps(answer) + "\n")
        out.flush()
