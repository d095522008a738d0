"""How inference and training speed scale with circuit width on each simulator.

The dressed quantum circuit (linear -> circuit -> linear) at 2, 4 and 6 qubits on qhybrid's batched Aer
backend, PennyLane's default.qubit and lightning.qubit, one seed, a short training budget: the plot
`throughput_vs_qubits.png` in results/example-backends shows samples/s against qubits per backend, with the
classical MLP as a reference line. About a minute on 2 CPU cores.

    python examples/compare_backends.py
"""

from qhybrid.hybrid import Runner, parse_config, render_report

widths = (2, 4, 6)
config = parse_config(
    {
        "name": "example-backends",
        "models": ["mlp", *(f"dressed-q{q}" for q in widths)],
        "datasets": ["qmlb:linearly_separable_10d"],
        "backends": ["aer", "default", "lightning"],
        "seeds": 1,
        "params": {"mlp": {"max_epochs": 20}},
        "variants": {f"dressed-q{q}": {"model": "dressed", "n_qubits": q, "max_epochs": 2} for q in widths},
    }
)
out = "results/example-backends"
Runner(config, out).run()
report = render_report(out)
print(report["table"])
print("\nwritten:", ", ".join(str(p) for p in report["files"]))
