"""``skfast sample`` on CSV and Parquet files, and its errors (status 2)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from skfast.cli import main
from skfast.io import read_table
from skfast.sampling import random_sample, stratified_sample, weighted_sample


def invoke(*args):
    return CliRunner().invoke(main, ["sample", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample_cli")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(2000),
            "x": rng.normal(size=2000).round(5),
            "w": rng.exponential(size=2000).round(5),
            "g": rng.choice(["a", "b", "c"], p=[0.7, 0.25, 0.05], size=2000),
        }
    )
    frame.to_csv(folder / "data.csv", index=False)
    frame.to_parquet(folder / "data.parquet")
    return folder, frame


def read(path):
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    return read_table(path)


@pytest.mark.parametrize(
    ("options", "reference"),
    [
        (["--n", 50], lambda f: random_sample(f, 50, random_state=3)),
        (["--frac", 0.05, "--replace"], None),
        (
            ["--method", "stratified", "--by", "g", "--n", 60],
            lambda f: stratified_sample(f, "g", 60, random_state=3),
        ),
        (
            [
                "--method",
                "stratified",
                "--by",
                "g",
                "--frac",
                0.03,
                "--allocation",
                "neyman",
                "--variable",
                "x",
            ],
            lambda f: stratified_sample(
                f, "g", frac=0.03, allocation="neyman", variable="x", random_state=3
            ),
        ),
        (
            ["--method", "weighted", "--weights", "w", "--n", 40, "--shuffle"],
            lambda f: weighted_sample(f, 40, weights="w", random_state=3, shuffle=True),
        ),
        (
            [
                "--method",
                "weighted",
                "--weights",
                "w",
                "--frac",
                0.02,
                "--design",
                "pps",
            ],
            lambda f: weighted_sample(f, 40, weights="w", design="pps", random_state=3),
        ),
    ],
)
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_sample_writes_the_rows_of_the_library(
    data, tmp_path, kind, options, reference
):
    folder, frame = data
    out = tmp_path / f"sample.{'parquet' if kind == 'csv' else 'csv'}"
    result = invoke(
        folder / f"data.{kind}",
        *options,
        "--seed",
        3,
        "--batch-size",
        300,
        "--out",
        out,
    )

    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    written = read(out)
    if reference is None:
        assert len(written) == 100 and set(written["id"]) <= set(frame["id"])
    else:
        assert written["id"].tolist() == reference(frame)["id"].tolist()


def test_importance_sample_adds_design_weights(data, tmp_path):
    folder, frame = data
    pytest.importorskip("skfast.sampling._importance")
    out = tmp_path / "important.parquet"
    result = invoke(
        folder / "data.csv",
        "--method",
        "importance",
        "--scores",
        "w",
        "--n",
        30,
        "--out",
        out,
    )

    assert result.exit_code == 0, result.output
    written = read(out)
    assert len(written) == 30 and (written["design_weight"] >= 1).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", "weighted", "--weights", "v", "--n", 5], "--weights 'v' is not"),
        (["--method", "stratified", "--n", 5], "needs --by COLUMN"),
        (["--method", "cluster", "--n", 5], "--method 'cluster' is not one of"),
        (["--n", 5, "--frac", 0.1], "exactly one of --n and --frac"),
        (["--n", 5, "--by", "g"], "--by applies to --method stratified"),
        (["--n", 5000], "cannot draw n=5000 rows without replacement from 2000"),
        (["--n", -1], "--n -1 is negative"),
        (
            ["--method", "stratified", "--by", "g", "--n", 5, "--allocation", "neyman"],
            "needs --variable",
        ),
        (
            ["--method", "stratified", "--by", "x", "--n", 5, "--batch-size", 0],
            "at least 1",
        ),
    ],
)
def test_errors_end_in_one_line_and_status_2(data, tmp_path, options, message):
    folder, _ = data
    out = tmp_path / "never.parquet"
    result = invoke(folder / "data.parquet", *options, "--out", out)

    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("skfast: error: ") and message in last, result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_files_and_outputs_are_named(data, tmp_path):
    folder, frame = data
    bad = tmp_path / "bad.csv"
    broken = frame.copy()
    broken.loc[1500, "w"] = -3
    broken.to_csv(bad, index=False)
    out = tmp_path / "out.csv"

    cases = [
        (bad, ["--method", "weighted", "--weights", "w"], r"weights[1500] is -3.0"),
        (tmp_path / "absent.csv", [], "no such file"),
        (folder / "data.csv", ["--out", tmp_path / "s.json"], "name the output"),
    ]
    for path, options, message in cases:
        result = invoke(path, "--n", 5, "--out", out, *options)
        assert result.exit_code == 2, result.output
        assert message in result.output.strip().splitlines()[-1]
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
