"""The runner behind ``skfast run``: every stage from raw table to report."""

from skfast.workflow._config import MODEL_NAMES, RunConfig
from skfast.workflow._workflow import OUTPUT_FILES, STAGES, RunResult, Workflow

__all__ = [
    "MODEL_NAMES",
    "OUTPUT_FILES",
    "STAGES",
    "RunConfig",
    "RunResult",
    "Workflow",
]
