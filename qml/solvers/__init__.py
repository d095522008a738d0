"""Variational optimisation solvers (QAOA, VQE) on any qhybrid backend."""
