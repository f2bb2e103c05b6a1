"""Test-set metrics, error analysis and prediction cost of the final model."""

import time

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from skfast.workflow._data import column_kind

CURVE_POINTS = 200
MIN_SLICE_ROWS = 30
QUANTILE_BINS = 5


def _thin(*arrays):
    """Keep at most ``CURVE_POINTS`` evenly spaced points of a curve."""
    size = len(arrays[0])
    if size <= CURVE_POINTS:
        keep = np.arange(size)
    else:
        keep = np.unique(np.linspace(0, size - 1, CURVE_POINTS).round().astype(int))
    return [np.asarray(array)[keep].astype(float).tolist() for array in arrays]


def score_on_test(model, X, y, positive_label):
    """Metrics of a fitted classifier on the test rows, with curve points.

    For a binary target, F1, PR AUC and the curves treat ``positive_label``
    as the positive class; for more classes they are macro averages.
    """
    labels = model.classes_
    classes = list(labels)
    probabilities = model.predict_proba(X)
    predicted = labels[probabilities.argmax(axis=1)]
    y = np.asarray(y)

    metrics = {
        "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
        "accuracy": float(accuracy_score(y, predicted)),
        "log_loss": float(log_loss(y, probabilities, labels=classes)),
    }
    curves = {}
    if len(classes) == 2:
        score = probabilities[:, classes.index(positive_label)]
        is_positive = y == positive_label
        metrics["roc_auc"] = float(roc_auc_score(is_positive, score))
        metrics["pr_auc"] = float(average_precision_score(is_positive, score))
        metrics["f1"] = float(f1_score(is_positive, predicted == positive_label))
        fpr, tpr, _ = roc_curve(is_positive, score)
        precision, recall, _ = precision_recall_curve(is_positive, score)
        curves["roc"] = dict(zip(("fpr", "tpr"), _thin(fpr, tpr), strict=True))
        curves["pr"] = dict(
            zip(("recall", "precision"), _thin(recall, precision), strict=True)
        )
        curves["positive_rate"] = float(is_positive.mean())
    else:
        binary = label_binarize(y, classes=labels)
        metrics["roc_auc"] = float(
            roc_auc_score(y, probabilities, multi_class="ovr", labels=classes)
        )
        metrics["pr_auc"] = float(average_precision_score(binary, probabilities))
        metrics["f1"] = float(f1_score(y, predicted, average="macro"))

    matrix = confusion_matrix(y, predicted, labels=labels)
    return (
        {
            "metrics": metrics,
            "average": None
            if len(classes) == 2
            else "macro over classes (ROC AUC one-vs-rest)",
            "confusion_matrix": {
                "labels": [str(c) for c in classes],
                "counts": matrix.tolist(),
            },
            "curves": curves,
        },
        predicted,
        probabilities,
    )


def _wilson(errors, total, z=1.96):
    """95 % Wilson score interval of an error rate."""
    rate = errors / total
    centre = (rate + z**2 / (2 * total)) / (1 + z**2 / total)
    half = z * np.sqrt(rate * (1 - rate) / total + z**2 / (4 * total**2))
    half /= 1 + z**2 / total
    return float(centre - half), float(centre + half)


def _slices(X):
    """Yield (feature, slice description, boolean row mask) for every slice."""
    for name in X.columns:
        series = X[name]
        if column_kind(series) == "numeric" and series.nunique() > QUANTILE_BINS:
            bins = pd.qcut(series, QUANTILE_BINS, duplicates="drop")
            for interval in bins.cat.categories:
                yield name, f"in {interval}", (bins == interval).to_numpy()
        else:
            values = series.astype("object").where(series.notna(), "(missing)")
            for value in values.unique():
                yield name, f"= {value}", (values == value).to_numpy()
        if series.isna().any() and column_kind(series) == "numeric":
            yield name, "is missing", series.isna().to_numpy()


def error_analysis(X, y, predicted, probabilities, classes, *, top):
    """Misclassified rows and the feature slices with the highest excess error.

    Returns
    -------
    summary : dict
        Overall error rate, the number of misclassified rows, the ``top``
        slices of at least ``MIN_SLICE_ROWS`` rows whose error rate most
        surely exceeds the overall one (ranked by the lower end of the 95 %
        Wilson interval), and the most confident errors.
    misclassified : pandas.DataFrame
        Every misclassified test row with its features, true and predicted
        label and the predicted label's probability.
    """
    y = np.asarray(y)
    wrong = y != predicted
    overall = float(wrong.mean())

    slices = []
    for feature, description, mask in _slices(X):
        total = int(mask.sum())
        if total < MIN_SLICE_ROWS:
            continue
        errors = int(wrong[mask].sum())
        low, high = _wilson(errors, total)
        slices.append(
            {
                "feature": str(feature),
                "slice": description,
                "rows": total,
                "errors": errors,
                "error_rate": errors / total,
                "excess": errors / total - overall,
                "ci_low": low,
                "ci_high": high,
            }
        )
    # Rank by how far the slice's interval lies above the overall rate, so a
    # large slice that is surely worse outranks a small one that may be noise.
    slices.sort(key=lambda entry: entry["ci_low"] - overall, reverse=True)

    confidence = probabilities.max(axis=1)
    misclassified = X.loc[wrong].copy()
    misclassified.insert(0, "true_label", y[wrong])
    misclassified.insert(1, "predicted_label", predicted[wrong])
    misclassified.insert(2, "confidence", confidence[wrong])
    misclassified = misclassified.sort_values("confidence", ascending=False)

    confident = misclassified.head(top)
    return {
        "overall_error_rate": overall,
        "misclassified": int(wrong.sum()),
        "rows": int(len(y)),
        "slices": slices[:top],
        "most_confident_errors": [
            {key: _plain(value) for key, value in row.items()}
            for row in confident.reset_index(names="row").to_dict("records")
        ],
    }, misclassified


def _plain(value):
    """A JSON-ready version of a table cell."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, (int, str, bool)) else str(value)


def prediction_cost(model, X, *, single_rows=200, random_state=0):
    """Predict latency for one row (p50, p99) and batch throughput."""
    rng = np.random.default_rng(random_state)
    rows = rng.integers(0, len(X), size=min(single_rows, len(X)))
    model.predict_proba(X.iloc[[int(rows[0])]])

    latencies = []
    for row in rows:
        one = X.iloc[[int(row)]]
        start = time.perf_counter()
        model.predict_proba(one)
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    model.predict_proba(X)
    batch_seconds = time.perf_counter() - start
    latencies_ms = np.asarray(latencies) * 1e3
    return {
        "single_row_ms_p50": float(np.percentile(latencies_ms, 50)),
        "single_row_ms_p99": float(np.percentile(latencies_ms, 99)),
        "batch_rows": int(len(X)),
        "batch_seconds": float(batch_seconds),
        "batch_rows_per_second": float(len(X) / batch_seconds),
    }
