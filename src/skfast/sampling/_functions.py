"""Random, stratified and weighted sampling of rows, on the Cython kernels.

Every function takes a NumPy array, a SciPy sparse matrix, a pandas, polars
or pyarrow table, or (see :mod:`skfast.sampling._files`) a path to a CSV or
Parquet file or a pyarrow dataset, and returns rows of the same kind in
input order (draw order with ``shuffle=True``), or their positions with
``return_indices=True``. One seed gives the same rows whatever the kind.
"""

import logging
import os
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from skfast.sampling import _files, _kernels
from skfast.utils._containers import column_values, n_rows, take_rows
from skfast.utils._random import check_generator

logger = logging.getLogger(__name__)

InclusionProbabilities = namedtuple(
    "InclusionProbabilities", ["probabilities", "standard_errors"]
)
InclusionProbabilities.__doc__ = """First-order inclusion probabilities of a design.

Attributes
----------
probabilities : ndarray of shape (n_rows,)
    Probability that each row is in the sample.
standard_errors : ndarray of shape (n_rows,)
    Monte Carlo standard error of each probability: zero where it is exact.

Examples
--------
>>> from skfast.sampling import inclusion_probabilities
>>> result = inclusion_probabilities([1, 1, 2], 1, replace=True)
>>> result.probabilities.round(6).tolist(), result.standard_errors.tolist()
([0.25, 0.25, 0.5], [0.0, 0.0, 0.0])
"""

_COUNT = [Interval(Integral, 0, None, closed="left"), None]


def _check_count(n, name="n"):
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"{name}={n!r} is a boolean; pass the number of rows to draw.")


def _check_not_empty(size):
    if size == 0:
        raise ValueError("the data has no rows to sample from; pass a non-empty table.")


def _sample_size(n, frac, size, *, replace=False):
    """Turn ``n`` or ``frac`` into a count, checking it fits the data."""
    if (n is None) == (frac is None):
        raise ValueError("pass exactly one of n and frac.")
    if frac is not None:
        if frac > 1 and not replace:
            raise ValueError(
                f"frac={frac} asks for more rows than there are; it must be at "
                "most 1 without replacement."
            )
        n = int(round(frac * size))
    if n > size and not replace:
        raise ValueError(
            f"cannot draw n={n} rows without replacement from {size} rows; "
            "lower n or pass replace=True."
        )
    return n


def _arrange(rows, seed, shuffle):
    """Rows in input order, or in a random order drawn from the sample's seed."""
    return _kernels.uniform_order(rows, seed) if shuffle else rows


def _output(data, rows, return_indices, probabilities=None):
    """The sample (or its positions), with the rows' probabilities if given."""
    sample = rows if return_indices else take_rows(data, rows)
    if probabilities is None:
        return sample
    return sample, probabilities[rows]


@validate_params(
    {
        "data": "no_validation",
        "n": _COUNT,
        "frac": [Interval(Real, 0, None, closed="left"), None],
        "replace": ["boolean"],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
        "out": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def random_sample(
    data,
    n=None,
    *,
    frac=None,
    replace=False,
    random_state=None,
    shuffle=False,
    return_indices=False,
    out=None,
):
    """Draw rows uniformly at random, with or without replacement.

    Without replacement every subset of ``n`` rows is equally likely; with
    replacement each draw picks any row with probability ``1 / n_rows``.

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table, or a file
        The rows to sample from.
    n : int, default=None
        Number of rows to draw. Pass exactly one of ``n`` and ``frac``.
    frac : float, default=None
        Share of the rows to draw, ``n = round(frac * n_rows)``; above 1 only
        with replacement.
    replace : bool, default=False
        Draw with replacement.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    shuffle : bool, default=False
        Return rows in random order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.
    out : str or path-like, default=None
        Only when ``data`` is a file or dataset (whose sample is otherwise a
        pyarrow Table): write the sample to this ``.parquet``, ``.csv`` or
        ``.csv.gz`` file, atomically, and return its path. A file gives the
        rows the same seed gives in memory, except with ``replace=True``:
        its draws then have the same multinomial design, but are other draws.

    Returns
    -------
    sample : same kind as ``data``, or ndarray of int positions

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import random_sample
    >>> rows = random_sample(np.arange(100), 5, random_state=0, return_indices=True)
    >>> rows.shape, bool(np.all(np.diff(rows) > 0))
    ((5,), True)
    >>> random_sample(np.arange(3), 6, replace=True, random_state=0).shape
    (6,)
    """
    if _files.is_source(data):
        return _files.random_sample(
            data,
            n,
            frac=frac,
            replace=replace,
            random_state=random_state,
            shuffle=shuffle,
            return_indices=return_indices,
            out=out,
        )
    _check_count(n)
    size = n_rows(data)
    _check_not_empty(size)
    n = _sample_size(n, frac, size, replace=replace)
    seed = _kernels.new_seed(check_generator(random_state))

    if replace:
        rows = _kernels.draw_with_replacement(size, n, seed, ordered=not shuffle)
    else:
        rows = _arrange(_kernels.select_uniform(size, n, seed), seed, shuffle)
    return _output(data, rows, return_indices)


@validate_params(
    {
        "data": "no_validation",
        "n": [Interval(Integral, 0, None, closed="left")],
        "weights": [str, "array-like"],
        "replace": ["boolean"],
        "design": [StrOptions({"successive", "pps"})],
        "random_state": "no_validation",
        "return_probabilities": ["boolean"],
        "n_simulations": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
        "out": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def weighted_sample(
    data,
    n,
    *,
    weights,
    replace=False,
    design="successive",
    random_state=None,
    return_probabilities=False,
    n_simulations=1000,
    shuffle=False,
    return_indices=False,
    out=None,
):
    """Draw ``n`` rows with probability by weight.

    With replacement each draw picks row ``i`` with probability
    ``w_i / sum(w)``, from Walker's alias table (O(N) to build, O(1) a
    draw). Without replacement there are two designs:

    - ``"successive"``: the sample has the distribution of ``n`` draws made
      one at a time, each proportional to weight among the rows not drawn
      yet, as ``numpy.random.Generator.choice(p=..., replace=False)`` does;
      here in O(N) by exponential keys (Efraimidis and Spirakis, 2006). Its
      inclusion probabilities are not proportional to weight, and have no
      closed form: they are estimated by simulation on request.
    - ``"pps"``: inclusion probabilities exactly ``n w_i / sum(w)``. A row
      whose weight would make that one or more is taken with certainty (a
      :class:`CertaintyWarning` says how many), and the rest of the sample
      is spread over the other rows in proportion to weight, repeated until
      no probability exceeds one; the sample is then drawn by the ordered
      pivotal method (Deville and Tillé, 1998), which keeps the size fixed.

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table, or a file
        The rows to sample from.
    n : int
        Number of rows to draw; without replacement at most the number of
        rows of positive weight.
    weights : str or array-like of shape (n_rows,)
        A column name, or one non-negative finite weight per row. A row of
        weight zero is never drawn.
    replace : bool, default=False
        Draw with replacement.
    design : {"successive", "pps"}, default="successive"
        Design without replacement; ignored with replacement.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    return_probabilities : bool, default=False
        Also return each sampled row's first-order inclusion probability:
        exact with replacement (``1 - (1 - p_i)^n``) and for ``"pps"``;
        for ``"successive"`` estimated from ``n_simulations`` repeated draws,
        with standard error ``sqrt(pi (1 - pi) / n_simulations)`` (see
        :func:`inclusion_probabilities` for the errors themselves).
    n_simulations : int, default=1000
        Repeated draws that estimate the successive design's probabilities.
    shuffle : bool, default=False
        Return rows in draw order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.
    out : str or path-like, default=None
        Only when ``data`` is a file or dataset (whose sample is otherwise a
        pyarrow Table): write the sample to this ``.parquet``, ``.csv`` or
        ``.csv.gz`` file, atomically, and return its path. A file gives the
        rows the same seed gives in memory, except with ``replace=True``:
        its draws then have the same multinomial design, but are other draws.

    Returns
    -------
    sample : same kind as ``data``, or ndarray of int positions
    probabilities : ndarray of shape (n,)
        Only with ``return_probabilities``; aligned with ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import weighted_sample
    >>> X = np.arange(8).reshape(4, 2)
    >>> weighted_sample(X, 3, weights=[0.5, 0.4, 0.1, 0.0], random_state=0)
    array([[0, 1],
           [2, 3],
           [4, 5]])
    >>> rows, pi = weighted_sample(np.arange(4), 2, weights=[3, 2, 2, 1],
    ...                            design="pps", return_indices=True,
    ...                            return_probabilities=True, random_state=0)
    >>> pi.tolist() == [[0.75, 0.5, 0.5, 0.25][row] for row in rows]
    True
    """
    if _files.is_source(data):
        return _files.weighted_sample(
            data,
            n,
            weights=weights,
            replace=replace,
            design=design,
            random_state=random_state,
            return_probabilities=return_probabilities,
            shuffle=shuffle,
            return_indices=return_indices,
            out=out,
        )
    _check_count(n)
    size = n_rows(data)
    _check_not_empty(size)
    if isinstance(weights, str):
        weights = column_values(data, weights, name="weights")
    weights, n_positive = _kernels.check_weights(weights, size)
    if n > n_positive and not replace:
        raise ValueError(
            f"cannot draw n={n} rows without replacement: only {n_positive} of "
            f"the {size} rows have a positive weight. Lower n to at most "
            f"{n_positive}, or pass replace=True."
        )

    generator = check_generator(random_state)
    seed = _kernels.new_seed(generator)
    probabilities = None
    if replace:
        rows = _kernels.draw_with_replacement(
            size, n, seed, weights, ordered=not shuffle
        )
        if return_probabilities:
            probabilities = _with_replacement_probabilities(weights, n)
    elif design == "pps":
        probabilities = _kernels.pps_probabilities(weights, n, stacklevel=4)
        rows = _arrange(_kernels.select_pps(probabilities, seed), seed, shuffle)
    else:
        rows = _kernels.select_weighted(weights, n, seed, ordered=shuffle)
        if return_probabilities:
            estimate = _simulated_probabilities(weights, n, generator, n_simulations)
            logger.info(
                "successive design: inclusion probabilities estimated from %d "
                "draws, largest standard error %.4f",
                n_simulations,
                estimate.standard_errors.max(),
            )
            probabilities = estimate.probabilities
    if not return_probabilities:
        probabilities = None
    return _output(data, rows, return_indices, probabilities)


def _with_replacement_probabilities(weights, n):
    shares = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    return -np.expm1(n * np.log1p(-np.minimum(shares, 1 - 1e-300)))


def _simulated_probabilities(weights, n, generator, n_simulations):
    counts = np.zeros(weights.shape[0], dtype=np.int64)
    for _ in range(n_simulations):
        counts[_kernels.select_weighted(weights, n, _kernels.new_seed(generator))] += 1
    probabilities = counts / n_simulations
    errors = np.sqrt(probabilities * (1 - probabilities) / n_simulations)
    return InclusionProbabilities(probabilities, errors)


@validate_params(
    {
        "weights": ["array-like"],
        "n": [Interval(Integral, 0, None, closed="left")],
        "replace": ["boolean"],
        "design": [StrOptions({"successive", "pps"})],
        "n_simulations": [Interval(Integral, 1, None, closed="left")],
        "random_state": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def inclusion_probabilities(
    weights,
    n,
    *,
    replace=False,
    design="successive",
    n_simulations=1000,
    random_state=None,
):
    """First-order inclusion probabilities of a weighted design.

    Exact with replacement (``1 - (1 - p_i)^n`` with ``p_i = w_i / sum(w)``)
    and for ``design="pps"``; estimated by ``n_simulations`` repeated draws
    for the successive design, whose probabilities have no closed form.

    Parameters
    ----------
    weights : array-like of shape (n_rows,)
        Non-negative finite weights.
    n : int
        Sample size.
    replace : bool, default=False
    design : {"successive", "pps"}, default="successive"
    n_simulations : int, default=1000
    random_state : None, int, numpy.random.Generator or RandomState
        Seed of the simulation.

    Returns
    -------
    result : InclusionProbabilities
        ``probabilities`` and their Monte Carlo ``standard_errors`` (zero
        where exact).

    Examples
    --------
    >>> from skfast.sampling import inclusion_probabilities
    >>> inclusion_probabilities([3, 1, 1, 1], 2, design="pps").probabilities
    array([1.        , 0.33333333, 0.33333333, 0.33333333])
    """
    _check_count(n)
    weights, n_positive = _kernels.check_weights(weights, np.shape(weights)[0])
    if replace:
        probabilities = _with_replacement_probabilities(weights, n)
        return InclusionProbabilities(probabilities, np.zeros_like(probabilities))
    if n > n_positive:
        raise ValueError(f"n={n} exceeds the {n_positive} rows of positive weight.")
    if design == "pps":
        probabilities = _kernels.pps_probabilities(weights, n, warn=False)
        return InclusionProbabilities(probabilities, np.zeros_like(probabilities))
    generator = check_generator(random_state)
    return _simulated_probabilities(weights, n, generator, n_simulations)


def _allocation_target(allocation, sizes, n, strata, data, codes, variable):
    """The real-valued allocation of ``n`` rows over the strata."""
    if isinstance(allocation, dict):
        unknown = [label for label in allocation if label not in set(strata.tolist())]
        if unknown:
            raise ValueError(
                f"allocation names stratum {unknown[0]!r}, which is not in the "
                f"data; strata are {', '.join(map(repr, strata.tolist()[:20]))}."
            )
        target = np.array([allocation.get(label, 0) for label in strata.tolist()])
        if np.any(target < 0) or np.any(target > sizes):
            bad = int(np.flatnonzero((target < 0) | (target > sizes))[0])
            raise ValueError(
                f"allocation asks {target[bad]} rows of stratum {strata[bad]!r}, "
                f"which has {sizes[bad]}; ask between 0 and its size."
            )
        return target.astype(np.float64)
    if allocation == "proportional":
        return n * sizes / sizes.sum()
    if allocation == "equal":
        return np.minimum(sizes, n / sizes.shape[0]).astype(np.float64)

    if variable is None:
        raise ValueError(
            "allocation='neyman' needs variable=: the column whose spread per "
            "stratum sets the allocation."
        )
    values = np.asarray(column_values(data, variable, name="variable"), dtype=float)
    if not np.isfinite(values).all():
        position = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(
            f"variable has {values[position]} at row {position}; Neyman "
            "allocation needs finite values."
        )
    counts = np.bincount(codes, minlength=sizes.shape[0])
    means = np.bincount(codes, weights=values, minlength=sizes.shape[0]) / counts
    squares = np.bincount(codes, weights=(values - means[codes]) ** 2)
    deviations = np.sqrt(squares / np.maximum(counts - 1, 1))
    spread = sizes * deviations
    if spread.sum() == 0:
        return n * sizes / sizes.sum()
    return n * spread / spread.sum()


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


@validate_params(
    {
        "data": "no_validation",
        "by": [str, "array-like"],
        "n": _COUNT,
        "frac": [Interval(Real, 0, 1, closed="both"), None],
        "allocation": [StrOptions({"proportional", "equal", "neyman"}), dict],
        "min_per_stratum": [Interval(Integral, 0, None, closed="left")],
        "variable": [str, "array-like", None],
        "random_state": "no_validation",
        "return_probabilities": ["boolean"],
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
        "out": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def stratified_sample(
    data,
    by,
    n=None,
    *,
    frac=None,
    allocation="proportional",
    min_per_stratum=1,
    variable=None,
    random_state=None,
    return_probabilities=False,
    shuffle=False,
    return_indices=False,
    out=None,
):
    """Draw a sample with a set number of rows from each stratum.

    The total is exact: the real-valued allocation is rounded by largest
    remainder, and within a stratum the rows are a uniform sample. While
    ``n`` allows it, every stratum keeps at least ``min_per_stratum`` rows
    (or all of its rows, if it has fewer).

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table, or a file
        The rows to sample from.
    by : str or array-like of shape (n_rows,)
        A column name, or the stratum label of each row. Missing labels are
        an error.
    n : int, default=None
        Total number of rows to draw. Pass exactly one of ``n`` and ``frac``;
        with a mapping ``allocation`` pass neither.
    frac : float in [0, 1], default=None
        Share of the rows to draw; ``n = round(frac * n_rows)``.
    allocation : {"proportional", "equal", "neyman"} or dict, default="proportional"
        How ``n`` is shared: in proportion to stratum size; equally (capped
        by size); by Neyman's rule, in proportion to size times the standard
        deviation of ``variable`` within the stratum (the allocation that
        minimises the variance of the stratified mean of ``variable``); or
        as a mapping from stratum label to its number of rows (strata left
        out get none).
    min_per_stratum : int, default=1
        Rows every stratum keeps (all of its rows, if it has fewer) when ``n``
        has room for them; otherwise the largest smaller floor that fits.
        Not applied to a mapping.
    variable : str or array-like of shape (n_rows,), default=None
        The study variable of Neyman allocation.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    return_probabilities : bool, default=False
        Also return each sampled row's inclusion probability, which is exact:
        its stratum's sample size over the stratum's size.
    shuffle : bool, default=False
        Return rows in random order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.
    out : str or path-like, default=None
        Only when ``data`` is a file or dataset (whose sample is otherwise a
        pyarrow Table): write the sample to this ``.parquet``, ``.csv`` or
        ``.csv.gz`` file, atomically, and return its path.

    Returns
    -------
    sample : same kind as ``data``, or ndarray of int positions
    probabilities : ndarray of shape (n,)
        Only with ``return_probabilities``; aligned with ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import stratified_sample
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> rows = stratified_sample(y, y, n=20, random_state=0, return_indices=True)
    >>> np.bincount(y[rows])
    array([18,  2])
    >>> rows = stratified_sample(y, y, n=20, allocation="equal", return_indices=True)
    >>> np.bincount(y[rows])
    array([10, 10])
    """
    if _files.is_source(data):
        return _files.stratified_sample(
            data,
            by,
            n,
            frac=frac,
            allocation=allocation,
            min_per_stratum=min_per_stratum,
            variable=variable,
            random_state=random_state,
            return_probabilities=return_probabilities,
            shuffle=shuffle,
            return_indices=return_indices,
            out=out,
        )
    _check_count(n)
    size = n_rows(data)
    _check_not_empty(size)
    labels = column_values(data, by, name="by")
    codes, strata = _kernels.stratum_codes(labels, name="by")
    sizes = np.bincount(codes, minlength=strata.shape[0]).astype(np.int64)

    if isinstance(allocation, dict):
        if n is not None or frac is not None:
            raise ValueError("with a mapping allocation, pass neither n nor frac.")
        target = _allocation_target(allocation, sizes, 0, strata, data, codes, None)
        n = int(round(target.sum()))
        lower = np.zeros_like(sizes)
    else:
        n = _sample_size(n, frac, size)
        target = _allocation_target(allocation, sizes, n, strata, data, codes, variable)
        lower = _floor_per_stratum(sizes, n, min_per_stratum)
    take = _kernels.allocate(target, sizes, n, lower=lower)

    seed = _kernels.new_seed(check_generator(random_state))
    rows = _arrange(_kernels.select_stratified(codes, take, sizes, seed), seed, shuffle)
    probabilities = (
        (take / np.maximum(sizes, 1))[codes] if return_probabilities else None
    )
    return _output(data, rows, return_indices, probabilities)
