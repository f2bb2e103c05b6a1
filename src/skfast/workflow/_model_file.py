"""Saving and loading the fitted pipeline with skops, trusting only known code."""

# skops refuses to build any type it is not told to trust. A pipeline written
# by skfast holds types from these packages only; anything else in a file
# means it was not written by skfast, and loading it is refused.
TRUSTED_PACKAGES = ("builtins", "imblearn", "numpy", "scipy", "skfast", "sklearn")


def save_model(model, path):
    """Write a fitted pipeline to ``path`` in the skops format.

    Parameters
    ----------
    model : estimator
        A fitted scikit-learn or imbalanced-learn pipeline.
    path : str or pathlib.Path
        The file to write, by convention ``*.skops``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skfast.workflow import save_model
    >>> model = DecisionTreeClassifier().fit([[0], [1]], [0, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tree.skops"
    ...     save_model(model, path)
    ...     path.stat().st_size > 0
    True
    """
    from skops import io as skops_io

    skops_io.dump(model, path)


def load_model(path):
    """Load a pipeline saved by ``skfast run``, trusting only known packages.

    The types in the file are listed first; every one must come from
    scikit-learn, imbalanced-learn, skfast, NumPy, SciPy or the standard
    built-ins, or nothing is loaded.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``model.skops`` file.

    Returns
    -------
    model : imblearn.pipeline.Pipeline

    Raises
    ------
    ValueError
        When the file holds a type from another package.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfast.workflow import load_model, save_model
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "model.skops"
    ...     save_model(model, path)
    ...     loaded = load_model(path)
    >>> loaded.predict([[0.9]])
    array([1])
    """
    from skops import io as skops_io

    types = skops_io.get_untrusted_types(file=path)
    foreign = [name for name in types if name.split(".")[0] not in TRUSTED_PACKAGES]
    if foreign:
        raise ValueError(
            f"{path} holds types from outside scikit-learn, imbalanced-learn, "
            f"skfast, NumPy and SciPy ({', '.join(foreign[:5])}); it was not "
            "written by skfast, so it is not loaded. Inspect it with "
            "skops.io.get_untrusted_types before trusting it."
        )
    return skops_io.load(path, trusted=types)
