"""Tests of the blocked exact k-nearest-neighbour search and its estimator."""

import numba
import numpy as np
import pytest
from scipy import sparse
from sklearn import neighbors as sk_neighbors
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfast._trace import trace_kernels
from skfast.neighbors import NearestNeighbors, _base, kneighbors


def reference_kneighbors(X, Y, n_neighbors):
    """Plain NumPy neighbours: full distance matrix, lexsort by (distance, index).

    Squared differences are summed in feature order in float64, the same
    operations as the kernels, so distances must match to the last bit.
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    sq_dist = np.zeros((X.shape[0], Y.shape[0]))
    for f in range(X.shape[1]):
        sq_dist += (X[:, f, np.newaxis] - Y[np.newaxis, :, f]) ** 2

    index = np.broadcast_to(np.arange(Y.shape[0]), sq_dist.shape)
    order = np.lexsort((index, sq_dist), axis=-1)[:, :n_neighbors]
    return np.sqrt(np.take_along_axis(sq_dist, order, axis=1)), order


def assert_same_neighbors(dist, ind, ref_dist, ref_ind, rtol=1e-6):
    """Distances equal to ``rtol``; index sets equal apart from boundary ties.

    Neighbours whose distance ties, within the tolerance, with the last
    neighbour of their row may legitimately differ between two searches.
    """
    scale = max(float(np.max(ref_dist)), 1.0)
    np.testing.assert_allclose(dist, ref_dist, rtol=rtol, atol=rtol * scale)

    for row in range(ref_ind.shape[0]):
        last = ref_dist[row, -1] - rtol * scale
        sure = set(ind[row][dist[row] < last])
        assert sure == set(ref_ind[row][ref_dist[row] < last])


def assert_exact(X, Y, n_neighbors, dist, ind):
    ref_dist, ref_ind = reference_kneighbors(X, Y, n_neighbors)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist.astype(dist.dtype))


def _knn_module():
    """The kernel module, imported where a test needs it."""
    from skfast._kernels import _knn

    return _knn


@pytest.fixture
def small_tiles(monkeypatch):
    """Force tiles of at most 16 x 37 products, so that searches span many."""
    monkeypatch.setattr(_base, "_TILE_COLS", 37)
    monkeypatch.setattr(_base, "_TILE_BYTES", 16 * 37 * 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_neighbors", [1, 5, 20])
@pytest.mark.parametrize("tiles", ["one tile", "many tiles"])
def test_matches_numpy_reference(dtype, n_neighbors, tiles, request):
    if tiles == "many tiles":
        request.getfixturevalue("small_tiles")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 7)).astype(dtype)
    Y = rng.standard_normal((300, 7)).astype(dtype)

    dist, ind = kneighbors(X, Y, n_neighbors=n_neighbors)

    assert dist.dtype == dtype
    assert ind.dtype == np.intp
    assert dist.shape == ind.shape == (150, n_neighbors)
    assert_exact(X, Y, n_neighbors, dist, ind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_self_query_finds_each_row_first(dtype):
    X = np.random.default_rng(1).random((200, 5)).astype(dtype)

    dist, ind = kneighbors(X, n_neighbors=4)

    np.testing.assert_array_equal(ind[:, 0], np.arange(200))
    np.testing.assert_array_equal(dist[:, 0], 0)
    assert_exact(X, X, 4, dist, ind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_duplicate_rows_tie_by_lower_index(dtype, small_tiles):
    # Five copies of each of 40 rows, shuffled: every query has ties at
    # distance 0 and ties further out.
    rng = np.random.default_rng(2)
    X = np.repeat(rng.random((40, 3)), 5, axis=0)[rng.permutation(200)]
    X = X.astype(dtype)

    dist, ind = kneighbors(X, n_neighbors=8)

    assert_exact(X, X, 8, dist, ind)
    duplicates = np.flatnonzero((X == X[7]).all(axis=1))
    np.testing.assert_array_equal(ind[7, :5], duplicates)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_beyond_the_slack_fall_back_to_an_exact_scan(dtype, monkeypatch):
    # On a 3 x 3 x 3 integer grid with 300 rows, each query has dozens of
    # references tied at its last neighbour's distance, more than the
    # candidates kept: the rows must be searched exactly.
    X = np.random.default_rng(3).integers(0, 3, size=(300, 3)).astype(dtype)
    rows_searched = []
    exact_search_rows = _knn_module().exact_search_rows

    def spy(queries, refs, rows, cand_index, cand_sq_dist):
        rows_searched.append(rows.size)
        exact_search_rows(queries, refs, rows, cand_index, cand_sq_dist)

    monkeypatch.setattr(_knn_module(), "exact_search_rows", spy)
    dist, ind = kneighbors(X, n_neighbors=20)

    assert rows_searched and rows_searched[0] > 0
    assert_exact(X, X, 20, dist, ind)


def test_well_separated_data_needs_no_exact_scan(monkeypatch):
    def fail(*args):
        raise AssertionError("exact scan used on data without near ties")

    monkeypatch.setattr(_knn_module(), "exact_search_rows", fail)
    X = np.random.default_rng(4).standard_normal((500, 16)).astype(np.float32)

    kneighbors(X, n_neighbors=6)


@pytest.mark.parametrize("n_refs", [1, 3, 13])
def test_n_neighbors_equal_to_the_number_of_references(n_refs, small_tiles):
    # 13 references: fewer than n_neighbors plus the slack of candidates.
    rng = np.random.default_rng(5)
    X, Y = rng.random((30, 4)), rng.random((n_refs, 4))

    dist, ind = kneighbors(X, Y, n_neighbors=n_refs)

    all_refs = np.tile(np.arange(n_refs), (30, 1))
    np.testing.assert_array_equal(np.sort(ind, axis=1), all_refs)
    assert_exact(X, Y, n_refs, dist, ind)


def test_float32_far_from_the_origin_is_exact():
    # Spread 1 around 1e4: float32 products lose the neighbours, but the
    # centring and the float64 re-rank recover them.
    rng = np.random.default_rng(6)
    X = (rng.random((2000, 8)) + 1e4).astype(np.float32)

    dist, ind = kneighbors(X, n_neighbors=5)
    assert_exact(X, X, 5, dist, ind)

    # The identity alone, in float32, does get neighbours wrong on this data.
    norms = np.einsum("ij,ij->i", X, X)
    naive = norms[:, np.newaxis] + norms[np.newaxis, :] - 2 * X @ X.T
    naive_ind = np.argsort(naive, axis=1, kind="stable")[:, :5]
    assert not np.array_equal(naive_ind, ind)


def test_invariant_to_tiles_dtype_order_readonly_and_threads(monkeypatch):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 9))
    expected_dist, expected_ind = kneighbors(X, n_neighbors=6)

    read_only = X.copy()
    read_only.flags.writeable = False
    variants = {
        "float32": X.astype(np.float32),
        "fortran": np.asfortranarray(X),
        "read-only": read_only,
    }
    for name, data in variants.items():
        dist, ind = kneighbors(data, n_neighbors=6)
        np.testing.assert_array_equal(ind, expected_ind, err_msg=name)
        np.testing.assert_allclose(dist, expected_dist, rtol=1e-6, err_msg=name)

    monkeypatch.setattr(_base, "_TILE_COLS", 11)
    monkeypatch.setattr(_base, "_TILE_BYTES", 3 * 11 * 8)
    tiled_dist, tiled_ind = kneighbors(X, n_neighbors=6)
    np.testing.assert_array_equal(tiled_ind, expected_ind)
    np.testing.assert_array_equal(tiled_dist, expected_dist)

    n_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one_thread = kneighbors(X, n_neighbors=6)
    finally:
        numba.set_num_threads(n_threads)
    np.testing.assert_array_equal(one_thread[1], expected_ind)
    np.testing.assert_array_equal(one_thread[0], expected_dist)


def test_integer_input_is_searched_in_float64():
    X = np.random.default_rng(8).integers(-100, 100, size=(100, 3))

    dist, ind = kneighbors(X, n_neighbors=3)

    assert dist.dtype == np.float64
    assert_exact(X, X, 3, dist, ind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agrees_with_scikit_learn_brute_force(dtype):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((600, 12)).astype(dtype)
    X[100:110] = X[0]
    Q = rng.standard_normal((50, 12)).astype(dtype)
    sk = sk_neighbors.NearestNeighbors(n_neighbors=5, algorithm="brute").fit(X)

    for query in (Q, X):
        dist, ind = kneighbors(query, X, n_neighbors=5)
        assert_same_neighbors(dist, ind, *sk.kneighbors(query))

    ours = NearestNeighbors(n_neighbors=5).fit(X)
    assert_same_neighbors(*ours.kneighbors(), *sk.kneighbors())
    assert_same_neighbors(*ours.kneighbors(Q), *sk.kneighbors(Q))


def test_estimator_without_query_leaves_each_row_out():
    X = np.array([[0.0], [1.0], [3.0], [7.0]])

    dist, ind = NearestNeighbors(n_neighbors=2).fit(X).kneighbors()

    np.testing.assert_array_equal(ind, [[1, 2], [0, 2], [1, 0], [2, 1]])
    np.testing.assert_array_equal(dist, [[1, 3], [1, 2], [2, 3], [4, 6]])


def test_estimator_with_more_duplicates_than_neighbours():
    # Rows 0 to 3 coincide. Row 3 finds rows 0, 1, 2 before itself and, as
    # in scikit-learn, drops its first neighbour instead of itself.
    X = np.array([[0.0, 0.0]] * 4 + [[5.0, 5.0]])
    nn = NearestNeighbors(n_neighbors=2).fit(X)

    ind = nn.kneighbors(return_distance=False)

    np.testing.assert_array_equal(ind, [[1, 2], [0, 2], [0, 1], [1, 2], [0, 1]])


def test_estimator_returns_explicit_queries_with_themselves():
    X = np.random.default_rng(10).random((50, 3))
    nn = NearestNeighbors(n_neighbors=3).fit(X)

    ind = nn.kneighbors(X, return_distance=False)

    np.testing.assert_array_equal(ind[:, 0], np.arange(50))
    nearest = nn.kneighbors(X, n_neighbors=1, return_distance=False)
    np.testing.assert_array_equal(nearest[:, 0], np.arange(50))


INVALID_CALLS = {
    "zero neighbours": (
        lambda X: kneighbors(X, n_neighbors=0),
        ValueError,
        r"n_neighbors=0 is out of range.*between 1 and 10",
    ),
    "more neighbours than rows": (
        lambda X: kneighbors(X, n_neighbors=11),
        ValueError,
        r"n_neighbors=11 is out of range: there are 10 reference rows",
    ),
    "float neighbours": (
        lambda X: kneighbors(X, n_neighbors=2.0),
        TypeError,
        r"n_neighbors=2.0 is not an integer",
    ),
    "feature mismatch": (
        lambda X: kneighbors(X, X[:, :2]),
        ValueError,
        "X has 3 features but Y has 2",
    ),
    "sparse": (
        lambda X: kneighbors(sparse.csr_matrix(X)),
        TypeError,
        r"sparse matrix.*not implemented yet \(issue #4\)",
    ),
    "one-dimensional": (lambda X: kneighbors(X[0]), ValueError, "2D array"),
    "estimator without query, all rows": (
        lambda X: NearestNeighbors(n_neighbors=10).fit(X).kneighbors(),
        ValueError,
        r"n_neighbors=10 is out of range.*between 1 and 9",
    ),
}


@pytest.mark.parametrize("case", INVALID_CALLS)
def test_invalid_input_raises_with_the_fix(case):
    call, error, match = INVALID_CALLS[case]
    X = np.random.default_rng(11).random((10, 3))

    with pytest.raises(error, match=match):
        call(X)


def test_non_finite_input_raises():
    X = np.random.default_rng(12).random((10, 3))
    X[4, 1] = np.nan

    with pytest.raises(ValueError, match="NaN"):
        kneighbors(X)


def test_each_search_is_traced_once():
    X = np.random.default_rng(13).random((40, 3))

    with trace_kernels() as calls:
        kneighbors(X, n_neighbors=2)
        NearestNeighbors(n_neighbors=2).fit(X).kneighbors()

    assert calls == {"numba._knn.kneighbors": 2}


@parametrize_with_checks([NearestNeighbors()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
