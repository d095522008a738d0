"""Compare classical, quantum and hybrid classifiers from Python, the way `qhybrid compare` does.

Two-moons data, a logistic regression, an MLP, the dressed quantum circuit and its separable control
(same circuit without entangling gates), 2 seeds, on PennyLane's default.qubit and qhybrid's Aer backend.
Results are appended to results/example-quick/results.jsonl: rerun the script and finished cells are
skipped. About 20 s on 2 quiet CPU cores.

    python examples/compare_quick.py
"""

from qhybrid.hybrid import Runner, parse_config, render_report

config = parse_config(
    {
        "name": "example-quick",
        "models": ["logreg", "mlp", "dressed", "dressed-sep"],
        "datasets": ["moons"],
        "backends": ["default", "aer"],
        "seeds": 2,
        "data": {"n_samples": 200},
        "params": {
            "mlp": {"hidden": [32, 32], "max_epochs": 60},
            "dressed": {"n_qubits": 2, "max_epochs": 10},
            "dressed-sep": {"n_qubits": 2, "max_epochs": 10},
        },
    }
)
out = "results/example-quick"
Runner(config, out).run()
report = render_report(out)
print(report["table"])
print("\nwritten:", ", ".join(str(p) for p in report["files"]))
