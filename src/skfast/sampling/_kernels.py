"""The one place that hands sampling work to the Cython kernels.

Everything here validates its input once and then trusts the kernels in
``skfast._native._sampling``; the public functions above it deal only in
containers and parameters.
"""

import numpy as np
import pandas as pd

from skfast._native import _sampling
from skfast._trace import record


def check_weights(weights, n_rows, *, name="weights"):
    """Return ``weights`` as a contiguous float array, or raise a clear error.

    float32 stays float32; other numeric types become float64.
    """
    weights = np.asarray(weights)
    if weights.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric, got dtype {weights.dtype}; convert the "
            "column to numbers first."
        )
    if weights.ndim != 1 or weights.shape[0] != n_rows:
        raise ValueError(
            f"{name} has shape {weights.shape}, but the data has {n_rows} "
            "rows; pass one weight per row."
        )
    dtype = np.float32 if weights.dtype == np.float32 else np.float64
    weights = np.ascontiguousarray(weights, dtype=dtype)

    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}[{position}] is {float(weights[position])}; weights must be "
            "finite and non-negative. Drop or fix that row."
        )
    return weights


def stratum_codes(labels, *, name):
    """Encode stratum labels as codes ``0 .. n_strata - 1`` in sorted order.

    Returns
    -------
    codes : ndarray of shape (n_rows,), intp
    strata : ndarray of shape (n_strata,)
        The distinct labels, sorted.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"{name} must be one label per row (1-D), got shape {labels.shape}."
        )
    codes, strata = pd.factorize(labels, sort=True, use_na_sentinel=True)
    if (codes < 0).any():
        position = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(
            f"{name} has a missing value at row {position}; every row needs "
            "a stratum. Fill the missing labels or drop those rows first."
        )
    return codes.astype(np.intp, copy=False), np.asarray(strata)


def allocate(target, sizes, n, *, lower=None, upper=None):
    """Round a real allocation to integers summing to ``n``, within bounds.

    Largest-remainder rounding where the bounds do not bind; see
    ``skfast._native._sampling.allocate``.
    """
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    lower = np.zeros_like(sizes) if lower is None else lower
    upper = sizes if upper is None else upper
    record("cython._sampling.allocate")
    return _sampling.allocate(
        np.ascontiguousarray(target, dtype=np.float64),
        np.ascontiguousarray(lower, dtype=np.int64),
        np.ascontiguousarray(upper, dtype=np.int64),
        sizes,
        int(n),
    )


def sample_keys(generator, n_rows, weights=None):
    """Draw one exponential key per row, divided by its weight if given."""
    record("cython._sampling.exponential_keys")
    keys = _sampling.exponential_keys(generator, n_rows)
    if weights is not None:
        _sampling.divide_by_weights(keys, weights)
    return keys


def smallest_keys(keys, n):
    """Rows of the ``n`` smallest keys, in draw order."""
    record("cython._sampling.select_smallest")
    return _sampling.select_smallest(keys, n)


def stratified_smallest_keys(keys, codes, take):
    """Mask of the ``take[h]`` smallest-key rows of each stratum ``h``."""
    record("cython._sampling.stratified_select")
    return _sampling.stratified_select(
        keys, codes, np.ascontiguousarray(take, dtype=np.int64)
    )
