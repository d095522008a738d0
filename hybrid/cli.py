"""The ``qhybrid`` command.

``qhybrid compare``   classical, quantum and hybrid models on the same data: accuracy and speed (the main job)
``qhybrid report DIR`` re-render the report of a results folder
``qhybrid solve ...``  QAOA / VQE beside classical references
``qhybrid bench``      the quick Aer layer benchmark
``qhybrid info``       versions, and which backends and accelerators work on this machine
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from qhybrid._waiting import wait_passively

wait_passively()  # idle threads sleep; before numpy, torch and qiskit_aer load (qhybrid/_waiting.py)
os.environ.setdefault("MPLBACKEND", "Agg")


def _info(args) -> int:
    import qhybrid.classical.accelerators as acc
    from qhybrid._extras import EXTRAS
    from qhybrid.hybrid.runner import library_versions
    from qhybrid.qml.backends import describe_backends

    info = {
        "versions": library_versions(optional=True),
        "backends": describe_backends(),
        "accelerators": acc.describe(),
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print("qhybrid info")
    print("\nversions")
    extras = {dist: extra for dist, extra in EXTRAS.values()}
    for name, v in info["versions"].items():
        missing = (
            f"not installed (optional: pip install 'qhybrid[{extras[name]}]')"
            if name in extras
            else "not installed"
        )
        print(f"  {name:<19} {v or missing}")
    print("\nquantum backends (qml.make_device)")
    width = max(len(row["name"]) for row in info["backends"])
    for row in info["backends"]:
        state = "ok" if row["available"] else f"unavailable ({row['error']})"
        print(f"  {row['name']:<{width}} {state:<12} {row['description']}")
    print("\naccelerators (classical.resolve_accelerator)")
    for key, value in info["accelerators"].items():
        print(f"  {key:<19} {value}")
    return 0


def _bench(args) -> int:
    from qhybrid.hybrid import bench  # torch, PennyLane and Aer load only for this command

    return bench.main([] if args.full else ["--quick"])


# Subcommands implemented in their own modules: name -> (module, help, run function, add_arguments).
_DELEGATED = {
    "compare": (
        "qhybrid.hybrid.compare_cmd",
        "compare classical, quantum and hybrid models (the main job)",
        "run",
        "add_arguments",
    ),
    "report": (
        "qhybrid.hybrid.compare_cmd",
        "re-render the report of a results folder",
        "report_main",
        "add_report_arguments",
    ),
    "solve": ("qhybrid.hybrid.solve_cmd", "QAOA / VQE beside classical references", "run", "add_arguments"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qhybrid",
        description="Hybrid quantum-classical machine learning: compare classical, quantum and hybrid models "
        "on speed and accuracy, solve optimisation problems with QAOA/VQE.",
    )
    from qhybrid import __version__

    parser.add_argument("--version", action="version", version=f"qhybrid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text, run_name, add_name) in _DELEGATED.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        getattr(mod, add_name)(p)
        p.set_defaults(func=getattr(mod, run_name))
    p = sub.add_parser(
        "bench",
        help="time the QuantumLayer on our Aer path against other simulators",
        description="Time a QuantumLayer's forward+backward on qhybrid's Aer path against lightning.qubit, "
        "default.qubit and (with the `bench` extra, pennylane-qiskit) the stock qiskit.aer plugin.",
    )
    p.add_argument("--full", action="store_true", help="all sizes (default: the --quick set)")
    p.set_defaults(func=_bench)
    p = sub.add_parser("info", help="versions, and which backends and accelerators work here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted; finished results are kept (rerun the same command to resume)", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        # Bad input (values, files, JSON/TOML/Unicode errors, which are ValueErrors) reaches the user as one
        # clear line with argparse's exit code, not a traceback. Any other exception is a bug in qhybrid
        # and keeps its traceback.
        print(f"qhybrid: error: {_user_message(exc)}", file=sys.stderr)
        return 2


def _user_message(exc: BaseException) -> str:
    """``<what>: <why>`` on one line."""
    if isinstance(exc, OSError) and exc.strerror:
        what = exc.filename if exc.filename is not None else None
        text = f"{what}: {exc.strerror}" if what is not None else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
