"""Write STUDY.md: this folder's results beside the qml-benchmarks study's published test accuracies.

The published figures are the study's mean test accuracies at d=10 (best hyper-parameters of a 5-fold grid
search, refit with 5 seeds), from its result files (Bowles, Ahmed, Schuld, arXiv:2403.07059). Run after
``qhybrid compare`` has filled ``results.jsonl``:

    python examples/reports/qmlb-study/published.py
"""

import json
import statistics
from pathlib import Path

from qhybrid.hybrid.runner import latest_records, read_results

HERE = Path(__file__).resolve().parent

MODELS = {"svc": "SVC", "mlp-sk": "MLP", "iqp-kernel": "IQPKernel", "pqk": "PQK", "sep-kernel": "SepK"}
PUBLISHED = {  # data set -> study model -> mean test accuracy
    "linearly_separable_10d": {"SVC": 0.983, "MLP": 1.000, "IQPKernel": 0.817, "PQK": 0.963, "SepK": 0.967},
    "hidden_manifold-6manifold-10d": {
        "SVC": 0.900,
        "MLP": 0.847,
        "IQPKernel": 0.850,
        "PQK": 0.893,
        "SepK": 0.900,
    },
    "two_curves-5degree-0.1offset-10d": {"SVC": 1.0, "MLP": 1.0, "IQPKernel": 1.0, "PQK": 1.0, "SepK": 1.0},
    "two_curves-10d-10degree": {"SVC": 0.967, "MLP": 0.953, "IQPKernel": 0.950, "PQK": 0.967, "SepK": 0.983},
}
#: The study's seconds per cross-validation fold on linearly_separable_10d, for the models it reports.
STUDY_FOLD_SECONDS = {"IQPKernel": 176.0}


def main() -> None:
    experiment = json.loads((HERE / "experiment.json").read_text())
    current = set(experiment["cell_keys"])
    records = [r for r in latest_records(read_results(HERE)) if r["key"] in current and r["status"] == "ok"]
    cells: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        cells.setdefault((r["dataset"].removeprefix("qmlb:"), r["model"]), []).append(r)
    lines = [
        "# qml-benchmarks protocol: published against ours",
        "",
        "Mean test accuracy over seeds 0-4 of the best setting of an unshuffled 5-fold grid search over the",
        "study's grid (refit on accuracy), raw features, on Aer (`experiment.toml`). Δ = ours - published.",
        "",
        "| data set | model | published | ours | Δ | best setting | search s | s per fit and fold |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for dataset, published in PUBLISHED.items():
        for model, study_name in MODELS.items():
            rs = cells.get((dataset, model))
            if not rs:
                lines.append(f"| {dataset} | {study_name} | {published[study_name]:.3f} | not run | | | | |")
                continue
            ours = statistics.mean(r["test_accuracy"] for r in rs)
            search = max(r.get("search_seconds") or 0.0 for r in rs)
            n_fits = len(rs[0].get("cv_results") or []) * experiment["search"].get("cv", 5) or 1
            best = json.dumps(rs[0]["best_params"], sort_keys=True)
            lines.append(
                f"| {dataset} | {study_name} | {published[study_name]:.3f} | {ours:.3f} | "
                f"{ours - published[study_name]:+.3f} | `{best}` | {search:.0f} | {search / n_fits:.2f} |"
            )
    lines += ["", f"Study, seconds per fold on linearly_separable_10d: {STUDY_FOLD_SECONDS}."]
    (HERE / "STUDY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
