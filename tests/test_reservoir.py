"""One-pass reservoir sampling of a stream of batches."""

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from skfast.sampling import reservoir_sample, weighted_sample

polars = pytest.importorskip("polars")


def in_batches(data, sizes):
    """Cut ``data`` into consecutive batches of the given sizes (cycled)."""
    total = data.num_rows if isinstance(data, (pa.Table, pa.RecordBatch)) else len(data)
    start, cuts = 0, itertools.cycle(sizes)
    while start < total:
        size = next(cuts)
        yield data[start : start + size]
        start += size


def test_uniform_subsets_are_equally_likely():
    # Every 2-subset of 6 rows, over many seeds and batchings: chi-square.
    subsets = {pair: 0 for pair in itertools.combinations(range(6), 2)}
    rng = np.random.default_rng(0)
    draws = 3000
    for seed in range(draws):
        sizes = rng.integers(1, 4, size=3)
        rows = reservoir_sample(
            in_batches(np.arange(6), sizes), 2, random_state=seed, return_indices=True
        )
        subsets[tuple(rows)] += 1
    assert stats.chisquare(list(subsets.values())).pvalue > 1e-4


def test_uniform_inclusion_frequencies_per_row():
    rows, n, draws = 50, 7, 2000
    counts = np.zeros(rows)
    for seed in range(draws):
        sample = reservoir_sample(
            in_batches(np.arange(rows), [9]), n, random_state=seed, return_indices=True
        )
        counts[sample] += 1
    p = n / rows
    z = (counts - draws * p) / np.sqrt(draws * p * (1 - p))
    assert np.abs(z).max() < 4.5
    assert stats.chisquare(counts).pvalue > 1e-4


def test_uniform_sample_does_not_depend_on_the_batches():
    data = np.arange(10000)
    results = [
        reservoir_sample(in_batches(data, sizes), 30, random_state=11)
        for sizes in ([1], [7, 3], [1000], [10**6])
    ]
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
    assert np.all(np.diff(results[0]) > 0) and len(set(results[0])) == 30


def kinds(frame):
    return {
        "numpy": frame.to_numpy(),
        "pandas": frame,
        "polars": polars.from_pandas(frame),
        "table": pa.Table.from_pandas(frame, preserve_index=False),
        "batch": pa.RecordBatch.from_pandas(frame, preserve_index=False),
    }


@pytest.mark.parametrize("kind", ["numpy", "pandas", "polars", "table", "batch"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_weighted_reservoir_is_weighted_sample(kind, shuffle):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"v": np.arange(3000.0), "w": rng.exponential(size=3000)})
    frame.loc[::5, "w"] = 0.0
    data = kinds(frame)[kind]
    weights = (lambda batch: batch[:, 1]) if kind == "numpy" else "w"
    expected = weighted_sample(
        frame, 40, weights="w", random_state=9, shuffle=shuffle, return_indices=True
    )

    for sizes in ([1, 2], [64], [5000]):
        rows = reservoir_sample(
            in_batches(data, sizes),
            40,
            weights=weights,
            random_state=9,
            shuffle=shuffle,
            return_indices=True,
        )
        np.testing.assert_array_equal(rows, expected)

    sample = reservoir_sample(
        in_batches(data, [100]), 40, weights=weights, random_state=9, shuffle=shuffle
    )
    assert type(sample) is type(data)
    values = np.asarray(sample[:, 0] if kind == "numpy" else sample["v"])
    np.testing.assert_array_equal(values, frame["v"].to_numpy()[expected])


@pytest.mark.parametrize("kind", ["numpy", "pandas", "polars", "table", "batch"])
def test_uniform_reservoir_keeps_the_kind(kind):
    frame = pd.DataFrame({"v": np.arange(500), "u": np.arange(500) * 2})
    data = kinds(frame)[kind]
    sample = reservoir_sample(in_batches(data, [37]), 12, random_state=2)
    rows = reservoir_sample(
        in_batches(data, [37]), 12, random_state=2, return_indices=True
    )
    assert type(sample) is type(data)
    values = np.asarray(sample[:, 0] if kind == "numpy" else sample["v"])
    np.testing.assert_array_equal(values, rows)

    shuffled = reservoir_sample(
        in_batches(data, [37]), 12, random_state=2, shuffle=True, return_indices=True
    )
    assert sorted(shuffled) == list(rows) and list(shuffled) != list(rows)


def test_weights_may_be_computed_per_batch():
    data = np.arange(100000)
    rows = reservoir_sample(
        in_batches(data, [4096]),
        25,
        weights=lambda b: (b % 10 == 0) * 1.0,
        random_state=0,
        return_indices=True,
    )
    assert np.all(rows % 10 == 0) and len(rows) == 25


def test_bad_streams_are_named():
    data = np.arange(20.0)
    weights = np.ones(20)
    weights[13] = np.nan
    with pytest.raises(ValueError, match=r"weights\[13\] is nan"):
        reservoir_sample(
            in_batches(data, [4]), 3, weights=lambda b: weights[b.astype(int)]
        )
    with pytest.raises(ValueError, match="cannot draw n=30 rows .* from 20 rows"):
        reservoir_sample(in_batches(data, [4]), 30)
    with pytest.raises(ValueError, match="only 5 of the 20 rows"):
        reservoir_sample(in_batches(data, [4]), 6, weights=lambda b: 1.0 * (b < 5))
    with pytest.raises(ValueError, match="every one of the 20 weights is zero"):
        reservoir_sample(in_batches(data, [4]), 1, weights=lambda b: 0 * b)
    with pytest.raises(ValueError, match="has 3 values for 4 rows"):
        reservoir_sample(in_batches(data, [4]), 2, weights=lambda b: np.ones(3))
    with pytest.raises(ValueError, match="no rows"):
        reservoir_sample(iter([]), 2)
    with pytest.raises(ValueError, match="'z' is not a column"):
        reservoir_sample([pd.DataFrame({"w": [1.0]})], 1, weights="z")
    with pytest.raises(TypeError, match="boolean"):
        reservoir_sample([data], True)
    assert reservoir_sample([data], 0).shape == (0,)
