"""One-pass sampling of rows that arrive in batches: streams and files.

Two reservoirs live here.

- :class:`KeptRows` keeps, per stratum, the rows whose random key may still
  be among the smallest of their stratum when the data end. Keys depend on
  the sample's seed and the row's position only, so keeping the ``n``
  smallest keys of a stream selects exactly the rows an in-memory selection
  of the same seed selects. New rows are first compared with a per-stratum
  threshold (so most of them cost one key and one comparison), the rows that
  pass are set aside, and once more than a batch of them has gathered the
  reservoir is cut back to what its limits allow. A stratum's limits are a
  key bound (every row under it is kept) and a count (its smallest rows are
  kept); both only shrink, which is what lets the end of the pass tell
  whether the rows kept are certain to hold the sample.
- :func:`reservoir_sample` samples an iterable of batches in one pass: by
  weight with exponential keys on :class:`KeptRows` (exactly the rows of
  :func:`~skfast.sampling.weighted_sample` on the concatenated batches), or
  uniformly with Li's Algorithm L, whose skips come from a Cython kernel.
"""

import logging
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from skfast.sampling import _kernels
from skfast.utils._containers import column_values, concat_rows, n_rows, take_rows
from skfast.utils._random import check_generator

logger = logging.getLogger(__name__)

NO_CAP = np.iinfo(np.int64).max


def batch_weights(values, start, *, name="weights"):
    """A batch's weights as a contiguous float array, checked row by row.

    Returns
    -------
    weights : ndarray of float32 or float64
    n_positive : int

    Raises
    ------
    ValueError
        Naming the first row (counted over the whole data) whose weight is
        negative, NaN or infinite.
    """
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric, got dtype {values.dtype}; convert the "
            "column to numbers first."
        )
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be one weight per row, got shape {values.shape}."
        )
    dtype = np.float32 if values.dtype == np.float32 else np.float64
    weights = np.ascontiguousarray(values, dtype=dtype)

    position, n_positive = _kernels.weight_summary(weights)
    if position >= 0:
        raise ValueError(
            f"{name}[{start + position}] is {float(weights[position])}; weights "
            "must be finite and non-negative. Drop or fix that row."
        )
    return weights, n_positive


def fixed_limits(caps):
    """Limits that keep the ``caps[h]`` smallest keys of stratum ``h``, no bound."""
    caps = np.asarray(caps, dtype=np.int64)

    def limits(sizes, n_seen):
        n_strata = sizes.shape[0]
        return np.full(n_strata, -np.inf), caps[:n_strata]

    return limits


class KeptRows:
    """Rows whose key may still be among the smallest of their stratum.

    Parameters
    ----------
    limits : callable
        ``limits(sizes, n_seen)`` returns, per stratum seen so far, a key
        bound (rows with a key at most the bound are kept) and a count (the
        stratum's smallest keys kept); ``sizes`` are the rows seen per
        stratum. The reservoir applies the smaller of each limit and all
        limits applied before, so limits only shrink.
    batch_size : int
        Rows set aside before the reservoir is cut back.
    take : callable, default=None
        ``take(batch, positions)`` returns those rows of a batch; None keeps
        keys and positions only.
    concat : callable, default=None
        Stacks a list of what ``take`` returns.

    Attributes
    ----------
    sizes : ndarray of shape (n_strata,), int64
        Rows seen per stratum.
    n_seen : int
    thresholds : ndarray of shape (n_strata,), float64
        A new row of stratum ``h`` can matter only if its key is at most
        ``thresholds[h]``.
    most_held : int
        The most rows held between two batches.
    """

    def __init__(self, limits, *, batch_size, take=None, concat=None):
        self.limits = limits
        self.batch_size = batch_size
        self.take = take
        self.concat = concat
        self.sizes = np.zeros(0, dtype=np.int64)
        self.n_seen = 0
        self.bounds = np.zeros(0)
        self.caps = np.zeros(0, dtype=np.int64)
        self.thresholds = np.zeros(0)
        self.keys = np.zeros(0)
        self.rows = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.intp)
        self.data = None
        self.most_held = 0
        self._pending = []
        self._n_pending = 0

    @property
    def n_held(self):
        return self.keys.shape[0] + self._n_pending

    def observe(self, n_batch_rows, codes=None, n_strata=1):
        """Count a batch's rows per stratum; new strata keep every row at first."""
        grow = n_strata - self.sizes.shape[0]
        if grow > 0:
            self.sizes = np.concatenate([self.sizes, np.zeros(grow, dtype=np.int64)])
            self.bounds = np.concatenate([self.bounds, np.full(grow, np.inf)])
            self.caps = np.concatenate([self.caps, np.full(grow, NO_CAP)])
            self.thresholds = np.concatenate([self.thresholds, np.full(grow, np.inf)])
        if codes is None:
            self.sizes[0] += n_batch_rows
        else:
            self.sizes += np.bincount(codes, minlength=n_strata)
        self.n_seen += n_batch_rows

    def add(self, batch, start, positions, keys, codes):
        """Set aside the rows of a batch that passed the thresholds."""
        if positions.shape[0]:
            data = self.take(batch, positions) if self.take is not None else None
            rows = positions.astype(np.int64) + start
            self._pending.append((keys, rows, codes, data))
            self._n_pending += positions.shape[0]
        if self._n_pending > self.batch_size:
            self.compact()
        self.most_held = max(self.most_held, self.n_held)

    def _merge(self):
        if not self._pending:
            return
        keys, rows, codes, data = zip(*self._pending, strict=True)
        self.keys = np.concatenate([self.keys, *keys])
        self.rows = np.concatenate([self.rows, *rows])
        self.codes = np.concatenate([self.codes, *codes])
        if self.take is not None:
            parts = [self.data] if self.data is not None else []
            self.data = self.concat(parts + list(data))
        self._pending = []
        self._n_pending = 0

    def _smallest(self, take):
        """Mask of each stratum's ``take`` smallest held keys, and the largest."""
        chosen = _kernels.smallest_per_stratum(self.keys, self.codes, take)
        largest = np.full(self.sizes.shape[0], -np.inf)
        np.maximum.at(largest, self.codes[chosen], self.keys[chosen])
        return chosen, largest

    def _keep(self, mask):
        if mask.all():
            return
        positions = np.flatnonzero(mask)
        self.keys = self.keys[positions]
        self.rows = self.rows[positions]
        self.codes = self.codes[positions]
        if self.data is not None:
            self.data = self.take(self.data, positions)

    def compact(self):
        """Cut the reservoir back to the current limits."""
        self._merge()
        bounds, caps = self.limits(self.sizes, self.n_seen)
        self.bounds = np.minimum(self.bounds, bounds)
        self.caps = np.minimum(self.caps, caps)

        held = np.bincount(self.codes, minlength=self.sizes.shape[0])
        chosen, largest = self._smallest(np.minimum(self.caps, held))
        self._keep(chosen | (self.keys <= self.bounds[self.codes]))
        self.thresholds = np.where(
            held >= self.caps, np.maximum(self.bounds, largest), np.inf
        )
        logger.debug("reservoir cut back to %d rows", self.keys.shape[0])

    def finish(self, take):
        """Keep each stratum's ``take`` smallest keys, if they are surely held.

        A stratum's smallest keys are surely held when every row of it was
        kept, when ``take`` is within the counts it always kept, or when its
        ``take``-th smallest held key is under the smallest bound applied.

        Returns
        -------
        done : bool
            False when some stratum may be missing a row of its sample; the
            reservoir is then left as it was.
        """
        self._merge()
        take = np.asarray(take, dtype=np.int64)
        held = np.bincount(self.codes, minlength=self.sizes.shape[0])
        if np.any(held < take):
            return False
        chosen, largest = self._smallest(take)
        surely = (
            (held == self.sizes)
            | (take <= self.caps)
            | (largest <= self.bounds)
            | (take == 0)
        )
        if not surely.all():
            return False
        self._keep(chosen)
        return True


class WeightedKeys:
    """Exponential keys ``E_i / w_i`` of a batch's rows, as few as needed.

    Parameters
    ----------
    seed : int
    weights_of : callable
        ``weights_of(batch)`` returns the batch's weights.
    name : str
        How errors name the weights.
    """

    def __init__(self, seed, weights_of, *, name="weights"):
        self.seed = seed
        self.weights_of = weights_of
        self.name = name
        self.n_positive = 0

    def __call__(self, batch, start, reservoir):
        weights, n_positive = batch_weights(
            self.weights_of(batch), start, name=self.name
        )
        if weights.shape[0] != n_rows(batch):
            raise ValueError(
                f"{self.name} of the batch at row {start} has {weights.shape[0]} "
                f"values for {n_rows(batch)} rows; give one weight per row."
            )
        self.n_positive += n_positive
        reservoir.observe(weights.shape[0])
        positions, keys = _kernels.weighted_under(
            self.seed, start, weights, reservoir.thresholds[0]
        )
        return positions, keys, np.zeros(positions.shape[0], dtype=np.intp)


def check_positive(n, n_positive, size):
    """The error of ``weighted_sample`` when too few rows have weight."""
    if size and not n_positive:
        raise ValueError(
            f"every one of the {size} weights is zero, so no row can be drawn; "
            "give some rows a positive weight."
        )
    if n > n_positive:
        raise ValueError(
            f"cannot draw n={n} rows without replacement: only {n_positive} of "
            f"the {size} rows have a positive weight. Lower n to at most "
            f"{n_positive}, or pass replace=True."
        )


def _weights_reader(weights):
    if callable(weights):
        return weights
    return lambda batch: column_values(batch, weights, name="weights")


def draw_order(rows, keys):
    """Positions of rows in the order successive draws pick them."""
    return np.lexsort((rows, keys))


def _weighted_reservoir(batches, n, seed, weights, keep_data, shuffle):
    reservoir = KeptRows(
        fixed_limits([n]),
        batch_size=max(n, 1024),
        take=take_rows if keep_data else None,
        concat=concat_rows,
    )
    keyer = WeightedKeys(seed, _weights_reader(weights))
    start = 0
    for batch in batches:
        size = n_rows(batch)
        if size:
            reservoir.add(batch, start, *keyer(batch, start, reservoir))
            start += size

    _check_some_rows(start)
    check_positive(n, keyer.n_positive, start)
    reservoir.finish([n])
    order = draw_order(reservoir.rows, reservoir.keys) if shuffle else None
    return reservoir.rows, reservoir.data, order


def _check_some_rows(size):
    if size == 0:
        raise ValueError("the batches hold no rows to sample from.")


def _uniform_reservoir(batches, n, seed, keep_data):
    """Algorithm L over the batches: the global row and the data of each slot."""
    skips = _kernels.algorithm_l(seed, n)
    slot_rows = np.full(n, -1, dtype=np.int64)
    slot_part = np.full(n, -1, dtype=np.intp)
    slot_position = np.zeros(n, dtype=np.intp)
    parts = {}
    stored = 0
    start = 0
    for batch in batches:
        size = n_rows(batch)
        if not size:
            continue
        stop = start + size
        filled = np.arange(start, min(stop, n), dtype=np.int64)
        rows, slots = skips.replacements(stop)
        rows = np.concatenate([filled, rows])
        slots = np.concatenate([filled.astype(np.intp), slots])

        # A slot taken twice in one batch keeps the later row.
        last = slots.shape[0] - 1 - np.unique(slots[::-1], return_index=True)[1]
        last.sort()
        rows, slots = rows[last], slots[last]
        slot_rows[slots] = rows
        if keep_data and rows.shape[0]:
            parts[len(parts)] = take_rows(batch, rows - start)
            slot_part[slots] = len(parts) - 1
            slot_position[slots] = np.arange(rows.shape[0])
            stored += rows.shape[0]
            if stored > 2 * n:
                parts, stored = _gather_slots(parts, slot_part, slot_position)
        start = stop

    if start < n:
        _check_some_rows(start)
        raise ValueError(
            f"cannot draw n={n} rows without replacement from {start} rows; lower n."
        )
    order = np.argsort(slot_rows)
    data = None
    if keep_data:
        parts, _ = _gather_slots(parts, slot_part, slot_position, order)
        data = parts[0]
    return slot_rows[order], data


def _gather_slots(parts, slot_part, slot_position, order=None):
    """The slots' rows as one part (in ``order``); slot maps rewritten in place."""
    live = np.unique(slot_part)
    lengths = np.array([n_rows(parts[part]) for part in live])
    offsets = np.zeros(slot_part.max() + 1, dtype=np.intp)
    offsets[live] = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = offsets[slot_part] + slot_position
    if order is not None:
        positions = positions[order]
    data = take_rows(concat_rows([parts[part] for part in live]), positions)
    if order is None:
        slot_part[:] = 0
        slot_position[:] = np.arange(slot_part.shape[0])
    return {0: data}, slot_part.shape[0]


@validate_params(
    {
        "batches": "no_validation",
        "n": [Interval(Integral, 0, None, closed="left")],
        "weights": [str, callable, None],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def reservoir_sample(
    batches,
    n,
    *,
    weights=None,
    random_state=None,
    shuffle=False,
    return_indices=False,
):
    """Sample ``n`` rows in one pass over batches of rows, without replacement.

    The batches are read once, in order, and only the sample (plus at most
    about one batch of candidates) is held, so the stream may be far larger
    than memory and its length need not be known.

    - Uniform (``weights=None``): every subset of ``n`` rows is equally
      likely. Li's Algorithm L ("Reservoir-sampling algorithms of time
      complexity O(n(1 + log(N/n)))", ACM TOMS 20(4), 1994) jumps from one
      row that enters the reservoir to the next, so rows that are skipped
      cost nothing beyond being read.
    - Weighted: ``n`` successive draws, each proportional to weight among the
      rows not drawn yet, by the exponential keys of Efraimidis and Spirakis
      (2006). For the same ``random_state`` the rows are exactly those of
      ``weighted_sample(concatenated_batches, n, weights=...)``.

    Parameters
    ----------
    batches : iterable
        NumPy arrays, pandas or polars DataFrames, or pyarrow Tables or
        RecordBatches, all of one kind; read once.
    n : int
        Number of rows to draw, at most the rows in the stream (of positive
        weight, when weighted).
    weights : str or callable, default=None
        A column name, or ``weights(batch)`` returning one non-negative finite
        weight per row of the batch. A row of weight zero is never drawn.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    shuffle : bool, default=False
        Return rows in random order (draw order, when weighted) instead of
        stream order.
    return_indices : bool, default=False
        Return positions in the stream instead of rows.

    Returns
    -------
    sample : same kind as the batches (concatenated), or ndarray of positions

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import reservoir_sample, weighted_sample
    >>> batches = (np.arange(start, start + 100) for start in range(0, 1000, 100))
    >>> sample = reservoir_sample(batches, 5, random_state=0)
    >>> sample.shape, bool(np.all(np.diff(sample) > 0))
    ((5,), True)
    >>> data = np.arange(1000)
    >>> batches = (data[i:i + 64] for i in range(0, 1000, 64))
    >>> same = reservoir_sample(batches, 5, weights=lambda b: b % 7, random_state=1)
    >>> bool(np.all(same == weighted_sample(data, 5, weights=data % 7,
    ...                                     random_state=1)))
    True
    """
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"n={n!r} is a boolean; pass the number of rows to draw.")
    generator = check_generator(random_state)
    seed = _kernels.new_seed(generator)
    keep_data = not return_indices
    batches = iter(batches)

    if n == 0:
        first = next((batch for batch in batches if n_rows(batch)), None)
        _check_some_rows(0 if first is None else 1)
        empty = np.zeros(0, dtype=np.intp)
        return empty if return_indices else take_rows(first, empty)

    if weights is not None:
        rows, data, order = _weighted_reservoir(
            batches, n, seed, weights, keep_data, shuffle
        )
    else:
        rows, data = _uniform_reservoir(batches, n, seed, keep_data)
        order = None
        if shuffle:
            shuffled = _kernels.uniform_order(rows, _kernels.new_seed(generator))
            order = np.searchsorted(rows, shuffled)
    logger.debug("reservoir sample of %d rows", rows.shape[0])

    if order is not None:
        rows = rows[order]
        data = take_rows(data, order) if keep_data else None
    return rows.astype(np.intp) if return_indices else data
