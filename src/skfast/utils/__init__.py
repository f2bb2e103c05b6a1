"""Small helpers shared by the public API."""

from skfast.utils._random import check_generator

__all__ = ["check_generator"]
