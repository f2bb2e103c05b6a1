"""Importance sampling: rows drawn with probability by a score, with a floor.

The design is defensive importance sampling (Hesterberg, 1995). Each row's
size measure mixes its score, scaled to mean one, with a constant floor::

    q_i = (1 - floor) * s_i / mean(s) + floor

and the sample is drawn with inclusion probabilities exactly proportional to
``q`` by the ordered pivotal method, the ``design="pps"`` of
:func:`~skfast.sampling.weighted_sample`. Because ``q`` has mean one, a row's
probability is ``pi_i = n q_i / N`` (capped at one), so with ``floor > 0``
every row has a probability of at least ``floor * n / N`` and an estimate
from the sample cannot miss a part of the population for good.

The score builders (:func:`uncertainty`, :func:`margin`, :func:`loss`) turn
a fitted classifier into a callable that scores the rows of a table, for
active learning and for checking a model where it is weakest.
"""

import logging
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted

from skfast.sampling import _kernels
from skfast.sampling._functions import _arrange, _check_count, _check_not_empty
from skfast.utils._containers import (
    _column_names,
    _kind,
    column_values,
    n_rows,
    take_rows,
)
from skfast.utils._random import check_generator

logger = logging.getLogger(__name__)

# Frames between pps_probabilities and the caller of importance_sample: the
# helper, importance_sample and the validate_params wrapper.
_WARNING_STACKLEVEL = 5


@validate_params(
    {
        "data": "no_validation",
        "n": [Interval(Integral, 0, None, closed="left")],
        "scores": [str, "array-like", callable],
        "floor": [Interval(Real, 0, 1, closed="both")],
        "random_state": "no_validation",
        "shuffle": ["boolean"],
        "return_indices": ["boolean"],
        "weight_column": [str],
    },
    prefer_skip_nested_validation=True,
)
def importance_sample(
    data,
    n,
    *,
    scores,
    floor=0.1,
    random_state=None,
    shuffle=False,
    return_indices=False,
    weight_column="design_weight",
):
    """Draw ``n`` rows with probability by score, and return design weights.

    Row ``i`` is in the sample with probability proportional to the mixture
    ``q_i = (1 - floor) * s_i / mean(s) + floor`` of its score ``s_i`` and a
    constant floor, that is ``pi_i = n q_i / N`` for ``N`` rows. This is
    defensive importance sampling [1]_: high scores are drawn more often,
    yet with ``floor > 0`` no row is impossible, so the Horvitz-Thompson
    weights ``1 / pi_i`` stay bounded by ``N / (floor * n)``. With
    ``floor=0`` rows of score zero are never drawn (the design is then
    unbiased only for what those rows cannot contribute to); ``floor=1``
    ignores the scores and samples uniformly.

    A row whose probability would reach one is taken with certainty and the
    rest of the sample is spread over the other rows in proportion to ``q``
    (a :class:`CertaintyWarning` says how many); the sample is then drawn by
    the ordered pivotal method [2]_, which keeps its size fixed at ``n``.
    Pass the returned design weights to :func:`estimate` for unbiased
    totals and means with standard errors.

    Parameters
    ----------
    data : ndarray, sparse matrix, pandas, polars or pyarrow table
        The rows to sample from.
    n : int
        Number of rows to draw; at most the number of rows, and with
        ``floor=0`` at most the number of rows of positive score.
    scores : str, array-like of shape (n_rows,) or callable
        A column name, one non-negative finite score per row, or a callable
        ``scores(data)`` that returns them, such as :func:`uncertainty`,
        :func:`margin` or :func:`loss` of a fitted model. Only their ratios
        matter. If every score is zero the sample is uniform (``floor > 0``).
    floor : float in [0, 1], default=0.1
        Share of the size measure that does not depend on the score.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.
    shuffle : bool, default=False
        Return rows in random order instead of input order.
    return_indices : bool, default=False
        Return row positions instead of rows.
    weight_column : str, default="design_weight"
        Name of the design-weight column added to a table sample.

    Returns
    -------
    sample : same kind as ``data``
        For a pandas, polars or pyarrow table: the sampled rows with a
        column ``weight_column`` of design weights ``1 / pi_i``, and nothing
        else is returned.
    design_weights : ndarray of shape (n,)
        For any other input, or with ``return_indices``, the result is the
        tuple ``(sample, design_weights)`` (``sample`` being the positions
        with ``return_indices``), aligned row for row.

    See Also
    --------
    estimate : Totals and means from a weighted sample, with standard errors.
    weighted_sample : The same design with ``design="pps"``, by any weight.

    References
    ----------
    .. [1] T. Hesterberg, "Weighted average importance sampling and defensive
       mixture distributions", Technometrics 37(2), 185-194, 1995.
    .. [2] J.-C. Deville and Y. Tillé, "Unequal probability sampling without
       replacement through a splitting method", Biometrika 85(1), 89-101,
       1998.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import estimate, importance_sample
    >>> rng = np.random.default_rng(0)
    >>> y = rng.lognormal(size=1000)
    >>> rows, w = importance_sample(y, 50, scores=y, random_state=0,
    ...                             return_indices=True)
    >>> rows.shape, bool(w.max() <= 1000 / (0.1 * 50))
    ((50,), True)
    >>> result = estimate(y[rows], statistic="total", weights=w)
    >>> bool(abs(result.value - y.sum()) < 3 * result.standard_error)
    True

    A table gets its design weights as a column:

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"y": y, "score": y})
    >>> sample = importance_sample(frame, 5, scores="score", random_state=0)
    >>> list(sample.columns)
    ['y', 'score', 'design_weight']
    """
    _check_count(n)
    size = n_rows(data)
    _check_not_empty(size)
    values = _score_values(data, scores, size)
    probabilities = _probabilities(values, n, floor)

    seed = _kernels.new_seed(check_generator(random_state))
    rows = _arrange(_kernels.select_pps(probabilities, seed), seed, shuffle)
    design_weights = 1.0 / probabilities[rows]
    return _output(data, rows, design_weights, return_indices, weight_column)


def _score_values(data, scores, size):
    """The scores as a float64 array, checked: one finite value >= 0 a row."""
    if callable(scores):
        name = "the scores returned by the callable"
        values = scores(data)
    elif isinstance(scores, str):
        name = "scores"
        values = column_values(data, scores, name="scores")
    else:
        name = "scores"
        values = scores

    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numbers, got dtype {values.dtype}; convert them to "
            "numbers first."
        )
    if values.ndim != 1 or values.shape[0] != size:
        raise ValueError(
            f"{name} have shape {values.shape}, but the data has {size} rows; "
            "give one score per row."
        )

    values = values.astype(np.float64, copy=False)
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        raise ValueError(
            f"scores[{bad[0]}] is {values[bad[0]]}; scores must be finite and "
            "non-negative. Drop or fix that row."
        )
    return values


def _probabilities(scores, n, floor):
    """Inclusion probabilities proportional to the score-and-floor mixture."""
    size = scores.shape[0]
    if n > size:
        raise ValueError(
            f"cannot draw n={n} rows without replacement from {size} rows; lower n."
        )

    top = scores.max()
    if top == 0 and floor == 0:
        raise ValueError(
            f"every one of the {size} scores is zero and floor=0, so no row can "
            "be drawn; give some rows a positive score or raise floor above 0."
        )
    if top == 0:
        mixture = np.ones(size)
    else:
        # Dividing by the largest score first keeps the mean from overflowing.
        scaled = scores / top
        mixture = (1 - floor) * (scaled / scaled.mean()) + floor

    n_positive = size if floor > 0 else int(np.count_nonzero(mixture))
    if n > n_positive:
        raise ValueError(
            f"cannot draw n={n} rows: with floor=0 only the {n_positive} of the "
            f"{size} rows with a positive score can be drawn. Lower n to at "
            f"most {n_positive}, or raise floor above 0."
        )
    return _kernels.pps_probabilities(mixture, n, stacklevel=_WARNING_STACKLEVEL)


def _output(data, rows, design_weights, return_indices, weight_column):
    """A table with a design-weight column, or ``(sample, design_weights)``."""
    if return_indices:
        return rows, design_weights

    sample = take_rows(data, rows)
    names = _column_names(data)
    if names is None:
        return sample, design_weights

    if weight_column in names:
        raise ValueError(
            f"the data already has a column {weight_column!r}; pass another "
            "weight_column= for the design weights of this sample."
        )
    kind = _kind(data)
    if kind == "pandas":
        return sample.assign(**{weight_column: design_weights})
    if kind == "polars":
        import polars

        return sample.with_columns(polars.Series(weight_column, design_weights))
    import pyarrow

    return sample.append_column(weight_column, pyarrow.array(design_weights))


class _ModelScore:
    """Scores of rows from a fitted classifier's predicted probabilities.

    A plain object rather than a closure, so it pickles, copies with the
    estimators that hold it and prints as the call that built it.
    """

    def __init__(self, kind, model, features, y=None):
        self.kind = kind
        self.model = model
        self.features = features
        self.y = y

    def __repr__(self):
        extra = f", y={self.y!r}" if isinstance(self.y, str) else ""
        return f"{self.kind}({self.model!r}{extra})"

    def __call__(self, data):
        label = self.y if isinstance(self.y, str) else None
        proba = np.asarray(
            self.model.predict_proba(_features(data, self.model, self.features, label)),
            dtype=np.float64,
        )

        if self.kind == "uncertainty":
            return 1.0 - proba.max(axis=1)
        if self.kind == "margin":
            top_two = np.sort(proba, axis=1)[:, -2:]
            return 1.0 - (top_two[:, 1] - top_two[:, 0])
        return _log_loss(proba, self.model.classes_, _labels(data, self.y))


def _features(data, model, features, label):
    """The columns of ``data`` the model predicts from."""
    names = _column_names(data)
    if names is None:
        if features is None:
            return data
        return (data if hasattr(data, "shape") else np.asarray(data))[:, features]

    fitted = getattr(model, "feature_names_in_", None)
    if features is None and fitted is not None:
        features = list(fitted)
    elif features is None:
        features = [name for name in names if name != label]
    missing = [name for name in features if name not in names]
    if missing:
        raise ValueError(
            f"the model's feature {missing[0]!r} is not a column of the data; "
            f"columns are {', '.join(map(repr, names[:20]))}."
        )

    kind = _kind(data)
    table = data[list(features)] if kind == "pandas" else data.select(features)
    if fitted is not None:
        return table
    # A model fitted without column names is handed an array, as it was fitted.
    return table.to_pandas().to_numpy() if kind == "pyarrow" else table.to_numpy()


def _labels(data, y):
    """The true labels, from a column of ``data`` or given one per row."""
    if isinstance(y, str):
        return column_values(data, y, name="y")
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != n_rows(data):
        raise ValueError(
            f"y has shape {labels.shape}, but the data scored has "
            f"{n_rows(data)} rows; pass one label per row, or name the label "
            "column of the data."
        )
    return labels


def _log_loss(proba, classes, labels):
    """Per-row log loss of the true label, with probabilities clipped at eps."""
    positions = pd.Index(classes).get_indexer(labels)
    unknown = np.flatnonzero(positions < 0)
    if unknown.size:
        label = labels[unknown[0]]
        label = label.item() if isinstance(label, np.generic) else label
        raise ValueError(
            f"y[{unknown[0]}] is {label!r}, a label the model was not fitted on; "
            f"its classes are {np.asarray(classes)[:20].tolist()}."
        )
    chosen = proba[np.arange(proba.shape[0]), positions]
    return -np.log(np.clip(chosen, np.finfo(np.float64).eps, 1.0))


_BUILDER_PARAMS = {
    "model": [HasMethods(["predict_proba"])],
    "features": [list, None],
}


@validate_params(_BUILDER_PARAMS, prefer_skip_nested_validation=True)
def uncertainty(model, *, features=None):
    """Score rows by how unsure a fitted classifier is of them.

    The score of a row is ``1 - max_k p_k``, one minus the largest
    predicted class probability: 0 for a certain prediction, up to
    ``1 - 1 / n_classes`` for a uniform one.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    features : list, default=None
        The columns the model predicts from: names for a table, positions
        for an array. By default the model's ``feature_names_in_`` when the
        data is a table and the model has them, else all columns.

    Returns
    -------
    scores : callable
        ``scores(data)`` returns one score per row of ``data``; pass it as
        ``scores=`` to :func:`importance_sample` or :class:`Sampler`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfast.sampling import uncertainty
    >>> X = np.array([[-3.0], [-2.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> X_new = np.array([[-3.0], [0.0], [3.0]])
    >>> scores = uncertainty(model)(X_new)
    >>> bool(np.allclose(scores, 1 - model.predict_proba(X_new).max(axis=1)))
    True
    >>> scores.round(2)
    array([0.06, 0.5 , 0.06])
    """
    check_is_fitted(model)
    return _ModelScore("uncertainty", model, features)


@validate_params(_BUILDER_PARAMS, prefer_skip_nested_validation=True)
def margin(model, *, features=None):
    """Score rows by how close a fitted classifier's top two classes are.

    The score of a row is ``1 - (p_(1) - p_(2))``, with ``p_(1)`` and
    ``p_(2)`` its two largest predicted class probabilities: 1 when they
    tie, 0 when the prediction is certain. For two classes this is
    ``1 - |2 p - 1|``. It is computed from ``predict_proba`` rather than
    from ``decision_function``, so that scores lie in [0, 1] and compare
    across models; wrap a model without probabilities in
    :class:`sklearn.calibration.CalibratedClassifierCV`.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba``
    features : list, default=None
        The columns the model predicts from: names for a table, positions
        for an array. By default the model's ``feature_names_in_`` when the
        data is a table and the model has them, else all columns.

    Returns
    -------
    scores : callable
        ``scores(data)`` returns one score per row of ``data``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfast.sampling import margin
    >>> X = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1, 1])
    >>> p = model.predict_proba(X)[:, 1]
    >>> bool(np.allclose(margin(model)(X), 1 - np.abs(2 * p - 1)))
    True
    """
    check_is_fitted(model)
    return _ModelScore("margin", model, features)


@validate_params(
    {**_BUILDER_PARAMS, "y": [str, "array-like"]},
    prefer_skip_nested_validation=True,
)
def loss(model, y, *, features=None):
    """Score rows by a fitted classifier's log loss on their true label.

    The score of a row with label ``c`` is ``-log p_c``, the predicted
    probability of ``c`` clipped below at the float64 machine epsilon (as
    :func:`sklearn.metrics.log_loss` does), so a confident mistake scores
    about 36 rather than infinity.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
    y : str or array-like of shape (n_rows,)
        The name of the label column of the data to be scored, or the labels
        themselves, one per row of that data.
    features : list, default=None
        The columns the model predicts from: names for a table, positions
        for an array. By default the model's ``feature_names_in_`` when it
        has them; otherwise, when ``y`` names a column, every column but
        that one; otherwise all columns.

    Returns
    -------
    scores : callable
        ``scores(data)`` returns one score per row of ``data``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfast.sampling import importance_sample, loss
    >>> frame = pd.DataFrame({"x": [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 2.5],
    ...                       "label": [0, 0, 0, 1, 1, 1, 0]})
    >>> model = LogisticRegression().fit(frame[["x"]], frame["label"])
    >>> scores = loss(model, y="label")(frame)
    >>> int(scores.argmax())
    6
    >>> sample = importance_sample(frame, 2, scores=loss(model, y="label"),
    ...                            random_state=0)
    >>> sample.shape
    (2, 3)
    """
    check_is_fitted(model)
    return _ModelScore("loss", model, features, y=y)
