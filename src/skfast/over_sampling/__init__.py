"""Over-samplers that follow imbalanced-learn's API, on Numba kernels.

Importing this package compiles nothing and does not import numba; the
kernels are loaded on the first ``fit_resample``.
"""

from skfast.over_sampling._smote import SMOTE

__all__ = ["SMOTE"]
