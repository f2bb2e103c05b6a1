"""Reading CSV and Parquet: dialect and header detection, missing markers."""

import gzip

import numpy as np
import pandas as pd
import pytest

from skfast.exceptions import InputError
from skfast.io import read_table

ROWS = [["31", "Oslo", "yes"], ["47", "?", "no"], ["22", "Lima", "NA"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("header", [True, False])
def test_delimiter_and_header_are_detected(tmp_path, delimiter, header):
    lines = [delimiter.join(row) for row in ROWS * 5]
    if header:
        lines.insert(0, delimiter.join(["age", "city", "answer"]))
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")

    frame = read_table(path)

    expected = (
        ["age", "city", "answer"] if header else ["column_0", "column_1", "column_2"]
    )
    assert list(frame.columns) == expected
    assert frame.shape == (15, 3)
    assert frame.iloc[:, 0].dtype == np.int64
    assert frame.iloc[:, 1].isna().sum() == 5
    assert frame.iloc[:, 2].isna().sum() == 5


def test_overrides_win_over_detection(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("a;b\n1;2\n3;4\n")

    frame = read_table(path, delimiter=";", header=False)

    assert frame.shape == (3, 2)
    assert frame.iloc[0].tolist() == ["a", "b"]


def test_parquet_and_gzip(tmp_path):
    frame = pd.DataFrame({"x": [1.5, 2.5], "label": ["a", "b"]})
    frame.to_parquet(tmp_path / "data.parquet")
    (tmp_path / "renamed.bin").write_bytes((tmp_path / "data.parquet").read_bytes())
    with gzip.open(tmp_path / "data.csv.gz", "wt") as handle:
        frame.to_csv(handle, index=False)

    for name in ("data.parquet", "renamed.bin", "data.csv.gz"):
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)


def test_header_only_file_has_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with pytest.raises(InputError, match="no rows"):
        read_table(path)


def test_shared_files_read_as_documented(shared_data):
    adult = read_table(shared_data / "adult" / "adult.data.gz")
    assert adult.shape == (32561, 15)
    assert adult.isna().sum().sum() == 1836 + 1843 + 583

    mammography = read_table(shared_data / "mammography" / "mammography.csv")
    assert mammography.shape == (11183, 7)
    assert mammography.iloc[:, -1].value_counts().to_dict() == {-1: 10923, 1: 260}

    abalone = read_table(shared_data / "abalone_19" / "abalone_19.csv")
    assert abalone.shape == (4177, 9) and abalone.columns[0] == "Sex"
