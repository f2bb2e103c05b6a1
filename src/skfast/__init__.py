"""skfast: from raw data to a model fit to ship, on native kernels.

Submodules are imported on first use, so ``import skfast`` stays cheap: it
compiles nothing and imports neither numba nor scikit-learn.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "datasets",
    "exceptions",
    "model_selection",
    "neighbors",
    "over_sampling",
    "pipeline",
    "sampling",
    "workflow",
}

_LAZY_ATTRIBUTES = {
    "Workflow": "skfast.workflow",
    "RunConfig": "skfast.workflow",
    "load_adult": "skfast.datasets",
}

__all__ = sorted(_SUBMODULES | set(_LAZY_ATTRIBUTES) | {"__version__"})


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"skfast.{name}")
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'skfast' has no attribute {name!r}")


def __dir__():
    return __all__
