"""Public weighted and stratified sampling, and the stratified split."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.model_selection import train_test_split as sklearn_split

from skfast._trace import trace_kernels
from skfast.model_selection import train_test_split
from skfast.sampling import stratified_sample, weighted_sample

polars = pytest.importorskip("polars")


def containers(values):
    frame = pd.DataFrame({"a": values, "b": values * 10})
    return {
        "numpy": frame.to_numpy(),
        "pandas": frame,
        "polars": polars.from_pandas(frame),
        "pyarrow": pa.Table.from_pandas(frame, preserve_index=False),
    }


def as_numpy(data):
    if isinstance(data, pd.DataFrame):
        return data.to_numpy()
    if isinstance(data, polars.DataFrame):
        return data.to_numpy()
    if isinstance(data, pa.Table):
        return data.to_pandas().to_numpy()
    return np.asarray(data)


def test_weighted_sample_documented_example():
    weights = [0.5, 0.4, 0.1, 0.0]
    rows = weighted_sample(np.arange(4), 3, weights=weights, return_indices=True)

    np.testing.assert_array_equal(rows, [0, 1, 2])
    with pytest.raises(ValueError, match="only 3 of the 4 rows have a positive"):
        weighted_sample(np.arange(4), 4, weights=weights)


@pytest.mark.parametrize(("bad", "position"), [(-1.0, 2), (np.nan, 1), (np.inf, 3)])
def test_weighted_sample_names_the_bad_weight(bad, position):
    weights = np.ones(5)
    weights[position] = bad

    with pytest.raises(ValueError, match=rf"weights\[{position}\] is"):
        weighted_sample(np.arange(5), 2, weights=weights)


def test_weighted_sample_rejects_positional_weights_and_bad_shapes():
    with pytest.raises(TypeError):
        weighted_sample(np.arange(4), 2, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="one weight per row"):
        weighted_sample(np.arange(4), 2, weights=[1, 1, 1])
    with pytest.raises(TypeError, match="must be numeric"):
        weighted_sample(np.arange(2), 1, weights=["a", "b"])


def test_weighted_sample_never_draws_zero_weight_rows():
    weights = np.tile([1.0, 0.0], 500)
    for seed in range(20):
        rows = weighted_sample(
            np.arange(1000),
            500,
            weights=weights,
            random_state=seed,
            return_indices=True,
        )
        assert np.all(rows % 2 == 0)


def test_samples_are_the_same_rows_for_every_container():
    values = np.arange(200)
    weights = np.linspace(0.1, 2, 200)
    strata = values % 7
    results = {}
    for kind, data in containers(values).items():
        weighted = weighted_sample(data, 30, weights=weights, random_state=3)
        stratified = stratified_sample(data, strata, n=40, random_state=3)
        assert type(weighted) is type(data)
        results[kind] = (as_numpy(weighted), as_numpy(stratified))

    for weighted, stratified in results.values():
        np.testing.assert_array_equal(weighted, results["numpy"][0])
        np.testing.assert_array_equal(stratified, results["numpy"][1])


def test_weighted_sample_reads_a_column_by_name():
    frame = pd.DataFrame({"x": np.arange(6), "w": [0, 0, 1, 1, 0, 1.0]})
    sample = weighted_sample(frame, 3, weights="w", random_state=0)

    assert sample["x"].tolist() == [2, 3, 5]
    with pytest.raises(ValueError, match="'v' is not a column"):
        weighted_sample(frame, 3, weights="v")


def test_weighted_sample_shuffle_gives_draw_order():
    rows = weighted_sample(
        np.arange(100),
        100,
        weights=np.ones(100),
        random_state=1,
        shuffle=True,
        return_indices=True,
    )
    assert sorted(rows) == list(range(100))
    assert list(rows) != list(range(100))


def test_stratified_sample_totals_and_floor_per_stratum():
    strata = np.repeat(np.arange(5), [1000, 300, 50, 3, 1])
    share = np.bincount(strata) / len(strata)

    for n, expected in [(5, [1, 1, 1, 1, 1]), (17, [11, 3, 1, 1, 1])]:
        rows = stratified_sample(strata, strata, n=n, return_indices=True)
        np.testing.assert_array_equal(np.bincount(strata[rows]), expected)
    for n in (100, 999):
        rows = stratified_sample(
            strata, strata, n=n, random_state=n, return_indices=True
        )
        counts = np.bincount(strata[rows], minlength=5)
        assert counts.sum() == n
        assert np.all(counts >= 1)
        assert np.all(np.abs(counts - n * share) < 1)
    rows = stratified_sample(strata, strata, n=3, return_indices=True)
    np.testing.assert_array_equal(np.bincount(strata[rows]), [2, 1])


def test_stratified_sample_frac_and_errors():
    strata = np.repeat([0, 1], [90, 10])
    rows = stratified_sample(strata, strata, frac=0.5, return_indices=True)
    np.testing.assert_array_equal(np.bincount(strata[rows]), [45, 5])

    with pytest.raises(ValueError, match="exactly one of n and frac"):
        stratified_sample(strata, strata, n=3, frac=0.1)
    labels = np.array(["a", None, "b"], dtype=object)
    with pytest.raises(ValueError, match="missing value at row 1"):
        stratified_sample(np.arange(3), labels, n=2)


def test_stratified_sample_records_the_native_kernels():
    strata = np.arange(100) % 3
    with trace_kernels() as calls:
        stratified_sample(strata, strata, n=10)
    assert {"cython._sampling.stratified_select", "cython._sampling.allocate"} <= set(
        calls
    )


@pytest.mark.parametrize("seed", range(10))
def test_split_keeps_a_row_of_each_class_on_each_side(seed):
    y = np.array([0] * 8 + [1] * 2)
    y_train, y_test = train_test_split(y, test_size=0.2, stratify=y, random_state=seed)

    np.testing.assert_array_equal(np.bincount(y_test), [1, 1])
    np.testing.assert_array_equal(np.bincount(y_train), [7, 1])


@pytest.mark.parametrize(
    ("test_size", "train_size"),
    [(None, None), (0.3, None), (None, 0.6), (0.25, 0.5), (7, None), (None, 11)],
)
def test_split_sizes_match_scikit_learn(test_size, train_size):
    X = np.arange(97 * 2).reshape(97, 2)
    y = np.arange(97) % 3
    kwargs = {"test_size": test_size, "train_size": train_size, "random_state": 0}

    ours = train_test_split(X, y, stratify=y, **kwargs)
    theirs = sklearn_split(X, y, stratify=y, **kwargs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
    for side in (3, 2):
        our_counts = np.bincount(ours[side], minlength=3)
        their_counts = np.bincount(theirs[side], minlength=3)
        assert np.all(np.abs(our_counts - their_counts) <= 1)


def test_split_is_a_partition_in_input_order():
    X = np.arange(1000)
    y = (X % 10 == 0).astype(int)
    train, test = train_test_split(X, stratify=y, test_size=0.3, random_state=5)

    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == 1000
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.bincount(y[test]).tolist() == [270, 30]


def test_split_without_shuffle_and_its_errors():
    X = np.arange(10)
    train, test = train_test_split(X, test_size=0.3, shuffle=False)
    np.testing.assert_array_equal(test, [7, 8, 9])

    with pytest.raises(ValueError, match="stratify needs shuffle=True"):
        train_test_split(X, shuffle=False, stratify=X % 2)
    with pytest.raises(ValueError, match=r"different numbers of rows \[10, 5\]"):
        train_test_split(X, X[:5])
    with pytest.raises(ValueError, match="add up to more than"):
        train_test_split(X, test_size=6, train_size=5)


@pytest.mark.parametrize(
    ("floor", "expected"),
    [(1, [10, 1, 1]), (4, [4, 4, 4]), (5, [4, 4, 4]), (10, [4, 4, 4])],
)
def test_floor_per_stratum_never_empties_a_stratum(floor, expected):
    strata = np.repeat([0, 1, 2], [900, 90, 10])
    rows = stratified_sample(
        strata, strata, n=12, min_per_stratum=floor, return_indices=True
    )
    np.testing.assert_array_equal(np.bincount(strata[rows], minlength=3), expected)


def test_a_boolean_count_is_refused():
    with pytest.raises(TypeError, match="boolean"):
        weighted_sample(np.arange(4), True, weights=np.ones(4))
    with pytest.raises(TypeError, match="boolean"):
        stratified_sample(np.arange(4), np.arange(4) % 2, n=True)
