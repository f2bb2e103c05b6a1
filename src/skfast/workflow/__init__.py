"""The runner behind ``skfast run``: every stage from raw table to report.

``RunConfig`` is light; the runner itself, which needs scikit-learn, is
imported on first use, so the command line starts quickly.
"""

import importlib

from skfast.workflow._config import MODEL_NAMES, RunConfig

_LAZY = {
    "load_model": "skfast.workflow._model_file",
    "save_model": "skfast.workflow._model_file",
    "OUTPUT_FILES": "skfast.workflow._workflow",
    "STAGES": "skfast.workflow._workflow",
    "RunResult": "skfast.workflow._workflow",
    "Workflow": "skfast.workflow._workflow",
}

__all__ = [
    "load_model",
    "save_model",
    "MODEL_NAMES",
    "OUTPUT_FILES",
    "STAGES",
    "RunConfig",
    "RunResult",
    "Workflow",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'skfast.workflow' has no attribute {name!r}")
