"""Exact nearest-neighbour search on blocked Numba kernels.

Importing this package compiles nothing and does not import numba; the
kernels are loaded on the first search.
"""

from skfast.neighbors._base import NearestNeighbors, kneighbors

__all__ = ["NearestNeighbors", "kneighbors"]
