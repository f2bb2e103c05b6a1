"""Kernels for sampling data that arrive in batches: files and streams.

Every kernel here takes the position ``start`` of its batch's first row in
the whole data and draws row ``start + i``'s random numbers from the
counter-based stream of ``_rng.pxd``, so a batch sees exactly the numbers the
same rows see in memory, and the batch size cannot change a sample.

- ``uniform_under`` and ``weighted_under`` gather a batch's rows whose key is
  at most a bound: the rows that may still beat the largest key kept so far.
- ``AlgorithmL`` computes the skips of Li's reservoir Algorithm L.

The ordered pivotal method, which also runs batch by batch, lives with the
other designs in ``_sampling.pyx``. The functions trust their input:
``skfast.sampling._kernels`` and the modules above it validate it.
"""

from cython.parallel cimport prange
from libc.math cimport INFINITY, exp, floor, log, log1p
from libc.stdint cimport INT64_MAX, int64_t, uint64_t

from _rng cimport random_open

import numpy as np

ctypedef fused weight_t:
    float
    double

cdef enum:
    # Fixed chunks of a batch for the parallel gathers, so the order of the
    # gathered rows never depends on the thread count.
    GATHER_CHUNKS = 64

# Below this many rows a batch is gathered on one thread: waking a team of
# threads for every small batch of a stream costs more than the work, and far
# more on a loaded machine.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int skfast_threads_for(Py_ssize_t n_rows) {
        return n_rows < 32768 ? 1 : omp_get_max_threads();
    }
    #else
    static int skfast_threads_for(Py_ssize_t n_rows) { return 1; }
    #endif
    """
    int skfast_threads_for(Py_ssize_t n_rows) nogil


def uniform_under(uint64_t seed, int64_t start, Py_ssize_t n_rows, double bound):
    """Rows of a batch whose uniform key is at most ``bound``, with their keys.

    Parameters
    ----------
    seed : int
    start : int
        Position of the batch's first row in the whole data.
    n_rows : int
        Rows in the batch.
    bound : float

    Returns
    -------
    positions : ndarray of shape (n_kept,), intp
        Positions within the batch, increasing.
    keys : ndarray of shape (n_kept,), float64
    """
    cdef Py_ssize_t counts[GATHER_CHUNKS + 1]
    cdef Py_ssize_t c, i, pos, under
    cdef Py_ssize_t chunk = (n_rows + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef int threads = skfast_threads_for(n_rows)
    cdef double u

    for c in prange(
        GATHER_CHUNKS, nogil=True, schedule="static", num_threads=threads
    ):
        # A private count per chunk: adding into ``counts`` row by row would
        # have the threads fight over one cache line.
        under = 0
        for i in range(c * chunk, min((c + 1) * chunk, n_rows)):
            under = under + (random_open(seed, start + i) <= bound)
        counts[c + 1] = under
    counts[0] = 0
    for c in range(GATHER_CHUNKS):
        counts[c + 1] += counts[c]

    positions = np.empty(counts[GATHER_CHUNKS], dtype=np.intp)
    keys = np.empty(counts[GATHER_CHUNKS], dtype=np.float64)
    cdef Py_ssize_t[::1] out_positions = positions
    cdef double[::1] out_keys = keys
    for c in prange(
        GATHER_CHUNKS, nogil=True, schedule="static", num_threads=threads
    ):
        pos = counts[c]
        for i in range(c * chunk, min((c + 1) * chunk, n_rows)):
            u = random_open(seed, start + i)
            if u <= bound:
                out_positions[pos] = i
                out_keys[pos] = u
                pos = pos + 1
    return positions, keys


def weighted_under(
    uint64_t seed, int64_t start, const weight_t[::1] weights, double bound
):
    """Rows of a batch whose key ``E_i / w_i`` is at most ``bound``, with keys.

    A row's key ``-log(u) / w`` can be at most ``bound`` only if
    ``u >= 1 - bound w``; that test costs a multiplication, so the logarithm
    is taken only for the rows that pass it. Rows of weight zero are never
    gathered.

    Parameters
    ----------
    seed : int
    start : int
        Position of the batch's first row in the whole data.
    weights : ndarray of shape (n_rows,), float32 or float64, non-negative
    bound : float
        May be infinite, which gathers every row of positive weight.

    Returns
    -------
    positions : ndarray of shape (n_kept,), intp
        Positions within the batch, increasing.
    keys : ndarray of shape (n_kept,), float64
    """
    cdef Py_ssize_t n = weights.shape[0]
    cdef Py_ssize_t counts[GATHER_CHUNKS + 1]
    cdef Py_ssize_t c, i, pos, under
    cdef Py_ssize_t chunk = (n + GATHER_CHUNKS - 1) // GATHER_CHUNKS
    cdef int threads = skfast_threads_for(n)
    cdef double u, w, key
    # A hair of slack keeps rounding in ``1 - bound w`` from excluding a row.
    cdef double scale = bound * (1 + 1e-9)
    cdef unsigned char[::1] passed = np.empty(n, dtype=np.uint8)

    for c in prange(
        GATHER_CHUNKS, nogil=True, schedule="static", num_threads=threads
    ):
        under = 0
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            w = weights[i]
            passed[i] = 0
            if w > 0:
                u = random_open(seed, start + i)
                if u >= 1 - scale * w:
                    key = -log(u) / w
                    passed[i] = key <= bound
            under = under + passed[i]
        counts[c + 1] = under
    counts[0] = 0
    for c in range(GATHER_CHUNKS):
        counts[c + 1] += counts[c]

    positions = np.empty(counts[GATHER_CHUNKS], dtype=np.intp)
    keys = np.empty(counts[GATHER_CHUNKS], dtype=np.float64)
    cdef Py_ssize_t[::1] out_positions = positions
    cdef double[::1] out_keys = keys
    for c in prange(
        GATHER_CHUNKS, nogil=True, schedule="static", num_threads=threads
    ):
        pos = counts[c]
        for i in range(c * chunk, min((c + 1) * chunk, n)):
            if passed[i]:
                out_positions[pos] = i
                out_keys[pos] = -log(random_open(seed, start + i)) / weights[i]
                pos = pos + 1
    return positions, keys


cdef class AlgorithmL:
    """The skips of Li's Algorithm L, for a uniform reservoir of ``n`` rows.

    Li, "Reservoir-sampling algorithms of time complexity
    O(n(1 + log(N/n)))", ACM Transactions on Mathematical Software 20(4),
    1994. The first ``n`` rows fill the reservoir; after that, the gap to the
    next row that enters is geometric with parameter ``W``, the largest of
    ``n`` uniform keys so far, and the row that enters replaces a uniformly
    chosen slot. Only the rows that enter cost anything, about
    ``n (1 + log(N / n))`` of them. Draw ``d`` of the sample uses position
    ``d`` of the stream, so the result does not depend on the batches.

    Parameters
    ----------
    seed : int
    n : int
        Size of the reservoir, at least 1.
    """

    cdef uint64_t seed
    cdef uint64_t counter
    cdef Py_ssize_t n
    cdef double largest
    cdef int64_t next_row

    def __cinit__(self, uint64_t seed, Py_ssize_t n):
        self.seed = seed
        self.counter = 0
        self.n = n
        self.largest = exp(log(self._draw()) / n)
        self.next_row = n - 1
        self._skip()

    cdef inline double _draw(self) noexcept nogil:
        cdef double u = random_open(self.seed, self.counter)
        self.counter += 1
        return u

    cdef inline void _skip(self) noexcept nogil:
        """Move ``next_row`` to the next row that enters the reservoir."""
        cdef double gap = floor(log(self._draw()) / log1p(-self.largest))
        # A gap past any real data (or a W that underflowed) ends the stream.
        if not (gap < 4.0e18 - self.next_row):
            self.next_row = INT64_MAX
        else:
            self.next_row += <int64_t> gap + 1

    def replacements(self, int64_t stop):
        """The rows below ``stop`` that enter the reservoir, and their slots.

        Returns
        -------
        rows : ndarray of shape (n_entering,), int64
            Increasing positions in the whole data.
        slots : ndarray of shape (n_entering,), intp
            The slot each row takes, in ``[0, n)``; a later row may take the
            slot of an earlier one.
        """
        cdef Py_ssize_t size = 0, capacity = 256, slot
        rows = np.empty(capacity, dtype=np.int64)
        slots = np.empty(capacity, dtype=np.intp)
        cdef int64_t[::1] out_rows = rows
        cdef Py_ssize_t[::1] out_slots = slots

        while self.next_row < stop:
            if size == capacity:
                capacity *= 2
                rows = np.resize(rows, capacity)
                slots = np.resize(slots, capacity)
                out_rows = rows
                out_slots = slots
            slot = <Py_ssize_t> (self._draw() * self.n)
            out_rows[size] = self.next_row
            out_slots[size] = slot if slot < self.n else self.n - 1
            size += 1
            self.largest *= exp(log(self._draw()) / self.n)
            self._skip()
        return rows[:size], slots[:size]
