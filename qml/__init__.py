"""qhybrid's quantum side: PennyLane circuits executed on Qiskit Aer simulators."""
