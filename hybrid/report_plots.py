"""The report's two plots: test accuracy against fit time (one panel per data set), and inference throughput
against circuit width (one line per model).

Legends sit outside the axes and the figure is saved with ``bbox_inches="tight"``, so no label is clipped
however many models there are; every series keeps its own colour and marker.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _label(row: dict[str, Any]) -> str:
    return f"{row['model']} ({row['platform']})"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_vs_time(rows: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    series = list(dict.fromkeys(_label(r) for r in rows))
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(series)}
    markers = {"classical": "o", "quantum": "s", "hybrid": "D"}
    ncols = min(3, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(7.0, 5.2 * ncols), 4.2 * nrows + 0.8), squeeze=False)
    for ax, dataset in zip(list(axes.flat)[: len(datasets)], datasets, strict=True):
        for r in (r for r in rows if r["dataset"] == dataset):
            if r["fit_seconds_mean"] is None or r["test_accuracy_mean"] is None:
                continue
            ax.errorbar(
                r["fit_seconds_mean"],
                r["test_accuracy_mean"],
                xerr=r["fit_seconds_std"],
                yerr=r["test_accuracy_std"],
                fmt=markers.get(r["family"], "o"),
                color=colors[_label(r)],
                markersize=8,
                capsize=3,
                label=f"{_label(r)}, {r['family']}",
            )
        ax.set_xscale("log")
        ax.set_title(dataset, fontsize=10)
        ax.set_xlabel("fit time (s, log scale)")
        ax.set_ylabel("test accuracy")
        ax.grid(True, which="both", alpha=0.3)
        lo = min(
            (
                r["test_accuracy_mean"] - r["test_accuracy_std"]
                for r in rows
                if r["dataset"] == dataset and r["test_accuracy_mean"] is not None
            ),
            default=0.0,
        )
        ax.set_ylim(max(0.0, min(0.5, lo - 0.05)), 1.02)
    for ax in list(axes.flat)[len(datasets) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=9, frameon=False)
    fig.suptitle(
        "Which model is most accurate for its training time? Test accuracy vs fit time (mean ± std over seeds)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.04 + 0.03 * math.ceil(len(labels) / 4), 1, 0.95))
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the figure grows to hold a legend wider than it
    plt.close(fig)


#: Markers that stay distinguishable when points overlap (filled shapes of different outline).
_MARKERS = ("s", "D", "^", "v", "o", "P", "X", "<", ">", "h")


def _readable(value: float, _pos=None) -> str:
    """A log-axis tick as people write it: 300, 3k, 30k, 3M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def plot_throughput_vs_qubits(rows: list[dict[str, Any]], path: Path) -> None:
    """One line per quantum or hybrid model (and platform) through its throughput at each circuit width it
    ran at (the mean over the data sets and seeds of that width, never over different widths); classical
    models, which have no circuit, as horizontal lines."""
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    series: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    classical: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["inference_samples_per_s_mean"] is None:
            continue
        if r["family"] == "classical" or not r.get("n_qubits_mean"):
            classical[_label(r)].append(r["inference_samples_per_s_mean"])
        else:
            series[f"{_label(r)}, {r['family']}"][round(r["n_qubits_mean"])].append(
                r["inference_samples_per_s_mean"]
            )
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for i, (label, by_width) in enumerate(series.items()):
        widths = sorted(by_width)
        values = [float(np.mean(by_width[w])) for w in widths]
        ax.plot(widths, values, color=plt.cm.tab10(i % 10), lw=1.2, alpha=0.8, zorder=2)
        ax.scatter(
            widths,
            values,
            color=plt.cm.tab10(i % 10),
            marker=_MARKERS[i % len(_MARKERS)],
            s=55,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            label=label,
        )
    styles = ["--", ":", "-.", (0, (5, 1))]
    for i, (label, values) in enumerate(classical.items()):
        ax.axhline(
            float(np.mean(values)),
            color="0.35",
            ls=styles[i % len(styles)],
            lw=1.2,
            label=f"{label}, classical (no circuit)",
        )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_readable))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))
    ax.set_xlabel("qubits")
    ax.set_ylabel("inference throughput (samples/s, log scale)")
    ax.set_title(
        "How fast does each model predict as its circuit widens?\n"
        "(each point: mean over the data sets and seeds at that width)",
        fontsize=10,
    )
    widths = [w for by_width in series.values() for w in by_width]
    if widths:
        ax.set_xlim(min(widths) - 0.5, max(widths) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
