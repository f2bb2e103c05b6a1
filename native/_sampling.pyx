"""Sampling kernels: exponential keys, partial selection and stratification.

Every random draw here comes from the caller's ``numpy.random.Generator``
through numpy's C random API, so a seed reproduces a sample and the stream
is the one ``Generator.standard_exponential`` would produce.

Sampling without replacement works on keys. Row ``i`` gets the key
``E_i / w_i`` with ``E_i`` drawn from the standard exponential distribution;
the ``n`` rows with the smallest keys are distributed exactly as ``n``
successive draws, each proportional to weight among the rows not yet drawn
(Efraimidis and Spirakis, "Weighted random sampling with a reservoir",
Information Processing Letters 97(5), 2006). With equal weights the smallest
keys give a uniform sample. The keys are selected by introselect in O(N),
then only the chosen rows are sorted, so a sample costs O(N + n log n).

Ties between keys are broken by the lower row index, which makes every
result independent of the selection algorithm's internal order.

The functions trust their input: the dispatchers in ``skfast.sampling`` and
``skfast.model_selection`` validate it.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from cython.parallel cimport prange
from libc.math cimport INFINITY, floor
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, qsort
from numpy.random cimport bitgen_t
from numpy.random.c_distributions cimport random_standard_exponential_fill

import numpy as np

ctypedef fused weight_t:
    float
    double


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


cdef bitgen_t* _bitgen_of(object generator) except NULL:
    capsule = generator.bit_generator.capsule
    if not PyCapsule_IsValid(capsule, "BitGenerator"):
        raise ValueError("the generator's bit generator has no C interface")
    return <bitgen_t*> PyCapsule_GetPointer(capsule, "BitGenerator")


def exponential_keys(generator, Py_ssize_t n_rows):
    """Draw ``n_rows`` standard exponential keys from ``generator``.

    The values equal ``generator.standard_exponential(n_rows)``.

    Parameters
    ----------
    generator : numpy.random.Generator
    n_rows : int

    Returns
    -------
    keys : ndarray of shape (n_rows,), float64
    """
    cdef bitgen_t* bitgen = _bitgen_of(generator)
    keys = np.empty(n_rows, dtype=np.float64)
    cdef double[::1] out = keys

    if n_rows > 0:
        with generator.bit_generator.lock, nogil:
            random_standard_exponential_fill(bitgen, n_rows, &out[0])
    return keys


def divide_by_weights(double[::1] keys, const weight_t[::1] weights):
    """Turn exponential draws into weighted keys, in place.

    ``keys[i]`` becomes ``keys[i] / weights[i]``; a row of weight zero gets
    an infinite key, so it is chosen only after every row of positive weight.

    Parameters
    ----------
    keys : ndarray of shape (n_rows,), float64
    weights : ndarray of shape (n_rows,), float32 or float64, non-negative
    """
    cdef Py_ssize_t i, n = keys.shape[0]

    for i in prange(n, nogil=True, schedule="static"):
        if weights[i] > 0:
            keys[i] = keys[i] / weights[i]
        else:
            keys[i] = INFINITY


cdef KeyedRow* _keyed_rows(const double[::1] keys) except NULL:
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef KeyedRow* rows = <KeyedRow*> malloc(max(n, 1) * sizeof(KeyedRow))

    if rows == NULL:
        raise MemoryError(f"cannot allocate the selection buffer for {n} rows")
    for i in prange(n, nogil=True, schedule="static"):
        rows[i].key = keys[i]
        rows[i].row = i
    return rows


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
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef KeyedRow* buf = _keyed_rows(keys)
    result = np.empty(k, dtype=np.intp)
    cdef Py_ssize_t[::1] out = result

    try:
        with nogil:
            _select(buf, n, k)
            qsort(buf, k, sizeof(KeyedRow), _compare)
            for i in range(k):
                out[i] = buf[i].row
    finally:
        free(buf)
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

    buf = <KeyedRow*> malloc(max(n, 1) * sizeof(KeyedRow))
    if buf == NULL:
        raise MemoryError(f"cannot allocate the selection buffer for {n} rows")
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
