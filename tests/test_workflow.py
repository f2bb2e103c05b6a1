"""Pieces of the runner on small tables: cleaning, model files, options."""

import operator

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skfast.exceptions import InputError
from skfast.workflow import RunConfig, Workflow, load_model, save_model
from skfast.workflow._data import Inputs, clean


def run_clean(train, test=None, **kwargs):
    return clean(Inputs(train, test, {}, "test"), "y", **kwargs)


def test_numbers_stored_as_text_are_read_as_numbers():
    train = pd.DataFrame(
        {
            "plain": ["1.5", "2", "n/a", "-3e2"] * 10,
            "thousands": ["1,234", "12", "5,678,901.5", "7"] * 10,
            "comma": ["1,5", "2", "3,25", "1.000,5"] * 10,
            "mostly": ["4", "5", "6", "7", "8", "9", "10", "11", "12", "unknown"] * 4,
            "words": ["red", "blue", "12", "green"] * 10,
            "y": [0, 1] * 20,
        }
    )
    test = train.head(4).assign(mostly=["1", "x", "2", "3"])
    cleaned, cleaned_test, report = run_clean(train, test, drop_duplicates=False)

    formats = {e["column"]: e["format"] for e in report["text_read_as_numbers"]}
    assert formats == {
        "plain": "plain",
        "thousands": "thousands separators",
        "comma": "decimal comma",
        "mostly": "plain",
    }
    assert cleaned["thousands"].iloc[:4].tolist() == [1234, 12, 5678901.5, 7]
    assert cleaned["comma"].iloc[:4].tolist() == [1.5, 2, 3.25, 1000.5]
    assert cleaned["plain"].isna().sum() == 10
    assert report["markers_read_as_missing"]["train"] == {"plain": 10}
    mostly = next(e for e in report["text_read_as_numbers"] if e["column"] == "mostly")
    assert mostly["as_missing"] == {"train": {"unknown": 4}, "test": {"x": 1}}
    assert cleaned_test["mostly"].iloc[0] == 1.0
    assert np.isnan(cleaned_test["mostly"].iloc[1])
    assert cleaned["words"].dtype == object


def test_booleans_strings_and_spaces():
    train = pd.DataFrame(
        {
            "flag": pd.array([True, False, None, True] * 10, dtype="boolean"),
            "text": pd.array(["a", None, "b ", "a"] * 10, dtype="string"),
            "y": [" yes", "no ", "yes", "no"] * 10,
        }
    )
    cleaned, _, report = run_clean(train, drop_duplicates=False)

    assert cleaned["flag"].dtype == np.float64
    assert cleaned["flag"].isna().sum() == 10
    assert set(cleaned["y"]) == {"yes", "no"}
    assert report["spaces_stripped"]["train"] == {"text": 10, "y": 20}
    assert cleaned["text"].map(type).isin([str, float]).all()


def test_many_duplicates_are_removed_with_a_warning_or_kept_on_request():
    train = pd.DataFrame({"a": [0, 1] * 50, "y": [0, 1, 1, 0] * 25})

    cleaned, _, report = run_clean(train)
    assert len(cleaned) == 4
    assert report["duplicates_removed"] == 96
    assert "--keep-duplicates" in report["warnings"][0]

    kept, _, report = run_clean(train, drop_duplicates=False)
    assert len(kept) == 100 and report["warnings"] == []


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"y": [0, 1] * 5}), "no column besides the target"),
        (
            pd.DataFrame({"c": [1] * 10, "e": [np.nan] * 10, "y": [0, 1] * 5}),
            "no feature column is usable",
        ),
    ],
)
def test_tables_without_usable_features(frame, message):
    with pytest.raises(InputError, match=message):
        run_clean(frame)


def test_test_file_must_have_the_training_columns():
    train = pd.DataFrame({"a": [1, 2] * 5, "b": [3, 4] * 5, "y": [0, 1] * 5})
    with pytest.raises(InputError, match="lacks column 'b'"):
        run_clean(train, train.drop(columns="b"))


def test_load_model_refuses_foreign_code(tmp_path):
    X, y = np.array([[0.0], [1.0], [4.0], [9.0]]), np.array([0, 0, 1, 1])
    from sklearn.linear_model import LogisticRegression

    foreign = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression())
    foreign.fit(X, y)
    save_model(foreign, tmp_path / "foreign.skops")

    with pytest.raises(ValueError, match="operator"):
        load_model(tmp_path / "foreign.skops")


def test_positive_label_option(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    frame["y"] = np.where(frame["x"] + rng.normal(size=300) > 0.8, "a", "b")
    config = RunConfig(
        target="y",
        positive_label="b",
        models="logistic_regression",
        cv=2,
        tune_trials=1,
    )
    report = Workflow(config).run(frame, out=tmp_path / "out").report
    assert report["evaluate"]["positive_label"] == "b"

    config.positive_label = "c"
    with pytest.raises(InputError, match="positive label 'c'"):
        Workflow(config).run(frame, out=tmp_path / "other")


def test_polars_frames_run(tmp_path):
    polars = pytest.importorskip("polars")
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    frame = polars.DataFrame({"x": x, "y": np.where(x > 0.3, "p", "n")})
    config = RunConfig(target="y", models="logistic_regression", cv=2, tune_trials=1)

    report = Workflow(config).run(frame, out=tmp_path / "out").report
    assert report["evaluate"]["metrics"]["roc_auc"] > 0.9
