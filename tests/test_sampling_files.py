"""Sampling of CSV and Parquet files and pyarrow datasets, read in batches.

The central property: for one seed, a file gives exactly the rows the same
function gives on the file read into memory, whatever the batch size.
"""

import gzip
import weakref
from contextlib import nullcontext

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from scipy import stats

from skfast.exceptions import InputError
from skfast.io import read_table
from skfast.sampling import (
    CertaintyWarning,
    _files,
    random_sample,
    stratified_sample,
    weighted_sample,
)

ROWS = 800


def make_frame(rows=ROWS, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows).round(6),
            "w": rng.exponential(size=rows).round(6),
            "g": rng.choice([3, 1, 7, 9], p=[0.6, 0.3, 0.08, 0.02], size=rows),
            "s": rng.choice(["b", "a", "c"], size=rows),
        }
    )
    frame.loc[::9, "w"] = 0.0
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    frame = make_frame()
    paths = {
        "parquet": folder / "data.parquet",
        "csv": folder / "data.csv",
        "csv.gz": folder / "data.csv.gz",
    }
    frame.to_parquet(paths["parquet"])
    frame.to_csv(paths["csv"], index=False)
    paths["csv.gz"].write_bytes(gzip.compress(paths["csv"].read_bytes()))
    return paths


def in_memory(path):
    path = str(path)
    return pd.read_parquet(path) if path.endswith(".parquet") else read_table(path)


@pytest.fixture
def batch_size(monkeypatch):
    def use(size):
        monkeypatch.setattr(_files, "DEFAULT_BATCH_SIZE", size)

    return use


METHODS = {
    "random": lambda data, **kw: random_sample(data, 60, **kw),
    "random_frac": lambda data, **kw: random_sample(data, frac=0.1, **kw),
    "weighted": lambda data, **kw: weighted_sample(data, 60, weights="w", **kw),
    "pps": lambda data, **kw: weighted_sample(
        data, 60, weights="w", design="pps", **kw
    ),
    "proportional": lambda data, **kw: stratified_sample(data, "g", 60, **kw),
    "proportional_frac": lambda data, **kw: stratified_sample(
        data, "s", frac=0.1, **kw
    ),
    "equal": lambda data, **kw: stratified_sample(
        data, "g", 60, allocation="equal", **kw
    ),
    "equal_frac": lambda data, **kw: stratified_sample(
        data, "g", frac=0.1, allocation="equal", **kw
    ),
    "mapping": lambda data, **kw: stratified_sample(
        data, "s", allocation={"a": 10, "c": 4}, **kw
    ),
    "neyman": lambda data, **kw: stratified_sample(
        data, "g", 60, allocation="neyman", variable="x", **kw
    ),
}


@pytest.mark.parametrize("kind", ["parquet", "csv"])
@pytest.mark.parametrize("method", METHODS)
def test_a_file_gives_the_rows_of_memory_for_every_batch_size(
    files, batch_size, kind, method
):
    sample = METHODS[method]
    frame = in_memory(files[kind])
    expected = sample(frame, random_state=7, return_indices=True)

    for size in (1, 7, 1000, 10**6):
        batch_size(size)
        rows = sample(str(files[kind]), random_state=7, return_indices=True)
        np.testing.assert_array_equal(rows, expected, err_msg=f"batch size {size}")

    table = sample(files[kind], random_state=7)
    assert isinstance(table, pa.Table)
    assert table.column("id").to_pylist() == frame["id"].iloc[expected].tolist()
    np.testing.assert_allclose(table.column("x"), frame["x"].iloc[expected])


@pytest.mark.parametrize("method", ["random", "weighted", "pps", "proportional"])
def test_shuffled_samples_match_memory(files, batch_size, method):
    batch_size(7)
    sample = METHODS[method]
    expected = sample(
        in_memory(files["csv.gz"]), random_state=3, shuffle=True, return_indices=True
    )
    rows = sample(files["csv.gz"], random_state=3, shuffle=True, return_indices=True)

    np.testing.assert_array_equal(rows, expected)
    assert not np.all(np.diff(rows) > 0)


def test_probabilities_match_memory(files, batch_size):
    batch_size(50)
    frame = in_memory(files["parquet"])
    for sample in (
        lambda data, **kw: weighted_sample(data, 60, weights="w", design="pps", **kw),
        lambda data, **kw: stratified_sample(data, "s", 60, **kw),
    ):
        rows, probabilities = sample(
            files["parquet"], random_state=1, return_probabilities=True
        )
        expected_rows, expected = sample(
            frame, random_state=1, return_probabilities=True
        )
        assert rows.column("id").to_pylist() == expected_rows["id"].tolist()
        np.testing.assert_allclose(probabilities, expected, rtol=1e-12)

    with pytest.raises(ValueError, match="not available for the successive"):
        weighted_sample(files["parquet"], 5, weights="w", return_probabilities=True)


def test_an_empty_sample_keeps_the_columns(files):
    for sample in (
        random_sample(files["csv"], 0),
        weighted_sample(files["parquet"], 0, weights="w"),
        weighted_sample(files["parquet"], 0, weights="w", design="pps"),
        stratified_sample(files["csv"], "g", 0, min_per_stratum=0),
    ):
        assert sample.num_rows == 0
        assert sample.column_names == ["id", "x", "w", "g", "s"]


def test_pps_certainty_rows_warn_as_in_memory(tmp_path, batch_size):
    batch_size(3)
    frame = pd.DataFrame({"w": [50.0, 1, 1, 1, 1, 1, 40, 1, 1, 1]})
    path = tmp_path / "heavy.parquet"
    frame.to_parquet(path)
    with pytest.warns(CertaintyWarning, match="2 rows"):
        rows = weighted_sample(
            path, 4, weights="w", design="pps", random_state=0, return_indices=True
        )
    with pytest.warns(CertaintyWarning):
        expected = weighted_sample(
            frame, 4, weights="w", design="pps", random_state=0, return_indices=True
        )
    np.testing.assert_array_equal(rows, expected)
    assert {0, 6} <= set(rows.tolist())


def test_a_stratum_left_short_is_read_again(files, batch_size):
    batch_size(50)
    frame = in_memory(files["parquet"])
    descriptions = []

    def progress(description, total):
        descriptions.append(description)
        return _files._no_progress(description, total)

    for kind in ("parquet", "csv"):
        rows = _files.stratified_sample(
            files[kind],
            "g",
            60,
            random_state=4,
            return_indices=True,
            progress=progress,
            _bound_scale=1e-3,
        )
        expected = stratified_sample(
            frame, "g", 60, random_state=4, return_indices=True
        )
        np.testing.assert_array_equal(rows, expected)
    assert sum("pass 2 of 2" in text for text in descriptions) == 2


@pytest.mark.parametrize("seed", range(4))
def test_equal_and_proportional_allocations_need_one_pass(tmp_path, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 400, size=12)
    labels = rng.permutation(np.repeat(np.arange(12), sizes))
    frame = pd.DataFrame({"g": labels})
    path = tmp_path / "strata.parquet"
    frame.to_parquet(path)
    passes = []

    def progress(description, total):
        passes.append(description)
        return _files._no_progress(description, total)

    for allocation in ("equal", "proportional"):
        for n in (13, 200, int(sizes.sum()) - 5):
            rows = _files.stratified_sample(
                path,
                "g",
                n,
                allocation=allocation,
                random_state=seed,
                return_indices=True,
                batch_size=97,
                progress=progress,
            )
            expected = stratified_sample(
                frame,
                "g",
                n,
                allocation=allocation,
                random_state=seed,
                return_indices=True,
            )
            np.testing.assert_array_equal(rows, expected)
    assert len(passes) == 6


def test_memory_is_bounded_by_the_batch_and_the_sample(tmp_path, monkeypatch):
    rows, n, size = 20000, 50, 500
    frame = pd.DataFrame({"v": np.arange(rows), "w": np.linspace(0.1, 1, rows)})
    frame["g"] = frame["v"] % 5
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, row_group_size=4000)

    reservoirs = []

    class Recorded(_files.KeptRows):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            reservoirs.append(self)

    batches = []
    alive = []
    exact = _files._exact_batches

    def watched(record_batches, batch_rows):
        for table in exact(record_batches, batch_rows):
            assert table.num_rows <= batch_rows
            batches.append(weakref.ref(table))
            alive.append(sum(ref() is not None for ref in batches))
            yield table

    monkeypatch.setattr(_files, "KeptRows", Recorded)
    monkeypatch.setattr(_files, "_exact_batches", watched)
    random_sample(path, n, random_state=0)
    weighted_sample(path, n, weights="w", random_state=0)
    stratified_sample(path, "g", n, random_state=0)

    monkeypatch.setattr(_files, "DEFAULT_BATCH_SIZE", size)
    random_sample(path, n, random_state=0)
    weighted_sample(path, n, weights="w", random_state=0)
    stratified_sample(path, "g", n, random_state=0)

    assert len(batches) == 3 + 3 * rows // size
    # The batch being sampled, and at most the one before it while its
    # generator frame lets go of it.
    assert max(alive) <= 2
    for reservoir in reservoirs[:2] + reservoirs[3:5]:
        assert reservoir.most_held <= n + reservoir.batch_size
    margin = 5 * (6 * np.sqrt(n / 5 + 1) + 33)
    assert reservoirs[5].most_held <= n + margin + size


def test_a_pyarrow_dataset_is_read_in_order(tmp_path, batch_size):
    batch_size(64)
    frame = make_frame(600)
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:250].to_parquet(folder / "part-0.parquet")
    frame.iloc[250:].to_parquet(folder / "part-1.parquet")
    dataset = ds.dataset(folder, format="parquet")
    whole = dataset.to_table().to_pandas()

    for source in (dataset, folder):
        rows = stratified_sample(source, "g", 40, random_state=2, return_indices=True)
        expected = stratified_sample(
            whole, "g", 40, random_state=2, return_indices=True
        )
        np.testing.assert_array_equal(rows, expected)


def test_progress_reports_every_row_of_every_pass(files, batch_size):
    batch_size(100)
    calls = []

    def progress(description, total):
        done = []
        calls.append((total, done))
        return nullcontext(done.append)

    _files.stratified_sample(
        files["parquet"], "g", 30, allocation="neyman", variable="x", progress=progress
    )
    _files.random_sample(files["csv"], 30, progress=progress)
    assert [(total, sum(done)) for total, done in calls] == [
        (ROWS, ROWS),
        (ROWS, ROWS),
        (None, ROWS),
    ]


def test_with_replacement_is_multinomial(tmp_path, batch_size):
    batch_size(2)
    weights = np.array([1.0, 2, 3, 4, 0])
    path = tmp_path / "w.csv"
    pd.DataFrame({"w": weights}).to_csv(path, index=False)

    rows, probabilities = weighted_sample(
        path,
        20000,
        weights="w",
        replace=True,
        random_state=0,
        return_indices=True,
        return_probabilities=True,
    )
    counts = np.bincount(rows, minlength=5)
    assert counts[4] == 0 and counts.sum() == 20000
    assert stats.chisquare(counts[:4], 20000 * weights[:4] / 10).pvalue > 1e-4
    np.testing.assert_allclose(
        probabilities, 1 - (1 - weights[rows] / 10) ** 20000, rtol=1e-12
    )

    rows = random_sample(path, 20000, replace=True, random_state=1, return_indices=True)
    assert stats.chisquare(np.bincount(rows, minlength=5)).pvalue > 1e-4
    assert np.all(np.diff(rows) >= 0)
    shuffled = random_sample(
        path, 30, replace=True, random_state=1, shuffle=True, return_indices=True
    )
    assert sorted(shuffled) != list(shuffled)


def test_out_writes_parquet_and_csv_atomically(files, tmp_path, batch_size):
    batch_size(100)
    table = weighted_sample(files["parquet"], 40, weights="w", random_state=5)
    for name in ("sample.parquet", "sample.csv", "sample.csv.gz"):
        path = weighted_sample(
            files["parquet"], 40, weights="w", random_state=5, out=tmp_path / name
        )
        assert path == tmp_path / name
        written = pq.read_table(path) if name.endswith("parquet") else read_table(path)
        written = pa.table(written) if isinstance(written, pd.DataFrame) else written
        assert written.column("id").to_pylist() == table.column("id").to_pylist()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sample.csv",
        "sample.csv.gz",
        "sample.parquet",
    ]


def test_a_failed_sample_writes_nothing(tmp_path, batch_size):
    batch_size(10)
    frame = make_frame(200)
    frame.loc[157, "w"] = -1.0
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out" / "sample.parquet"
    out.parent.mkdir()

    with pytest.raises(ValueError, match=r"weights\[157\] is -1.0"):
        weighted_sample(path, 5, weights="w", out=out)
    assert list(out.parent.iterdir()) == []


def test_csv_types_widen_when_a_late_value_does_not_fit(tmp_path, batch_size):
    batch_size(100)
    rows = 3000
    values = [str(i) for i in range(rows)]
    values[2500] = "2.5"
    labels = [str(i % 4) for i in range(rows)]
    labels[2900] = "x"
    lines = ["v,label"] + [f"{v},{g}" for v, g in zip(values, labels, strict=True)]
    path = tmp_path / "widen.csv"
    path.write_text("\n".join(lines) + "\n")
    frame = read_table(path)

    table = random_sample(path, rows, random_state=0)
    np.testing.assert_array_equal(table.column("v"), frame["v"])
    assert table.schema.field("v").type == pa.float64()
    rows = stratified_sample(path, "label", 100, random_state=0, return_indices=True)
    expected = stratified_sample(
        frame, "label", 100, random_state=0, return_indices=True
    )
    np.testing.assert_array_equal(rows, expected)
    assert 2900 in rows.tolist()


def test_csv_reads_spaces_and_markers_as_skfast_io_does(tmp_path, batch_size):
    batch_size(3)
    path = tmp_path / "adult.csv"
    path.write_text("age, city, w\n31, Oslo, 1\n47, ?, 2\n ?, Bergen, 1\n22, Oslo, 3\n")
    frame = read_table(path)
    table = random_sample(path, 4, random_state=0)

    assert table.column("city").to_pylist() == [
        None if pd.isna(value) else value for value in frame["city"]
    ]
    assert table.column("age").to_pylist() == [31, 47, None, 22]
    rows = weighted_sample(path, 2, weights="w", random_state=1, return_indices=True)
    expected = weighted_sample(
        frame, 2, weights="w", random_state=1, return_indices=True
    )
    np.testing.assert_array_equal(rows, expected)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: weighted_sample(p, 5, weights="v"), "weights='v' is not a column"),
        (lambda p: stratified_sample(p, "h", 5), "by='h' is not a column"),
        (
            lambda p: stratified_sample(p, "g", 5, allocation="neyman", variable="z"),
            "variable='z' is not a column",
        ),
        (lambda p: random_sample(p, ROWS + 1), f"n={ROWS + 1} rows .* from {ROWS}"),
        (
            lambda p: weighted_sample(p, ROWS - 10, weights="w"),
            f"only {ROWS - 89} of the {ROWS} rows have a positive weight",
        ),
        (
            lambda p: weighted_sample(p, 5, weights=np.ones(ROWS)),
            "weights must be a column name",
        ),
        (lambda p: random_sample(p, 5, out="sample.txt"), "name the output .parquet"),
        (lambda p: random_sample(p, 5, out="/no/such/folder/s.csv"), "does not exist"),
    ],
)
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_bad_input_is_named(files, batch_size, kind, call, message):
    batch_size(100)
    with pytest.raises(ValueError, match=message):
        call(files[kind])


@pytest.mark.parametrize("bad", [-2.0, np.nan, np.inf])
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_bad_weight_names_its_row(tmp_path, batch_size, bad, kind):
    batch_size(16)
    frame = make_frame(100)
    frame.loc[77, "w"] = bad
    path = tmp_path / f"data.{kind}"
    frame.to_parquet(path) if kind == "parquet" else frame.to_csv(path, index=False)

    for design in ("successive", "pps"):
        with pytest.raises(ValueError, match=r"weights\[77\] is"):
            weighted_sample(path, 5, weights="w", design=design)
    with pytest.raises(ValueError, match=r"weights\[77\] is"):
        weighted_sample(path, 5, weights="w", replace=True)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_missing_stratum_names_its_row(tmp_path, batch_size, kind):
    batch_size(16)
    frame = make_frame(100)
    frame["s"] = frame["s"].astype(object)
    frame.loc[61, "s"] = None
    path = tmp_path / f"data.{kind}"
    frame.to_parquet(path) if kind == "parquet" else frame.to_csv(path, index=False)

    with pytest.raises(InputError, match="missing value at row 61"):
        stratified_sample(path, "s", 10)


def test_empty_and_missing_files_are_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    frame = tmp_path / "none.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(frame)
    truncated = tmp_path / "cut.csv.gz"
    text = "a,b\n" + "".join(f"{i},{i}\n" for i in range(50000))
    truncated.write_bytes(gzip.compress(text.encode())[:-50])

    with pytest.raises(InputError, match="is empty"):
        random_sample(empty, 1)
    with pytest.raises(InputError, match="has no rows"):
        random_sample(header, 1)
    with pytest.raises(InputError, match="has no rows"):
        stratified_sample(frame, "a", 1)
    with pytest.raises(InputError, match="no such file"):
        random_sample(tmp_path / "absent.parquet", 1)
    with pytest.raises(InputError, match="damaged or truncated"):
        random_sample(truncated, 1)
