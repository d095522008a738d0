"""Reports of a results folder: a terminal table, ``summary.md``, ``summary.csv`` and two PNG plots.

Rows are ``(data set, model, platform)``; numbers are mean ± standard deviation over seeds (sample std,
``ddof=1``; 0 for a single seed). Where the cells were searched, every scorer of the search gets a test
column (``test roc_auc``), and ``summary.md`` states the protocol and lists each cell's best setting with
every score over the folds and on the test split. Plots: test accuracy against fit time (one panel per data
set) and inference throughput against the number of qubits (one series per backend, classical models as
reference lines).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from qhybrid._files import atomic_write_csv, atomic_write_text, refuse_link
from qhybrid._tables import render_table
from qhybrid.hybrid.report_plots import plot_accuracy_vs_time, plot_throughput_vs_qubits
from qhybrid.hybrid.results_file import CONFIG_FILE, latest_records, read_results

__all__ = ["format_table", "render_report", "summarize"]

# (record field, column title, format) of the summary, in display order
_METRICS = [
    ("test_accuracy", "test acc", "{:.3f}"),
    ("train_accuracy", "train acc", "{:.3f}"),
    ("fit_seconds", "fit s", "{:.2f}"),
    ("inference_samples_per_s", "infer samples/s", "{:,.0f}"),
    ("inference_latency_ms", "latency ms", "{:.2f}"),
    ("n_params", "params", "{:,.0f}"),
    ("n_qubits", "qubits", "{:.0f}"),
    ("circuit_executions", "circuits (fit)", "{:,.0f}"),
]
_WITH_STD = {"test_accuracy", "train_accuracy", "fit_seconds", "inference_samples_per_s"}


def _extra_scores(records: list[dict[str, Any]]) -> list[str]:
    """The search's scorers other than accuracy (already a column), in the order the records name them."""
    names = dict.fromkeys(n for r in records for n in r.get("test_scores") or {})
    return [n for n in names if n != "accuracy"]


def _stats(values: list) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def _ran_on(platform: str, records: list[dict]) -> str:
    """The platform, and the engine that ran where it differs (``auto (torch)``)."""
    engines = sorted({r["engine"] for r in records if r.get("engine") not in (None, platform)})
    return f"{platform} ({', '.join(engines)})" if engines else platform


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (data set, model, platform) over the successful cells: ``<field>_mean``, ``<field>_std``
    and ``n_seeds``; rows keep the order in which the cells first appear."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in latest_records(records):
        if r.get("status") == "ok":
            groups[(r["dataset"], r["model"], r["platform"])].append(r)
    rows = []
    for (dataset, model, plat), rs in groups.items():
        row: dict[str, Any] = {
            "dataset": dataset,
            "model": model,
            "family": rs[0].get("family", ""),
            "platform": _ran_on(plat, rs),
            "n_seeds": len(rs),
        }
        for fieldname, _, _ in _METRICS:
            values = [r[fieldname] for r in rs if r.get(fieldname) is not None]
            row[f"{fieldname}_mean"], row[f"{fieldname}_std"] = _stats(values)
        row["scores"] = _extra_scores(rs)
        for name in row["scores"]:
            values = [
                r["test_scores"][name] for r in rs if (r.get("test_scores") or {}).get(name) is not None
            ]
            row[f"test_{name}_mean"], row[f"test_{name}_std"] = _stats(values)
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], fieldname: str, fmt: str) -> str:
    mean = row.get(f"{fieldname}_mean")
    if mean is None:
        return "n/a"
    text = fmt.format(mean)
    if (fieldname in _WITH_STD or fieldname.startswith("test_")) and row.get("n_seeds", 1) > 1:
        text += " ± " + fmt.format(row[f"{fieldname}_std"])
    return text


def _columns(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The metrics of the table: the fixed ones, a test column per further scorer after test accuracy."""
    extra = list(dict.fromkeys(n for r in rows for n in r.get("scores", ())))
    return [_METRICS[0], *[(f"test_{n}", f"test {n}", "{:.3f}") for n in extra], *_METRICS[1:]]


def _table_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns = _columns(rows)
    header = ["data set", "model", "platform", "seeds", *[title for _, title, _ in columns]]
    body = [
        [
            r["dataset"],
            r["model"],
            r["platform"],
            str(r["n_seeds"]),
            *[_cell(r, f, fmt) for f, _, fmt in columns],
        ]
        for r in rows
    ]
    return header, body


def format_table(rows: list[dict[str, Any]], *, style: str = "text") -> str:
    """The summary as a table: ``style="text"`` aligned for the terminal, ``"markdown"`` for
    ``summary.md``; the same columns in both, numbers right-aligned."""
    header, body = _table_rows(rows)
    return render_table(header, body, numeric=header[3:], style=style)


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    fields = ["dataset", "model", "family", "platform", "n_seeds"]
    for f, _, _ in _columns(rows):
        fields += [f"{f}_mean", f"{f}_std"]
    atomic_write_csv(path, fields, rows)


# --------------------------------------------------------------------------------------------- plots


# --------------------------------------------------------------------------------------------- report


def _read_experiment(path: Path) -> dict[str, Any]:
    """The folder's ``experiment.json`` (``{}`` when there is none), refused with its name when broken."""
    from qhybrid.hybrid.validation import read_json

    if not path.exists():
        return {}
    config = read_json(path, "experiment description")
    if not isinstance(config, dict) or not isinstance(config.get("cell_keys", []), list):
        raise ValueError(f"experiment description {str(path)!r}: not one written by qhybrid compare")
    return config


def render_report(results_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write ``summary.md``, ``summary.csv`` and (with ``plots``) the PNGs into ``results_dir``; returns
    ``{"rows": ..., "table": <terminal text>, "files": [...], "errors": [...], "stale": <count>,
    "n_cells": <count>}``.

    Only the records of the cells of the folder's current experiment (``experiment.json``) are reported;
    results of earlier settings stay in ``results.jsonl`` and are counted in ``stale``. ``errors`` holds
    the latest record of each failed cell; ``n_cells`` counts the cells of the experiment (those with a
    record where the folder has no ``experiment.json``). Each file is replaced whole (written beside it,
    then renamed), so an interrupted report leaves the previous one."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder {str(results_dir)!r} does not exist")
    records = read_results(results_dir)
    if not records:
        raise ValueError(
            f"results folder {str(results_dir)!r} holds no results (no {results_dir / 'results.jsonl'})"
        )
    config = _read_experiment(results_dir / CONFIG_FILE)
    latest, n_stale, n_cells = _current_records(latest_records(records), config)
    rows = summarize(latest)
    errors = [r for r in latest if r.get("status") != "ok"]
    protocol = _protocol_line(config, latest)
    table = format_table(rows)
    if protocol:
        table = protocol + "\n\n" + table
    csv_path = results_dir / "summary.csv"
    _write_csv(rows, csv_path)
    pngs = _write_plots(rows, results_dir) if plots and rows else []
    md_path = results_dir / "summary.md"
    lines = _markdown(results_dir, config, latest, rows, protocol, pngs, n_stale)
    atomic_write_text(md_path, "\n".join(lines) + "\n")
    return {
        "rows": rows,
        "table": table,
        "files": [md_path, csv_path, *pngs],
        "errors": errors,
        "stale": n_stale,
        "n_cells": n_cells,
        "protocol": protocol,
    }


def _current_records(latest: list[dict[str, Any]], config: dict[str, Any]) -> tuple[list, int, int]:
    """The latest records of the experiment's current cells, in grid order (not the order they finished
    in, which on a process pool or Dask is out of turn); how many records belong to earlier settings
    (they stay in the file, nothing is ever deleted); and the number of cells."""
    if not config.get("cell_keys"):
        return latest, 0, len(latest)
    order = {key: i for i, key in enumerate(config["cell_keys"])}
    stale = sum(r["key"] not in order for r in latest)
    current = sorted((r for r in latest if r["key"] in order), key=lambda r: order[r["key"]])
    return current, stale, len(order)


def _write_plots(rows: list[dict[str, Any]], results_dir: Path) -> list[Path]:
    pngs = []
    for name, fn in (
        ("accuracy_vs_fit_time.png", plot_accuracy_vs_time),
        ("throughput_vs_qubits.png", plot_throughput_vs_qubits),
    ):
        refuse_link(results_dir / name)  # matplotlib would write through it
        fn(rows, results_dir / name)
        pngs.append(results_dir / name)
    return pngs


def _markdown(
    results_dir: Path, config: dict, latest: list, rows: list, protocol: str, pngs: list, n_stale: int
):
    """The lines of ``summary.md``: what was run, the table, the searches, the plots, failed cells and the
    environment."""
    ok = [r for r in latest if r.get("status") == "ok"]
    errors = [r for r in latest if r.get("status") != "ok"]
    md = [f"# Comparison: {config.get('name', results_dir.name)}", ""]
    md += [
        f"{len(ok)} finished cells ({len(errors)} failed) over {len({r['seed'] for r in ok})} seeds; "
        "mean ± std over seeds. Fit time is the training of the final model (a hyper-parameter search, if "
        "any, is timed separately); inference throughput is `predict` on the whole test set (median of "
        "repeated calls after one warm-up call); latency is `predict` on one sample (median of 5).",
        "",
    ]
    if protocol:
        md += [protocol[0].upper() + protocol[1:] + ".", ""]
    md += [format_table(rows, style="markdown"), ""]
    md += _search_section(latest)
    if n_stale:
        md += [
            f"{n_stale} older results in `results.jsonl` come from earlier settings of this folder and are "
            "left out.",
            "",
        ]
    for png in pngs:
        md += [f"![{png.stem}]({png.name})", ""]
    if errors:
        md += ["## Failed cells", ""]
        md += [
            f"- `{r['model']}` on `{r['dataset']}` ({r['platform']}, seed {r['seed']}): {r.get('error', '?')}"
            for r in errors
        ]
        md.append("")
    versions = (ok[0].get("versions") or {}) if ok else {}
    md += ["## Environment", "", f"- host(s): {', '.join(sorted({r.get('host', '?') for r in ok}))}"]
    md += [f"- {k}: {v}" for k, v in versions.items()]
    if config:
        shown = {k: v for k, v in config.items() if k != "cell_keys"}
        md += ["", "## Experiment", "", "```json", json.dumps(shown, indent=2), "```"]
    return md


def _protocol_line(config: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """How the cells were searched and seeded (:func:`hybrid.protocols.describe`), from the experiment or
    else from a record; empty where the experiment has neither a protocol nor a search."""
    from qhybrid.hybrid.protocols import describe

    source = config or next((r for r in records if r.get("status") == "ok"), {})
    search = source.get("search") or {}
    protocol = source.get("protocol")
    if not protocol and search.get("method", "none") == "none":
        return ""
    seeds = config.get("seeds") or sorted({r["seed"] for r in records})
    return describe(protocol, search, seeds)


def _search_section(records: list[dict[str, Any]]) -> list[str]:
    from qhybrid.hybrid.search import search_notes, search_table

    table, notes = search_table(records), search_notes(records)
    if not table and not notes:
        return []
    md = ["## Hyper-parameter search", ""]
    if table:
        md += [
            "The best setting of each cell (by the refit scorer), every scorer's mean ± std over the folds "
            "for it and on the test split. Every candidate's fold scores are in `results.jsonl` (`cv_results`).",
            "",
            table,
            "",
        ]
    md += [f"- {note}" for note in notes]
    return md + ([""] if notes else [])
