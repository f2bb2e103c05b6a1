"""``skfast run`` end to end, and each bad input ending cleanly with status 2."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from skfast.cli import main
from skfast.io import sha256_of
from skfast.workflow import OUTPUT_FILES

TRUNCATED_GZIP = gzip.compress(
    b"a,b,y\n" + b"".join(b"%d,%d,%d\n" % (i, i * i, i % 2) for i in range(20000))
)[:-4]
FAST = ["--cv", "3", "--trials", "3", "--tune-seconds", "60", "-q"]


def invoke(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def adult_run(adult_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "adult"
    result = invoke(
        adult_slice["train"],
        "--target",
        "income",
        "--test",
        adult_slice["test"],
        "--out",
        out,
        "--sample-rows",
        "1500",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


def test_run_writes_every_output_file(adult_run):
    out, _ = adult_run
    for name in (*OUTPUT_FILES, "misclassified.csv"):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".adult-")]


def test_report_metrics_are_real_and_consistent(adult_run):
    out, report = adult_run
    metrics = report["evaluate"]["metrics"]

    assert 0.85 <= metrics["roc_auc"] <= 1
    assert metrics["pr_auc"] > report["evaluate"]["curves"]["positive_rate"]
    assert 0.5 < metrics["balanced_accuracy"] <= 1
    assert 0 < metrics["log_loss"] < 0.69
    counts = np.array(report["evaluate"]["confusion_matrix"]["counts"])
    assert counts.sum() == report["evaluate"]["rows"] == 1500
    assert report["evaluate"]["positive_label"] == ">50K"

    errors = report["errors"]
    assert errors["misclassified"] == counts.sum() - np.trace(counts)
    misclassified = pd.read_csv(out / "misclassified.csv")
    assert len(misclassified) == errors["misclassified"]
    assert (misclassified["true_label"] != misclassified["predicted_label"]).all()
    margins = [
        entry["ci_low"] - errors["overall_error_rate"] for entry in errors["slices"]
    ]
    assert margins == sorted(margins, reverse=True)
    for entry in errors["slices"]:
        assert entry["rows"] >= 30
        assert entry["ci_low"] <= entry["error_rate"] <= entry["ci_high"]
        assert entry["excess"] == pytest.approx(
            entry["error_rate"] - errors["overall_error_rate"]
        )


def test_report_covers_every_stage_and_names_the_kernels(adult_run):
    _, report = adult_run
    from skfast.workflow import STAGES

    assert list(report["stages"]) == list(STAGES)
    assert report["environment"]["openmp"] in (True, False)
    assert {
        "cython._sampling.stratified_select",
        "cython._sampling.allocate",
        "numba._knn.kneighbors",
        "numba._smote.interpolate",
    } <= set(report["kernels"])

    leaderboard = report["compare"]["leaderboard"]
    models = {
        "logistic_regression",
        "decision_tree",
        "random_forest",
        "linear_svm",
        "hist_gradient_boosting",
    }
    assert {entry["candidate"] for entry in leaderboard} == models | {
        f"{name} + SMOTE" for name in models
    }
    assert all(len(entry["fold_scores"]) == 3 for entry in leaderboard)
    assert [entry["mean"] for entry in leaderboard] == sorted(
        (entry["mean"] for entry in leaderboard), reverse=True
    )

    tuned = report["tune"]["results"]
    best_two = []
    for entry in leaderboard:
        if entry["model"] not in [e["model"] for e in best_two]:
            best_two.append(entry)
    assert [r["candidate"] for r in tuned] == [e["candidate"] for e in best_two[:2]]
    assert all(r["best_score"] >= r["default_score"] for r in tuned)
    assert (
        report["model"]["name"]
        == report["tune"]["selected"]
        == max(tuned, key=lambda r: r["best_score"])["candidate"]
    )

    assert report["sample"]["used"] and report["sample"]["rows"] == 1500
    resample = report["resample"]
    assert resample["used"]
    assert resample["in_final_model"] == report["model"]["name"].endswith("SMOTE")
    if resample["in_final_model"]:
        after = resample["final_fit"]["after"]
        assert after["<=50K"] == after[">50K"]


def test_manifest_traces_inputs_and_splits(adult_run, adult_slice):
    out, report = adult_run
    manifest = json.loads((out / "manifest.json").read_text())

    assert manifest["files"]["train"]["sha256"] == sha256_of(adult_slice["train"])
    assert manifest["files"]["test"]["sha256"] == sha256_of(adult_slice["test"])
    assert manifest["tables"]["train"]["rows"] == 3000
    assert manifest["tables"]["train"]["columns"] == 15
    splits = manifest["splits"]
    assert (
        splits["train"]["rows"] + splits["validation"]["rows"]
        == (report["clean"]["rows_after"]["train"])
    )
    assert splits["test"]["rows"] == 1500
    assert len({split["sha256"] for split in splits.values()}) == len(splits)


def test_saved_model_loads_with_skops_and_predicts(adult_run, adult_slice):
    from skfast.workflow import load_model

    out, report = adult_run
    model = load_model(out / "model.skops")
    test = pd.read_csv(adult_slice["test"])
    predicted = model.predict(test.drop(columns=["income"]))
    accuracy = (predicted == test["income"].to_numpy()).mean()
    assert accuracy == pytest.approx(report["evaluate"]["metrics"]["accuracy"])


def test_report_html_is_self_contained(adult_run):
    out, report = adult_run
    page = (out / "report.html").read_text()

    for section in (
        "Model comparison",
        "Tuning",
        "Test set",
        "Error analysis",
        "Applying the model",
        "Provenance",
    ):
        assert section in page
    assert page.count("data:image/png;base64,") >= 5
    assert "http://" not in page.replace("https://creativecommons.org", "")
    assert f"{report['evaluate']['metrics']['roc_auc']:.4f}" in page


def test_run_without_a_test_file_holds_out_a_stratified_share(tiny_table, tmp_path):
    out = tmp_path / "tiny"
    result = invoke(
        tiny_table, "--target", "label", "--out", out, "--test-size", "0.25", *FAST
    )

    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    kept = report["clean"]["rows_after"]["train"]
    assert kept == 400 - report["clean"]["duplicates_removed"]
    assert report["split"]["test"]["rows"] == int(np.ceil(0.25 * kept))
    assert sum(part["rows"] for part in report["split"].values()) == kept


@pytest.mark.slow
def test_default_run_on_bundled_adult(tmp_path):
    out = tmp_path / "adult"
    result = invoke(
        "--out",
        out,
        "--models",
        "logistic_regression",
        "--sample-rows",
        "2000",
        "--cv",
        "2",
        "--trials",
        "2",
        "-q",
    )

    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["evaluate"]["rows"] == 16281
    assert report["clean"]["duplicates_removed"] == 24
    assert report["evaluate"]["metrics"]["roc_auc"] > 0.88


def assert_failed_cleanly(result, out, *fragments):
    """Exit status 2, the run's last word one line naming the problem, no output."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    message = lines[-1]
    assert message.startswith("skfast: error: "), result.stderr
    assert not any("Traceback" in line for line in lines)
    for fragment in fragments:
        assert fragment in message
    assert not out.exists() or not any(out.iterdir())
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}-")]


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    result = invoke(tmp_path / "nope.csv", "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "no such file", "nope.csv")


def test_unknown_target_column(tiny_table, tmp_path):
    out = tmp_path / "out"
    result = invoke(tiny_table, "--target", "labl", "--out", out)
    assert_failed_cleanly(result, out, "'labl'", "x, colour, label")


def test_target_with_one_class(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},same\n" for i in range(50)))
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "single class", "'same'")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"a,b,y\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "empty.csv", "no rows")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("noise.csv", bytes(range(256)) * 8, "cannot read"),
        ("broken.parquet", b"PAR1 this is not parquet", "as Parquet"),
        ("latin1.csv", "a,b\né,1\n".encode("latin-1"), "not UTF-8"),
        ("truncated.csv.gz", TRUNCATED_GZIP, "truncated"),
    ],
)
def test_unreadable_file(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, name, fragment)


def test_a_folder_instead_of_a_file(tmp_path):
    out = tmp_path / "out"
    result = invoke(tmp_path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "is a folder")


def test_non_empty_output_folder_is_left_alone(tiny_table, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = invoke(tiny_table, "--target", "label", "--out", out)

    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


TINY = [
    "--models",
    "logistic_regression,decision_tree",
    "--cv",
    "2",
    "--trials",
    "1",
    "-q",
]


def write_table(path, frame):
    frame.to_csv(path, index=False)
    return path


def numeric_frame(rows=300, labels=(0, 1), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = np.where(x[:, 0] + rng.normal(scale=0.7, size=rows) > 0.5, *labels[::-1])
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


@pytest.mark.parametrize("labels", [(0, 1), (-1, 1), (3, 7)])
def test_integer_class_labels(tmp_path, labels):
    path = write_table(tmp_path / "ints.csv", numeric_frame(labels=labels))
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out, *TINY)

    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["evaluate"]["confusion_matrix"]["labels"] == [str(v) for v in labels]
    assert report["evaluate"]["metrics"]["roc_auc"] > 0.8


def test_a_dataframe_runs_from_python(tmp_path):
    from skfast.workflow import RunConfig, Workflow

    config = RunConfig(target="y", models="logistic_regression", cv=2, tune_trials=1)
    result = Workflow(config).run(numeric_frame(), out=tmp_path / "out")

    assert result.report["evaluate"]["metrics"]["roc_auc"] > 0.8
    assert result.report["target"] == "y"


def test_date_and_identifier_columns_are_dropped_with_a_reason(tmp_path):
    frame = numeric_frame()
    frame["when"] = pd.date_range("2020-01-01", periods=len(frame)).astype(str)
    frame["id"] = [f"row-{i:05d}" for i in range(len(frame))]
    path = write_table(tmp_path / "extra.csv", frame)
    out = tmp_path / "out"

    result = invoke(path, "--target", "y", "--out", out, *TINY)

    assert result.exit_code == 0, result.output
    dropped = json.loads((out / "report.json").read_text())["clean"]["dropped_columns"]
    reasons = {entry["column"]: entry["reason"] for entry in dropped}
    assert reasons["when"].startswith("a date column")
    assert reasons["id"].startswith("an identifier")


def test_a_model_that_predicts_one_class_is_flagged(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"noise": rng.normal(size=400), "y": ["no"] * 388 + ["yes"] * 12}
    )
    path = write_table(tmp_path / "rare.csv", frame)
    out = tmp_path / "out"

    result = invoke(
        path,
        "--target",
        "y",
        "--out",
        out,
        "--resample-below",
        "0",
        "--models",
        "logistic_regression",
        "--cv",
        "2",
        "--trials",
        "1",
        "-q",
    )

    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert any("never predicts class yes" in w for w in report["warnings"])
    assert "never predicts class yes" in (out / "report.html").read_text()


def test_class_too_small_to_cross_validate(tmp_path):
    frame = numeric_frame()
    frame.loc[0, "y"] = 9
    path = write_table(tmp_path / "single.csv", frame)
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "class '9'", "1 training row", "at least 10")

    result = invoke(tmp_path / "single.csv", "--target", "a", "--out", out)
    assert result.exit_code == 2
    result = invoke(
        write_table(tmp_path / "ok.csv", numeric_frame()),
        "--target",
        "y",
        "--cv",
        "500",
        "--out",
        out,
    )
    assert_failed_cleanly(result, out, "at least 1000", "lower --cv")


def test_infinite_values(tmp_path):
    frame = numeric_frame()
    frame.loc[7, "b"] = -np.inf
    path = write_table(tmp_path / "inf.csv", frame)
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "column 'b'", "-inf", "row 7")


def test_repeated_column_names(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("a,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(40)))
    out = tmp_path / "out"
    result = invoke(path, "--target", "y", "--out", out)
    assert_failed_cleanly(result, out, "'a' appears twice")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--trials", "-1"], "--trials -1 is invalid"),
        (["--cv", "1"], "--cv 1 is invalid"),
        (["--models", ""], "unknown model ''"),
        (["--models", "svm"], "unknown model 'svm'"),
        (["--metric", "auc"], "unknown metric 'auc'"),
        (["--resample-below", "2"], "--resample-below 2"),
    ],
)
def test_invalid_options_name_their_flag(tiny_table, tmp_path, args, fragment):
    out = tmp_path / "out"
    result = invoke(tiny_table, "--target", "label", "--out", out, *args)
    assert_failed_cleanly(result, out, fragment)


def test_output_path_that_is_a_file(tiny_table, tmp_path):
    out = tmp_path / "taken"
    out.write_text("mine")
    result = invoke(tiny_table, "--target", "label", "--out", out)

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"skfast: error: the output path {out} is a file; pass a folder."
    ]
    assert out.read_text() == "mine"


def test_missing_target_option_lists_the_columns(tiny_table, tmp_path):
    out = tmp_path / "out"
    result = invoke(tiny_table, "--out", out)
    assert_failed_cleanly(result, out, "pass --target", "x, colour, label")


@pytest.mark.slow
def test_terminated_run_leaves_nothing_behind(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "adult"
    process = subprocess.Popen(
        [sys.executable, "-m", "skfast.cli", "run", "--out", str(out), "-q"],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "interrupted; nothing was written" in stderr
    assert list(tmp_path.iterdir()) == []


def test_too_few_rows_left_for_comparing_models(tmp_path):
    path = write_table(tmp_path / "small.csv", numeric_frame(rows=120))
    out = tmp_path / "out"
    result = invoke(
        path,
        "--target",
        "y",
        "--out",
        out,
        "--cv",
        "3",
        "--test-size",
        "0.8",
        "--validation-size",
        "0.8",
    )
    assert_failed_cleanly(
        result, out, "rows left for comparing models", "--validation-size"
    )


def test_awkward_columns_run_through(tmp_path):
    frame = numeric_frame()
    frame["flag"] = frame["a"] > 0
    frame["amount"] = [f"{v:,.0f}" for v in frame["b"] * 10_000]
    frame.loc[::20, "amount"] = "unknown"
    frame[""] = ""
    path = tmp_path / "awkward.csv"
    frame.to_csv(path, index=False)
    path.write_text(path.read_text().replace("\n", ",\n"))  # a second empty column
    out = tmp_path / "out"

    result = invoke(path, "--target", "y", "--out", out, *TINY)

    assert result.exit_code == 0, result.output
    clean_report = json.loads((out / "report.json").read_text())["clean"]
    numbers = {e["column"]: e for e in clean_report["text_read_as_numbers"]}
    assert numbers["amount"]["format"] == "thousands separators"
    assert numbers["amount"]["as_missing"]["train"] == {"unknown": 15}
    dropped = {e["column"] for e in clean_report["dropped_columns"]}
    assert {"Unnamed: 6", "Unnamed: 7"} <= dropped


def test_no_header_hint_only_when_the_header_was_guessed(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text("".join(f"{i},{i % 2}\n" for i in range(40)))
    out = tmp_path / "out"

    guessed = invoke(path, "--target", "1", "--out", out)
    assert_failed_cleanly(guessed, out, "column_0, column_1", "pass --header")
    told = invoke(path, "--target", "1", "--no-header", "--out", out)
    assert_failed_cleanly(told, out, "column_0, column_1")
    assert "pass --header" not in told.stderr
