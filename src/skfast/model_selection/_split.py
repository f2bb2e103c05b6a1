"""Train/test splitting on the native stratified kernel."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from skfast.sampling import _kernels
from skfast.utils._containers import n_rows, take_rows
from skfast.utils._random import check_generator


def _split_sizes(size, test_size, train_size):
    """Number of test and train rows, by scikit-learn's rules."""
    if test_size is None and train_size is None:
        test_size = 0.25

    def count(value, rounding):
        if value is None:
            return None
        if isinstance(value, Real) and not isinstance(value, Integral):
            if not 0 < value < 1:
                raise ValueError(
                    f"a fractional size must lie in (0, 1), got {value}; pass "
                    "a share of the rows or a number of rows."
                )
            return rounding(value * size)
        if value > size:
            raise ValueError(
                f"asked for {value} rows, but there are only {size}; pass a "
                "smaller number of rows or a share in (0, 1)."
            )
        return int(value)

    n_test = count(test_size, math.ceil)
    n_train = count(train_size, math.floor)
    if n_test is None:
        n_test = size - n_train
    if n_train is None:
        n_train = size - n_test

    if n_train + n_test > size:
        raise ValueError(
            f"train ({n_train}) and test ({n_test}) rows add up to more than "
            f"the {size} rows; lower train_size or test_size."
        )
    if n_train == 0 or n_test == 0:
        raise ValueError(
            f"with {size} rows, test_size={test_size} and "
            f"train_size={train_size} leave one side empty; adjust the sizes."
        )
    return n_test, n_train


def _stratified_positions(codes, n_test, n_train, generator):
    """Row positions of each side, allocated by class with largest remainder.

    A class with at least two rows gets one row on each side whenever both
    sides have room for one row of every such class.
    """
    sizes = np.bincount(codes).astype(np.int64)
    size = sizes.sum()
    splittable = (sizes >= 2).astype(np.int64)
    guarded = splittable.sum() <= min(n_test, n_train)
    reserve = splittable if guarded else np.zeros_like(sizes)

    test_take = _kernels.allocate(
        n_test * sizes / size, sizes, n_test, lower=reserve, upper=sizes - reserve
    )
    seed = _kernels.new_seed(generator)
    test = _kernels.select_stratified(codes, test_take, sizes, seed)
    rest = _complement(test, codes.shape[0])
    if n_train == rest.shape[0]:
        return rest, test

    left = sizes - test_take
    train_take = _kernels.allocate(
        n_train * sizes / size, left, n_train, lower=np.minimum(reserve, left)
    )
    seed = _kernels.new_seed(generator)
    train = _kernels.select_stratified(codes[rest], train_take, left, seed)
    return rest[train], test


def _complement(rows, size):
    """The positions in ``range(size)`` that are not in the sorted ``rows``."""
    mask = np.ones(size, dtype=bool)
    mask[rows] = False
    return np.flatnonzero(mask)


@validate_params(
    {
        "test_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "train_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "stratify": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def train_test_split(
    *arrays,
    test_size=None,
    train_size=None,
    random_state=None,
    shuffle=True,
    stratify=None,
):
    """Split arrays into random train and test subsets, stratified on request.

    A drop-in for ``sklearn.model_selection.train_test_split`` with the same
    parameters and sizes (test rows rounded up, train rows down). With
    ``stratify``, each class gets its share of the test rows by largest
    remainder, and every class with at least two rows keeps one row on each
    side whenever both sides have room for one row of every such class.

    It differs from scikit-learn in three ways: rows keep their input order
    on each side; a class with a single row is allowed (it lands on one
    side); and a test set smaller than the number of classes is allowed
    (the classes with the largest shares get its rows).

    Parameters
    ----------
    *arrays : sequence of arrays, sparse matrices, pandas, polars or pyarrow
        Containers with the same number of rows.
    test_size : float or int, default=None
        Share (in (0, 1)) or number of test rows; 0.25 when both sizes are
        None.
    train_size : float or int, default=None
        Share or number of train rows; the complement of the test rows when
        None.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    shuffle : bool, default=True
        Split at random. ``False`` takes the first rows for training and
        the next for testing, and cannot be combined with ``stratify``.
    stratify : array-like of shape (n_rows,), default=None
        Class labels to stratify on.

    Returns
    -------
    splitting : list of length 2 * len(arrays)
        ``[a_train, a_test, b_train, b_test, ...]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.model_selection import train_test_split
    >>> y = np.array([0] * 8 + [1] * 2)
    >>> y_train, y_test = train_test_split(y, test_size=0.2, stratify=y,
    ...                                    random_state=0)
    >>> np.bincount(y_test)
    array([1, 1])
    """
    if not arrays:
        raise ValueError("pass at least one array to split.")
    sizes = [n_rows(array) for array in arrays]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"the arrays have different numbers of rows {sizes}; pass arrays "
            "with one row per sample."
        )
    size = sizes[0]
    n_test, n_train = _split_sizes(size, test_size, train_size)

    if not shuffle:
        if stratify is not None:
            raise ValueError(
                "stratify needs shuffle=True: a stratified split is random."
            )
        train = np.arange(n_train)
        test = np.arange(n_train, n_train + n_test)
    elif stratify is not None:
        codes, _ = _kernels.stratum_codes(stratify, name="stratify")
        if codes.shape[0] != size:
            raise ValueError(
                f"stratify has {codes.shape[0]} labels for {size} rows; pass "
                "one label per row."
            )
        generator = check_generator(random_state)
        train, test = _stratified_positions(codes, n_test, n_train, generator)
    else:
        generator = check_generator(random_state)
        test = _kernels.select_uniform(size, n_test, _kernels.new_seed(generator))
        rest = _complement(test, size)
        train = rest
        if n_train < rest.shape[0]:
            seed = _kernels.new_seed(generator)
            train = rest[_kernels.select_uniform(rest.shape[0], n_train, seed)]

    return [
        part
        for array in arrays
        for part in (take_rows(array, train), take_rows(array, test))
    ]
