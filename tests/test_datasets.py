"""The bundled UCI Adult data, read with the right types and counts."""

import numpy as np
import pandas as pd
import pytest

from skfast.datasets import ADULT_ATTRIBUTION, adult_files, load_adult
from skfast.io import sha256_of


def test_train_shape_types_and_missing_values():
    adult = load_adult()
    X, y = adult.data, adult.target

    assert X.shape == (32561, 14)
    assert (X.dtypes == "int64").sum() == 6
    assert (X.dtypes == "category").sum() == 8
    assert X.isna().sum()[lambda s: s > 0].to_dict() == {
        "workclass": 1836,
        "occupation": 1843,
        "native-country": 583,
    }
    assert X.isna().any(axis=1).sum() == 2399
    assert y.value_counts().to_dict() == {"<=50K": 24720, ">50K": 7841}
    assert adult.feature_names == list(X.columns)
    assert adult.frame.shape == (32561, 15)


def test_test_file_skips_its_banner_and_loses_the_full_stops():
    X, y = load_adult(subset="test", return_X_y=True)

    assert X.shape == (16281, 14)
    assert y.value_counts().to_dict() == {"<=50K": 12435, ">50K": 3846}
    assert X["workclass"].isna().sum() == 963


def test_train_and_test_share_their_categories():
    train = load_adult(subset="train").data
    test = load_adult(subset="test").data
    everything = load_adult(subset="all").data

    assert len(everything) == 48842
    for column in train.select_dtypes("category"):
        assert list(train[column].cat.categories) == list(test[column].cat.categories)
    assert "Holand-Netherlands" in train["native-country"].cat.categories


def test_numpy_output():
    X, y = load_adult(as_frame=False, return_X_y=True)

    assert isinstance(X, np.ndarray) and X.dtype == object
    assert isinstance(y, np.ndarray) and set(y) == {"<=50K", ">50K"}
    assert pd.isna(X[:, 1]).sum() == 1836
    assert load_adult(as_frame=False).frame is None


def test_attribution_ships_with_the_package():
    description = load_adult().DESCR
    assert "CC BY 4.0" in ADULT_ATTRIBUTION and ADULT_ATTRIBUTION in description
    readme = adult_files()["train"].parent / "README.md"
    assert "CC BY 4.0" in readme.read_text()
    with pytest.raises(ValueError, match="subset='valid'"):
        load_adult(subset="valid")


def test_bundled_files_are_the_shared_originals(shared_data):
    for role, name in (("train", "adult.data.gz"), ("test", "adult.test.gz")):
        shared = shared_data / "adult" / name
        assert sha256_of(adult_files()[role]) == sha256_of(shared)
