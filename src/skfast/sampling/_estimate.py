"""Design-based estimates of a total or a mean from a weighted sample."""

from collections import namedtuple
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from skfast.utils._containers import _column_names, column_values

Estimate = namedtuple("Estimate", ["value", "standard_error", "ci_low", "ci_high", "n"])
Estimate.__doc__ = """An estimate from a sample, with its uncertainty.

Returned by :func:`estimate`.

Attributes
----------
value : float
    The estimated total or mean.
standard_error : float
    Its estimated standard error.
ci_low, ci_high : float
    Bounds of the normal-approximation confidence interval.
n : int
    Number of rows in the sample.

Examples
--------
>>> from skfast.sampling import estimate
>>> result = estimate([1.0, 2.0, 3.0, 4.0], statistic="total",
...                   weights=[10, 10, 10, 10])
>>> result.value, result.n
(100.0, 4)
>>> value, standard_error, ci_low, ci_high, n = result
"""


@validate_params(
    {
        "sample": "no_validation",
        "column": [str, Integral, None],
        "statistic": [StrOptions({"mean", "total"})],
        "weights": [str, "array-like"],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def estimate(
    sample, column=None, statistic="mean", *, weights="design_weight", confidence=0.95
):
    """Estimate a population total or mean from a sample and its design weights.

    With design weights ``w_i = 1 / pi_i``, the inverse inclusion
    probabilities of the sampled rows, the estimates are

    - ``statistic="total"``: the Horvitz-Thompson estimator
      ``t = sum(w_i y_i)`` [2]_, unbiased for the population total;
    - ``statistic="mean"``: the Hájek ratio ``m = sum(w_i y_i) / sum(w_i)``,
      which divides by the estimated rather than the true population size:
      biased only to order ``1 / n``, and usually less variable than the
      total divided by ``N``.

    The standard errors use the with-replacement (Hansen-Hurwitz)
    approximation [3]_, which treats the ``n`` rows as independent draws:
    for the total ``v = n / (n - 1) * sum((w_i y_i - t / n) ** 2)``; for
    the mean, linearised, ``v = n / (n - 1) * sum(u_i ** 2) / sum(w_i) ** 2``
    with ``u_i = w_i (y_i - m)`` [1]_. It needs no
    joint inclusion probabilities and is conservative for the usual designs
    without replacement (:func:`importance_sample`,
    :func:`weighted_sample` with ``design="pps"``), more so where the
    sampling fraction is large: the finite-population correction and rows
    taken with certainty are left out. It also ignores strata, which for a
    :func:`stratified_sample` usually overstates the variance. The interval
    is ``value ± z * standard_error``, ``z`` the normal quantile of
    ``(1 + confidence) / 2``.

    Parameters
    ----------
    sample : pandas, polars or pyarrow table, or array-like
        The sampled rows: a table with a column of values and a column of
        design weights, or the values themselves (1-D), or a 2-D array
        whose ``column`` holds them.
    column : str or int, default=None
        The column to estimate from; required for a table (a name) and a
        2-D array (a position).
    statistic : {"mean", "total"}, default="mean"
    weights : str or array-like of shape (n,), default="design_weight"
        The design-weight column of a table (the column that
        :func:`importance_sample` adds), or the weights themselves: for a
        sample drawn with ``return_probabilities=True``, ``1 / probabilities``.
    confidence : float in (0, 1), default=0.95
        Coverage of the confidence interval.

    Returns
    -------
    result : Estimate
        ``value``, ``standard_error``, ``ci_low``, ``ci_high`` and ``n``.

    References
    ----------
    .. [1] C.-E. Särndal, B. Swensson and J. Wretman, Model Assisted Survey
       Sampling, Springer, 1992.
    .. [2] D. G. Horvitz and D. J. Thompson, "A generalization of sampling
       without replacement from a finite universe", Journal of the American
       Statistical Association 47(260), 663-685, 1952.
    .. [3] M. H. Hansen and W. N. Hurwitz, "On the theory of sampling from
       finite populations", Annals of Mathematical Statistics 14(4),
       333-362, 1943.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import estimate, weighted_sample
    >>> values = np.arange(1.0, 101.0)
    >>> sample, pi = weighted_sample(values, 20, weights=values + 50,
    ...                              design="pps", return_probabilities=True,
    ...                              random_state=0)
    >>> total = estimate(sample, statistic="total", weights=1 / pi)
    >>> bool(total.ci_low < values.sum() < total.ci_high)
    True
    >>> round((total.ci_high - total.value) / total.standard_error, 2)
    1.96

    A table from :func:`importance_sample` carries its weights:

    >>> import pandas as pd
    >>> from skfast.sampling import importance_sample
    >>> frame = pd.DataFrame({"y": values})
    >>> drawn = importance_sample(frame, 30, scores="y", random_state=0)
    >>> mean = estimate(drawn, "y")
    >>> bool(mean.ci_low < values.mean() < mean.ci_high)
    True
    """
    values, design_weights = _values_and_weights(sample, column, weights)
    n = values.shape[0]
    if n < 2:
        raise ValueError(
            f"the sample has {n} row(s); a standard error needs at least 2."
        )

    weighted = design_weights * values
    if statistic == "total":
        value = float(weighted.sum())
        variance = n / (n - 1) * float(np.sum((weighted - value / n) ** 2))
    else:
        size = float(design_weights.sum())
        value = float(weighted.sum()) / size
        residuals = design_weights * (values - value)
        variance = n / (n - 1) * float(np.sum(residuals**2)) / size**2

    standard_error = float(np.sqrt(variance))
    half_width = float(norm.ppf((1 + confidence) / 2)) * standard_error
    return Estimate(value, standard_error, value - half_width, value + half_width, n)


def _values_and_weights(sample, column, weights):
    """The study values and design weights as float64 arrays, checked."""
    if _column_names(sample) is not None:
        if not isinstance(column, str):
            raise ValueError(
                "sample is a table: name the column to estimate, as in "
                "estimate(sample, 'income')."
            )
        values = column_values(sample, column, name="column")
    else:
        array = np.asarray(sample)
        if column is None and array.ndim != 1:
            raise ValueError(
                f"sample has shape {array.shape}: pass 1-D values, or the "
                "position of their column in a 2-D array as column=."
            )
        if column is not None and (array.ndim != 2 or isinstance(column, str)):
            raise ValueError(
                f"column={column!r} needs a table (a name) or a 2-D array (a "
                f"position), but sample has shape {array.shape} and no column "
                "names."
            )
        values = array if column is None else array[:, column]
    values = _as_float(values, "the values")

    if isinstance(weights, str):
        if _column_names(sample) is None:
            raise ValueError(
                f"weights={weights!r} names a column, but sample has no column "
                "names; pass the design weights themselves, as in "
                "estimate(values, weights=1 / probabilities)."
            )
        design_weights = column_values(sample, weights, name="weights")
    else:
        design_weights = np.asarray(weights)
        if design_weights.shape != values.shape:
            raise ValueError(
                f"weights have shape {design_weights.shape}, but the sample has "
                f"{values.shape[0]} rows; pass one design weight per row."
            )
    design_weights = _as_float(design_weights, "the weights")

    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"the value at row {bad[0]} is {values[bad[0]]}; estimates need "
            "finite values. Drop or impute the missing rows first."
        )
    bad = np.flatnonzero(~(np.isfinite(design_weights) & (design_weights > 0)))
    if bad.size:
        raise ValueError(
            f"the weight at row {bad[0]} is {design_weights[bad[0]]}; design "
            "weights are 1 / inclusion probability, finite and positive."
        )
    return values, design_weights


def _as_float(values, name):
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numbers, got dtype {values.dtype}.")
    return values.astype(np.float64, copy=False)
