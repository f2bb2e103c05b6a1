"""Data sets shipped with skfast."""

from skfast.datasets._adult import ADULT_ATTRIBUTION, adult_files, load_adult

__all__ = ["ADULT_ATTRIBUTION", "adult_files", "load_adult"]
