"""``qhybrid compare`` and ``qhybrid report DIR``.

``qhybrid compare`` with no arguments runs the built-in experiment (:func:`hybrid.config.default_raw`); a
``--config`` TOML file replaces it; ``--models``, ``--datasets``, ``--backends``, ``--accelerators`` and
``--seeds`` override either. Cells run serially, on ``--jobs N`` processes, or on Dask (``--executor``,
:mod:`hybrid.executors`). Results go to ``--out`` (default ``results/compare-<name>``, or
``results/compare-<name>-<hash>`` when flags override the experiment: another experiment, another folder);
rerunning the same command resumes. At the end the table is printed and Markdown, CSV and PNG files are written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from qhybrid.hybrid.cli_help import RegistryHelpFormatter

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CELLS_FAILED",
    "EXIT_OK",
    "add_arguments",
    "add_report_arguments",
    "build_config",
    "report_main",
    "run",
]

#: Exit statuses of ``qhybrid compare`` and ``qhybrid report``.
EXIT_OK = 0
#: Some cells of the experiment failed: the table of the others is printed, and the last line says how
#: many failed and where their records are.
EXIT_CELLS_FAILED = 1
#: Bad input (a value, flag, file or folder) or a file-system error: one line
#: ``qhybrid: error: <what>: <why>`` (``hybrid.cli.main`` returns it for every ``ValueError``/``OSError``).
EXIT_BAD_INPUT = 2

_COMPARE_EPILOG = """\
exit status:
  0    every cell of the experiment finished
  1    some cells failed: the table of the others is printed, then a last line
       says how many failed and where their records are (a rerun retries them)
  2    bad input (a value, flag, file or folder: checked before any cell runs)
       or a file-system error: one line "qhybrid: error: <what>: <why>"
  130  interrupted: finished cells are kept; the same command resumes"""

_REPORT_EPILOG = """\
exit status:
  0    no cell of the folder's experiment failed
  1    some cells failed: the table of the others is printed and the files are
       written, then a last line says how many failed and where their records
       are (as qhybrid compare does)
  2    bad input (a missing folder, a broken results.jsonl or experiment.json):
       one line "qhybrid: error: <what>: <why>"
"""


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qhybrid compare``."""
    parser.formatter_class = RegistryHelpFormatter  # the epilog as written; --backends from the registry
    parser.epilog = _COMPARE_EPILOG
    parser.add_argument(
        "--config", metavar="FILE", help="experiment TOML file (default: the built-in experiment)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="results folder (default: results/compare-<name>); "
        "rerunning with the same folder skips finished cells",
    )
    parser.add_argument(
        "--models",
        type=_names,
        metavar="A,B",
        help="model names, comma-separated (e.g. mlp,svc,dressed,drc,dressed-sep)",
    )
    parser.add_argument(
        "--datasets",
        type=_names,
        metavar="A,B",
        help="data sets, comma-separated (e.g. moons,qmlb:linearly_separable_10d)",
    )
    parser.add_argument(
        "--backends",
        type=_names,
        metavar="A,B",
        help="simulators for quantum/hybrid models (%(backends)s)",
    )
    parser.add_argument(
        "--accelerators",
        type=_names,
        metavar="A,B",
        help="accelerators for the torch MLP (cpu, cuda, auto, ...)",
    )
    parser.add_argument("--seeds", type=int, metavar="N", help="number of seeds (0 .. N-1)")
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="cells run N at a time, in N worker processes (default 1: timings undisturbed)",
    )
    parser.add_argument(
        "--executor",
        metavar="E",
        help="where cells run: serial, process (--jobs processes), dask (a Dask LocalCluster of --jobs "
        "single-threaded workers; pip install 'qhybrid[distributed]') or dask://HOST:PORT (a running Dask "
        "scheduler). Default: serial, or process when --jobs > 1",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help="with --executor dask: serve the cluster's Dask dashboard on 127.0.0.1 (off by default)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``qhybrid report``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _REPORT_EPILOG
    parser.add_argument("results_dir", metavar="DIR", help="a results folder written by `qhybrid compare`")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="first move the lines of results.jsonl that are not records to results.corrupt.jsonl (nothing "
        "is deleted), so that the report and a resumed run can read the rest",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


_OVERRIDES = ("models", "datasets", "backends", "accelerators")


def build_config(args: argparse.Namespace, *, check: bool = True):
    """The validated experiment of a ``compare`` command line. With ``check`` every data set is loaded and
    every estimator built on every data set and platform (:func:`hybrid.validation.check_experiment`), so
    that a value that would fail every cell stops here, before the first cell."""
    from qhybrid.classical.validation import check_int
    from qhybrid.hybrid.config import default_raw, parse_config, read_toml
    from qhybrid.hybrid.validation import check_experiment, locate, read_text

    text = None
    for flag in ("config", "out"):  # an empty path would silently mean the default
        if getattr(args, flag, None) == "":
            raise ValueError(f"--{flag} is empty; give a path, or leave the option out for the default")
    if getattr(args, "config", None):
        raw, source = read_toml(args.config), str(args.config)
        text = read_text(args.config, "--config")
    else:
        raw, source = default_raw(), "built-in default"
    for key in _OVERRIDES:
        value = getattr(args, key, None)
        if value is not None:
            if not value:
                raise ValueError(f"--{key} needs at least one name")
            repeated = sorted({v for v in value if value.count(v) > 1})
            if repeated:
                raise ValueError(f"--{key} names {', '.join(map(repr, repeated))} more than once")
            raw[key] = value
    if getattr(args, "seeds", None) is not None:
        raw["seeds"] = check_int("--seeds", args.seeds, 1)
    if raw.get("variants") and getattr(args, "models", None):
        # variants not chosen on the command line would fail as "defined but not listed"
        raw["variants"] = {k: v for k, v in raw["variants"].items() if k in args.models}
    overridden = tuple(k for k in (*_OVERRIDES, "seeds") if getattr(args, k, None) is not None)
    try:
        config = parse_config(raw, source=source)
    except ValueError as err:
        raise ValueError(locate(str(err), source, text, skip=overridden)) from None
    if check:
        check_experiment(config, raw, source=source, text=text)
    return config


def default_out(config, args: argparse.Namespace) -> Path:
    """The results folder without ``--out``: ``results/compare-<name>`` for the experiment as its file (or
    the built-in default) states it; with ``--models``, ``--datasets``, ``--backends``, ``--accelerators`` or
    ``--seeds`` it is another experiment, and gets a folder of its own, ``compare-<name>-<8 hex digits>`` (a
    hash of the whole experiment), so that its report never replaces the first one's."""
    base = Path("results") / f"compare-{config.name}"
    if not any(getattr(args, k, None) is not None for k in (*_OVERRIDES, "seeds")):
        return base
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    return base.with_name(f"{base.name}-{digest[:8]}")


def _print_report(out: Path, plots: bool) -> int:
    """Print the table of a results folder and write its files; returns the exit status:
    :data:`EXIT_CELLS_FAILED` after a last line saying how many cells failed, else :data:`EXIT_OK`."""
    from qhybrid.hybrid.report import render_report

    report = render_report(out, plots=plots)
    print(report["table"])
    for r in report["errors"]:
        print(
            f"FAILED {r['model']} on {r['dataset']} ({r['platform']}, seed {r['seed']}): {r.get('error')}",
            file=sys.stderr,
        )
    print("\nwritten: " + ", ".join(str(f) for f in report["files"]))
    if not report["errors"]:
        return EXIT_OK
    sys.stdout.flush()  # the table first, the verdict last, also where both streams go to one terminal
    print(
        f"qhybrid: {len(report['errors'])} of {report['n_cells']} cells failed; their records (status "
        f'"error") are in {out / "results.jsonl"}',
        file=sys.stderr,
    )
    return EXIT_CELLS_FAILED


def _executor_spec(args: argparse.Namespace):
    from qhybrid.classical.validation import check_int
    from qhybrid.hybrid.executors import parse_executor

    jobs = getattr(args, "jobs", None)
    jobs = None if jobs is None else check_int("--jobs", jobs, 1)
    return parse_executor(getattr(args, "executor", None), jobs, bool(getattr(args, "dashboard", False)))


def run(args: argparse.Namespace) -> int:
    """``qhybrid compare``: validate, run (resuming), print the table and write the report."""
    from qhybrid.hybrid.executors import describe_executor, open_executor
    from qhybrid.hybrid.runner import Runner, grid
    from qhybrid.hybrid.validation import check_output_dir

    spec = _executor_spec(args)
    config = build_config(args)
    out = Path(args.out) if getattr(args, "out", None) else default_out(config, args)
    check_output_dir(out, "--out" if getattr(args, "out", None) else "results folder")
    with open_executor(spec) as executor:
        # build_config has checked the experiment, naming the TOML file's lines: the runner need not again
        runner = Runner(
            config, out, executor=executor, progress=not getattr(args, "no_progress", False), validate=False
        )
        n_all, n_todo = len(grid(config)), len(runner.pending())
        print(
            f"experiment {config.name!r}: {n_all} cells ({len(config.models)} models, {len(config.datasets)} "
            f"data sets, {len(config.seeds)} seeds, platforms per model); {n_all - n_todo} already done, "
            f"{n_todo} to run; results in {out}; {describe_executor(spec, executor)}",
            file=sys.stderr,
        )
        runner.run()
    return _print_report(out, plots=not getattr(args, "no_plots", False))


def report_main(args: argparse.Namespace) -> int:
    """``qhybrid report DIR``: re-render the table, Markdown, CSV and plots from a results folder. Returns
    :data:`EXIT_CELLS_FAILED` when the folder's experiment has failed cells, as ``qhybrid compare`` does."""
    directory = getattr(args, "results_dir", None) or getattr(args, "dir", None)
    if not directory:
        raise ValueError("qhybrid report needs a results folder")
    if getattr(args, "repair", False):
        from qhybrid.hybrid.results_file import CORRUPT_FILE, set_aside_broken_lines

        moved = set_aside_broken_lines(Path(directory))
        print(
            f"set aside {moved} line(s) that were not records in {Path(directory) / CORRUPT_FILE}",
            file=sys.stderr,
        )
    return _print_report(Path(directory), plots=not getattr(args, "no_plots", False))
