"""Kernels of the blocked exact k-nearest-neighbour search (Euclidean).

:func:`search_tiles` splits the query rows into tiles and hands the tiles
to the threads (``prange``). A thread walks its query tile over tiles of
reference rows: for each pair it computes the products ``-2 q . r`` with a
BLAS matrix product (``np.dot``, which numba routes to SciPy's BLAS) into a
buffer of one tile, then :func:`merge_row` adds the squared reference norms
and merges each query row into that row's sorted list of ``k_c`` best
candidates, after a vectorised screen that skips the stretches of columns
holding no better value. The lists persist from one reference tile to the
next, and memory stays bounded by one tile per thread.

The tile loop runs inside numba rather than in Python, each thread computing
its own products while the dispatcher holds BLAS to one thread. A Python
loop that alternated multi-threaded BLAS calls with a parallel selection
kernel lost most of its time to each pool's idle threads spinning while the
other worked, and holding BLAS to one thread there left the products serial:
on two cores, for 30,000 x 16 float32 rows, that loop took 1.8 to 8 s
against 0.65 s for this kernel.

The values compared, ``||r||^2 - 2 q . r``, omit the query's own norm (a
constant per row) and carry the rounding error of the matrix product, so
:func:`rerank_candidates` recomputes every candidate's distance directly
(:func:`sq_distance`: float64, summed in feature order) and sorts the
candidates by (distance, index). The dispatcher then bounds the rounding
error and, for any row where a reference left out could still tie with or
beat its last neighbour, calls :func:`exact_search_rows`, a plain float64
scan. Results are exact and ties go to the lower reference index, whatever
the input dtype.

The parallel kernels are compiled with ``cache=True``:
``tests/test_smote.py::test_parallel_kernel_cache_reloads`` fills a fresh
cache in one process and checks that a second process loads it and gets
the same result. Caching spares every new process a compilation of several
seconds. The kernels trust their input; the dispatcher validates it.
"""

import numba
import numpy as np

# Columns of a tile row screened at once by :func:`count_below` before the
# scalar merge; most screens find nothing once the candidates are good.
_SCREEN = 64


@numba.njit(cache=True)
def count_below(products, ref_sq_norms, worst):
    """Count the columns whose partial distance is below ``worst``.

    A plain counting loop over contiguous slices, which LLVM vectorises; it
    screens a stretch of columns far faster than the merge walks it.
    """
    count = 0
    for j in range(products.shape[0]):
        if ref_sq_norms[j] + products[j] < worst:
            count += 1
    return count


@numba.njit(cache=True)
def insert(values, indices, value, index):
    """Insert a candidate into a sorted list, dropping the last one.

    Equal values keep their order, so among equal values the candidate
    inserted first stays first. Returns the new last value.
    """
    slot = values.shape[0] - 1
    while slot > 0 and values[slot - 1] > value:
        values[slot] = values[slot - 1]
        indices[slot] = indices[slot - 1]
        slot -= 1
    values[slot] = value
    indices[slot] = index
    return values[values.shape[0] - 1]


@numba.njit(cache=True)
def sq_distance(queries, i, refs, j):
    """Squared distance of query row ``i`` to reference row ``j``, in float64.

    Summed in feature order; every exact distance of the search comes from
    here, so equal rows give equal distances.
    """
    total = 0.0
    for f in range(queries.shape[1]):
        diff = np.float64(queries[i, f]) - np.float64(refs[j, f])
        total += diff * diff
    return total


@numba.njit(cache=True)
def merge_row(products, ref_sq_norms, ref_start, values, indices):
    """Merge one query row of a tile into the row's best candidates.

    Parameters
    ----------
    products : ndarray of shape (n_refs,)
        ``-2 q . r`` for the query row and the tile's reference rows.
    ref_sq_norms : ndarray of shape (n_refs,)
        Squared norms of the tile's reference rows.
    ref_start : int
        Index of the tile's first reference row in the whole reference set.
    values : ndarray of shape (k_c,)
        Partial squared distances of the candidates kept so far, in
        increasing order; ``inf`` in empty slots. Updated in place.
    indices : ndarray of shape (k_c,), dtype=intp
        Reference indices of the candidates kept so far. Updated in place.
    """
    k_c = values.shape[0]
    n_refs = products.shape[0]
    worst = values[k_c - 1]

    for start in range(0, n_refs, _SCREEN):
        stop = min(start + _SCREEN, n_refs)
        if count_below(products[start:stop], ref_sq_norms[start:stop], worst) == 0:
            continue

        for j in range(start, stop):
            value = ref_sq_norms[j] + products[j]
            if value < worst:
                worst = insert(values, indices, value, ref_start + j)


@numba.njit(parallel=True, cache=True)
def search_tiles(
    queries, refs, ref_sq_norms, tile_rows, tile_cols, cand_value, cand_index
):
    """Keep the ``k_c`` best candidates of each query row, tile by tile.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
        Query rows, centred like ``refs`` and multiplied by -2.
    refs : ndarray of shape (n_refs, n_features)
        Reference rows, centred; same dtype as ``queries``.
    ref_sq_norms : ndarray of shape (n_refs,)
        Squared norms of the centred reference rows.
    tile_rows, tile_cols : int
        Query rows and reference rows of one tile of products.
    cand_value : ndarray of shape (n_queries, k_c)
        Filled with ``inf`` by the caller; on return, the partial squared
        distances of each row's candidates, in increasing order.
    cand_index : ndarray of shape (n_queries, k_c), dtype=intp
        On return, the reference indices of each row's candidates.
    """
    n_queries = queries.shape[0]
    n_refs = refs.shape[0]
    n_tiles = (n_queries + tile_rows - 1) // tile_rows

    for tile in numba.prange(n_tiles):
        q_start = tile * tile_rows
        q_stop = min(q_start + tile_rows, n_queries)
        n_rows = q_stop - q_start
        buffer = np.empty(n_rows * tile_cols, dtype=queries.dtype)

        for r_start in range(0, n_refs, tile_cols):
            r_stop = min(r_start + tile_cols, n_refs)
            n_cols = r_stop - r_start
            products = buffer[: n_rows * n_cols].reshape((n_rows, n_cols))
            np.dot(queries[q_start:q_stop], refs[r_start:r_stop].T, products)

            for row in range(n_rows):
                merge_row(
                    products[row],
                    ref_sq_norms[r_start:r_stop],
                    r_start,
                    cand_value[q_start + row],
                    cand_index[q_start + row],
                )


@numba.njit(parallel=True, cache=True)
def rerank_candidates(queries, refs, cand_index, cand_sq_dist):
    """Replace candidates' partial distances by exact ones and sort them.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
        The query rows, as given (not centred).
    refs : ndarray of shape (n_refs, n_features)
        The reference rows, as given; same dtype as ``queries``.
    cand_index : ndarray of shape (n_queries, k_c), dtype=intp
        Candidate reference indices of each query row. Sorted in place by
        (distance, index).
    cand_sq_dist : ndarray of shape (n_queries, k_c), dtype=float64
        Filled with the squared Euclidean distance of each candidate,
        computed in float64, in the order of ``cand_index``.
    """
    n_queries, k_c = cand_index.shape

    for i in numba.prange(n_queries):
        dists = cand_sq_dist[i]
        indices = cand_index[i]

        for c in range(k_c):
            dists[c] = sq_distance(queries, i, refs, indices[c])

        for c in range(1, k_c):
            dist = dists[c]
            ref = indices[c]
            slot = c
            while slot > 0 and (
                dists[slot - 1] > dist
                or (dists[slot - 1] == dist and indices[slot - 1] > ref)
            ):
                dists[slot] = dists[slot - 1]
                indices[slot] = indices[slot - 1]
                slot -= 1
            dists[slot] = dist
            indices[slot] = ref


@numba.njit(parallel=True, cache=True)
def exact_search_rows(queries, refs, rows, cand_index, cand_sq_dist):
    """Search the given query rows exactly, against every reference row.

    The fallback for the rows whose candidates the dispatcher could not
    certify: ``k_c`` best by (distance, index), from float64 distances.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
        The query rows, as given.
    refs : ndarray of shape (n_refs, n_features)
        The reference rows, as given; same dtype as ``queries``.
    rows : ndarray of shape (n_rows,), dtype=intp
        The query rows to search.
    cand_index : ndarray of shape (n_queries, k_c), dtype=intp
        The given rows are overwritten with their exact best candidates.
    cand_sq_dist : ndarray of shape (n_queries, k_c), dtype=float64
        The given rows are overwritten with the squared distances.
    """
    for t in numba.prange(rows.shape[0]):
        i = rows[t]
        dists = cand_sq_dist[i]
        indices = cand_index[i]
        dists[:] = np.inf
        worst = np.inf

        for j in range(refs.shape[0]):
            dist = sq_distance(queries, i, refs, j)
            if dist < worst:
                worst = insert(dists, indices, dist, j)
