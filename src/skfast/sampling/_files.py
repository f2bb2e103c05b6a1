"""Sampling of files larger than memory: CSV, Parquet and pyarrow datasets.

A file is read in record batches of ``batch_size`` rows with pyarrow (a
buffered ``ParquetFile`` reader for a Parquet file, ``pyarrow.dataset`` for
a folder of Parquet files or a dataset, the streaming ``pyarrow.csv``
reader for CSV), and only the sample and about one batch are held, so the
memory used does not grow with the file. Every row's random numbers depend
on the sample's seed and
the row's position in the file only, and the batches are cut at fixed row
positions, so a file gives exactly the rows that the same seed gives on the
file read into memory, whatever the batch size.

Passes over the file:

- random and weighted sampling without replacement: one pass keeping the
  ``n`` smallest keys in a :class:`~skfast.sampling._reservoir.KeptRows`;
- stratified sampling (proportional, equal or a mapping): one pass keeping,
  per stratum, the rows whose key is under a bound that only shrinks as rows
  arrive, then the same allocation as in memory. If a stratum kept too few
  rows (a few binomial standard deviations make that all but impossible) a
  second pass with exact counts follows;
- Neyman allocation: a first pass for the strata's sizes and standard
  deviations, then one with exact counts;
- with replacement and ``design="pps"``: a first pass over the weights
  column only, then the draws.

The result is a pyarrow Table, or a CSV or Parquet file written atomically
(to a temporary name in the same folder, renamed once complete).
"""

import csv
import logging
import math
import os
import re
import sys
import uuid
import warnings
from contextlib import nullcontext
from numbers import Real
from pathlib import Path

import numpy as np

from skfast.exceptions import InputError
from skfast.io import _read
from skfast.sampling import _functions, _kernels
from skfast.sampling._reservoir import (
    NO_CAP,
    KeptRows,
    WeightedKeys,
    batch_weights,
    check_positive,
    draw_order,
    fixed_limits,
)
from skfast.utils._containers import take_rows
from skfast.utils._random import check_generator

logger = logging.getLogger(__name__)

# 2**16 rows: 4 MiB for eight float64 columns. Measured on 10 million rows
# of eight float64 columns (benchmarks/bench_sampling_files.py), 2**18 rows
# read no faster and held 60 MiB more; below 2**16 the work per batch in
# Python starts to show.
DEFAULT_BATCH_SIZE = 65536

# Record batches the dataset scanner may decode ahead of the one being used.
# Each one is memory; two keep the reader busy while a batch is sampled.
BATCH_READAHEAD = 2

# Bytes of a column chunk a Parquet reader buffers at a time.
PARQUET_BUFFER = 1 << 20

# Bytes of CSV text parsed at a time. pyarrow's streaming CSV reader keeps
# a few dozen blocks in flight, so the block, not the batch, sets its memory:
# 1 MiB blocks held about 40 MiB and read as fast as 9 MiB ones, which held
# 320 MiB (4 million rows, 590 MB of CSV).
CSV_BLOCK_BYTES = 1 << 20

# Margin of the shrinking per-stratum key bounds, in binomial standard
# deviations, plus a constant for small strata. A stratum falls short (and
# the file is read again) with probability about 1e-9.
BOUND_SIGMAS = 6
BOUND_ROWS = 32

_PARQUET_SUFFIXES = {".parquet", ".pq"}
_CONVERSION_ERROR = re.compile(r"CSV column #(\d+): CSV conversion error to (\w+)")


def is_source(data):
    """Whether ``data`` is read in batches: a path, or a pyarrow dataset."""
    if isinstance(data, (str, os.PathLike)):
        return True
    dataset = sys.modules.get("pyarrow.dataset")
    return dataset is not None and isinstance(data, dataset.Dataset)


def _no_progress(description, total):
    return nullcontext(lambda steps=1: None)


def _exact_batches(record_batches, size):
    """Tables of exactly ``size`` rows (the last may be shorter), zero-copy."""
    import pyarrow as pa

    pending, held = [], 0
    for batch in record_batches:
        if pending and batch.schema != pending[0].schema:
            pending = pa.Table.from_batches(pending).cast(batch.schema).to_batches()
        offset = 0
        while offset < batch.num_rows:
            step = min(size - held, batch.num_rows - offset)
            pending.append(batch.slice(offset, step))
            held += step
            offset += step
            if held == size:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


class _Source:
    """Rows of a file or dataset, read as tables of ``batch_size`` rows.

    Batch ``k`` always holds rows ``k * batch_size`` onwards, so every pass
    cuts the data at the same rows.
    """

    def __init__(self, name, batch_size):
        self.name = name
        self.batch_size = batch_size
        self.n_rows = None
        self.columns = []
        self.schema = None

    def require(self, **columns):
        """Raise if a named column is not in the data."""
        for option, column in columns.items():
            if column is not None and column not in self.columns:
                shown = ", ".join(map(repr, self.columns[:20]))
                raise InputError(
                    f"{option}={column!r} is not a column of {self.name}; "
                    f"columns are {shown}.",
                    option=option,
                )

    def read(self, columns, description, progress):
        """Yield ``(start, table)`` for each batch, ``start`` its first row."""
        start = 0
        with progress(description, self.n_rows) as advance:
            for table in _exact_batches(self._record_batches(columns), self.batch_size):
                self.schema = table.schema
                yield start, table
                start += table.num_rows
                advance(table.num_rows)
        self.n_rows = start

    def count_rows(self, progress):
        if self.n_rows is None:
            for _ in self.read([], f"count the rows of {self.name}", progress):
                pass
        return self.n_rows

    def _record_batches(self, columns):
        raise NotImplementedError


class _ParquetSource(_Source):
    """One Parquet file, read with buffered streams and no pre-buffering.

    The reader then decodes about a batch at a time, whatever the file's row
    groups; pyarrow's dataset scanner and its default pre-buffering would
    hold whole row groups, and read ahead of them, instead.
    """

    def __init__(self, path, batch_size):
        import pyarrow.parquet as pq

        super().__init__(str(path), batch_size)
        self.file = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER)
        self.schema = self.file.schema_arrow
        self.columns = list(self.schema.names)
        self.n_rows = self.file.metadata.num_rows

    def _record_batches(self, columns):
        import pyarrow as pa

        try:
            yield from self.file.iter_batches(
                batch_size=self.batch_size,
                columns=None if columns is None else list(columns),
            )
        except (pa.ArrowException, OSError) as error:
            raise InputError(
                f"cannot read {self.name}: {str(error).splitlines()[0]}"
            ) from None


class _DatasetSource(_Source):
    """A pyarrow dataset (or a folder of Parquet files), scanned in order.

    Parquet fragments are read without pre-buffering; a fragment's reader
    may still hold one row group, so memory is bounded by the batch and the
    largest row group.
    """

    def __init__(self, dataset, name, batch_size):
        import pyarrow.dataset as ds

        super().__init__(name, batch_size)
        self.dataset = dataset
        self.schema = dataset.schema
        self.columns = list(dataset.schema.names)
        self.options = {}
        if isinstance(dataset.format, ds.ParquetFileFormat):
            self.n_rows = dataset.count_rows()
            self.options["fragment_scan_options"] = ds.ParquetFragmentScanOptions(
                pre_buffer=False, use_buffered_stream=True, buffer_size=PARQUET_BUFFER
            )

    def _record_batches(self, columns):
        import pyarrow as pa

        try:
            yield from self.dataset.to_batches(
                columns=None if columns is None else list(columns),
                batch_size=self.batch_size,
                batch_readahead=BATCH_READAHEAD,
                fragment_readahead=1,
                **self.options,
            )
        except (pa.ArrowException, OSError) as error:
            raise InputError(
                f"cannot read {self.name}: {str(error).splitlines()[0]}"
            ) from None


def _wider_type(type_name):
    """The type a CSV column moves to when a value does not fit ``type_name``."""
    import pyarrow as pa

    if type_name == "null":
        return pa.int64()
    if "int" in type_name:
        return pa.float64()
    return pa.string()


class _CsvSource(_Source):
    """A CSV file (optionally gzip) read by pyarrow's streaming reader.

    The dialect and header are detected as :func:`skfast.io.read_table` does,
    and the same markers read as missing. Column types are inferred from the
    first block; when a later value does not fit its column's type, the
    reader starts again after the rows already read, with that column one
    type wider (null, integer, float, text), so no row is yielded twice.
    """

    def __init__(self, path, batch_size, delimiter, header):
        super().__init__(str(path), batch_size)
        self.path = path
        self.delimiter, self.quotechar, self.header = _read._sniff(
            path, delimiter, header
        )
        with _read._open_text(path) as handle:
            sample = handle.read(1 << 16)
        first = next(
            csv.reader(
                sample.splitlines()[:1],
                delimiter=self.delimiter,
                quotechar=self.quotechar,
            ),
            [],
        )
        if self.header:
            _read._check_unique_names(path, self.delimiter, self.quotechar)
            self.columns = [
                name.strip() or f"Unnamed: {i}" for i, name in enumerate(first)
            ]
        else:
            self.columns = [f"column_{i}" for i in range(len(first))]

        # pandas' skipinitialspace: text after "delimiter + space" is trimmed.
        self.trim = f"{self.delimiter} " in sample
        self.newlines_in_values = self.quotechar in sample

    def _open(self, columns, types, skip):
        import pyarrow.csv as pacsv

        missing = list(_read.MISSING_MARKERS)
        if self.trim:
            missing += [" " + marker for marker in _read.MISSING_MARKERS]
        return pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                column_names=self.columns,
                skip_rows=1 if self.header else 0,
                skip_rows_after_names=skip,
                block_size=CSV_BLOCK_BYTES,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter,
                quote_char=self.quotechar,
                newlines_in_values=self.newlines_in_values,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types=types,
                null_values=missing,
                strings_can_be_null=True,
            ),
        )

    def _trimmed(self, batch):
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.trim:
            return batch
        arrays = [
            pc.utf8_ltrim_whitespace(array) if pa.types.is_string(array.type) else array
            for array in batch.columns
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    def _record_batches(self, columns):
        import pyarrow as pa

        columns = list(self.columns if columns is None else columns) or self.columns[:1]
        types, done = {}, 0
        for _ in range(3 * len(self.columns) + 1):
            reader = None
            try:
                reader = self._open(columns, types, done)
                for batch in reader:
                    done += batch.num_rows
                    yield self._trimmed(batch)
                return
            except pa.ArrowInvalid as error:
                found = _CONVERSION_ERROR.search(str(error))
                if found is None:
                    raise self._error(error) from None
                if reader is not None:
                    types = {field.name: field.type for field in reader.schema}
                column = self.columns[int(found.group(1))]
                types[column] = _wider_type(found.group(2))
                logger.debug(
                    "%s: column %r read as %s", self.name, column, types[column]
                )
            except OSError as error:
                raise self._error(error) from None
        raise InputError(f"cannot read {self.name}: column types keep changing.")

    def _error(self, error):
        reason = str(error).strip().splitlines()[0]
        if "compressed" in reason.lower():
            return InputError(
                f"cannot read {self.name}: the gzip stream is damaged or truncated "
                f"({reason}); copy the file again."
            )
        return InputError(
            f"cannot read {self.name} as CSV with delimiter {self.delimiter!r}: "
            f"{reason}"
        )


def open_source(data, *, batch_size=None, delimiter=None, header=None):
    """A :class:`_Source` for a path or a pyarrow dataset."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1.")
    if isinstance(data, ds.Dataset):
        return _DatasetSource(data, "the dataset", batch_size)

    path = Path(data)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    try:
        if path.is_dir():
            dataset = ds.dataset(path, format="parquet", partitioning="hive")
            return _DatasetSource(dataset, str(path), batch_size)
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if not magic:
            raise InputError(f"{path} is empty: it has no rows to sample from.")
        if magic == _read._PARQUET_MAGIC or path.suffix in _PARQUET_SUFFIXES:
            return _ParquetSource(path, batch_size)
    except (pa.ArrowException, OSError) as error:
        raise InputError(f"cannot read {path}: {str(error).splitlines()[0]}") from None
    return _CsvSource(path, batch_size, delimiter, header)


class _Strata:
    """Stratum labels of a column, numbered in the order they first appear."""

    def __init__(self, column):
        self.column = column
        self.ids = {}
        self.labels = []
        self.type = None

    @property
    def count(self):
        return len(self.labels)

    def encode(self, table, start):
        """The stratum number of each row; a missing label is an error."""
        import pyarrow as pa
        import pyarrow.compute as pc

        array = table.column(self.column).combine_chunks()
        missing = array.is_null()
        if pa.types.is_floating(array.type):
            missing = pc.or_(missing, pc.is_nan(array))
        if pc.any(missing).as_py():
            row = start + pc.index(missing, True).as_py()
            raise InputError(
                f"by={self.column!r} has a missing value at row {row}; every row "
                "needs a stratum. Fill the missing labels or drop those rows first.",
                option="by",
            )
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if self.type is not None and array.type != self.type:
            self._retype(array.type)
        self.type = array.type
        array = array.dictionary_encode()
        lookup = np.array(
            [self._id(label) for label in array.dictionary.to_pylist()], dtype=np.intp
        )
        return lookup[array.indices.to_numpy(zero_copy_only=False)]

    def _retype(self, type_):
        """Relabel the strata seen so far when a CSV column's type widens."""
        import pyarrow as pa

        self.labels = pa.array(self.labels, type=self.type).cast(type_).to_pylist()
        self.ids = {label: i for i, label in enumerate(self.labels)}

    def _id(self, label):
        if label not in self.ids:
            self.ids[label] = len(self.labels)
            self.labels.append(label)
        return self.ids[label]

    def sorted(self):
        """Local numbers in label order, their rank, and the sorted labels."""
        order = np.array(
            sorted(range(self.count), key=self.labels.__getitem__), dtype=np.intp
        )
        rank = np.empty_like(order)
        rank[order] = np.arange(order.shape[0])
        return order, rank, np.array([self.labels[i] for i in order])


class _UniformKeys:
    """Uniform keys of a batch's rows, only for rows under the threshold."""

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, table, start, reservoir):
        reservoir.observe(table.num_rows)
        positions, keys = _kernels.uniform_under(
            self.seed, start, table.num_rows, reservoir.thresholds[0]
        )
        return positions, keys, np.zeros(positions.shape[0], dtype=np.intp)


class _StratumKeys:
    """Uniform keys under each row's stratum threshold."""

    def __init__(self, seed, strata):
        self.seed = seed
        self.strata = strata

    def __call__(self, table, start, reservoir):
        codes = self.strata.encode(table, start)
        reservoir.observe(table.num_rows, codes, self.strata.count)
        positions, keys = _kernels.uniform_under_by_stratum(
            self.seed, start, codes, reservoir.thresholds
        )
        return positions, keys, codes[positions]


def _concat_tables(tables):
    """Stack tables; older ones take the newest schema (CSV types only widen)."""
    import pyarrow as pa

    schema = tables[-1].schema
    return pa.concat_tables(
        [table if table.schema == schema else table.cast(schema) for table in tables]
    )


def _reservoir(limits, source, keep_data):
    return KeptRows(
        limits,
        batch_size=source.batch_size,
        take=take_rows if keep_data else None,
        concat=_concat_tables,
    )


def _scan(source, columns, keys, reservoir, description, progress):
    for start, table in source.read(columns, description, progress):
        reservoir.add(table, start, *keys(table, start, reservoir))


def _column_name(value, option):
    if value is None or isinstance(value, str):
        return value
    raise InputError(
        f"{option} must be a column name when the data is a file; got "
        f"{type(value).__name__}.",
        option=option,
    )


def _check_rows(size, source):
    if size == 0:
        raise InputError(f"{source.name} has no rows to sample from.")


def _format_of(path):
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return "parquet"
    if path.suffix.lower() == ".csv":
        return "csv"
    if suffixes == ".csv.gz":
        return "csv.gz"
    return None


def _check_out(out, return_indices):
    """The output path, checked before any reading."""
    if out is None:
        return None
    if return_indices:
        raise ValueError(
            "out= writes the sampled rows; pass out= or return_indices=True."
        )
    path = Path(out)
    if _format_of(path) is None:
        raise InputError(
            f"cannot write {path}: name the output .parquet, .csv or .csv.gz.",
            option="out",
        )
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a folder.", option="out")
    if not path.parent.is_dir():
        raise InputError(
            f"cannot write {path}: the folder {path.parent} does not exist.",
            option="out",
        )
    return path


def write_table(table, path):
    """Write ``table`` to ``path`` (Parquet or CSV by suffix), atomically.

    The rows go to a temporary file in the same folder, renamed to ``path``
    once complete, so ``path`` never holds a partial file.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    kind = _format_of(path)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        if kind == "parquet":
            pq.write_table(table, partial)
        else:
            compression = "gzip" if kind == "csv.gz" else None
            with pa.output_stream(partial, compression=compression) as stream:
                pacsv.write_csv(table, stream)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _deliver(source, reservoir_rows, data, *, order, return_indices, out, extra=None):
    """The sample as positions, a table, or the path it was written to."""
    rows = reservoir_rows if order is None else reservoir_rows[order]
    if return_indices:
        sample = rows.astype(np.intp)
    else:
        if data is None:
            data = source.schema.empty_table()
        elif order is not None:
            data = data.take(np.asarray(order, dtype=np.int64))
        sample = data.combine_chunks()
        if out is not None:
            sample = write_table(sample, out)
            logger.info("wrote %d sampled rows to %s", rows.shape[0], out)
    if extra is None:
        return sample
    return sample, extra if order is None else extra[order]


def _positions_in(rows, ordered_rows):
    return np.searchsorted(rows, ordered_rows)


def _exact_pass(source, keys, caps, columns, description, progress, keep_data):
    reservoir = _reservoir(fixed_limits(caps), source, keep_data)
    _scan(source, columns, keys, reservoir, description, progress)
    if not reservoir.finish(caps):
        raise RuntimeError("a pass with exact counts fell short; please report this.")
    return reservoir


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
    batch_size=None,
    progress=None,
):
    """:func:`skfast.sampling.random_sample` on a file or dataset."""
    _functions._check_count(n)
    if (n is None) == (frac is None):
        raise ValueError("pass exactly one of n and frac.")
    out = _check_out(out, return_indices)
    progress = progress or _no_progress
    source = open_source(data, batch_size=batch_size)
    if source.n_rows is not None:
        _check_rows(source.n_rows, source)
        n = _functions._sample_size(n, frac, source.n_rows, replace=replace)
        frac = None
    generator = check_generator(random_state)
    seed = _kernels.new_seed(generator)
    keep_data = not return_indices
    columns = None if keep_data else []
    description = f"random sample of {source.name}"

    if replace:
        n = _functions._sample_size(n, frac, source.count_rows(progress), replace=True)
        rows, table, order, _ = _with_replacement(
            source, n, seed, None, keep_data, shuffle, progress, description
        )
        return _deliver(
            source, rows, table, order=order, return_indices=return_indices, out=out
        )

    if n is not None:
        limits = fixed_limits([n])
    else:
        limits = _proportional_limits(None, frac, None, 0)
    reservoir = _reservoir(limits, source, keep_data)
    keys = _UniformKeys(seed)
    _scan(source, columns, keys, reservoir, description, progress)
    _check_rows(reservoir.n_seen, source)
    n = _functions._sample_size(n, frac, reservoir.n_seen)
    if not reservoir.finish([n]):
        logger.info("%s: kept too few rows in one pass; reading it again", source.name)
        reservoir = _exact_pass(
            source, keys, [n], columns, description, progress, keep_data
        )

    order = None
    if shuffle:
        order = _positions_in(
            reservoir.rows, _kernels.uniform_order(reservoir.rows, seed)
        )
    logger.info(
        "random sample of %d of %d rows of %s", n, reservoir.n_seen, source.name
    )
    return _deliver(
        source,
        reservoir.rows,
        reservoir.data,
        order=order,
        return_indices=return_indices,
        out=out,
    )


def _with_replacement(source, n, seed, weights, keep_data, shuffle, progress, name):
    """``n`` draws with replacement, uniform or by a weights column, in two passes.

    The number of draws in each batch is one multinomial draw over the
    batches' total weights (their sizes, when uniform); each batch then draws
    its share from its own rows, uniformly or from Walker's alias table. The
    draws are exactly multinomial over the rows.

    Returns
    -------
    rows, table, order
        As for ``_deliver``.
    shares : ndarray of shape (n,) or None
        Each draw's share ``w_i / sum(w)`` of the total weight, when weighted.
    """
    size = source.count_rows(progress) if weights is None else None
    if weights is None:
        _check_rows(size, source)
        totals = np.full(-(-size // source.batch_size), float(source.batch_size))
        totals[-1] = size - source.batch_size * (totals.shape[0] - 1)
    else:
        totals, n_positive = [], 0
        for start, table in source.read([weights], f"{name}: pass 1 of 2", progress):
            values = table.column(weights).to_numpy()
            batch, positive = batch_weights(values, start, name="weights")
            totals.append(float(np.sum(batch, dtype=np.float64)))
            n_positive += positive
        _check_rows(source.n_rows, source)
        check_positive(0, n_positive, source.n_rows)
        totals = np.asarray(totals)
    total = totals.sum()

    generator = np.random.default_rng(seed)
    per_batch = generator.multinomial(n, totals / total)
    first_draw = np.concatenate([[0], np.cumsum(per_batch)[:-1]])
    columns = None if keep_data else [weights] if weights else []
    rows, parts, shares = [], [], []
    batches = source.read(columns, f"{name}: pass 2 of 2", progress)
    for index, (start, table) in enumerate(batches):
        draws = int(per_batch[index])
        if not draws:
            continue
        if weights is None:
            positions = _kernels.uniform_draws(
                seed, first_draw[index], draws, table.num_rows
            )
        else:
            values = table.column(weights).to_numpy()
            positions = _kernels.weighted_draws(values, seed, first_draw[index], draws)
            shares.append(values[positions] / total)
        rows.append(positions + start)
        if keep_data:
            parts.append(take_rows(table, positions))

    rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    table = _concat_tables(parts) if parts else None
    order = generator.permutation(n) if shuffle else None
    shares = np.concatenate(shares) if shares else np.zeros(0)
    return rows, table, order, shares


class _LargestWeights:
    """The largest ``n`` weights seen, as distinct values with their counts.

    Weights above the cut are held; weights equal to it are only counted, so
    many equal weights cost nothing. Once more than about ``2 n`` are held
    the cut rises to the ``n``-th largest.
    """

    def __init__(self, n):
        self.n = n
        self.values = np.zeros(0)
        self.cut = -np.inf
        self.at_cut = 0
        self._pending = []
        self._held = 0

    def add(self, weights):
        above = weights[weights > self.cut]
        self.at_cut += int(np.count_nonzero(weights == self.cut))
        if above.shape[0]:
            self._pending.append(above)
            self._held += above.shape[0]
        if self._held > self.n + 1024:
            self._raise_cut()

    def _raise_cut(self):
        values = np.concatenate([self.values, *self._pending])
        self._pending, self._held = [], 0
        if values.shape[0] > self.n:
            cut = np.partition(values, values.shape[0] - self.n)[
                values.shape[0] - self.n
            ]
            self.at_cut = int(np.count_nonzero(values == cut))
            values = values[values > cut]
            self.cut = cut
        self.values = values

    def groups(self):
        """Distinct values, largest first, and how many rows hold each."""
        self._raise_cut()
        values, counts = np.unique(self.values, return_counts=True)
        if self.at_cut:
            values = np.concatenate([[self.cut], values])
            counts = np.concatenate([[self.at_cut], counts])
        return values[::-1], counts[::-1]


def _certainty(values, counts, total, n):
    """The rows of ``design="pps"`` taken with certainty, as in memory.

    Returns the smallest certain weight (infinite when none), the sample size
    left for the other rows and their total weight, and the certain rows.
    """
    certain, certain_weight, group = 0, 0.0, 0
    while group < values.shape[0]:
        left = n - certain
        free = total - certain_weight
        if not free:
            break
        over = left * values[group:] / free >= 1
        count = int(np.argmin(over)) if not over.all() else over.shape[0]
        if count == 0:
            break
        certain += int(counts[group : group + count].sum())
        certain_weight += float(
            (values[group : group + count] * counts[group : group + count]).sum()
        )
        group += count
    smallest = values[group - 1] if group else np.inf
    return smallest, n - certain, total - certain_weight, certain


def _pps(source, n, seed, weights, keep_data, progress, name):
    """The pps design in two passes: largest weights and total, then pivotal.

    Returns the rows in input order, their table, and their probabilities.
    """
    total, n_positive, largest = 0.0, 0, _LargestWeights(max(n, 1))
    for start, table in source.read([weights], f"{name}: pass 1 of 2", progress):
        batch, positive = batch_weights(
            table.column(weights).to_numpy(), start, name="weights"
        )
        batch = batch.astype(np.float64, copy=False)
        total += float(batch.sum())
        n_positive += positive
        largest.add(batch)
    _check_rows(source.n_rows, source)
    check_positive(n, n_positive, source.n_rows)

    smallest_certain, left, free, n_certain = _certainty(*largest.groups(), total, n)
    if n_certain:
        warnings.warn(
            f"design='pps': {n_certain} rows have weights so large that their "
            "inclusion probability would reach one; they are taken with "
            f"certainty, and the other {n - n_certain} rows are drawn with "
            "probabilities proportional to weight among the rest.",
            _kernels.CertaintyWarning,
            stacklevel=5,
        )

    # The undecided row of the pivotal method may be taken batches later, so
    # its data travel with it.
    rows, parts, probabilities = [], [], []
    open_row, carried, open_data, open_probability = -1, 0.0, None, 0.0
    columns = None if keep_data else [weights]
    for start, table in source.read(columns, f"{name}: pass 2 of 2", progress):
        values = table.column(weights).to_numpy().astype(np.float64, copy=False)
        share = left * values / free if free else np.zeros_like(values)
        batch = np.clip(np.where(values >= smallest_certain, 1.0, share), 0.0, 1.0)
        mask, earlier, open_row_now, carried = _kernels.pivotal_batch(
            batch, seed, start, open_row, carried
        )
        if earlier:
            rows.append(np.array([open_row]))
            parts.append(open_data)
            probabilities.append(np.array([open_probability]))
        if open_row_now >= start:
            open_data = take_rows(table, [open_row_now - start]) if keep_data else None
            open_probability = batch[open_row_now - start]
        open_row = open_row_now

        positions = np.flatnonzero(mask)
        rows.append(positions + start)
        parts.append(take_rows(table, positions) if keep_data else None)
        probabilities.append(batch[positions])
    if open_row >= 0 and carried >= 0.5:
        rows.append(np.array([open_row]))
        parts.append(open_data)
        probabilities.append(np.array([open_probability]))

    rows = np.concatenate(rows).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    table = None
    if keep_data:
        table = _concat_tables(parts).take(order)
    return rows[order], table, np.concatenate(probabilities)[order]


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
    batch_size=None,
    progress=None,
):
    """:func:`skfast.sampling.weighted_sample` on a file or dataset."""
    _functions._check_count(n)
    weights = _column_name(weights, "weights")
    if return_probabilities and not replace and design == "successive":
        raise ValueError(
            "return_probabilities is not available for the successive design of "
            "a file: its probabilities are simulated from every weight at once. "
            "Use design='pps', whose probabilities are exact, or read the file "
            "into memory."
        )
    out = _check_out(out, return_indices)
    progress = progress or _no_progress
    source = open_source(data, batch_size=batch_size)
    source.require(weights=weights)
    if source.n_rows is not None:
        _check_rows(source.n_rows, source)
        _functions._sample_size(n, None, source.n_rows, replace=replace)
    generator = check_generator(random_state)
    seed = _kernels.new_seed(generator)
    keep_data = not return_indices
    description = f"weighted sample of {source.name}"

    probabilities = None
    if replace:
        rows, table, order, shares = _with_replacement(
            source, n, seed, weights, keep_data, shuffle, progress, description
        )
        if return_probabilities:
            capped = np.minimum(shares, 1 - 1e-300)
            probabilities = -np.expm1(n * np.log1p(-capped))
    elif design == "pps":
        rows, table, probabilities = _pps(
            source, n, seed, weights, keep_data, progress, description
        )
        order = None
        if shuffle:
            order = _positions_in(rows, _kernels.uniform_order(rows, seed))
    else:
        reservoir = _reservoir(fixed_limits([n]), source, keep_data)
        keys = WeightedKeys(
            seed, lambda table: table.column(weights).to_numpy(), name="weights"
        )
        columns = None if keep_data else [weights]
        _scan(source, columns, keys, reservoir, description, progress)
        _check_rows(reservoir.n_seen, source)
        check_positive(n, keys.n_positive, reservoir.n_seen)
        reservoir.finish([n])
        rows, table = reservoir.rows, reservoir.data
        order = draw_order(rows, reservoir.keys) if shuffle else None

    logger.info("weighted sample of %d rows of %s", rows.shape[0], source.name)
    return _deliver(
        source,
        rows,
        table,
        order=order,
        return_indices=return_indices,
        out=out,
        extra=probabilities if return_probabilities else None,
    )


def _proportional_limits(n, frac, n_total, min_per_stratum, scale=1.0):
    """Shrinking key bounds for proportional allocation, from the rows seen.

    Stratum ``h`` needs at most ``max(floor, ceil(n N_h / N))`` rows, whose
    largest key is, all but surely, under ``(t + 6 sqrt(t) + 32) / N_h``
    with ``t = n N_h / N + 1``. Computed from the rows seen so far (``N``
    and ``N_h`` can only grow, ``n / N`` only shrink) the bound is above the
    one the whole file gives, and it shrinks as rows arrive.
    """

    def limits(sizes, n_seen):
        size = n_total if n_total else max(n_seen, 1)
        ratio = n / size if n is not None else frac + 0.5 / size
        expected = ratio * sizes + 1.0
        margin = expected + BOUND_SIGMAS * np.sqrt(expected) + BOUND_ROWS
        bounds = scale * margin / np.maximum(sizes, 1)
        return bounds, np.full(sizes.shape[0], min_per_stratum, dtype=np.int64)

    return limits


def _water_level(sizes, n):
    """The level ``L`` with ``sum(min(sizes, L)) == n``; infinite if none."""
    if sizes.sum() <= n:
        return math.inf
    ordered = np.sort(sizes)
    below = np.concatenate([[0], np.cumsum(ordered)[:-1]])
    levels = (n - below) / (ordered.shape[0] - np.arange(ordered.shape[0]))
    return float(levels[np.argmax(levels <= ordered)])


def _equal_limits(n, min_per_stratum):
    """Per-stratum counts for equal allocation, from the rows seen.

    Equal allocation gives stratum ``h`` about ``min(N_h, L)`` rows, ``L``
    the water level at which those sum to ``n``; as strata grow and appear
    ``L`` only falls, so the level of the rows seen bounds every later one.
    """

    def limits(sizes, n_seen):
        level = _water_level(sizes, n)
        cap = (
            NO_CAP if math.isinf(level) else max(min_per_stratum, math.ceil(level) + 2)
        )
        return np.full(sizes.shape[0], -np.inf), np.full(sizes.shape[0], cap)

    return limits


def _mapping_limits(allocation, strata):
    """Per-stratum counts of a mapping allocation: its numbers, rounded up."""

    def limits(sizes, n_seen):
        wanted = [allocation.get(label, 0) for label in strata.labels[: sizes.shape[0]]]
        caps = np.ceil(np.asarray(wanted, dtype=np.float64)) + 1
        return np.full(sizes.shape[0], -np.inf), caps.astype(np.int64)

    return limits


def _check_mapping(allocation):
    for label, count in allocation.items():
        if isinstance(count, bool) or not isinstance(count, Real) or count < 0:
            raise ValueError(
                f"allocation asks {count!r} rows of stratum {label!r}; ask a "
                "number of rows of at least 0."
            )


def _neyman_target(sizes, deviations, n):
    spread = sizes * deviations
    if spread.sum() == 0:
        return n * sizes / sizes.sum()
    return n * spread / spread.sum()


def _take(strata, sizes_seen, allocation, n, frac, min_per_stratum, deviations=None):
    """Rows to take per stratum (local numbering), as ``stratified_sample`` does."""
    order, rank, labels = strata.sorted()
    sizes = sizes_seen[order]
    if isinstance(allocation, dict):
        target = _functions._allocation_target(
            allocation, sizes, 0, labels, None, None, None
        )
        n = int(round(target.sum()))
        lower = np.zeros_like(sizes)
    else:
        n = _functions._sample_size(n, frac, int(sizes.sum()))
        if allocation == "neyman":
            target = _neyman_target(sizes, deviations[order], n)
        else:
            target = _functions._allocation_target(
                allocation, sizes, n, labels, None, None, None
            )
        lower = _functions._floor_per_stratum(sizes, n, min_per_stratum)
    take = _kernels.allocate(target, sizes, n, lower=lower)
    return take[rank]


def _numbers(table, column, start, option):
    values = table.column(column).to_numpy()
    if values.dtype.kind not in "biuf":
        raise InputError(
            f"{option}={column!r} must be a numeric column, got {values.dtype}.",
            option=option,
        )
    values = values.astype(np.float64, copy=False)
    bad = ~np.isfinite(values)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{option} has {values[position]} at row {start + position}; Neyman "
            "allocation needs finite values.",
            option=option,
        )
    return values


def _deviations(source, strata, variable, progress, description):
    """Size, and standard deviation of ``variable``, of each stratum, in one pass.

    Batch moments are merged with Chan, Golub and LeVeque's pairwise update.
    """
    counts, means, squares = (np.zeros(0) for _ in range(3))
    columns = [strata.column, variable]
    for start, table in source.read(columns, f"{description}: pass 1 of 2", progress):
        codes = strata.encode(table, start)
        values = _numbers(table, variable, start, "variable")
        grow = strata.count - counts.shape[0]
        counts, means, squares = (
            np.concatenate([array, np.zeros(grow)])
            for array in (counts, means, squares)
        )
        batch_counts = np.bincount(codes, minlength=strata.count)
        batch_means = np.bincount(codes, values, strata.count) / np.maximum(
            batch_counts, 1
        )
        batch_squares = np.bincount(
            codes, (values - batch_means[codes]) ** 2, strata.count
        )
        merged = counts + batch_counts
        delta = batch_means - means
        means = means + delta * batch_counts / np.maximum(merged, 1)
        squares = (
            squares
            + batch_squares
            + delta**2 * counts * batch_counts / np.maximum(merged, 1)
        )
        counts = merged
    return counts.astype(np.int64), np.sqrt(squares / np.maximum(counts - 1, 1))


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
    batch_size=None,
    progress=None,
    _bound_scale=1.0,
):
    """:func:`skfast.sampling.stratified_sample` on a file or dataset.

    ``_bound_scale`` shrinks the one-pass key bounds, for tests of the
    second pass that follows a stratum left short.
    """
    _functions._check_count(n)
    by = _column_name(by, "by")
    variable = _column_name(variable, "variable")
    mapping = isinstance(allocation, dict)
    if mapping:
        if n is not None or frac is not None:
            raise ValueError("with a mapping allocation, pass neither n nor frac.")
        _check_mapping(allocation)
    elif (n is None) == (frac is None):
        raise ValueError("pass exactly one of n and frac.")
    if allocation == "neyman" and variable is None:
        raise ValueError(
            "allocation='neyman' needs variable=: the column whose spread per "
            "stratum sets the allocation."
        )
    out = _check_out(out, return_indices)
    progress = progress or _no_progress
    source = open_source(data, batch_size=batch_size)
    source.require(by=by, variable=variable)
    if allocation == "equal" and frac is not None:
        # The water level of equal allocation can rise with n = frac * N, so
        # no count bounds it before N is known: count the rows first.
        source.count_rows(progress)
    if source.n_rows is not None:
        _check_rows(source.n_rows, source)
        if not mapping:
            n = _functions._sample_size(n, frac, source.n_rows)
            frac = None
    seed = _kernels.new_seed(check_generator(random_state))
    keep_data = not return_indices
    columns = None if keep_data else [by]
    description = f"stratified sample of {source.name}"
    strata = _Strata(by)
    keys = _StratumKeys(seed, strata)

    if allocation == "neyman":
        sizes, deviations = _deviations(source, strata, variable, progress, description)
        _check_rows(source.n_rows, source)
        take = _take(strata, sizes, allocation, n, frac, min_per_stratum, deviations)
        reservoir = _exact_pass(
            source,
            keys,
            take,
            columns,
            f"{description}: pass 2 of 2",
            progress,
            keep_data,
        )
    else:
        if mapping:
            limits = _mapping_limits(allocation, strata)
        elif allocation == "equal":
            limits = _equal_limits(n, min_per_stratum)
        else:
            limits = _proportional_limits(
                n, frac, source.n_rows, min_per_stratum, _bound_scale
            )
        reservoir = _reservoir(limits, source, keep_data)
        _scan(source, columns, keys, reservoir, description, progress)
        _check_rows(reservoir.n_seen, source)
        take = _take(strata, reservoir.sizes, allocation, n, frac, min_per_stratum)
        if not reservoir.finish(take):
            logger.info(
                "%s: a stratum kept too few rows in one pass; reading it again",
                source.name,
            )
            reservoir = _exact_pass(
                source,
                keys,
                take,
                columns,
                f"{description}: pass 2 of 2",
                progress,
                keep_data,
            )

    rows = reservoir.rows
    order = None
    if shuffle:
        order = _positions_in(rows, _kernels.uniform_order(rows, seed))
    probabilities = None
    if return_probabilities:
        probabilities = (take / np.maximum(reservoir.sizes, 1))[reservoir.codes]
    logger.info(
        "stratified sample of %d of %d rows of %s over %d strata",
        rows.shape[0],
        reservoir.n_seen,
        source.name,
        strata.count,
    )
    return _deliver(
        source,
        rows,
        reservoir.data,
        order=order,
        return_indices=return_indices,
        out=out,
        extra=probabilities,
    )
