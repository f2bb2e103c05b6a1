"""The data stages of a run: load, stamp, profile and clean."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from skfast import __version__
from skfast.exceptions import InputError
from skfast.io import MISSING_MARKERS, read_table, sha256_of

logger = logging.getLogger(__name__)

ADULT_TARGET = "income"


@dataclass
class Inputs:
    """The raw tables of a run and where they came from."""

    train: pd.DataFrame
    test: pd.DataFrame | None
    files: dict
    source: str


def load_inputs(data, test, config):
    """Read the training (and test) table, or the bundled Adult data."""
    if data is None:
        from skfast.datasets import adult_files, load_adult

        files = adult_files()
        paths = {}
        for role in ("train", "test"):
            with resources.as_file(files[role]) as local:
                paths[role] = {
                    "path": f"skfast:datasets/{local.name}",
                    "sha256": sha256_of(local),
                }
        train = load_adult(subset="train").frame
        test_frame = load_adult(subset="test").frame
        return Inputs(train, test_frame, paths, "UCI Adult (bundled)")

    train, files = _read(data, "train", config), {}
    files["train"] = _source_entry(data, train)
    test_frame = None
    if test is not None:
        test_frame = _read(test, "test", config)
        files["test"] = _source_entry(test, test_frame)
    source = "in-memory DataFrame" if isinstance(data, pd.DataFrame) else str(data)
    return Inputs(train, test_frame, files, source)


def _read(data, role, config):
    if isinstance(data, pd.DataFrame):
        if len(data) == 0:
            raise InputError(f"the {role} DataFrame is empty: it has no rows.")
        return data.copy()
    if not isinstance(data, (str, Path)):
        raise InputError(
            f"the {role} data is a {type(data).__name__}; pass a path to a CSV or "
            "Parquet file, or a pandas DataFrame."
        )
    return read_table(data, delimiter=config.delimiter, header=config.header)


def _source_entry(data, frame):
    """Where a table came from: a file's hash, or the hash of a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return {"path": "(in-memory DataFrame)", "sha256": frame_sha256(frame)}
    path = Path(data)
    return {"path": str(path), "sha256": sha256_of(path), "bytes": path.stat().st_size}


def _shown_columns(frame):
    shown = ", ".join(map(str, list(frame.columns)[:25]))
    return shown + (" ..." if frame.shape[1] > 25 else "")


def check_target(inputs, target):
    """Make sure the target column exists in every table, with two classes."""
    if target is None:
        raise InputError(
            "pass --target: the name of the column to predict, one of "
            f"{_shown_columns(inputs.train)}."
        )
    for role, frame in (("training", inputs.train), ("test", inputs.test)):
        if frame is None or target in frame.columns:
            continue
        hint = ""
        if all(str(name).startswith("column_") for name in frame.columns):
            hint = " If the first row of the file names the columns, pass --header."
        raise InputError(
            f"target column {target!r} is not in the {role} data; its columns "
            f"are {_shown_columns(frame)}. Pass --target with one of them.{hint}"
        )
    _check_target_values(inputs.train, target)


def check_class_sizes(train, target, minimum):
    """Every class needs ``minimum`` rows to be split and cross-validated."""
    counts = train[target].value_counts()
    rare = counts[counts < minimum]
    if len(rare):
        label, count = rare.index[-1], int(rare.iloc[-1])
        others = f" ({len(rare) - 1} more classes too)" if len(rare) > 1 else ""
        raise InputError(
            f"class {str(label)!r} of target {target!r} has {count} training "
            f"row{'s' if count != 1 else ''}{others}; skfast run needs at least "
            f"{minimum} per class (twice the --cv folds) to split, cross-validate "
            "and calibrate. Merge or drop the rare classes, or lower --cv."
        )


def frame_sha256(frame):
    """Hash a table's content, row order included, independently of its index."""
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


def schema(frame):
    """Column names and dtypes, in order."""
    return [
        {"name": str(column), "dtype": str(dtype)}
        for column, dtype in frame.dtypes.items()
    ]


def stamp(inputs):
    """The manifest entries known before any row is changed."""
    tables = {"train": inputs.train, "test": inputs.test}
    return {
        "skfast_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": inputs.source,
        "files": inputs.files,
        "tables": {
            role: {
                "rows": int(frame.shape[0]),
                "columns": int(frame.shape[1]),
                "sha256": frame_sha256(frame),
                "schema": schema(frame),
            }
            for role, frame in tables.items()
            if frame is not None
        },
        "splits": {},
    }


def column_kind(series):
    """Classify a column as numeric, boolean, categorical or datetime."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def profile(frame, target):
    """Per column its kind, missing share and distinct count; the class balance."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        columns.append(
            {
                "name": str(name),
                "kind": column_kind(series),
                "dtype": str(series.dtype),
                "missing": int(series.isna().sum()),
                "missing_share": float(series.isna().mean()),
                "distinct": int(series.nunique(dropna=True)),
            }
        )
    counts = frame[target].value_counts(dropna=True)
    balance = [
        {"label": str(label), "count": int(count), "share": float(count / counts.sum())}
        for label, count in counts.items()
    ]
    return {"rows": int(frame.shape[0]), "columns": columns, "class_balance": balance}


def _normalise_text(frame):
    """Strip text cells and read missing markers as missing; count the markers."""
    markers = set(MISSING_MARKERS)
    converted = {}
    for name in frame.columns:
        series = frame[name]
        if column_kind(series) != "categorical":
            continue
        text = series.astype("object")
        present = text.notna()
        text[present] = text[present].map(lambda value: str(value).strip())
        is_marker = present & text.isin(markers)
        if is_marker.any():
            converted[str(name)] = int(is_marker.sum())
        frame[name] = text.where(~is_marker, np.nan)
    return converted


def _check_target_values(train, target):
    values = train[target]
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if not np.all(np.equal(np.mod(finite, 1), 0)):
            raise InputError(
                f"target {target!r} holds non-integer numbers (e.g. "
                f"{float(finite[np.mod(finite, 1) != 0].iloc[0])}); skfast run "
                "handles classification targets: pass a column of class labels."
            )
    classes = values.dropna().unique()
    if len(classes) < 2:
        shown = repr(str(classes[0])) if len(classes) else "none"
        raise InputError(
            f"target {target!r} has a single class ({shown}) in the training data; "
            "a classifier needs at least two. Check the target column."
        )


def clean(inputs, target):
    """Missing markers, rows without a target, duplicates and useless columns.

    Returns the cleaned training and test tables and a report in which every
    removed row or column has a line with its count.
    """
    train = inputs.train.copy()
    test = None if inputs.test is None else inputs.test.copy()
    report = {"markers_read_as_missing": {}, "dropped_columns": [], "steps": []}

    report["markers_read_as_missing"]["train"] = _normalise_text(train)
    if test is not None:
        report["markers_read_as_missing"]["test"] = _normalise_text(test)

    for role, frame in (("train", train), ("test", test)):
        if frame is None:
            continue
        missing_target = frame[target].isna()
        if missing_target.any():
            frame.drop(index=frame.index[missing_target], inplace=True)
            report["steps"].append(
                {
                    "step": f"dropped {role} rows without a target",
                    "rows": int(missing_target.sum()),
                }
            )
            logger.warning(
                "dropped %d %s rows whose target %r is missing",
                missing_target.sum(),
                role,
                target,
            )

    if len(train) == 0:
        raise InputError(
            f"every training row has a missing target {target!r}; nothing is left "
            "to learn from."
        )
    _check_target_values(train, target)

    duplicated = train.duplicated()
    report["duplicates_removed"] = int(duplicated.sum())
    if duplicated.any():
        train = train.loc[~duplicated]
        report["steps"].append(
            {
                "step": "removed exact duplicate training rows",
                "rows": int(duplicated.sum()),
            }
        )
    if test is not None:
        report["test_duplicates_kept"] = int(test.duplicated().sum())

    features = [name for name in train.columns if name != target]
    for role, frame in (("training", train), ("test", test)):
        if frame is not None:
            _check_finite(frame, features, role)
    for name in features:
        reason = _useless_because(train[name])
        if reason:
            report["dropped_columns"].append({"column": str(name), "reason": reason})
    dropped = [entry["column"] for entry in report["dropped_columns"]]
    train = train.drop(columns=dropped)
    if test is not None:
        absent = [name for name in train.columns if name not in test.columns]
        if absent:
            raise InputError(
                f"the test data lacks column {absent[0]!r}"
                f"{f' and {len(absent) - 1} more' if len(absent) > 1 else ''}; "
                "it needs the training data's columns."
            )
        test = test[list(train.columns)]
        _check_test_labels(train, test, target)

    train = train.reset_index(drop=True)
    if test is not None:
        test = test.reset_index(drop=True)
    report["rows_after"] = {"train": int(len(train))}
    if test is not None:
        report["rows_after"]["test"] = int(len(test))
    return train, test, report


def _check_finite(frame, features, role):
    """Infinite numbers are an error: no imputation or scaling can use them."""
    for name in features:
        series = frame[name]
        if column_kind(series) != "numeric":
            continue
        infinite = np.isinf(series.to_numpy(dtype=float, na_value=np.nan))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise InputError(
                f"column {str(name)!r} of the {role} data holds {series.iloc[row]} "
                f"at row {row}; replace infinite values with numbers or leave "
                "them empty to be imputed."
            )


def _looks_like_dates(series):
    """Whether every text value of a sample reads as a date or time."""
    values = pd.Series(series.dropna().unique()[:1000]).astype(str)
    if values.empty or not values.str.contains(r"\d[-/:.]\d", regex=True).all():
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _useless_because(series):
    """Why a feature column cannot help a model, or None when it can."""
    if series.isna().all():
        return "missing in every training row"
    if series.nunique(dropna=False) == 1:
        return "a single value in every training row"
    kind = column_kind(series)
    if kind == "datetime" or (kind == "categorical" and _looks_like_dates(series)):
        return "a date column (date features are not derived yet)"
    if kind == "categorical" and len(series) >= 50 and series.is_unique:
        return "an identifier: a different value in every training row"
    return None


def _check_test_labels(train, test, target):
    known = set(train[target].astype(str))
    unseen = sorted(set(test[target].astype(str)) - known)
    if unseen:
        raise InputError(
            f"the test data has target label {unseen[0]!r}, which the training "
            f"data never shows (its labels are {', '.join(sorted(known))}); make "
            "the labels of both files agree."
        )
