# Two commands do all the set-up on a fresh machine:
#   make run    create/update .venv, install qhybrid, run `qhybrid compare` on the built-in default
#   make test   create/update .venv, install qhybrid with test tools, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build installed when the venv has none. The default is the CPU build kept on this project's
# machines; GPU users install their CUDA/ROCm build into .venv first (see README) and it is kept.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv run test test-all lint device-suite bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/qhybrid compare

test: venv
	$(BIN)/python -m pytest -q

# Every test, the slow ones too (examples with small arguments, inductor compile, long solver runs).
test-all: venv
	$(BIN)/python -m pytest -q -m ""

# Style: what CI checks before the tests (ruff's lint rules and its formatter, see pyproject.toml).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# PennyLane's own device tests against qhybrid.aer and qhybrid.aer.mixed, exact and with shots (CI runs it).
device-suite: venv
	$(BIN)/python tests/pennylane_device_suite.py

# The stock qiskit.aer plugin row needs pennylane-qiskit, the `bench` extra (it caps qiskit and qiskit-aer).
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/aer_layer.py --quick

clean:
	rm -rf $(VENV) results
