#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one script for a machine that has one (CI has none):
#   1. the torch engine's tests, the CUDA one included (tests/qml/test_engine.py), and Aer's GPU check;
#   2. the engine's training step on CUDA at the peers' cells, against the same step on this CPU.
# Peers on the GPU (lightning.gpu, TensorCircuit-NG on jax[cuda]) are not set up by benchmarks/peers.py yet.
# Usage: bash benchmarks/gpu_check.sh [cells]   (default: exact:12:32,exact:16:32,exact:20:8)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CELLS=${1:-exact:12:32,exact:16:32,exact:20:8}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
"$PY" -m pytest -q tests/qml/test_engine.py tests/qml/test_backends.py -k "engine or cuda or gpu"
"$PY" benchmarks/peers.py --device cuda --cells "$CELLS" --repeats 5
"$PY" benchmarks/peers.py --contenders torch --cells "$CELLS" --repeats 5
