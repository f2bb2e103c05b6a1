"""Reading tabular files: CSV (delimiter and header detected) and Parquet."""

from skfast.io._read import MISSING_MARKERS, read_table, sha256_of

__all__ = ["MISSING_MARKERS", "read_table", "sha256_of"]
