"""Forward + backward time of a QuantumLayer on qhybrid's Aer path and on the simulators a user would pick
instead. The benchmark ships in the package (:mod:`qhybrid.hybrid.bench`, also ``qhybrid bench``); this
script runs it from a source checkout.

    python benchmarks/aer_layer.py --quick     # 4, 8, 12 qubits, batch 256 at 4 only; about a minute
    python benchmarks/aer_layer.py             # adds 16 qubits and more repeats
"""

import sys

from qhybrid import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)

from qhybrid.hybrid.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
