"""Exact Euclidean k-nearest neighbours: the dispatcher and the estimator.

:func:`kneighbors` validates its input once, picks the float32 or float64
kernels and prepares the blocked search of :mod:`skfast._kernels._knn`. The
reference rows are centred on their mean: a translation leaves distances
unchanged but keeps float32 products accurate for data far from the origin.
The kernel walks tiles of query rows over tiles of reference rows, computes
each tile's products with BLAS and keeps the ``n_neighbors + slack`` best
candidates of each query row; memory stays bounded by one tile per thread.
A second kernel recomputes the candidates' distances exactly in float64 and
orders them by (distance, index), so float32 input gets the exact
neighbours too.

Only dense input and the Euclidean metric are supported so far; other
metrics, sparse input and the CUDA kernels are issue #4."""

import functools
import logging
import numbers

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from skfast import _trace

logger = logging.getLogger(__name__)

# Extra candidates kept per query row beyond ``n_neighbors``, so that the
# neighbours the matrix-product identity ranks slightly wrong still reach the
# exact re-rank; rows where that is not certain are searched exactly.
_SLACK = 4

# Bytes of one tile of products; each thread fills and scans one tile at a
# time, which should stay in its core's cache.
_TILE_BYTES = 2**20

# Reference rows per tile: enough columns for BLAS to run at full speed.
_TILE_COLS = 512

# Query tiles per thread, at least, so that threads share the work evenly.
_TILES_PER_THREAD = 4

_SPARSE_MESSAGE = (
    "{name} is a sparse matrix, but the neighbour search only accepts dense "
    "arrays: the blocked kernels compute products of dense tiles, and the "
    "sparse kernels are not implemented yet (issue #4). Densify {name} with "
    "its .toarray() method if it fits in memory."
)


def _check_points(X, name):
    """Return ``X`` as a finite, C-ordered, writeable float32 or float64 array."""
    if sparse.issparse(X):
        raise TypeError(_SPARSE_MESSAGE.format(name=name))

    X = check_array(X, dtype=[np.float64, np.float32], order="C", input_name=name)

    # numba compiles a separate specialisation for read-only arrays; copying
    # the input is cheaper than that second compilation.
    if not X.flags.writeable:
        X = X.copy()
    return X


def _check_n_neighbors(n_neighbors, n_refs, what="reference rows"):
    """Check that ``1 <= n_neighbors <= n_refs``."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
        raise TypeError(
            f"n_neighbors={n_neighbors!r} is not an integer; pass an int "
            f"between 1 and the number of {what} ({n_refs})."
        )

    if not 1 <= n_neighbors <= n_refs:
        raise ValueError(
            f"n_neighbors={n_neighbors} is out of range: there are {n_refs} "
            f"{what}, so pass an n_neighbors between 1 and {n_refs}."
        )


def _tile_shape(n_queries, n_refs, itemsize, n_threads):
    """Rows and columns of one tile of products, at most ``_TILE_BYTES``."""
    tile_cols = min(n_refs, _TILE_COLS)
    tile_rows = max(1, _TILE_BYTES // (itemsize * tile_cols))
    balanced_rows = -(-n_queries // (_TILES_PER_THREAD * n_threads))
    return max(1, min(tile_rows, balanced_rows)), tile_cols


@functools.cache
def _blas_controller():
    """A thread-pool controller that sees the BLAS numba's ``np.dot`` calls."""
    # numba routes np.dot to SciPy's BLAS; load it before the controller
    # looks for the BLAS libraries of the process.
    import scipy.linalg.cython_blas  # noqa: F401

    return ThreadpoolController()


def _blocked_kneighbors(X, Y, n_neighbors):
    """Exact Euclidean neighbours of the rows of ``X`` among the rows of ``Y``.

    ``X`` and ``Y`` must be validated: C-ordered, writeable, finite and of
    the same float dtype; ``Y`` may be ``X`` itself. Returns the float64
    squared distances and the indices, both of shape
    ``(n_queries, n_neighbors)``, sorted by (distance, index).
    """
    import numba

    from skfast._kernels import _knn

    dtype = X.dtype
    n_queries, n_refs = X.shape[0], Y.shape[0]
    n_candidates = min(n_neighbors + _SLACK, n_refs)
    tile_rows, tile_cols = _tile_shape(
        n_queries, n_refs, dtype.itemsize, numba.get_num_threads()
    )
    logger.debug(
        "kneighbors: %d queries, %d references, %s, tiles of %d x %d",
        n_queries,
        n_refs,
        dtype,
        tile_rows,
        tile_cols,
    )

    center = Y.mean(axis=0, dtype=np.float64).astype(dtype)
    refs = Y - center
    queries = -2 * (refs if X is Y else X - center)
    ref_sq_norms = np.einsum("ij,ij->i", refs, refs)

    cand_value = np.full((n_queries, n_candidates), np.inf, dtype=dtype)
    cand_index = np.empty((n_queries, n_candidates), dtype=np.intp)

    # Each thread computes its own tile products, so BLAS must not start
    # threads of its own (see the module docstring of the kernels). The limit
    # holds for the whole process while the search runs.
    with _blas_controller().limit(limits=1, user_api="blas"):
        _knn.search_tiles(
            queries, refs, ref_sq_norms, tile_rows, tile_cols, cand_value, cand_index
        )

    cand_sq_dist = np.empty((n_queries, n_candidates), dtype=np.float64)
    _knn.rerank_candidates(X, Y, cand_index, cand_sq_dist)

    if n_candidates < n_refs:
        uncertain = _uncertain_rows(
            queries, cand_value[:, -1], cand_sq_dist[:, n_neighbors - 1]
        )
        if uncertain.size:
            logger.debug("kneighbors: %d rows searched exactly", uncertain.size)
            _knn.exact_search_rows(X, Y, uncertain, cand_index, cand_sq_dist)

    return cand_sq_dist[:, :n_neighbors], cand_index[:, :n_neighbors]


def _uncertain_rows(queries, threshold, kth_sq_dist):
    """Rows where a reference left out might tie with or beat the last neighbour.

    A reference ``r`` is left out of a row's candidates only if its value
    ``||r||^2 - 2 q . r``, as computed on the centred rows, is at least the
    row's ``threshold`` (the value of its last candidate). Only references
    with ``||r|| <= ||q|| + 2 sqrt(d_k)``, ``d_k`` the row's k-th squared
    distance, could come as close as ``d_k``: the others are farther by the
    triangle inequality. For those, the value's error is at most
    ``8 (n_features + 8) eps (||q|| + sqrt(d_k))^2``, a generous multiple of
    the rounding bound of the products, the norms and the centring; so the
    row is certain when ``threshold + ||q||^2`` minus that bound exceeds
    ``d_k``.
    """
    n_features = queries.shape[1]
    eps = np.finfo(queries.dtype).eps

    # queries holds the centred query rows multiplied by -2.
    q_norms = np.sqrt(np.einsum("ij,ij->i", queries, queries, dtype=np.float64)) / 2
    error = 8 * (n_features + 8) * eps * (q_norms + np.sqrt(kth_sq_dist)) ** 2

    lowest_left_out = threshold.astype(np.float64) + q_norms**2 - error
    return np.flatnonzero(lowest_left_out <= kth_sq_dist)


def _search(X, Y, n_neighbors, return_distance):
    """Run the search on validated arrays; ``Y`` may be ``X`` itself."""
    if X is not Y and X.dtype != Y.dtype:
        dtype = np.result_type(X, Y)
        X, Y = X.astype(dtype, copy=False), Y.astype(dtype, copy=False)

    _trace.record("numba._knn.kneighbors")
    sq_dist, indices = _blocked_kneighbors(X, Y, n_neighbors)

    indices = np.ascontiguousarray(indices)
    if not return_distance:
        return indices
    return np.sqrt(sq_dist).astype(X.dtype), indices


def kneighbors(X, Y=None, n_neighbors=5, *, return_distance=True):
    """Find the exact Euclidean nearest neighbours of each row of ``X``.

    The search is blocked: memory stays bounded by one tile of products,
    whatever the number of rows. float32 input is searched in float32, yet
    every distance is recomputed in float64 before ranking, so the
    neighbours are exact and ties go to the lower index.

    Parameters
    ----------
    X : array-like of shape (n_queries, n_features)
        The query points. float32 stays float32; other dtypes are converted
        to float64.
    Y : array-like of shape (n_refs, n_features), default=None
        The reference points among which neighbours are searched. ``None``
        searches ``X`` among its own rows, so that each row is usually its
        own first neighbour, at distance 0.
    n_neighbors : int, default=5
        Number of neighbours of each query point, between 1 and ``n_refs``.
    return_distance : bool, default=True
        Whether to return the distances as well as the indices.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors)
        Euclidean distance to each neighbour, in increasing order, of the
        dtype of the search (float32 or float64). Only returned when
        ``return_distance=True``.
    indices : ndarray of shape (n_queries, n_neighbors), dtype=intp
        Row indices of the neighbours in ``Y``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.neighbors import kneighbors
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    >>> distances, indices = kneighbors(X, n_neighbors=2)
    >>> indices
    array([[0, 1],
           [1, 0],
           [2, 1]])
    >>> distances[:, 1]
    array([1., 1., 2.])
    """
    X = _check_points(X, "X")
    Y = X if Y is None else _check_points(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; pass query "
            "and reference points with the same features."
        )
    _check_n_neighbors(n_neighbors, Y.shape[0])

    return _search(X, Y, n_neighbors, return_distance)


class NearestNeighbors(BaseEstimator):
    """Exact Euclidean nearest neighbours on the blocked Numba kernels.

    A small counterpart of :class:`sklearn.neighbors.NearestNeighbors` with
    ``algorithm="brute"`` and the Euclidean metric: ``fit`` stores the
    points, :meth:`kneighbors` searches them with :func:`kneighbors`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by :meth:`kneighbors` by default.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``; only defined when ``X``
        has feature names that are all strings.
    n_samples_fit_ : int
        Number of points stored by ``fit``.

    See Also
    --------
    kneighbors : The function this estimator calls.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.neighbors import NearestNeighbors
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    >>> nn = NearestNeighbors(n_neighbors=1).fit(X)
    >>> nn.kneighbors(return_distance=False)
    array([[1],
           [0],
           [1]])
    >>> nn.kneighbors([[2.6, 0.0]])
    (array([[0.4]]), array([[2]]))
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the points to search.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The points. float32 stays float32; other dtypes are converted to
            float64.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : NearestNeighbors
            The fitted estimator.
        """
        if sparse.issparse(X):
            raise TypeError(_SPARSE_MESSAGE.format(name="X"))

        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C")
        self._fit_X = X if X.flags.writeable else X.copy()
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest stored points of each query point.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            The query points. ``None`` queries the stored points, and then a
            point is not counted as its own neighbour.
        n_neighbors : int, default=None
            Number of neighbours; ``None`` uses the ``n_neighbors`` given at
            construction.
        return_distance : bool, default=True
            Whether to return the distances as well as the indices.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Euclidean distance to each neighbour, in increasing order. Only
            returned when ``return_distance=True``.
        indices : ndarray of shape (n_queries, n_neighbors), dtype=intp
            Indices of the neighbours among the stored points.
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        query_is_train = X is None

        if query_is_train:
            _check_n_neighbors(
                n_neighbors,
                self.n_samples_fit_ - 1,
                "stored points besides the query point itself",
            )
            X = self._fit_X
            n_neighbors += 1
        else:
            if sparse.issparse(X):
                raise TypeError(_SPARSE_MESSAGE.format(name="X"))
            X = validate_data(
                self, X, dtype=[np.float64, np.float32], order="C", reset=False
            )
            _check_n_neighbors(n_neighbors, self.n_samples_fit_, "stored points")

        results = _search(X, self._fit_X, n_neighbors, return_distance)
        if not query_is_train:
            return results
        return _drop_self(results, return_distance)


def _drop_self(results, return_distance):
    """Remove each query row's own index from its neighbours.

    A row whose duplicates fill all its neighbour slots does not find itself;
    it drops its first neighbour instead, as scikit-learn does.
    """
    distances, indices = results if return_distance else (None, results)
    n_queries, n_neighbors = indices.shape

    keep = indices != np.arange(n_queries)[:, np.newaxis]
    keep[np.all(keep, axis=1), 0] = False
    indices = indices[keep].reshape(n_queries, n_neighbors - 1)

    if not return_distance:
        return indices
    return distances[keep].reshape(n_queries, n_neighbors - 1), indices
