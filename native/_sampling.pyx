"""Sampling kernels: random keys, selection by key, stratification, pivotal.

Randomness. A sample is decided by one 64-bit seed, drawn from the caller's
``numpy.random.Generator`` through numpy's C random API (:func:`draw_seed`).
Row ``i`` then gets its random numbers from a counter-based stream keyed by
that seed (``_rng.pxd``): they depend on the seed and the row's position
only, so threads, batch sizes and container types cannot change a sample.

Sampling without replacement works on keys. Row ``i`` gets the key
``E_i / w_i`` with ``E_i`` standard exponential; the ``n`` rows with the
smallest keys are distributed as ``n`` successive draws, each proportional to
weight among the rows not yet drawn (Efraimidis and Spirakis, "Weighted
random sampling with a reservoir", Information Processing Letters 97(5),
2006). With equal weights uniform keys suffice. Ties between keys go to the
lower row, which makes every result independent of the selection order.

Selection. The ``k``-th smallest key is found by introselect, first on a
systematic subsample of the keys to bound it from above, then only on the
keys under that bound, gathered in parallel; rows are then marked by one
parallel comparison. A sample of ``n`` of ``N`` rows costs O(N) with small
constants, whatever ``n``.

The functions trust their input: the dispatchers in ``skfast.sampling`` and
``skfast.model_selection`` validate it.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from cython.parallel cimport prange
from libc.float cimport DBL_MAX
from libc.math cimport INFINITY, ceil, floor, log, sqrt
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcpy
from numpy.random cimport bitgen_t

from _rng cimport random_open

import numpy as np

ctypedef fused weight_t:
    float
    double

cdef enum:
    # Below this many rows selection works on every key directly.
    DIRECT_ROWS = 65536
    # Rows of the systematic subsample that bounds the k-th smallest key.
    PROBE_ROWS = 65536
    # Chunks of rows for the parallel gather; a fixed number, so the order of
    # gathered rows never depends on the thread count.
    GATHER_CHUNKS = 64


cdef struct KeyedRow:
    double key
    Py_ssize_t row


cdef inline bint _before(KeyedRow a, KeyedRow b) noexcept nogil:
    return a.key < b.key or (a.key == b.key and a.row < b.row)


cdef int _compare(const void* a, const void* b) noexcept nogil:
    cdef KeyedRow x = (<KeyedRow*> a)[0]
    cdef KeyedRow y = (<KeyedRow*> b)[0]
    if _before(x, y):
        return -1
    if _before(y, x):
        return 1
    return 0


cdef inline void _swap(KeyedRow* a, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    cdef KeyedRow tmp = a[i]
    a[i] = a[j]
    a[j] = tmp


cdef void _select(KeyedRow* a, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Reorder ``a[:n]`` so that ``a[:k]`` holds its ``k`` smallest entries.

    Quickselect with a median-of-three pivot and Hoare partitioning; after
    a depth of twice the bit length of ``n`` it sorts what is left, which
    bounds the worst case by O(n log n). Entries are distinct (rows differ),
    so each partition step leaves both sides non-empty.
    """
    cdef Py_ssize_t lo = 0, hi = n - 1, mid, i, j
    cdef Py_ssize_t target = k - 1
    cdef KeyedRow pivot
    cdef int depth = 0
    cdef Py_ssize_t size = n

    if k <= 0 or k >= n:
        return

    while size > 0:
        depth += 2
        size >>= 1

    while hi > lo:
        if depth == 0:
            qsort(a + lo, hi - lo + 1, sizeof(KeyedRow), _compare)
            return
        depth -= 1

        mid = lo + (hi - lo) // 2
        if _before(a[mid], a[lo]):
            _swap(a, mid, lo)
        if _before(a[hi], a[lo]):
            _swap(a, hi, lo)
        if _before(a[hi], a[mid]):
            _swap(a, hi, mid)
        pivot = a[mid]

        i = lo - 1
        j = hi + 1
        while True:
            i += 1
            while _before(a[i], pivot):
                i += 1
            j -= 1
            while _before(pivot, a[j]):
                j -= 1
            if i >= j:
                break
            _swap(a, i, j)

        if target <= j:
            hi = j
        else:
            lo = j + 1


cdef KeyedRow _largest(const KeyedRow* a, Py_ssize_t n) noexcept nogil:
    cdef KeyedRow best = a[0]
    cdef Py_ssize_t i
    for i in range(1, n):
        if _before(best, a[i]):
            best = a[i]
    return best


cdef KeyedRow* _allocate_rows(Py_ssize_t n) except NULL:
    cdef KeyedRow* rows = <KeyedRow*> malloc(max(n, 1) * sizeof(KeyedRow))
    if rows == NULL:
        raise MemoryError(f"cannot allocate a selection buffer of {n} rows")
    return rows


cdef Py_ssize_t _gather_at_most(
    const double* keys, Py_ssize_t n, double bound, KeyedRow** out
) except -1:
    """Gather the rows whose key is at most ``bound``, in row order."""
    cdef Py_ssize_t counts[GATHER_CHUNKS + 1]
    cdef Py_ssize_t c, i, start, stop, pos, total = 0
    cdef Py_ssize_t chunk = (n + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef KeyedRow* rows

    for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
        counts[c + 1] = 0
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            if keys[i] <= bound:
                counts[c + 1] += 1
    counts[0] = 0
    for c in range(GATHER_CHUNKS):
        counts[c + 1] += counts[c]
    total = counts[GATHER_CHUNKS]

    rows = _allocate_rows(total)
    for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
        pos = counts[c]
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            if keys[i] <= bound:
                rows[pos].key = keys[i]
                rows[pos].row = i
                pos = pos + 1
    out[0] = rows
    return total


cdef KeyedRow _kth_direct(const double* keys, Py_ssize_t n, Py_ssize_t k) except *:
    cdef KeyedRow* rows
    cdef KeyedRow result
    cdef Py_ssize_t count = _gather_at_most(keys, n, INFINITY, &rows)

    try:
        with nogil:
            _select(rows, count, k)
            result = _largest(rows, k)
    finally:
        free(rows)
    return result


cdef KeyedRow _kth(const double* keys, Py_ssize_t n, Py_ssize_t k) except *:
    """The ``k``-th smallest (key, row) pair of ``keys[:n]``, ``1 <= k <= n``.

    A systematic subsample bounds the answer from above: its rank
    ``k m / n`` plus four binomial standard deviations (and a few rows) is,
    all but surely, above the ``k``-th key of the whole. Only the keys under
    the bound are then selected among. When the bound falls short (fewer
    than ``k`` keys under it), the selection runs on every key.
    """
    cdef Py_ssize_t m, stride, i, rank, count
    cdef double expected
    cdef KeyedRow* probe
    cdef KeyedRow* rows
    cdef KeyedRow bound, result

    if n <= DIRECT_ROWS or 4 * k >= n:
        return _kth_direct(keys, n, k)

    stride = n // PROBE_ROWS
    m = n // stride
    expected = (<double> k) * m / n
    rank = min(m, <Py_ssize_t> ceil(expected + 4 * sqrt(expected) + 16))
    probe = _allocate_rows(m)
    try:
        with nogil:
            for i in range(m):
                probe[i].key = keys[i * stride]
                probe[i].row = i * stride
            _select(probe, m, rank)
            bound = _largest(probe, rank)
    finally:
        free(probe)

    count = _gather_at_most(keys, n, bound.key, &rows)
    try:
        if count < k:
            return _kth_direct(keys, n, k)
        with nogil:
            _select(rows, count, k)
            result = _largest(rows, k)
    finally:
        free(rows)
    return result


def kth_smallest(const double[::1] keys, Py_ssize_t k):
    """Return the ``k``-th smallest key and its row, ties to the lower row.

    Parameters
    ----------
    keys : ndarray of shape (n_rows,), float64
    k : int, 1 <= k <= n_rows

    Returns
    -------
    key : float
    row : int
    """
    cdef KeyedRow result = _kth(&keys[0], keys.shape[0], k)
    return result.key, result.row


def mask_up_to(const double[::1] keys, double key, Py_ssize_t row):
    """Mark the rows whose (key, row) pair is at most ``(key, row)``.

    Parameters
    ----------
    keys : ndarray of shape (n_rows,), float64
    key : float
    row : int

    Returns
    -------
    mask : ndarray of shape (n_rows,), bool
    """
    cdef Py_ssize_t i, n = keys.shape[0]
    result = np.empty(n, dtype=np.bool_)
    cdef unsigned char[::1] mask = result.view(np.uint8)

    for i in prange(n, nogil=True, schedule="static"):
        mask[i] = keys[i] < key or (keys[i] == key and i <= row)
    return result


def select_smallest(const double[::1] keys, Py_ssize_t k):
    """Return the rows of the ``k`` smallest keys, smallest key first.

    With exponential keys the order is the order in which successive
    weighted draws would pick the rows.

    Parameters
    ----------
    keys : ndarray of shape (n_rows,), float64
    k : int, 0 <= k <= n_rows

    Returns
    -------
    rows : ndarray of shape (k,), intp
    """
    cdef Py_ssize_t i, count, n = keys.shape[0]
    cdef KeyedRow last
    cdef KeyedRow* rows
    result = np.empty(k, dtype=np.intp)
    cdef Py_ssize_t[::1] out = result

    if k == 0:
        return result
    last = _kth(&keys[0], n, k)
    count = _gather_at_most(&keys[0], n, last.key, &rows)
    try:
        with nogil:
            qsort(rows, count, sizeof(KeyedRow), _compare)
            for i in range(k):
                out[i] = rows[i].row
    finally:
        free(rows)
    return result


def stratified_select(
    const double[::1] keys,
    const Py_ssize_t[::1] codes,
    const int64_t[::1] take,
):
    """Mark, in each stratum, the rows with the smallest keys.

    Rows are grouped by stratum with a stable counting sort, then each
    stratum is selected independently, strata in parallel.

    Parameters
    ----------
    keys : ndarray of shape (n_rows,), float64
    codes : ndarray of shape (n_rows,), intp
        Stratum of each row, in ``[0, n_strata)``.
    take : ndarray of shape (n_strata,), int64
        Rows to take from each stratum, at most its size.

    Returns
    -------
    mask : ndarray of shape (n_rows,), bool
    """
    cdef Py_ssize_t n = keys.shape[0], n_strata = take.shape[0]
    cdef Py_ssize_t i, h, pos, size, j
    cdef Py_ssize_t[::1] starts = np.zeros(n_strata + 1, dtype=np.intp)
    cdef Py_ssize_t[::1] fill = np.empty(n_strata, dtype=np.intp)
    cdef KeyedRow* buf
    cdef KeyedRow* segment
    result = np.zeros(n, dtype=np.bool_)
    cdef unsigned char[::1] mask = result.view(np.uint8)

    for i in range(n):
        starts[codes[i] + 1] += 1
    for h in range(n_strata):
        starts[h + 1] += starts[h]
        fill[h] = starts[h]

    buf = _allocate_rows(n)
    try:
        with nogil:
            for i in range(n):
                pos = fill[codes[i]]
                buf[pos].key = keys[i]
                buf[pos].row = i
                fill[codes[i]] = pos + 1

            for h in prange(n_strata, schedule="dynamic"):
                segment = buf + starts[h]
                size = starts[h + 1] - starts[h]
                _select(segment, size, take[h])
                for j in range(take[h]):
                    mask[segment[j].row] = 1
    finally:
        free(buf)
    return result


cdef bitgen_t* _bitgen_of(object generator) except NULL:
    capsule = generator.bit_generator.capsule
    if not PyCapsule_IsValid(capsule, "BitGenerator"):
        raise ValueError("the generator's bit generator has no C interface")
    return <bitgen_t*> PyCapsule_GetPointer(capsule, "BitGenerator")


def weight_summary(const weight_t[::1] weights):
    """The first row whose weight is negative or not finite, and the positives.

    One parallel pass; chunks are scanned independently and the lowest bad
    row wins, so the answer never depends on the thread count.

    Returns
    -------
    first_bad : int
        Position of the first bad weight, or -1.
    n_positive : int
        Number of positive weights.
    """
    cdef Py_ssize_t n = weights.shape[0]
    cdef Py_ssize_t chunk = (n + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef Py_ssize_t first_bad[GATHER_CHUNKS]
    cdef Py_ssize_t positives[GATHER_CHUNKS]
    cdef Py_ssize_t c, i, total = 0, bad = -1
    cdef double w

    for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
        first_bad[c] = -1
        positives[c] = 0
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            w = weights[i]
            if not (w >= 0 and w <= DBL_MAX):
                if first_bad[c] < 0:
                    first_bad[c] = i
            elif w > 0:
                positives[c] += 1
    for c in range(GATHER_CHUNKS):
        total += positives[c]
        if bad < 0 and first_bad[c] >= 0:
            bad = first_bad[c]
    return bad, total


def draw_seed(generator):
    """Draw the 64-bit seed of a sample from ``generator``'s bit stream.

    Parameters
    ----------
    generator : numpy.random.Generator

    Returns
    -------
    seed : int
    """
    cdef bitgen_t* bitgen = _bitgen_of(generator)
    cdef uint64_t seed

    with generator.bit_generator.lock:
        seed = bitgen.next_uint64(bitgen.state)
    return seed


def uniform_keys(uint64_t seed, int64_t start, Py_ssize_t n_rows):
    """Uniform keys in (0, 1) of rows ``start .. start + n_rows - 1``.

    Parameters
    ----------
    seed : int
        Seed of the stream, from :func:`draw_seed`.
    start : int
        Position of the first row in the whole data.
    n_rows : int

    Returns
    -------
    keys : ndarray of shape (n_rows,), float64
    """
    keys = np.empty(n_rows, dtype=np.float64)
    cdef double[::1] out = keys
    cdef Py_ssize_t i

    for i in prange(n_rows, nogil=True, schedule="static"):
        out[i] = random_open(seed, start + i)
    return keys


def exponential_keys(uint64_t seed, int64_t start, Py_ssize_t n_rows):
    """Standard exponential keys of rows ``start .. start + n_rows - 1``.

    Parameters
    ----------
    seed : int
    start : int
    n_rows : int

    Returns
    -------
    keys : ndarray of shape (n_rows,), float64
    """
    keys = np.empty(n_rows, dtype=np.float64)
    cdef double[::1] out = keys
    cdef Py_ssize_t i

    for i in prange(n_rows, nogil=True, schedule="static"):
        out[i] = -log(random_open(seed, start + i))
    return keys


def weighted_keys(uint64_t seed, int64_t start, const weight_t[::1] weights):
    """Keys ``E_i / w_i`` of rows ``start ..``; weight zero gives infinity.

    Parameters
    ----------
    seed : int
    start : int
    weights : ndarray of shape (n_rows,), float32 or float64, non-negative

    Returns
    -------
    keys : ndarray of shape (n_rows,), float64
    """
    cdef Py_ssize_t i, n = weights.shape[0]
    keys = np.empty(n, dtype=np.float64)
    cdef double[::1] out = keys

    for i in prange(n, nogil=True, schedule="static"):
        if weights[i] > 0:
            out[i] = -log(random_open(seed, start + i)) / weights[i]
        else:
            out[i] = INFINITY
    return keys


def keys_at(uint64_t seed, const Py_ssize_t[::1] rows, const weight_t[::1] weights):
    """Keys ``E_i / w_i`` of the given rows, whose weights are given alongside.

    Parameters
    ----------
    seed : int
    rows : ndarray of shape (n,), intp
        Positions of the rows in the whole data.
    weights : ndarray of shape (n,), float32 or float64
        The weights of those rows.

    Returns
    -------
    keys : ndarray of shape (n,), float64
    """
    cdef Py_ssize_t i, n = rows.shape[0]
    keys = np.empty(n, dtype=np.float64)
    cdef double[::1] out = keys

    for i in prange(n, nogil=True, schedule="static"):
        if weights[i] > 0:
            out[i] = -log(random_open(seed, rows[i])) / weights[i]
        else:
            out[i] = INFINITY
    return keys


cdef struct Gathered:
    KeyedRow* buffers[GATHER_CHUNKS]
    Py_ssize_t sizes[GATHER_CHUNKS]
    Py_ssize_t capacities[GATHER_CHUNKS]
    Py_ssize_t under[GATHER_CHUNKS]
    int failed


cdef void _open_gathered(Gathered* gathered, Py_ssize_t expected) except *:
    """Empty per-chunk buffers sized for about twice ``expected / GATHER_CHUNKS``."""
    cdef Py_ssize_t c
    for c in range(GATHER_CHUNKS):
        gathered.sizes[c] = 0
        gathered.under[c] = 0
        gathered.capacities[c] = 2 * expected // GATHER_CHUNKS + 1024
        gathered.buffers[c] = <KeyedRow*> malloc(
            gathered.capacities[c] * sizeof(KeyedRow)
        )
    gathered.failed = 0
    for c in range(GATHER_CHUNKS):
        if gathered.buffers[c] == NULL:
            _close_gathered(gathered)
            raise MemoryError("cannot allocate the candidate buffers")


cdef void _close_gathered(Gathered* gathered) noexcept:
    cdef Py_ssize_t c
    for c in range(GATHER_CHUNKS):
        free(gathered.buffers[c])
        gathered.buffers[c] = NULL


cdef inline bint _make_room(KeyedRow** buffer, Py_ssize_t size,
                            Py_ssize_t* capacity) noexcept nogil:
    """Ensure room for one more entry; False when memory runs out."""
    cdef KeyedRow* grown
    if size < capacity[0]:
        return True
    capacity[0] = 2 * capacity[0] + 1024
    grown = <KeyedRow*> realloc(buffer[0], capacity[0] * sizeof(KeyedRow))
    if grown == NULL:
        return False
    buffer[0] = grown
    return True


cdef void _gather_weighted(
    uint64_t seed, const weight_t* weights, Py_ssize_t start, Py_ssize_t stop,
    double bound, Gathered* gathered, Py_ssize_t c,
) noexcept nogil:
    """Gather one chunk's candidates with their uniform draws.

    A row's key is at most ``bound`` exactly when ``u >= exp(-x)`` with
    ``x = bound w``, and ``exp(-x) >= 1 - x + x^2/2 - x^3/6`` for every
    ``x >= 0``: so a row that fails ``u >= 1 - x + x^2/2 - x^3/6`` cannot be
    in the sample, and the test costs a few multiplications instead of an
    exponential. It is applied without a branch: every row is written at the
    end of the buffer and the size grows only for kept rows.
    """
    cdef Py_ssize_t i, size = 0, capacity = gathered.capacities[c]
    cdef KeyedRow* buffer = gathered.buffers[c]
    cdef double w, u, x
    # A hair of slack on x only lowers the cubic (it decreases in x), so
    # rounding cannot exclude a row that belongs in the sample.
    cdef double scale = bound * (1 + 1e-9)

    for i in range(start, stop):
        if not _make_room(&buffer, size, &capacity):
            gathered.failed = 1
            break
        w = weights[i]
        u = random_open(seed, i)
        buffer[size].key = u
        buffer[size].row = i
        x = scale * w
        size += (w > 0) & (u >= 1 - x * (1 - x * (0.5 - x / 6)))
    gathered.buffers[c] = buffer
    gathered.sizes[c] = size
    gathered.capacities[c] = capacity


cdef void _gather_uniform(
    uint64_t seed, Py_ssize_t start, Py_ssize_t stop, double bound,
    Gathered* gathered, Py_ssize_t c,
) noexcept nogil:
    """Gather one chunk's rows whose uniform key is at most ``bound``."""
    cdef Py_ssize_t i, size = 0, capacity = gathered.capacities[c]
    cdef KeyedRow* buffer = gathered.buffers[c]
    cdef double u

    for i in range(start, stop):
        if not _make_room(&buffer, size, &capacity):
            gathered.failed = 1
            break
        u = random_open(seed, i)
        buffer[size].key = u
        buffer[size].row = i
        size += u <= bound
    gathered.buffers[c] = buffer
    gathered.sizes[c] = size
    gathered.capacities[c] = capacity
    gathered.under[c] = size


cdef KeyedRow* _concatenate(Gathered* gathered, Py_ssize_t* total) except NULL:
    """All gathered pairs in one buffer, in row order."""
    cdef Py_ssize_t c, pos = 0
    cdef KeyedRow* candidates

    if gathered.failed:
        raise MemoryError("cannot grow the candidate buffers")
    total[0] = 0
    for c in range(GATHER_CHUNKS):
        total[0] += gathered.sizes[c]
    candidates = _allocate_rows(total[0])
    with nogil:
        for c in range(GATHER_CHUNKS):
            memcpy(
                candidates + pos,
                gathered.buffers[c],
                gathered.sizes[c] * sizeof(KeyedRow),
            )
            pos += gathered.sizes[c]
    return candidates


cdef object _select_gathered(Gathered* gathered, Py_ssize_t k):
    """The rows of the ``k`` smallest gathered pairs in row order, or None.

    None when fewer than ``k`` gathered keys were under the bound, so the
    bound may have cut off a row that belongs in the sample.
    """
    cdef Py_ssize_t c, i, total, n_under = 0, pos = 0
    cdef KeyedRow* candidates
    cdef KeyedRow* work = NULL
    cdef KeyedRow last

    for c in range(GATHER_CHUNKS):
        n_under += gathered.under[c]
    if n_under < k and not gathered.failed:
        return None

    candidates = _concatenate(gathered, &total)
    result = np.empty(k, dtype=np.intp)
    cdef Py_ssize_t[::1] out = result
    try:
        work = _allocate_rows(total)
        with nogil:
            memcpy(work, candidates, total * sizeof(KeyedRow))
            _select(work, total, k)
            last = _largest(work, k)
            for i in range(total):
                if not _before(last, candidates[i]):
                    out[pos] = candidates[i].row
                    pos += 1
        return result
    finally:
        free(candidates)
        free(work)


def weighted_candidates(
    uint64_t seed, const weight_t[::1] weights, double bound, Py_ssize_t expected
):
    """The rows whose key may be at most ``bound``, with their uniform draws.

    A row's key ``-log(u) / w`` is at most ``bound`` only if
    ``u >= exp(-bound w)``, which is tested against a cubic lower bound of
    the exponential (see ``_gather_weighted``): a few multiplications, so
    the caller takes the logarithm only for the rows that pass (with NumPy's
    vectorised ``log``). Every row whose key is at most ``bound`` is
    returned (a few more may be), in row order.

    Parameters
    ----------
    seed : int
    weights : ndarray of shape (n_rows,), float32 or float64, non-negative
    bound : float
    expected : int
        About how many rows will pass, to size the buffers.

    Returns
    -------
    rows : ndarray of shape (n_candidates,), intp
    draws : ndarray of shape (n_candidates,), float64
        Each row's uniform draw ``u``.
    """
    cdef Py_ssize_t n = weights.shape[0]
    cdef Py_ssize_t chunk = (n + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef Py_ssize_t c, i, total
    cdef Gathered gathered
    cdef Py_ssize_t[::1] out_rows
    cdef double[::1] out_draws

    cdef Py_ssize_t pos = 0
    cdef KeyedRow* buffer
    _open_gathered(&gathered, expected)
    try:
        for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
            _gather_weighted(
                seed, &weights[0], c * chunk, min((c + 1) * chunk, n), bound,
                &gathered, c,
            )
        if gathered.failed:
            raise MemoryError("cannot grow the candidate buffers")
        total = 0
        for c in range(GATHER_CHUNKS):
            total += gathered.sizes[c]
        rows = np.empty(total, dtype=np.intp)
        draws = np.empty(total, dtype=np.float64)
        out_rows = rows
        out_draws = draws
        with nogil:
            for c in range(GATHER_CHUNKS):
                buffer = gathered.buffers[c]
                for i in range(gathered.sizes[c]):
                    out_rows[pos] = buffer[i].row
                    out_draws[pos] = buffer[i].key
                    pos += 1
        return rows, draws
    finally:
        _close_gathered(&gathered)


def uniform_selection(uint64_t seed, Py_ssize_t n_rows, double bound, Py_ssize_t k):
    """Rows of the ``k`` smallest uniform keys, in row order, or None.

    One parallel pass gathers, chunk by chunk and without a branch per row,
    the rows whose key is at most ``bound``; the ``k``-th smallest (key,
    row) pair is selected among them and the rows up to it are listed in
    row order. When fewer than ``k`` keys are at most ``bound`` (the bound
    was too low), None is returned.

    Returns
    -------
    rows : ndarray of shape (k,), intp, or None
    """
    cdef Py_ssize_t chunk = (n_rows + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef Py_ssize_t c
    cdef Gathered gathered

    _open_gathered(&gathered, k)
    try:
        for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
            _gather_uniform(
                seed, c * chunk, min((c + 1) * chunk, n_rows), bound, &gathered, c
            )
        return _select_gathered(&gathered, k)
    finally:
        _close_gathered(&gathered)


def uniform_candidates_by_stratum(
    uint64_t seed, int64_t start, const Py_ssize_t[::1] codes, const double[::1] bounds
):
    """The rows whose uniform key is at most their stratum's bound, with keys.

    Parameters
    ----------
    seed : int
    start : int
        Position of the first row in the whole data.
    codes : ndarray of shape (n_rows,), intp
        Stratum of each row.
    bounds : ndarray of shape (n_strata,), float64
        Upper bound on the keys kept in each stratum.

    Returns
    -------
    rows : ndarray of shape (n_candidates,), intp
        Positions relative to ``start``, in row order.
    keys : ndarray of shape (n_candidates,), float64
    """
    cdef Py_ssize_t n = codes.shape[0]
    cdef Py_ssize_t counts[GATHER_CHUNKS + 1]
    cdef Py_ssize_t c, i, pos
    cdef Py_ssize_t chunk = (n + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef unsigned char[::1] passed = np.empty(n, dtype=np.uint8)

    for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
        counts[c + 1] = 0
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            passed[i] = random_open(seed, start + i) <= bounds[codes[i]]
            counts[c + 1] += passed[i]
    counts[0] = 0
    for c in range(GATHER_CHUNKS):
        counts[c + 1] += counts[c]

    rows = np.empty(counts[GATHER_CHUNKS], dtype=np.intp)
    keys = np.empty(counts[GATHER_CHUNKS], dtype=np.float64)
    cdef Py_ssize_t[::1] out_rows = rows
    cdef double[::1] out_keys = keys
    for c in prange(GATHER_CHUNKS, nogil=True, schedule="static"):
        pos = counts[c]
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            if passed[i]:
                out_rows[pos] = i
                out_keys[pos] = random_open(seed, start + i)
                pos = pos + 1
    return rows, keys


cdef packed struct AliasEntry:
    double accept
    int64_t alias


ALIAS_DTYPE = np.dtype([("accept", np.float64), ("alias", np.int64)])


cdef void _build_alias(
    const weight_t* weights, Py_ssize_t n, AliasEntry* table, Py_ssize_t* work
) noexcept nogil:
    """Vose's alias table over ``n`` rows, with aliases local to the rows.

    The under-full and over-full columns are kept at the two ends of one
    work array; a column that falls under one joins the under-full ones.
    Rows of weight zero are kept with probability zero.
    """
    cdef Py_ssize_t i, n_small = 0, n_large = 0, small_row, large_row
    cdef double total = 0.0, scale

    for i in range(n):
        total += weights[i]
    scale = n / total if total > 0 else 0.0
    for i in range(n):
        table[i].accept = weights[i] * scale
        table[i].alias = i
        if table[i].accept < 1:
            work[n_small] = i
            n_small += 1
        else:
            work[n - 1 - n_large] = i
            n_large += 1

    while n_small > 0 and n_large > 0:
        n_small -= 1
        small_row = work[n_small]
        large_row = work[n - n_large]
        table[small_row].alias = large_row
        table[large_row].accept = (
            table[large_row].accept + table[small_row].accept
        ) - 1
        if table[large_row].accept < 1:
            n_large -= 1
            work[n_small] = large_row
            n_small += 1

    # What is left holds probability one up to rounding.
    for i in range(n_small):
        table[work[i]].accept = 1.0
    for i in range(n - n_large, n):
        table[work[i]].accept = 1.0


def alias_table(const weight_t[::1] weights):
    """Build Walker's alias table for drawing rows with probability by weight.

    Vose's linear-time construction ("A linear algorithm for generating
    random numbers with a given distribution", IEEE Transactions on Software
    Engineering 17(9), 1991). A draw picks a column uniformly, keeps it with
    probability ``accept`` and otherwise takes ``alias``; the two sit side
    by side, so a draw touches one cache line.

    Parameters
    ----------
    weights : ndarray of shape (n_rows,), float32 or float64, non-negative,
        with a positive sum

    Returns
    -------
    table : ndarray of shape (n_rows,), dtype ALIAS_DTYPE
    """
    cdef Py_ssize_t n = weights.shape[0]
    result = np.empty(n, dtype=ALIAS_DTYPE)
    cdef AliasEntry[::1] table = result
    cdef Py_ssize_t[::1] work = np.empty(max(n, 1), dtype=np.intp)

    if n:
        with nogil:
            _build_alias(&weights[0], n, &table[0], &work[0])
    return result


def alias_draws(
    const AliasEntry[::1] table, uint64_t seed, int64_t start, Py_ssize_t n_draws
):
    """Draw ``n_draws`` rows with replacement from an alias table.

    Draw ``d`` uses positions ``2 (start + d)`` and ``2 (start + d) + 1`` of
    the stream, so draws can be made in parallel and in any number of parts.

    Returns
    -------
    rows : ndarray of shape (n_draws,), intp
    """
    cdef Py_ssize_t d, n = table.shape[0]
    draws = np.empty(n_draws, dtype=np.intp)
    cdef Py_ssize_t[::1] out = draws

    for d in prange(n_draws, nogil=True, schedule="static"):
        out[d] = _alias_draw(&table[0], n, seed, 2 * <uint64_t> (start + d))
    return draws


cdef inline Py_ssize_t _alias_draw(
    const AliasEntry* table, Py_ssize_t n, uint64_t seed, uint64_t position
) noexcept nogil:
    cdef Py_ssize_t column = <Py_ssize_t> (random_open(seed, position) * n)
    if column >= n:
        column = n - 1
    if random_open(seed, position + 1) < table[column].accept:
        return column
    return table[column].alias


def chunk_totals(const weight_t[::1] weights, Py_ssize_t chunk_rows):
    """Sum of the weights of each chunk of ``chunk_rows`` consecutive rows.

    Returns
    -------
    totals : ndarray of shape (n_chunks,), float64
    """
    cdef Py_ssize_t c, i, n = weights.shape[0]
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    totals = np.zeros(n_chunks, dtype=np.float64)
    cdef double[::1] out = totals

    for c in prange(n_chunks, nogil=True, schedule="static"):
        for i in range(c * chunk_rows, min((c + 1) * chunk_rows, n)):
            out[c] += weights[i]
    return totals


def chunked_alias_sample(
    const weight_t[::1] weights,
    Py_ssize_t chunk_rows,
    const int64_t[::1] draws_per_chunk,
    uint64_t seed,
):
    """Draw with replacement chunk by chunk, and list the draws by row.

    The rows are cut into chunks of ``chunk_rows``; ``draws_per_chunk`` says
    how many of the draws land in each (a multinomial draw over the chunks'
    total weights, made by the caller). Each chunk then builds the alias
    table of its own rows and makes its draws from it, chunks in parallel:
    together a two-level alias method, exact and O(1) a draw, whose draws
    stay within one chunk's table at a time and so within the cache. Draw
    ``d`` overall uses positions ``2 d`` and ``2 d + 1`` of the stream.

    Returns
    -------
    rows : ndarray of shape (sum(draws_per_chunk),), intp
        Every draw's row, sorted.
    """
    cdef Py_ssize_t c, i, j, d, pos, size, first, n = weights.shape[0]
    cdef Py_ssize_t n_chunks = draws_per_chunk.shape[0]
    cdef int64_t[::1] offsets = np.zeros(n_chunks + 1, dtype=np.int64)
    cdef AliasEntry* table
    cdef Py_ssize_t* work
    cdef int64_t* counts
    cdef int failed = 0

    for c in range(n_chunks):
        offsets[c + 1] = offsets[c] + draws_per_chunk[c]
    rows = np.empty(offsets[n_chunks], dtype=np.intp)
    cdef Py_ssize_t[::1] out = rows

    # Each chunk works in buffers of its own size, which the allocator hands
    # back warm to the next chunk on the same thread.
    for c in prange(n_chunks, nogil=True, schedule="dynamic"):
        first = c * chunk_rows
        size = min(chunk_rows, n - first)
        if draws_per_chunk[c] == 0 or size <= 0:
            continue
        table = <AliasEntry*> malloc(size * sizeof(AliasEntry))
        work = <Py_ssize_t*> malloc(size * sizeof(Py_ssize_t))
        counts = <int64_t*> calloc(size, sizeof(int64_t))
        if table == NULL or work == NULL or counts == NULL:
            failed = 1
        else:
            _build_alias(&weights[first], size, table, work)
            for d in range(offsets[c], offsets[c + 1]):
                counts[_alias_draw(table, size, seed, 2 * <uint64_t> d)] += 1
            pos = offsets[c]
            for i in range(size):
                for j in range(counts[i]):
                    out[pos] = first + i
                    pos = pos + 1
        free(table)
        free(work)
        free(counts)

    if failed:
        raise MemoryError(f"cannot allocate alias tables of {chunk_rows} rows")
    return rows


def uniform_draws(uint64_t seed, int64_t start, Py_ssize_t n_draws, Py_ssize_t n_rows):
    """Draw ``n_draws`` rows uniformly with replacement.

    Draw ``d`` uses position ``start + d`` of the stream.

    Returns
    -------
    rows : ndarray of shape (n_draws,), intp
    """
    cdef Py_ssize_t d, row
    draws = np.empty(n_draws, dtype=np.intp)
    cdef Py_ssize_t[::1] out = draws

    for d in prange(n_draws, nogil=True, schedule="static"):
        row = <Py_ssize_t> (random_open(seed, start + d) * n_rows)
        out[d] = row if row < n_rows else n_rows - 1
    return draws


def count_rows(const Py_ssize_t[::1] draws, Py_ssize_t n_rows):
    """How many times each row was drawn.

    Returns
    -------
    counts : ndarray of shape (n_rows,), int64
    """
    cdef Py_ssize_t d
    counts = np.zeros(n_rows, dtype=np.int64)
    cdef int64_t[::1] out = counts

    with nogil:
        for d in range(draws.shape[0]):
            out[draws[d]] += 1
    return counts


def counts_to_rows(const int64_t[::1] counts, Py_ssize_t total):
    """Expand per-row counts into sorted row positions (``np.repeat`` of rows).

    Returns
    -------
    rows : ndarray of shape (total,), intp
    """
    cdef Py_ssize_t i, j, pos = 0, n = counts.shape[0]
    rows = np.empty(total, dtype=np.intp)
    cdef Py_ssize_t[::1] out = rows

    with nogil:
        for i in range(n):
            for j in range(counts[i]):
                out[pos] = i
                pos += 1
    return rows


def pivotal_select(
    const double[::1] probabilities,
    uint64_t seed,
    int64_t start,
    int64_t open_row,
    double carried,
):
    """Draw a fixed-size sample with given inclusion probabilities, by batches.

    The ordered pivotal method (Deville and Tillé, "Unequal probability
    sampling without replacement through a splitting method", Biometrika
    85(1), 1998): rows are visited in order, and each new row settles a duel
    with the row still undecided, so that one of the two ends with
    probability 0 or 1 and the other carries the rest. Each row's inclusion
    probability is exactly its ``probabilities`` entry and the size is their
    sum, when that sum is a whole number; neighbouring rows are rarely both
    chosen, which spreads the sample over the row order.

    Row ``start + j`` draws position ``start + j`` of the stream, so a run
    over batches decides every row as one run over the whole data would:
    the row still undecided at the end of a batch, and the probability it
    carries, pass to the next batch (that row may lie in an earlier batch).
    Over the whole data, the row left undecided at the end is taken when it
    carries at least one half (rounding leaves it a hair from 0 or 1).

    Parameters
    ----------
    probabilities : ndarray of shape (n_rows,), float64, in [0, 1]
        Inclusion probabilities of the batch's rows.
    seed : int
    start : int
        Position of the batch's first row in the whole data.
    open_row : int
        The undecided row carried in (a position in the whole data), or -1.
    carried : float
        The probability it carries.

    Returns
    -------
    mask : ndarray of shape (n_rows,), bool
        The batch's rows taken.
    earlier_taken : bool
        Whether the undecided row carried in from an earlier batch was taken.
    open_row : int
        The undecided row carried out, or -1.
    carried : float
    """
    cdef Py_ssize_t j, n = probabilities.shape[0]
    cdef int64_t row
    cdef double p, total, u
    cdef bint earlier_taken = False
    result = np.zeros(n, dtype=np.bool_)
    cdef unsigned char[::1] mask = result.view(np.uint8)

    with nogil:
        for j in range(n):
            row = start + j
            p = probabilities[j]
            if p <= 0:
                continue
            if p >= 1:
                mask[j] = 1
                continue
            if open_row < 0:
                open_row = row
                carried = p
                continue

            total = carried + p
            u = random_open(seed, row)
            if total < 1:
                if u < p / total:
                    open_row = row
                carried = total
            else:
                if u < (1 - p) / (2 - total):
                    if open_row >= start:
                        mask[open_row - start] = 1
                    else:
                        earlier_taken = True
                    open_row = row
                else:
                    mask[j] = 1
                carried = total - 1

            if carried >= 1 - 1e-12:
                if open_row >= start:
                    mask[open_row - start] = 1
                else:
                    earlier_taken = True
                open_row = -1
            elif carried <= 1e-12:
                open_row = -1
    return result, earlier_taken, open_row, carried


cdef inline bint _more_deserving(
    double gap_a, int64_t size_a, Py_ssize_t a,
    double gap_b, int64_t size_b, Py_ssize_t b,
) noexcept nogil:
    """Whether stratum ``a`` gets the next unit before stratum ``b``."""
    if gap_a != gap_b:
        return gap_a > gap_b
    if size_a != size_b:
        return size_a > size_b
    return a < b


cdef void _sift_down(
    Py_ssize_t* heap, Py_ssize_t n_heap, Py_ssize_t pos,
    const double* gap, const int64_t* size,
) noexcept nogil:
    cdef Py_ssize_t child, best, item = heap[pos]

    while True:
        child = 2 * pos + 1
        if child >= n_heap:
            break
        best = child
        if child + 1 < n_heap and _more_deserving(
            gap[heap[child + 1]], size[heap[child + 1]], heap[child + 1],
            gap[heap[child]], size[heap[child]], heap[child],
        ):
            best = child + 1
        if not _more_deserving(
            gap[heap[best]], size[heap[best]], heap[best],
            gap[item], size[item], item,
        ):
            break
        heap[pos] = heap[best]
        pos = best
    heap[pos] = item


cdef void _hand_out(
    int64_t units, int64_t* alloc, const int64_t* limit, int64_t step,
    double* gap, const int64_t* size, Py_ssize_t n_strata, Py_ssize_t* heap,
) noexcept nogil:
    """Move ``units`` units one at a time, each to the most deserving stratum.

    ``step`` is +1 to add units (deserving means furthest below target,
    ``gap = target - alloc``) and -1 to remove them (``gap`` is negated, so
    the stratum furthest above target gives first). ``limit`` bounds each
    stratum (upper bounds when adding, lower bounds when removing).
    """
    cdef Py_ssize_t h, n_heap = 0, top

    for h in range(n_strata):
        if alloc[h] != limit[h]:
            heap[n_heap] = h
            n_heap += 1
    for h in range(n_heap // 2 - 1, -1, -1):
        _sift_down(heap, n_heap, h, gap, size)

    while units > 0 and n_heap > 0:
        top = heap[0]
        alloc[top] += step
        gap[top] -= 1.0
        units -= 1
        if alloc[top] == limit[top]:
            n_heap -= 1
            heap[0] = heap[n_heap]
        _sift_down(heap, n_heap, 0, gap, size)


def allocate(
    const double[::1] target,
    const int64_t[::1] lower,
    const int64_t[::1] upper,
    const int64_t[::1] size,
    int64_t n,
):
    """Round a real-valued allocation to integers that sum to ``n``.

    Each stratum starts at ``floor(target)`` clipped to ``[lower, upper]``;
    units are then added to (or taken from) the stratum furthest below (or
    above) its target, one at a time, ties going to the larger stratum and
    then to the lower index. Without binding bounds this is largest-remainder
    (Hamilton) rounding.

    Parameters
    ----------
    target : ndarray of shape (n_strata,), float64
        Ideal, real-valued allocation.
    lower, upper : ndarray of shape (n_strata,), int64
        Bounds per stratum, with ``sum(lower) <= n <= sum(upper)``.
    size : ndarray of shape (n_strata,), int64
        Stratum sizes, used to break ties.
    n : int
        Total to allocate.

    Returns
    -------
    alloc : ndarray of shape (n_strata,), int64
    """
    cdef Py_ssize_t h, n_strata = target.shape[0]
    cdef int64_t total = 0
    result = np.empty(n_strata, dtype=np.int64)
    cdef int64_t[::1] alloc = result
    cdef double[::1] gap = np.empty(n_strata, dtype=np.float64)
    cdef Py_ssize_t[::1] heap = np.empty(max(n_strata, 1), dtype=np.intp)

    for h in range(n_strata):
        alloc[h] = <int64_t> floor(target[h])
        alloc[h] = min(max(alloc[h], lower[h]), upper[h])
        total += alloc[h]

    if n_strata == 0:
        return result

    with nogil:
        if total < n:
            for h in range(n_strata):
                gap[h] = target[h] - alloc[h]
            _hand_out(
                n - total, &alloc[0], &upper[0], 1,
                &gap[0], &size[0], n_strata, &heap[0],
            )
        elif total > n:
            for h in range(n_strata):
                gap[h] = alloc[h] - target[h]
            _hand_out(
                total - n, &alloc[0], &lower[0], -1,
                &gap[0], &size[0], n_strata, &heap[0],
            )
    return result
