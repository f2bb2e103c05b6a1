"""Splitting data for model selection, on the native stratified kernel."""

from skfast.model_selection._split import train_test_split

__all__ = ["train_test_split"]
