"""Read a CSV or Parquet file into a pandas DataFrame, or fail in one line.

CSV dialects are detected from the first 64 KiB with :class:`csv.Sniffer`:
the delimiter among comma, semicolon, tab and pipe, and whether the first
row is a header. Both can be overridden. Every failure becomes an
:class:`~skfast.exceptions.InputError` whose message names the file and says
what to change.
"""

import csv
import gzip
import hashlib
import io
import zlib
from pathlib import Path

import pandas as pd

from skfast.exceptions import InputError

# pandas' default markers of a missing value, and "?" (as in UCI data sets).
MISSING_MARKERS = (
    "", "?", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
    "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
    "nan", "null",
)  # fmt: skip
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_PARQUET_MAGIC = b"PAR1"


def sha256_of(path):
    """Return the SHA-256 hex digest of a file's bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skfast.io import sha256_of
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "a.txt"
    ...     _ = path.write_bytes(b"abc")
    ...     sha256_of(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_text(path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def _check_gzip(path):
    """Decompress a gzip file once, so a truncated one fails here, not later.

    pandas reads a gzip stream that lacks its trailer without complaint,
    which would silently drop the rows of a partly copied file.
    """
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(
            f"cannot read {path}: the gzip stream is damaged or truncated "
            f"({error}); copy the file again."
        ) from None


def _sniff(path, delimiter, header):
    """Return the delimiter, the quote character and whether there is a header."""
    try:
        with _open_text(path) as handle:
            sample = handle.read(_SNIFF_BYTES)
    except UnicodeDecodeError as error:
        raise InputError(
            f"cannot read {path}: it is not UTF-8 text ({error.reason} at byte "
            f"{error.start}); convert it to UTF-8 CSV or Parquet."
        ) from None
    except (OSError, EOFError) as error:
        raise InputError(f"cannot read {path}: {error}.") from None

    if not sample.strip():
        raise InputError(f"{path} is empty: it has no rows to learn from.")
    if "\x00" in sample:
        raise InputError(
            f"cannot read {path}: it holds binary data, not CSV text; pass a "
            "CSV or Parquet file."
        )

    sniffer = csv.Sniffer()
    try:
        dialect = sniffer.sniff(sample, delimiters=_DELIMITERS)
        sniffed, quotechar = dialect.delimiter, dialect.quotechar
    except csv.Error:
        sniffed, quotechar = ",", '"'
    if header is None:
        try:
            header = sniffer.has_header(sample)
        except csv.Error:
            header = True
    return delimiter or sniffed, quotechar, header


def read_table(path, *, delimiter=None, header=None, missing=MISSING_MARKERS):
    """Read a CSV or Parquet file into a DataFrame.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.parquet`` / ``.pq`` file, or CSV text (optionally ``.gz``).
        Parquet is recognised by its magic bytes whatever the suffix.
    delimiter : str, default=None
        CSV delimiter; detected when None.
    header : bool, default=None
        Whether the first CSV row names the columns; detected when None.
        Without a header, columns are named ``column_0``, ``column_1``, ...
    missing : sequence of str, default=MISSING_MARKERS
        CSV values read as missing, after leading spaces are skipped.

    Returns
    -------
    frame : pandas.DataFrame

    Raises
    ------
    skfast.exceptions.InputError
        When the file is missing, empty or cannot be parsed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skfast.io import read_table
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "people.csv"
    ...     _ = path.write_text("age;city\\n31;Oslo\\n47;?\\n")
    ...     frame = read_table(path)
    >>> frame["city"].isna().tolist()
    [False, True]
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass a CSV or Parquet file.")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}.") from None
    if not magic:
        raise InputError(f"{path} is empty: it has no rows to learn from.")

    if magic == _PARQUET_MAGIC or path.suffix in {".parquet", ".pq"}:
        frame = _read_parquet(path)
    else:
        frame = _read_csv(path, delimiter, header, missing)

    if len(frame) == 0:
        raise InputError(f"{path} has a header but no rows to learn from.")
    return frame


def _read_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as error:
        raise InputError(
            f"cannot read {path} as Parquet: {str(error).splitlines()[0]}"
        ) from None


def _check_unique_names(path, delimiter, quotechar):
    """pandas renames a repeated column ``a`` to ``a.1``; refuse it instead."""
    with _open_text(path) as handle:
        names = next(csv.reader(handle, delimiter=delimiter, quotechar=quotechar))
    # Empty names are left to pandas, which numbers them ("Unnamed: 3").
    names = [name.strip() for name in names if name.strip()]
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"column {name!r} appears twice in the header of {path}; give "
                "every column its own name."
            )
        seen.add(name)


def _read_csv(path, delimiter, header, missing):
    if path.suffix == ".gz":
        _check_gzip(path)
    delimiter, quotechar, header = _sniff(path, delimiter, header)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            quotechar=quotechar,
            header=0 if header else None,
            skipinitialspace=True,
            na_values=list(missing),
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0]
        raise InputError(
            f"cannot read {path} as CSV with delimiter {delimiter!r}: {reason}"
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty: it has no rows to learn from.") from None

    if header:
        _check_unique_names(path, delimiter, quotechar)
    else:
        frame.columns = [f"column_{i}" for i in range(frame.shape[1])]
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame
