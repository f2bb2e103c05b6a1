"""UCI Adult, shipped inside the package as the original gzip files."""

from importlib import resources

import pandas as pd
from sklearn.utils import Bunch

ADULT_ATTRIBUTION = (
    "UCI Adult (Census Income) by Barry Becker and Ronny Kohavi, UCI Machine "
    "Learning Repository, doi:10.24432/C5XW20, licensed CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/)."
)

NUMERIC_COLUMNS = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
]
CATEGORICAL_COLUMNS = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
TARGET = "income"
TARGET_NAMES = ["<=50K", ">50K"]


def adult_files():
    """Return the paths of the bundled Adult files.

    Returns
    -------
    files : dict
        ``{"train": path, "test": path, "names": path}``; the data files are
        the original UCI files, gzip-compressed.

    Examples
    --------
    >>> from skfast.datasets import adult_files
    >>> sorted(adult_files())
    ['names', 'test', 'train']
    """
    folder = resources.files("skfast.datasets") / "data"
    return {
        "train": folder / "adult.data.gz",
        "test": folder / "adult.test.gz",
        "names": folder / "adult.names",
    }


def _read(path, *, skiprows):
    with resources.as_file(path) as local:
        frame = pd.read_csv(
            local,
            header=None,
            names=COLUMNS,
            skipinitialspace=True,
            skiprows=skiprows,
            na_values=["?"],
            keep_default_na=False,
        )
    frame[TARGET] = frame[TARGET].str.rstrip(".")
    return frame


def load_adult(*, subset="train", return_X_y=False, as_frame=True):
    """Load UCI Adult (Census Income), the data set ``skfast run`` defaults to.

    Predict whether a person's income exceeds $50K a year from 14 census
    attributes. The train file has 32,561 rows (24.08 % positive) and the
    test file 16,281 (23.62 % positive). Six columns are numeric (int64),
    eight categorical (``category`` dtype); ``?`` in the files is read as
    missing, and the full stop that ends each test label is removed.

    Data by Barry Becker and Ronny Kohavi, UCI Machine Learning Repository,
    doi:10.24432/C5XW20, under CC BY 4.0.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which file to load; ``"all"`` concatenates train then test.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=True
        Return pandas objects. With ``False`` the features are an object
        ndarray (missing values as NaN) and the target an ndarray of str.

    Returns
    -------
    data : sklearn.utils.Bunch
        With ``data``, ``target``, ``frame`` (None unless ``as_frame``),
        ``feature_names``, ``target_names`` and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    >>> from skfast.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> X.shape
    (32561, 14)
    >>> y.value_counts().to_dict()
    {'<=50K': 24720, '>50K': 7841}
    """
    if subset not in {"train", "test", "all"}:
        raise ValueError(f"subset={subset!r} is not one of 'train', 'test' or 'all'.")

    # Both files are read so that train and test share one category list
    # per column (a few values occur in only one of them).
    files = adult_files()
    train = _read(files["train"], skiprows=0)
    test = _read(files["test"], skiprows=1)
    frame = {"train": train, "test": test}.get(subset)
    if frame is None:
        frame = pd.concat([train, test], ignore_index=True)
    for column in CATEGORICAL_COLUMNS:
        categories = sorted(set(train[column].dropna()) | set(test[column].dropna()))
        frame[column] = pd.Categorical(frame[column], categories=categories)
    frame[TARGET] = pd.Categorical(frame[TARGET], categories=TARGET_NAMES)

    features = [column for column in COLUMNS if column != TARGET]
    data, target = frame[features], frame[TARGET]
    if not as_frame:
        data = data.astype(object).where(data.notna(), float("nan")).to_numpy()
        target = target.astype(str).to_numpy()
        frame = None
    if return_X_y:
        return data, target

    descr = resources.files("skfast.datasets").joinpath("data/adult.names")
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=features,
        target_names=list(TARGET_NAMES),
        DESCR=f"{ADULT_ATTRIBUTION}\n\n{descr.read_text()}",
    )
