"""Row access that keeps the container kind: NumPy, pandas, polars, pyarrow.

Samplers and splitters compute row positions once and hand them to
:func:`take_rows`, so one seed gives the same rows whatever the input kind.
"""

import numpy as np


def _kind(data):
    module = type(data).__module__.partition(".")[0]
    if module in {"pandas", "polars", "pyarrow"}:
        return module
    return "numpy"


def n_rows(data):
    """Return the number of rows of a 1-D or 2-D container."""
    if _kind(data) == "numpy" and not hasattr(data, "shape"):
        data = np.asarray(data)
    if hasattr(data, "shape"):
        if len(data.shape) == 0:
            raise ValueError(
                "expected an array or a table of rows, got a scalar; wrap it "
                "in a list or array."
            )
        return int(data.shape[0])
    return len(data)


def take_rows(data, indices):
    """Return the rows of ``data`` at ``indices``, as the same kind of object.

    pandas keeps its index labels, as ``DataFrame.iloc`` does.
    """
    kind = _kind(data)
    if kind == "pandas":
        return data.iloc[indices]
    if kind == "polars":
        return data[np.asarray(indices, dtype=np.int64)]
    if kind == "pyarrow":
        return data.take(np.asarray(indices, dtype=np.int64))
    if hasattr(data, "tocsr") and hasattr(data, "nnz"):
        return data.tocsr()[indices]
    if isinstance(data, np.ndarray):
        return data[indices]
    return [data[i] for i in np.asarray(indices)]


def concat_rows(parts):
    """Stack containers of one kind row-wise, as that kind.

    pyarrow record batches give a record batch and tables a table, whose
    schemas must match; pandas keeps each part's index labels.

    Parameters
    ----------
    parts : non-empty list of containers of the same kind
    """
    if len(parts) == 1:
        return parts[0]
    kind = _kind(parts[0])
    if kind == "pandas":
        import pandas as pd

        return pd.concat(parts)
    if kind == "polars":
        import polars as pl

        return pl.concat(parts)
    if kind == "pyarrow":
        import pyarrow as pa

        if isinstance(parts[0], pa.RecordBatch):
            return pa.concat_batches(parts)
        return pa.concat_tables(parts)
    if hasattr(parts[0], "tocsr") and hasattr(parts[0], "nnz"):
        import scipy.sparse as sp

        return sp.vstack(parts, format="csr")
    return np.concatenate([np.asarray(part) for part in parts])


def column_values(data, column, *, name):
    """Return a column of ``data``, or ``column`` itself as an array.

    Parameters
    ----------
    data : table or array
    column : str, int or array-like
        A column name of a pandas, polars or pyarrow table, or values given
        directly, one per row.
    name : str
        The parameter's name, for error messages.
    """
    if isinstance(column, str):
        kind = _kind(data)
        names = _column_names(data)
        if names is None:
            raise ValueError(
                f"{name}={column!r} names a column, but the data of type "
                f"{type(data).__name__} has no column names; pass the values "
                "as an array instead."
            )
        if column not in names:
            shown = ", ".join(map(repr, list(names)[:20]))
            raise ValueError(
                f"{name}={column!r} is not a column of the data; columns are {shown}."
            )
        if kind == "pandas":
            return data[column].to_numpy()
        if kind == "polars":
            return data.get_column(column).to_numpy()
        return data.column(column).to_numpy()

    values = np.asarray(column)
    if values.ndim != 1 or values.shape[0] != n_rows(data):
        raise ValueError(
            f"{name} has shape {values.shape}, but the data has "
            f"{n_rows(data)} rows; pass one value per row or a column name."
        )
    return values


def _column_names(data):
    kind = _kind(data)
    if kind in {"pandas", "polars"} and hasattr(data, "columns"):
        return list(data.columns)
    if kind == "pyarrow" and hasattr(data, "column_names"):
        return list(data.column_names)
    return None
