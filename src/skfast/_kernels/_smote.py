"""Kernel of SMOTE's synthesis: points on segments between neighbours.

The random draws stay with the caller, in NumPy, in imbalanced-learn's
order; :func:`interpolate` only does the arithmetic, one new row per
iteration of a ``prange``. It writes the same operations in the same order
as imbalanced-learn's NumPy expression ``X[rows] + steps * (X[nn] -
X[rows])``: the difference in the input dtype, then the product and the sum
in float64, rounded once to the output dtype. numba compiles without
fast-math, so LLVM does not contract the product and the sum into one fused
multiply-add, and float64 output is bit-identical to imbalanced-learn's.

Compiled with ``cache=True``:
``tests/test_smote.py::test_parallel_kernel_cache_reloads`` shows that the
cache of the parallel kernels reloads safely in a second process.
"""

import numba


@numba.njit(parallel=True, cache=True)
def interpolate(samples, neighbors, rows, cols, steps, out):
    """Write ``samples[r] + s * (samples[nn[r, c]] - samples[r])`` per new row.

    Parameters
    ----------
    samples : ndarray of shape (n_samples, n_features)
        The rows of the class being over-sampled.
    neighbors : ndarray of shape (n_samples, k_neighbors), dtype=intp
        Indices, into ``samples``, of each row's nearest neighbours.
    rows : ndarray of shape (n_new,), dtype=intp
        Seed row of each new row.
    cols : ndarray of shape (n_new,), dtype=intp
        Which of the seed's neighbours each new row moves towards.
    steps : ndarray of shape (n_new,), dtype=float64
        Fraction of the way from the seed to the neighbour, in [0, 1).
    out : ndarray of shape (n_new, n_features)
        Filled with the new rows; same dtype as ``samples``.
    """
    n_new, n_features = out.shape

    for i in numba.prange(n_new):
        seed = rows[i]
        neighbor = neighbors[seed, cols[i]]
        step = steps[i]
        for f in range(n_features):
            diff = samples[neighbor, f] - samples[seed, f]
            out[i, f] = samples[seed, f] + step * diff
