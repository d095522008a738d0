"""Write STUDY.md: this folder's results beside the qml-benchmarks study's published test accuracies.

The published figures are the study's mean test accuracies at d=10, and at d=4 and 6 for the section on
``d4-d6/`` (best hyper-parameters of a 5-fold grid search, refit per seed), and its seconds per fit and fold,
read at run time from its result files copied into ``study-results/`` (Bowles, Ahmed, Schuld,
arXiv:2403.07059; see ``study-results/README.md`` and :mod:`study_files`). STUDY.md names the file of each
figure. Run after ``qhybrid compare`` has filled ``results.jsonl`` (and, for the tables of :data:`CHOSEN`,
``sepv/*/``, ``drc/*/`` and ``dressed/*/``; for the section at d = 4 and 6, ``d4-d6/``):

    python examples/reports/qmlb-study/published.py
"""

import json
import statistics
from datetime import datetime
from pathlib import Path

from study_files import fit_times, published_accuracy, refit_accuracies, refit_file, search_file

from qhybrid.hybrid.results_file import latest_records, read_results

HERE = Path(__file__).resolve().parent

#: qhybrid's model -> the study's model (its short name in :data:`study_files.STUDY_MODELS`)
MODELS = {"svc": "SVC", "mlp-sk": "MLP", "iqp-kernel": "IQPKernel", "pqk": "PQK", "sep-kernel": "SepK"}
#: The study's data sets, each with its folder under ``<model>/`` for the tables of :data:`CHOSEN`.
FOLDERS = {
    "linearly_separable_10d": "ls",
    "hidden_manifold-6manifold-10d": "hm",
    "two_curves-5degree-0.1offset-10d": "tc",
    "two_curves-10d-10degree": "tcd",
}
#: Variational models run with the study's chosen setting per data set (search not rerun):
#: model -> (the study's model, the setting's keys)
CHOSEN = {
    "sepv": ("SepV", ("encoding_layers", "lr")),
    "drc": ("DRC", ("n_layers", "lr")),
    "dressed": ("DQC", ("n_layers", "lr")),
}
#: The study's data sets at d = 4 and 6, made by its own generators (``qmlb-gen:``), run in ``d4-d6/``.
D46_DATASETS = (
    "linearly_separable_4d",
    "hidden_manifold-6manifold-4d",
    "two_curves-5degree-0.1offset-4d",
    "linearly_separable_6d",
    "hidden_manifold-6manifold-6d",
    "two_curves-5degree-0.1offset-6d",
)
#: The command that runs ``d4-d6/``.
D46_COMMAND = (
    "qhybrid compare --config examples/reports/qmlb-study/d4-d6/experiment.toml "
    "--out examples/reports/qmlb-study/d4-d6"
)
#: The seeds each setting is refit with under the protocol.
SEEDS = 5
#: The study's models whose seconds per fit and fold on linearly_separable_10d STUDY.md quotes.
FIT_TIME_MODELS = ("DQC", "IQPKernel", "DRC")


def _source(model: str, dataset: str) -> str:
    """The name of the file in ``study-results/`` that the published accuracy comes from."""
    return f"`{refit_file(model, dataset).name}`"


def _records(folder: Path) -> list[dict]:
    """The finished records of the experiment in ``folder`` (its current cells only)."""
    current = set(json.loads((folder / "experiment.json").read_text())["cell_keys"])
    return [r for r in latest_records(read_results(folder)) if r["key"] in current and r["status"] == "ok"]


def chosen_lines(model: str) -> list[str]:
    """A model's table: the study's own best setting per data set, refit with seeds 0-4 (no search)."""
    title, keys = CHOSEN[model]
    lines = [
        "",
        f"## {title} with the study's chosen setting",
        "",
        f"`{model}` with the setting the study's grid search picked on each data set (rank 1 in its",
        "`*_GridSearchCV.csv`), refit with seeds 0-4 and trained to the study's convergence criterion; the",
        f"search is not rerun (`{model}/<set>/experiment.toml`). Published: the mean `test_acc` of the file",
        "named in `source` (in `study-results/`).",
        "",
        "| data set | published | ours | Δ | setting | steps (min-max) | converged | fit s (mean) | source |",
        "|---|---:|---:|---:|---|---|---:|---:|---|",
    ]
    for dataset, folder in FOLDERS.items():
        published, source = published_accuracy(title, dataset), _source(title, dataset)
        rs = _records(HERE / model / folder) if (HERE / model / folder / "experiment.json").exists() else None
        if not rs:
            state = "not run" if rs is None else "running"
            lines.append(f"| {dataset} | {published:.3f} | {state} | | | | | | {source} |")
            continue
        ours = statistics.mean(r["test_accuracy"] for r in rs)
        seeds = "" if len(rs) == SEEDS else f" ({len(rs)} of {SEEDS} seeds)"
        steps = [r["n_steps"] for r in rs]
        setting = json.dumps({k: rs[0]["params"][k] for k in keys}, sort_keys=True)
        lines.append(
            f"| {dataset} | {published:.3f} | {ours:.3f}{seeds} | {ours - published:+.3f} | `{setting}` | "
            f"{min(steps)}-{max(steps)} | {sum(bool(r.get('converged')) for r in rs)}/{len(rs)} | "
            f"{statistics.mean(r['fit_seconds'] for r in rs):.1f} | {source} |"
        )
    return lines


def study_pick_lines() -> list[str]:
    """The MLP on hidden manifold refit with the study's own pick (``mlp-sk/hm/``): our search picks another
    setting there, and this separates the search's pick from the refit."""
    dataset = "hidden_manifold-6manifold-10d"
    folder = HERE / "mlp-sk" / FOLDERS[dataset]
    if not (folder / "experiment.json").exists():
        return []
    rs = sorted(_records(folder), key=lambda r: r["seed"])
    if not rs:
        return []
    per_seed = ", ".join(f"{r['test_accuracy']:.3f}" for r in rs)
    study = ", ".join(f"{a:.3f}" for a in refit_accuracies("MLP", dataset))
    setting = json.dumps(rs[0]["params"], sort_keys=True)
    mean = statistics.mean(r["test_accuracy"] for r in rs)
    return [
        "",
        f"MLP on {dataset} with the study's own best setting `{setting}` (not ours),",
        f"refit with seeds {rs[0]['seed']}-{rs[-1]['seed']}: {mean:.3f} (per seed {per_seed}). Published: "
        f"{published_accuracy('MLP', dataset):.3f} (per refit {study}; {_source('MLP', dataset)}).",
    ]


def fit_time_lines() -> list[str]:
    """The study's seconds per fit and fold on linearly separable, from its grid searches' ``mean_fit_time``."""
    dataset = "linearly_separable_10d"
    lines = [
        "",
        f"The study's seconds per fit and fold on {dataset}: `mean_fit_time` of its grid search (a setting's",
        "mean over its 5 folds), as the mean over the grid's settings and for each setting ranked 1st on",
        "accuracy (`rank_test_accuracy`; the grid parameters that vary are shown). Unscored: settings with no",
        "test accuracy on some fold; their fit times are in the mean.",
        "",
        "| model | settings | unscored | mean over settings, s | rank-1 setting(s), s | source |",
        "|---|---:|---:|---:|---|---|",
    ]
    for model in FIT_TIME_MODELS:
        times = fit_times(model, dataset)
        rank1 = "; ".join(
            f"{seconds:.1f} (" + ", ".join(f"{k}={v}" for k, v in setting.items()) + ")"
            for setting, seconds in times.rank1
        )
        lines.append(
            f"| {model} | {len(times.per_setting)} | {times.unscored} | {times.mean:.1f} | {rank1} | "
            f"`{search_file(model, dataset).name}` |"
        )
    return lines


def main_table_lines(
    records: list[dict], cv: int, datasets: tuple[str, ...] = tuple(FOLDERS), pending: str = "not run"
) -> list[str]:
    """The table of the grid-searched models: published, ours and our search's pick and cost.

    ``pending``: what a cell without records shows."""
    cells: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        cells.setdefault((r["dataset"].split(":", 1)[-1], r["model"]), []).append(r)
    lines = [
        "| data set | model | published | ours | Δ | best setting | search s | s per fit and fold | source |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for dataset in datasets:
        for model, study_name in MODELS.items():
            published, source = published_accuracy(study_name, dataset), _source(study_name, dataset)
            rs = cells.get((dataset, model))
            if not rs:
                lines.append(f"| {dataset} | {study_name} | {published:.3f} | {pending} | | | | | {source} |")
                continue
            ours = statistics.mean(r["test_accuracy"] for r in rs)
            seeds = "" if len(rs) == SEEDS else f" ({len(rs)} of {SEEDS} seeds)"
            search = max(r.get("search_seconds") or 0.0 for r in rs)
            n_fits = len(rs[0].get("cv_results") or []) * cv or 1
            best = json.dumps(rs[0]["best_params"], sort_keys=True)
            lines.append(
                f"| {dataset} | {study_name} | {published:.3f} | {ours:.3f}{seeds} | {ours - published:+.3f} | "
                f"`{best}` | {search:.0f} | {search / n_fits:.2f} | {source} |"
            )
    return lines


def _wall_time(records: list[dict]) -> list[str]:
    """The wall time from the records' ``started`` and ``finished``, and their searches' and fits' seconds."""
    start = min(datetime.fromisoformat(r["started"]) for r in records)
    end = max(datetime.fromisoformat(r["finished"]) for r in records)
    searches = sum(r.get("search_seconds") or 0 for r in records if not r.get("search_reused"))
    fits = sum(r["fit_seconds"] for r in records)
    return [
        f"Wall time: {(end - start).total_seconds():.0f} s, from the first record's `started` to the last one's",
        f"`finished` in `d4-d6/results.jsonl` ({len(records)} records); their search seconds sum to {searches:.0f} s",
        f"(one search per cell), their refits' fit seconds to {fits:.0f} s.",
    ]


def d46_lines() -> list[str]:
    """The grid-searched models on the study's data sets at d = 4 and 6 (``d4-d6/``)."""
    folder = HERE / "d4-d6"
    run = folder / "experiment.json"
    records = _records(folder) if run.exists() else []
    cv = json.loads(run.read_text())["search"].get("cv", 5) if run.exists() else 5
    wall = _wall_time(records) if records else ["Wall time: not run yet."]
    return [
        "",
        "## The study at d = 4 and 6",
        "",
        "The same protocol and models on the three families the study's generators sweep over the dimension, at",
        "d = 4 and 6. The data sets are made by the study's own generators, regenerated bit for bit",
        "(`qmlb-gen:<stem>`, `classical/qmlb.py`; no CSV is read). Run with",
        "",
        f"    {D46_COMMAND}",
        "",
        *wall,
        "Published: the mean `test_acc` of the file named in `source` (in `study-results/`).",
        "",
        *main_table_lines(records, cv, D46_DATASETS, "running" if run.exists() else "not run"),
    ]


def main() -> None:
    experiment = json.loads((HERE / "experiment.json").read_text())
    lines = [
        "# qml-benchmarks protocol: published against ours",
        "",
        "Mean test accuracy over seeds 0-4 of the best setting of an unshuffled 5-fold grid search over the",
        "study's grid (refit on accuracy), raw features in float64, on Aer (`experiment.toml`). Δ = ours - published.",
        "Published: the mean `test_acc` over the study's refits of its best setting, read from the file named in",
        "`source`, copied into [`study-results/`](study-results/) from XanaduAI/qml-benchmarks (its README.md).",
        "",
    ]
    lines += main_table_lines(_records(HERE), experiment["search"].get("cv", 5))
    lines += study_pick_lines()
    lines += fit_time_lines()
    for model in CHOSEN:
        lines += chosen_lines(model)
    lines += d46_lines()
    (HERE / "STUDY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
