"""Tests of SMOTE: parity with imbalanced-learn, geometry, API, kernels."""

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn import over_sampling as imb_over_sampling
from imblearn.pipeline import Pipeline
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as parametrize_with_sampler_checks,
)
from scipy import sparse
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestNeighbors as SkNearestNeighbors
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfast._trace import trace_kernels
from skfast.neighbors import NearestNeighbors
from skfast.over_sampling import SMOTE

EXPECTED_FAILED_CHECKS = {
    "check_samplers_pandas_sparse": (
        "a DataFrame of sparse columns is sparse input, which SMOTE rejects "
        "until the sparse neighbour search exists (issue #4)"
    ),
}


def binary_data(dtype=np.float64):
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        weights=[0.85],
        flip_y=0,
        random_state=0,
    )
    return X.astype(dtype), y


def three_class_data(dtype=np.float64):
    X, y = make_classification(
        n_samples=400,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        weights=[0.6, 0.3, 0.1],
        flip_y=0,
        random_state=1,
    )
    return X.astype(dtype), y


PARITY_CASES = {
    "binary auto": (binary_data, "auto"),
    "binary float": (binary_data, 0.6),
    "binary minority": (binary_data, "minority"),
    "binary dict": (binary_data, {1: 200}),
    "3-class auto": (three_class_data, "auto"),
    "3-class minority": (three_class_data, "minority"),
    "3-class not majority": (three_class_data, "not majority"),
    "3-class dict": (three_class_data, {1: 150, 2: 100}),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", PARITY_CASES)
def test_equals_imbalanced_learn_bit_for_bit(case, dtype):
    make_data, strategy = PARITY_CASES[case]
    X, y = make_data(dtype)
    params = dict(sampling_strategy=strategy, random_state=42, k_neighbors=4)

    X_res, y_res = SMOTE(**params).fit_resample(X, y)
    X_imb, y_imb = imb_over_sampling.SMOTE(**params).fit_resample(X, y)

    assert X_res.dtype == X_imb.dtype == dtype
    np.testing.assert_array_equal(X_res, X_imb)
    np.testing.assert_array_equal(y_res, y_imb)


def test_equals_imbalanced_learn_with_a_shared_random_state():
    # A RandomState instance advances from one class to the next.
    X, y = three_class_data()

    X_res, y_res = SMOTE(random_state=np.random.RandomState(3)).fit_resample(X, y)
    X_imb, y_imb = imb_over_sampling.SMOTE(
        random_state=np.random.RandomState(3)
    ).fit_resample(X, y)

    np.testing.assert_array_equal(X_res, X_imb)
    np.testing.assert_array_equal(y_res, y_imb)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_features_equal_imbalanced_learn(dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(-50, 50, size=(200, 4)).astype(dtype)
    y = np.r_[np.zeros(160, dtype=int), np.ones(40, dtype=int)]

    X_res, y_res = SMOTE(random_state=1).fit_resample(X, y)
    X_imb, y_imb = imb_over_sampling.SMOTE(random_state=1).fit_resample(X, y)

    assert X_res.dtype == dtype
    np.testing.assert_array_equal(X_res, X_imb)
    np.testing.assert_array_equal(y_res, y_imb)


@pytest.mark.parametrize(
    "k_neighbors",
    [SkNearestNeighbors(n_neighbors=4), NearestNeighbors(n_neighbors=4)],
    ids=["scikit-learn", "skfast"],
)
def test_neighbours_estimator_as_k_neighbors(k_neighbors):
    X, y = binary_data()

    smote = SMOTE(random_state=0, k_neighbors=k_neighbors)
    X_res, y_res = smote.fit_resample(X, y)
    X_imb, _ = imb_over_sampling.SMOTE(
        random_state=0, k_neighbors=SkNearestNeighbors(n_neighbors=4)
    ).fit_resample(X, y)

    assert smote.nn_k_ is not k_neighbors
    assert smote.nn_k_.n_neighbors == 4
    np.testing.assert_array_equal(X_res, X_imb)


def test_fitted_attributes():
    X, y = three_class_data()

    smote = SMOTE(k_neighbors=3).fit(X, y)
    assert smote.sampling_strategy_ == {1: 120, 2: 200}

    smote.fit_resample(X, y)
    assert isinstance(smote.nn_k_, NearestNeighbors)
    assert smote.nn_k_.n_neighbors == 4
    assert smote.n_features_in_ == 5


def test_dataframe_keeps_column_names_and_series_name():
    X, y = binary_data()
    X_df = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    y_s = pd.Series(y, name="target")

    X_res, y_res = SMOTE(random_state=0).fit_resample(X_df, y_s)
    X_arr, y_arr = SMOTE(random_state=0).fit_resample(X, y)

    assert isinstance(X_res, pd.DataFrame)
    assert isinstance(y_res, pd.Series)
    assert list(X_res.columns) == list(X_df.columns)
    assert y_res.name == "target"
    np.testing.assert_array_equal(X_res.to_numpy(), X_arr)
    np.testing.assert_array_equal(y_res.to_numpy(), y_arr)


def reference_neighbors(X, n_neighbors):
    """Each row's nearest other rows, from the full distance matrix."""
    sq_dist = ((X[:, np.newaxis, :] - X[np.newaxis, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(sq_dist, np.inf)
    return np.argsort(sq_dist, axis=1, kind="stable")[:, :n_neighbors]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_new_rows_lie_between_a_seed_and_one_of_its_neighbours(dtype):
    X, y = three_class_data(dtype)
    k_neighbors = 4

    X_res, y_res = SMOTE(random_state=5, k_neighbors=k_neighbors).fit_resample(X, y)

    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    for label, n_new in {1: 120, 2: 200}.items():
        new = X_res[len(X) :][y_res[len(y) :] == label].astype(np.float64)
        assert len(new) == n_new

        samples = X[y == label].astype(np.float64)
        neighbors = reference_neighbors(samples, k_neighbors)
        seeds = np.repeat(samples, k_neighbors, axis=0)
        ends = samples[neighbors.ravel()]

        # Project each new row on every (seed, neighbour) segment.
        direction = ends - seeds
        offset = new[:, np.newaxis, :] - seeds[np.newaxis, :, :]
        t = (offset * direction).sum(-1) / (direction**2).sum(-1)
        gap = offset - t[..., np.newaxis] * direction
        on_segment = (np.abs(gap).max(-1) <= 1e-5) & (t >= -1e-6) & (t <= 1 + 1e-6)
        assert on_segment.any(axis=1).all()


def test_same_seed_reproduces_and_another_seed_differs():
    X, y = binary_data()

    first = SMOTE(random_state=7).fit_resample(X, y)[0]
    again = SMOTE(random_state=7).fit_resample(X, y)[0]
    other = SMOTE(random_state=8).fit_resample(X, y)[0]

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_class_too_small_for_k_neighbors_raises_before_any_search():
    X = np.random.default_rng(0).random((13, 2))
    y = np.array([0] * 10 + [1] * 3)

    with trace_kernels() as calls:
        with pytest.raises(
            ValueError,
            match=r"Class 1 has 3 samples, but SMOTE with k_neighbors=5 needs 6 ",
        ):
            SMOTE(k_neighbors=5).fit_resample(X, y)
    assert not calls

    _, y_res = SMOTE(k_neighbors=2, random_state=0).fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [10, 10]


def test_class_too_small_for_a_neighbours_estimator_raises():
    X = np.random.default_rng(0).random((13, 2))
    y = np.array(["a"] * 10 + ["b"] * 3)

    with pytest.raises(ValueError, match=r"Class 'b' has 3 samples.*n_neighbors=6"):
        SMOTE(k_neighbors=NearestNeighbors(n_neighbors=6)).fit_resample(X, y)


def test_sparse_input_is_refused_with_the_reason():
    X, y = binary_data()

    with pytest.raises(TypeError, match=r"sparse input is not implemented yet.*#4"):
        SMOTE().fit_resample(sparse.csr_matrix(X), y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(k_neighbors=0), "k_neighbors"),
        (dict(k_neighbors="five"), "k_neighbors"),
        (dict(sampling_strategy="most"), "sampling_strategy"),
    ],
)
def test_invalid_parameters_raise(params, match):
    X, y = binary_data()

    with pytest.raises(ValueError, match=match):
        SMOTE(**params).fit_resample(X, y)


def test_inside_an_imbalanced_learn_pipeline():
    X, y = binary_data()
    pipeline = Pipeline(
        [("smote", SMOTE(random_state=0)), ("lr", LogisticRegression())]
    )

    predictions = pipeline.fit(X, y).predict(X)
    scores = cross_val_score(pipeline, X, y, cv=3, scoring="balanced_accuracy")

    assert predictions.shape == y.shape
    assert set(predictions) == {0, 1}
    assert scores.shape == (3,)
    assert (scores > 0.7).all()


def test_each_class_runs_one_search_and_one_synthesis():
    X, y = three_class_data()

    with trace_kernels() as calls:
        SMOTE(random_state=0).fit_resample(X, y)

    assert calls == {"numba._knn.kneighbors": 2, "numba._smote.interpolate": 2}


def test_counts_follow_the_strategy():
    X, y = three_class_data()

    _, y_res = SMOTE(random_state=0, sampling_strategy="minority").fit_resample(X, y)

    assert Counter(y_res) == {0: 240, 1: 120, 2: 240}


def test_importing_does_not_import_numba():
    code = (
        "import sys; import skfast, skfast.neighbors, skfast.over_sampling; "
        "assert 'numba' not in sys.modules, 'numba imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


CACHE_SCRIPT = """
import json, sys
import numpy as np
from skfast.neighbors import kneighbors
from skfast.over_sampling import SMOTE
from skfast._kernels import _knn, _smote

rng = np.random.default_rng(0)
X = rng.standard_normal((120, 4))
y = np.r_[np.zeros(90, dtype=int), np.ones(30, dtype=int)]
X_res, _ = SMOTE(random_state=0).fit_resample(X, y)
grid = rng.integers(0, 3, size=(100, 3)).astype(np.float64)
_, ind = kneighbors(grid, n_neighbors=20)

kernels = [
    _knn.search_tiles, _knn.rerank_candidates, _knn.exact_search_rows,
    _smote.interpolate,
]
np.save(sys.argv[1], X_res)
np.save(sys.argv[2], ind)
print(json.dumps({
    "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
    "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels),
}))
"""


def test_parallel_kernel_cache_reloads(tmp_path):
    # The parallel kernels are compiled with cache=True. A first process
    # fills an empty cache, a second must load every kernel from it and
    # compute the same results.
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = []
    for run in ("first", "second"):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CACHE_SCRIPT,
                str(tmp_path / f"{run}_smote.npy"),
                str(tmp_path / f"{run}_knn.npy"),
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))

    assert runs[0] == {"hits": 0, "misses": 4}
    assert runs[1] == {"hits": 4, "misses": 0}
    for name in ("smote", "knn"):
        np.testing.assert_array_equal(
            np.load(tmp_path / f"first_{name}.npy"),
            np.load(tmp_path / f"second_{name}.npy"),
        )

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = np.r_[np.zeros(90, dtype=int), np.ones(30, dtype=int)]
    X_imb, _ = imb_over_sampling.SMOTE(random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(np.load(tmp_path / "second_smote.npy"), X_imb)


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    [SMOTE(random_state=0)], expected_failed_checks=_expected_failed_checks
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@parametrize_with_sampler_checks(
    [SMOTE(random_state=0)], expected_failed_checks=_expected_failed_checks
)
def test_imbalanced_learn_sampler_checks(estimator, check):
    check(estimator)


def test_boolean_features_are_refused_with_the_fix():
    X = np.random.default_rng(0).random((40, 3)) > 0.5
    y = np.r_[np.zeros(30), np.ones(10)]
    with pytest.raises(TypeError, match=r"booleans.*astype\(float\)"):
        SMOTE(random_state=0).fit_resample(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_interpolate_kernel_matches_numpy_reference(dtype):
    from skfast._kernels import _smote

    rng = np.random.default_rng(5)
    samples = rng.normal(size=(60, 7)).astype(dtype)
    neighbors = rng.integers(0, 60, size=(60, 4)).astype(np.intp)
    rows = rng.integers(0, 60, size=500).astype(np.intp)
    cols = rng.integers(0, 4, size=500).astype(np.intp)
    steps = rng.uniform(size=500)
    out = np.empty((500, 7), dtype=dtype)

    _smote.interpolate(samples, neighbors, rows, cols, steps, out)

    diff = samples[neighbors[rows, cols]] - samples[rows]
    expected = (samples[rows] + steps[:, np.newaxis] * diff).astype(dtype)
    np.testing.assert_array_equal(out, expected)
