"""Render ``report.html``: one self-contained page, plots inlined as PNG."""

import base64
import io
from importlib import resources

import jinja2

from skfast.datasets import ADULT_ATTRIBUTION


def _png(figure):
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure(width=4.6, height=3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height))
    axes.grid(alpha=0.3)
    return figure, axes


def _roc_plot(curves, auc):
    figure, axes = _figure()
    axes.plot(curves["fpr"], curves["tpr"], label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axes.legend(loc="lower right")
    return _png(figure)


def _pr_plot(curves, auc, base_rate):
    figure, axes = _figure()
    axes.plot(curves["recall"], curves["precision"], label=f"model (AP {auc:.3f})")
    axes.axhline(base_rate, linestyle="--", color="grey", label="chance")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    axes.legend(loc="upper right")
    return _png(figure)


def _confusion_plot(confusion):
    import numpy as np

    counts = np.asarray(confusion["counts"])
    labels = confusion["labels"]
    figure, axes = _figure(3.8 + 0.3 * len(labels), 3.4 + 0.3 * len(labels))
    axes.grid(False)
    axes.imshow(counts, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        axes.text(j, i, f"{value}", ha="center", va="center", color=colour)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    return _png(figure)


def _leaderboard_plot(leaderboard, metric):
    figure, axes = _figure(5.5, 0.5 + 0.45 * len(leaderboard))
    names = [entry["candidate"] for entry in leaderboard][::-1]
    means = [entry["mean"] for entry in leaderboard][::-1]
    spreads = [entry["std"] for entry in leaderboard][::-1]
    axes.barh(names, means, xerr=spreads, color="#4c78a8")
    low = min(m - s for m, s in zip(means, spreads, strict=True))
    axes.set_xlim(max(0.0, low - 0.05), min(1.0, max(means) + 0.03))
    axes.set(xlabel=f"cross-validated {metric}", title="Model comparison")
    return _png(figure)


def _tuning_plot(results, metric):
    figure, axes = _figure(5.5, 3.4)
    for result in results:
        history = result["history"]
        axes.plot(
            [h["trial"] for h in history],
            [h["best"] for h in history],
            marker="o",
            markersize=3,
            label=result["candidate"],
        )
    axes.set(xlabel="trial", ylabel=f"best validation {metric}", title="Tuning")
    axes.legend(loc="lower right")
    return _png(figure)


def write_html(report, manifest, path):
    """Render the report and the manifest into a self-contained HTML file."""
    evaluation = report["evaluate"]
    metrics = evaluation["metrics"]
    plots = {
        "leaderboard": _leaderboard_plot(
            report["compare"]["leaderboard"], report["compare"]["metric"]
        ),
        "confusion": _confusion_plot(evaluation["confusion_matrix"]),
    }
    if evaluation["curves"]:
        curves = evaluation["curves"]
        plots["roc"] = _roc_plot(curves["roc"], metrics["roc_auc"])
        plots["pr"] = _pr_plot(curves["pr"], metrics["pr_auc"], curves["positive_rate"])
    if report["tune"]["results"]:
        plots["tuning"] = _tuning_plot(
            report["tune"]["results"], report["compare"]["metric"]
        )

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page = environment.get_template("report.html.j2").render(
        report=report,
        manifest=manifest,
        plots=plots,
        attribution=ADULT_ATTRIBUTION if "Adult" in manifest["source"] else None,
    )
    path.write_text(page, encoding="utf-8")


def _template_source(name):
    return resources.files("skfast.workflow").joinpath("templates", name).read_text()
