"""Weighted and stratified sampling of rows, on the Cython key kernels."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from skfast.sampling import _kernels
from skfast.utils._containers import column_values, n_rows, take_rows
from skfast.utils._random import check_generator


def _finish(data, rows, keys, *, shuffle, return_indices):
    """Order the chosen rows and return them, or their positions."""
    if shuffle:
        rows = rows[np.argsort(keys[rows], kind="stable")]
    else:
        rows = np.sort(rows)
    return rows if return_indices else take_rows(data, rows)


@validate_params(
    {
        "data": "no_validation",
        "n": [Interval(Integral, 0, None, closed="left")],
        "weights": [str, "array-like"],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def weighted_sample(
    data, n, *, weights, random_state=None, shuffle=False, return_indices=False
):
    """Draw ``n`` rows without replacement, with probability by weight.

    The design is successive sampling: the sample has the distribution of
    ``n`` draws made one at a time, each row drawn with probability
    proportional to its weight among the rows not drawn yet. It runs in
    O(N + n log n) on exponential keys (Efraimidis and Spirakis, 2006), where
    ``numpy.random.Generator.choice`` with ``p`` and ``replace=False`` is
    iterative.

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table
        The rows to sample from.
    n : int
        Number of rows to draw, at most the number of rows of positive
        weight.
    weights : str or array-like of shape (n_rows,)
        A column name, or one non-negative finite weight per row. A row of
        weight zero is never drawn.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator for the keys.
    shuffle : bool, default=False
        Return rows in draw order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.

    Returns
    -------
    sample : same kind as ``data``, or ndarray of int positions

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import weighted_sample
    >>> X = np.arange(8).reshape(4, 2)
    >>> weighted_sample(X, 3, weights=[0.5, 0.4, 0.1, 0.0], random_state=0)
    array([[0, 1],
           [2, 3],
           [4, 5]])
    """
    _check_count(n)
    size = n_rows(data)
    if isinstance(weights, str):
        weights = column_values(data, weights, name="weights")
    weights = _kernels.check_weights(weights, size)

    n_positive = int(np.count_nonzero(weights))
    if n > n_positive:
        raise ValueError(
            f"cannot draw n={n} rows without replacement: only {n_positive} of "
            f"the {size} rows have a positive weight. Lower n to at most "
            f"{n_positive}."
        )

    generator = check_generator(random_state)
    keys = _kernels.sample_keys(generator, size, weights)
    rows = _kernels.smallest_keys(keys, n)
    return _finish(data, rows, keys, shuffle=shuffle, return_indices=return_indices)


def _floor_per_stratum(sizes, n, min_per_stratum):
    """The largest floor up to ``min_per_stratum`` that ``n`` can give every stratum.

    Each stratum's floor is capped by its size; when ``n`` cannot give every
    stratum ``min_per_stratum`` rows, the floor is lowered until it can, so a
    stratum with members keeps at least one row whenever ``n`` allows one row
    per stratum.
    """
    low, high = 0, min_per_stratum
    while low < high:
        middle = (low + high + 1) // 2
        if np.minimum(middle, sizes).sum() <= n:
            low = middle
        else:
            high = middle - 1
    return np.minimum(low, sizes)


def _check_count(n):
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"n={n!r} is a boolean; pass the number of rows to draw.")


def _sample_size(n, frac, size):
    if (n is None) == (frac is None):
        raise ValueError("pass exactly one of n and frac.")
    if frac is not None:
        n = int(round(frac * size))
    if n > size:
        raise ValueError(
            f"cannot draw n={n} rows without replacement from {size} rows."
        )
    return n


@validate_params(
    {
        "data": "no_validation",
        "by": [str, "array-like"],
        "n": [Interval(Integral, 0, None, closed="left"), None],
        "frac": [Interval(Real, 0, 1, closed="both"), None],
        "min_per_stratum": [Interval(Integral, 0, None, closed="left")],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def stratified_sample(
    data,
    by,
    n=None,
    *,
    frac=None,
    min_per_stratum=1,
    random_state=None,
    shuffle=False,
    return_indices=False,
):
    """Draw a sample that keeps the share of each stratum.

    Each stratum gets ``n`` times its share of the rows, rounded by largest
    remainder so the total is exactly ``n``; within a stratum the rows are a
    uniform random sample. While ``n`` allows it, every stratum keeps at least
    ``min_per_stratum`` rows (or all of its rows, if it has fewer).

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table
        The rows to sample from.
    by : str or array-like of shape (n_rows,)
        A column name, or the stratum label of each row. Missing labels are
        an error.
    n : int, default=None
        Total number of rows to draw. Pass exactly one of ``n`` and ``frac``.
    frac : float in [0, 1], default=None
        Share of the rows to draw; ``n = round(frac * n_rows)``.
    min_per_stratum : int, default=1
        Rows every stratum keeps (all of its rows, if it has fewer) when ``n``
        has room for them; otherwise the largest smaller floor that fits.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    shuffle : bool, default=False
        Return rows in random order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.

    Returns
    -------
    sample : same kind as ``data``, or ndarray of int positions

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import stratified_sample
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> rows = stratified_sample(y, y, n=20, random_state=0, return_indices=True)
    >>> np.bincount(y[rows])
    array([18,  2])
    """
    _check_count(n)
    size = n_rows(data)
    codes, _ = _kernels.stratum_codes(column_values(data, by, name="by"), name="by")
    n = _sample_size(n, frac, size)

    sizes = np.bincount(codes).astype(np.int64)
    lower = _floor_per_stratum(sizes, n, min_per_stratum)
    take = _kernels.allocate(n * sizes / max(size, 1), sizes, n, lower=lower)

    generator = check_generator(random_state)
    keys = _kernels.sample_keys(generator, size)
    rows = np.flatnonzero(_kernels.stratified_smallest_keys(keys, codes, take))
    return _finish(data, rows, keys, shuffle=shuffle, return_indices=return_indices)
