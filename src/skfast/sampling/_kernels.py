"""The one place that hands sampling work to the Cython kernels.

The functions near the end take a batch's position in the whole data and
serve sampling of files, datasets and streams (:mod:`._files`,
:mod:`._reservoir`).

Everything here validates its input once and then trusts the kernels in
``skfast._native._sampling``; the public functions above it deal only in
containers and parameters. Every selection takes a 64-bit ``seed`` from
:func:`new_seed`: a row's random numbers depend on the seed and the row's
position only, so the same seed selects the same rows whatever the
container, the thread count or the batches a file is read in.
"""

import math
import warnings

import numpy as np
import pandas as pd

from skfast._native import _reservoir, _sampling
from skfast._trace import record

# Keys read to bound the k-th smallest key before the full pass.
PROBE_ROWS = 65536

# Below this many rows, or when a quarter of the rows or more are wanted,
# every key is computed and selected among.
DIRECT_ROWS = 65536


class CertaintyWarning(UserWarning):
    """Some rows are taken with certainty in a design proportional to size.

    Raised by ``weighted_sample(..., design="pps")`` when a row's weight
    would give it an inclusion probability of one or more.

    Examples
    --------
    >>> import warnings
    >>> from skfast.sampling import CertaintyWarning, weighted_sample
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     rows = weighted_sample([0, 1, 2, 3], 2, weights=[10, 1, 1, 1],
    ...                            design="pps", return_indices=True)
    >>> caught[0].category is CertaintyWarning, int(rows[0])
    (True, 0)
    """


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

    position, n_positive = _sampling.weight_summary(weights)
    if position >= 0:
        raise ValueError(
            f"{name}[{position}] is {float(weights[position])}; weights must be "
            "finite and non-negative. Drop or fix that row."
        )
    if n_rows and not n_positive:
        raise ValueError(
            f"every one of the {n_rows} {name} is zero, so no row can be drawn; "
            "give some rows a positive weight."
        )
    return weights, n_positive


def stratum_codes(labels, *, name):
    """Encode stratum labels as codes ``0 .. n_strata - 1`` in sorted order.

    Integer labels of moderate range are counted directly; other labels go
    through ``pandas.factorize``.

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
    if labels.dtype.kind in "biu" and labels.size:
        low, high = int(labels.min()), int(labels.max())
        if high - low <= 4 * labels.size + 65536:
            offsets = (labels - low).astype(np.intp, copy=False)
            present = np.bincount(offsets, minlength=high - low + 1) > 0
            lookup = np.cumsum(present, dtype=np.intp) - 1
            strata = np.arange(low, high + 1)[present].astype(labels.dtype)
            return lookup[offsets], strata

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


def new_seed(generator):
    """Draw a sample's seed from a ``numpy.random.Generator``."""
    return _sampling.draw_seed(generator)


def _rank_with_margin(k, m, size):
    """A rank in a subsample of ``m`` of ``size`` rows above the k-th, w.h.p."""
    expected = k * m / size
    return min(m, math.ceil(expected + 4 * math.sqrt(expected) + 16))


def select_uniform(size, n, seed):
    """Positions, in order, of ``n`` of ``size`` rows drawn uniformly."""
    if n == 0:
        return np.empty(0, dtype=np.intp)
    if n == size:
        return np.arange(size)
    record("cython._sampling.uniform_selection")
    if size > DIRECT_ROWS and 4 * n < size:
        # The n-th smallest of N uniform keys is near n / N.
        bound = (n + 4 * math.sqrt(n) + 16) / size
        rows = _sampling.uniform_selection(seed, size, bound, n)
        if rows is not None:
            return rows
    keys = _sampling.uniform_keys(seed, 0, size)
    key, row = _sampling.kth_smallest(keys, n)
    return np.flatnonzero(_sampling.mask_up_to(keys, key, row))


def uniform_order(rows, seed):
    """``rows`` in the random order of their uniform keys, smallest first."""
    exponential = _sampling.keys_at(seed, rows, np.ones(rows.shape[0]))
    return rows[np.argsort(-exponential, kind="stable")]


def select_weighted(weights, n, seed, *, ordered=False):
    """Positions of ``n`` rows drawn successively with probability by weight.

    Rows come in input order, or in draw order when ``ordered``. The keys of
    a systematic subsample bound the ``n``-th smallest key; only the rows
    that can fall under the bound get a key computed, and the selection runs
    among them. When the bound falls short, every key is computed.
    """
    size = weights.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.intp)
    record("cython._sampling.weighted_keys")

    if size > DIRECT_ROWS and 4 * n < size:
        stride = size // PROBE_ROWS
        probe = np.arange(0, stride * PROBE_ROWS, stride)
        probe_keys = _sampling.keys_at(seed, probe, weights[probe])
        rank = _rank_with_margin(n, probe.shape[0], size)
        bound, _ = _sampling.kth_smallest(probe_keys, rank)
        rows, draws = _sampling.weighted_candidates(seed, weights, bound, n)
        keys = np.log(draws, out=draws)
        np.negative(keys, out=keys)
        keys /= weights[rows]
        if np.count_nonzero(keys <= bound) >= n:
            return _select_among(rows, keys, n, ordered)

    keys = _sampling.weighted_keys(seed, 0, weights)
    return _select_among(np.arange(size), keys, n, ordered)


def _select_among(rows, keys, n, ordered):
    """The ``n`` smallest of ``keys`` (ties to the lower row), as rows.

    ``rows`` is in row order, so among keys equal to the ``n``-th the first
    ones in the arrays are the lower rows.
    """
    if ordered:
        return rows[_sampling.select_smallest(keys, n)]
    if n == keys.shape[0]:
        return rows
    threshold = np.partition(keys, n - 1)[n - 1]
    chosen = keys < threshold
    ties = np.flatnonzero(keys == threshold)[: n - np.count_nonzero(chosen)]
    chosen[ties] = True
    return rows[chosen]


def select_stratified(codes, take, sizes, seed):
    """Positions, in order, of ``take[h]`` uniform rows of each stratum ``h``.

    Within a stratum the keys are uniform, so the ``take[h]``-th smallest of
    its ``sizes[h]`` keys is near ``take[h] / sizes[h]``: a bound a few
    binomial standard deviations above it keeps, all but surely, every row
    needed, and only those rows are grouped and selected among. A stratum
    left short falls back to selecting on every key.
    """
    record("cython._sampling.stratified_select")
    take = np.asarray(take, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    margin = take + 4 * np.sqrt(take) + 16
    bounds = np.where(take > 0, margin / np.maximum(sizes, 1), 0.0)
    bounds = np.where(take >= sizes, 1.0, np.minimum(bounds, 1.0))

    rows, keys = _sampling.uniform_candidates_by_stratum(seed, 0, codes, bounds)
    candidate_codes = codes[rows]
    if np.all(np.bincount(candidate_codes, minlength=take.shape[0]) >= take):
        mask = _sampling.stratified_select(keys, candidate_codes, take)
        return rows[mask]

    keys = _sampling.uniform_keys(seed, 0, codes.shape[0])
    return np.flatnonzero(_sampling.stratified_select(keys, codes, take))


# Rows per chunk of the two-level alias method: a chunk's table (16 bytes a
# row) and work arrays stay within a core's cache while its draws are made.
ALIAS_CHUNK_ROWS = 65536


def draw_with_replacement(size, n, seed, weights=None, *, ordered=True):
    """Positions of ``n`` draws with replacement, uniform or by weight.

    A two-level alias method: the number of draws in each chunk of rows is
    one multinomial draw over the chunks' weights, then each chunk draws
    from Walker's alias table of its own rows (O(N) to build, O(1) a draw),
    chunks in parallel. Draws come sorted by row, or, when not ``ordered``,
    the same draws in a random order.
    """
    if weights is None:
        weights = np.ones(size, dtype=np.float32)
    record("cython._sampling.chunked_alias_sample")
    totals = _sampling.chunk_totals(weights, ALIAS_CHUNK_ROWS)
    generator = np.random.default_rng(seed)
    per_chunk = generator.multinomial(n, totals / totals.sum()).astype(np.int64)
    rows = _sampling.chunked_alias_sample(weights, ALIAS_CHUNK_ROWS, per_chunk, seed)
    return rows if ordered else rows[generator.permutation(n)]


def pps_probabilities(weights, n, *, warn=True, stacklevel=2):
    """Inclusion probabilities exactly proportional to weight, capped at one.

    A row whose weight would give it a probability of one or more is taken
    with certainty; the other rows share the remaining sample size in
    proportion to their weights, which is repeated until no probability
    exceeds one.
    """
    weights = np.asarray(weights, dtype=np.float64)
    certain = np.zeros(weights.shape[0], dtype=bool)
    while True:
        free = ~certain
        left = n - np.count_nonzero(certain)
        total = weights[free].sum()
        probabilities = np.where(certain, 1.0, left * weights / total if total else 0)
        over = free & (probabilities >= 1)
        if not over.any():
            break
        certain |= over

    n_certain = int(np.count_nonzero(certain))
    if n_certain and warn:
        warnings.warn(
            f"design='pps': {n_certain} rows have weights so large that their "
            "inclusion probability would reach one; they are taken with "
            f"certainty, and the other {n - n_certain} rows are drawn with "
            "probabilities proportional to weight among the rest.",
            CertaintyWarning,
            stacklevel=stacklevel,
        )
    return np.clip(probabilities, 0.0, 1.0)


def select_pps(probabilities, seed):
    """Positions, in order, of a sample with the given inclusion probabilities."""
    mask, _, open_row, carried = pivotal_batch(probabilities, seed, 0, -1, 0.0)
    if open_row >= 0 and carried >= 0.5:
        mask[open_row] = True
    return np.flatnonzero(mask)


# Sampling in batches: files, datasets and streams. These functions take the
# position of a batch's first row in the whole data, so a run over batches
# draws what one call over the whole data would.


# Below this many rows the work is done on one thread (NumPy, or the
# ``_reservoir`` kernels, which pick their thread count by size): a parallel
# region per small batch of a stream costs more than the work it shares.
SMALL_ROWS = 32768


def _weights_array(weights):
    dtype = np.float32 if weights.dtype == np.float32 else np.float64
    return np.ascontiguousarray(weights, dtype=dtype)


def weight_summary(weights):
    """The first bad weight's position (or -1) and the number of positive ones."""
    if weights.shape[0] < SMALL_ROWS:
        good = (weights >= 0) & (weights <= np.finfo(np.float64).max)
        bad = -1 if good.all() else int(np.argmin(good))
        return bad, int(np.count_nonzero(weights > 0))
    return _sampling.weight_summary(_weights_array(weights))


def uniform_under(seed, start, n_rows, bound):
    """Positions in a batch whose uniform key is at most ``bound``, with keys."""
    record("cython._reservoir.uniform_under")
    return _reservoir.uniform_under(seed, int(start), int(n_rows), float(bound))


def weighted_under(seed, start, weights, bound):
    """Positions in a batch whose key ``E / w`` is at most ``bound``, with keys."""
    record("cython._reservoir.weighted_under")
    return _reservoir.weighted_under(
        seed, int(start), _weights_array(weights), float(bound)
    )


def uniform_under_by_stratum(seed, start, codes, bounds):
    """Positions whose uniform key is at most their stratum's bound, with keys."""
    bounds = np.ascontiguousarray(bounds, dtype=np.float64)
    if codes.shape[0] < SMALL_ROWS:
        record("cython._reservoir.uniform_under")
        positions, keys = _reservoir.uniform_under(
            seed, int(start), codes.shape[0], 1.0
        )
        kept = keys <= bounds[codes]
        return positions[kept], keys[kept]
    record("cython._sampling.uniform_candidates_by_stratum")
    return _sampling.uniform_candidates_by_stratum(
        seed, int(start), np.ascontiguousarray(codes, dtype=np.intp), bounds
    )


def smallest_per_stratum(keys, codes, take):
    """Mask of the ``take[h]`` smallest (key, position) pairs of each stratum."""
    if keys.shape[0] < SMALL_ROWS:
        order = np.lexsort((keys, codes))
        first = np.searchsorted(codes[order], np.arange(take.shape[0]))
        rank = np.arange(order.shape[0]) - first[codes[order]]
        mask = np.zeros(keys.shape[0], dtype=bool)
        mask[order[rank < take[codes[order]]]] = True
        return mask
    record("cython._sampling.stratified_select")
    return _sampling.stratified_select(
        np.ascontiguousarray(keys, dtype=np.float64),
        np.ascontiguousarray(codes, dtype=np.intp),
        np.ascontiguousarray(take, dtype=np.int64),
    )


def algorithm_l(seed, n):
    """The skip generator of Li's Algorithm L for a reservoir of ``n`` rows."""
    record("cython._reservoir.AlgorithmL")
    return _reservoir.AlgorithmL(seed, int(n))


def pivotal_batch(probabilities, seed, start, open_row, carried):
    """One batch of the ordered pivotal method; see ``_sampling.pivotal_select``."""
    record("cython._sampling.pivotal_select")
    return _sampling.pivotal_select(
        np.ascontiguousarray(probabilities, dtype=np.float64),
        seed,
        int(start),
        int(open_row),
        float(carried),
    )


def weighted_draws(weights, seed, start, n_draws):
    """``n_draws`` positions drawn with replacement by weight, sorted.

    Walker's alias table over the batch's rows; draw ``d`` uses stream
    positions ``2 (start + d)`` and ``2 (start + d) + 1``.
    """
    record("cython._sampling.alias_draws")
    table = _sampling.alias_table(_weights_array(weights))
    draws = _sampling.alias_draws(table, seed, int(start), int(n_draws))
    draws.sort()
    return draws


def uniform_draws(seed, start, n_draws, n_rows):
    """``n_draws`` positions in ``[0, n_rows)`` drawn uniformly, sorted."""
    record("cython._sampling.uniform_draws")
    draws = _sampling.uniform_draws(seed, int(start), int(n_draws), int(n_rows))
    draws.sort()
    return draws
