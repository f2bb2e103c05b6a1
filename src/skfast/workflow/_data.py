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
    in_memory = not isinstance(data, (str, Path))
    source = "in-memory DataFrame" if in_memory else str(data)
    return Inputs(train, test_frame, files, source)


def _read(data, role, config):
    if type(data).__module__.startswith("polars"):
        data = data.to_pandas()
    if isinstance(data, pd.DataFrame):
        if len(data) == 0:
            raise InputError(f"the {role} DataFrame is empty: it has no rows.")
        return data.copy()
    if not isinstance(data, (str, Path)):
        raise InputError(
            f"the {role} data is a {type(data).__name__}; pass a path to a CSV or "
            "Parquet file, or a pandas or polars DataFrame."
        )
    return read_table(data, delimiter=config.delimiter, header=config.header)


def _source_entry(data, frame):
    """Where a table came from: a file's hash, or the hash of a DataFrame."""
    if not isinstance(data, (str, Path)):
        return {"path": "(in-memory DataFrame)", "sha256": frame_sha256(frame)}
    path = Path(data)
    return {"path": str(path), "sha256": sha256_of(path), "bytes": path.stat().st_size}


def _shown_columns(frame):
    shown = ", ".join(map(str, list(frame.columns)[:25]))
    return shown + (" ..." if frame.shape[1] > 25 else "")


def check_target(inputs, target, header=None):
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
        if header is None and all(
            str(name).startswith("column_") for name in frame.columns
        ):
            hint = (
                " No header row was detected, so the columns were numbered; if "
                "the first row names the columns, pass --header."
            )
        raise InputError(
            f"target column {target!r} is not in the {role} data; its columns "
            f"are {_shown_columns(frame)}. Pass --target with one of them.{hint}"
        )
    _check_target_values(inputs.train, target)


def check_class_sizes(frame, target, minimum, *, where="training rows", fix=""):
    """Every class needs ``minimum`` rows to be cross-validated and calibrated."""
    counts = frame[target].value_counts()
    rare = counts[counts < minimum]
    if len(rare):
        label, count = rare.index[-1], int(rare.iloc[-1])
        others = f" ({len(rare) - 1} more classes too)" if len(rare) > 1 else ""
        raise InputError(
            f"class {str(label)!r} of target {target!r} has {count} {where}"
            f"{others}; skfast run needs at least {minimum} per class (twice the "
            "--cv folds) to cross-validate and calibrate. Merge or drop the rare "
            f"classes, or lower --cv{fix}."
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
    """Strip text cells and read missing markers as missing.

    Returns how many cells each column had stripped of surrounding spaces
    and how many were markers of a missing value.
    """
    markers = set(MISSING_MARKERS)
    stripped, converted = {}, {}
    for name in frame.columns:
        series = frame[name]
        if column_kind(series) != "categorical":
            continue
        text = series.astype("object")
        present = text.notna()
        text = text.where(present, np.nan)
        trimmed = text[present].map(lambda value: str(value).strip())
        changed = int((trimmed != text[present].map(str)).sum())
        text[present] = trimmed
        is_marker = present & text.isin(markers)
        if changed:
            stripped[str(name)] = changed
        if is_marker.any():
            converted[str(name)] = int(is_marker.sum())
        frame[name] = text.where(~is_marker, np.nan)
    return stripped, converted


# A text column is read as numbers when at least this share of its values
# parse as numbers; the rest are read as missing, and the report lists them.
NUMERIC_SHARE = 0.9

# Number formats tried on text columns, in order: a name, the pattern every
# value must match (None: whatever pandas parses), and the replacements that
# turn a value into a plain number.
_NUMBER_FORMATS = {
    "plain": (None, ()),
    "thousands separators": (
        r"[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?",
        ((",", ""),),
    ),
    "decimal comma": (
        r"[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?",
        ((".", ""), (",", ".")),
    ),
}


def _parse_numbers(text, number_format):
    """Parse a text column in the given format; NaN where a value is no number."""
    cleaned = text.astype("object").where(text.notna(), np.nan).astype(str)
    for old, new in _NUMBER_FORMATS[number_format][1]:
        cleaned = cleaned.str.replace(old, new, regex=False)
    return pd.to_numeric(cleaned, errors="coerce").where(text.notna(), np.nan)


def _number_format(text):
    """The first format in which enough of a text column reads as numbers."""
    values = text.dropna().astype(str)
    if values.empty:
        return None
    for name, (pattern, _) in _NUMBER_FORMATS.items():
        if pattern is None:
            share = pd.to_numeric(values, errors="coerce").notna().mean()
        else:
            share = values.str.fullmatch(pattern).mean()
        if share >= NUMERIC_SHARE:
            return name
    return None


def _numbers_stored_as_text(train, test, features):
    """Convert text columns that hold numbers; report what became missing.

    The format is chosen on the training column and applied to the test
    column as well.
    """
    converted = []
    for name in features:
        if column_kind(train[name]) != "categorical":
            continue
        number_format = _number_format(train[name])
        if number_format is None:
            continue
        entry = {"column": str(name), "format": number_format, "as_missing": {}}
        for role, frame in (("train", train), ("test", test)):
            if frame is None:
                continue
            values = _parse_numbers(frame[name], number_format).astype(float)
            lost = frame[name].notna() & values.isna()
            if lost.any():
                counts = frame[name][lost].astype(str).value_counts().head(5)
                entry["as_missing"][role] = {k: int(v) for k, v in counts.items()}
            frame[name] = values
        converted.append(entry)
    return converted


def _booleans_as_numbers(frame, features):
    """True and False become 1.0 and 0.0 (missing stays missing)."""
    for name in features:
        if column_kind(frame[name]) == "boolean":
            frame[name] = frame[name].astype("float64")


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


def clean(inputs, target, *, drop_duplicates=True):
    """Text, missing markers, rows without a target, duplicates, useless columns.

    Every step that changes or removes something leaves a line with its
    count in the returned report. Exact duplicate rows are removed from the
    training data before it is split, so no row can sit on both sides of a
    split; the test data is kept as given.

    Returns
    -------
    train, test : pandas.DataFrame (test may be None)
    report : dict
    """
    train = inputs.train.copy()
    test = None if inputs.test is None else inputs.test.copy()
    features = [name for name in train.columns if name != target]
    if not features:
        raise InputError(
            f"the training data has no column besides the target {target!r}; "
            "add the feature columns to learn from."
        )
    if test is not None:
        test = _align_test_columns(train, test)

    report = {"steps": [], "dropped_columns": [], "warnings": []}
    for role, frame in (("train", train), ("test", test)):
        if frame is None:
            continue
        stripped, markers = _normalise_text(frame)
        if stripped:
            report.setdefault("spaces_stripped", {})[role] = stripped
        if markers:
            report.setdefault("markers_read_as_missing", {})[role] = markers
        _booleans_as_numbers(frame, features)
    report["text_read_as_numbers"] = _numbers_stored_as_text(train, test, features)

    _drop_rows_without_target(train, test, target, report)
    _check_target_values(train, target)
    if drop_duplicates:
        train = _drop_duplicates(train, report)
    if test is not None:
        report["test_duplicates_kept"] = int(test.duplicated().sum())

    for role, frame in (("training", train), ("test", test)):
        if frame is not None:
            _check_finite(frame, features, role)
    for name in features:
        reason = _useless_because(train[name])
        if reason:
            report["dropped_columns"].append({"column": str(name), "reason": reason})
    dropped = [entry["column"] for entry in report["dropped_columns"]]
    if len(dropped) == len(features):
        raise InputError(
            "no feature column is usable: "
            + "; ".join(
                f"{e['column']!r} is {e['reason']}"
                for e in report["dropped_columns"][:5]
            )
            + ". Add columns that vary and carry information."
        )
    train = train.drop(columns=dropped)
    if test is not None:
        test = test[list(train.columns)]
        _check_test_labels(train, test, target)

    report["missing_values"] = {
        role: {str(k): int(v) for k, v in frame.isna().sum().items() if v}
        for role, frame in (("train", train), ("test", test))
        if frame is not None
    }
    train = train.reset_index(drop=True)
    report["rows_after"] = {"train": int(len(train))}
    if test is not None:
        test = test.reset_index(drop=True)
        report["rows_after"]["test"] = int(len(test))
    return train, test, report


def _align_test_columns(train, test):
    absent = [name for name in train.columns if name not in test.columns]
    if absent:
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        raise InputError(
            f"the test data lacks column {str(absent[0])!r}{more}; it needs the "
            "training data's columns."
        )
    return test[list(train.columns)]


def _drop_rows_without_target(train, test, target, report):
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


# Above this share of exact duplicates, the repeats are more likely genuine
# observations of few distinct values than copies, and the report says so.
DUPLICATE_WARNING_SHARE = 0.05


def _drop_duplicates(train, report):
    duplicated = train.duplicated()
    count = int(duplicated.sum())
    report["duplicates_removed"] = count
    if not count:
        return train
    report["steps"].append(
        {"step": "removed exact duplicate training rows", "rows": count}
    )
    share = count / len(train)
    if share > DUPLICATE_WARNING_SHARE:
        message = (
            f"{count} of {len(train)} training rows ({share:.0%}) were exact "
            "duplicates and were removed; if repeated rows are genuine "
            "observations (few distinct feature values), run again with "
            "--keep-duplicates"
        )
        logger.warning(message)
        report["warnings"].append(message)
    return train.loc[~duplicated]


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
