"""A subsampler for imbalanced-learn pipelines that records design weights.

:class:`Sampler` subclasses imbalanced-learn's ``BaseSampler`` so that
``fit_resample`` does the usual bookkeeping (target checks, container type
of the output). It ignores ``sampling_strategy`` (imbalanced-learn's
"bypass" sampling type, as for ``FunctionSampler``): the size of the
subsample comes from ``n`` or ``frac``, and its design from ``method``.
The rows are chosen by the public functions of :mod:`skfast.sampling`, and
their design weights are kept for :class:`skfast.pipeline.Pipeline` to hand
on as ``sample_weight``.
"""

from numbers import Integral, Real

import numpy as np
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from skfast.sampling._functions import (
    _sample_size,
    stratified_sample,
    weighted_sample,
)
from skfast.sampling._importance import importance_sample
from skfast.utils._containers import column_values


class Sampler(BaseSampler):
    """Draw a stratified, weighted or importance subsample of the rows.

    ``fit_resample(X, y)`` returns the subsample and keeps the positions of
    its rows in ``sample_indices_`` and their design weights ``1 / pi_i``
    (inverse inclusion probabilities) in ``sample_weight_``. Inside a
    :class:`skfast.pipeline.Pipeline` the steps after it are fitted with
    those weights as ``sample_weight``, so that they learn about the whole
    data set rather than about the subsample.

    Parameters
    ----------
    method : {"stratified", "weighted", "importance"}, default="stratified"
        The design:

        - ``"stratified"``: a uniform sample within each stratum, with
          ``n`` shared out by ``allocation`` (see
          :func:`~skfast.sampling.stratified_sample`); design weight
          ``N_h / n_h`` for a row of stratum ``h``;
        - ``"weighted"``: probabilities proportional to ``weights``
          (:func:`~skfast.sampling.weighted_sample` with ``design="pps"``,
          whose probabilities are exact);
        - ``"importance"``: probabilities proportional to ``scores`` mixed
          with a ``floor`` (see :func:`~skfast.sampling.importance_sample`).
    n : int, default=None
        Number of rows to keep. Pass exactly one of ``n`` and ``frac``
        (neither with a mapping ``allocation``).
    frac : float in (0, 1], default=None
        Share of the rows to keep, ``n = round(frac * n_rows)``.
    by : str or array-like of shape (n_rows,), default=None
        Strata of ``"stratified"``: a column name of ``X``, or one label per
        row. ``None`` stratifies on ``y``.
    weights : str, array-like of shape (n_rows,) or callable, default=None
        Size measure of ``"weighted"``: a column name of ``X``, one
        non-negative weight per row, or a callable ``weights(X)``.
    scores : str, array-like of shape (n_rows,) or callable, default=None
        Scores of ``"importance"``, in the same forms as ``weights``, for
        instance :func:`~skfast.sampling.uncertainty` of a fitted model.
    floor : float in [0, 1], default=0.1
        Share of the importance design that does not depend on the score.
    allocation : {"proportional", "equal"} or dict, default="proportional"
        How ``"stratified"`` shares ``n`` among the strata, or a mapping
        from stratum to its number of rows.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed or generator.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n,)
        Positions of the kept rows in ``X``, in input order.
    sample_weight_ : ndarray of shape (n,)
        Design weight of each kept row, ``1 / pi_i``.
    sampling_strategy_ : str
        Always ``"auto"``; kept for imbalanced-learn, which reads it.
    n_features_in_ : int
        Number of features seen during ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit_resample``; only defined
        when ``X`` has feature names that are all strings.

    See Also
    --------
    skfast.pipeline.Pipeline : Hands ``sample_weight_`` on to later steps.

    Notes
    -----
    Columns and callables are read from ``X`` as it is passed, so a callable
    receives the same table as the model it wraps was fitted on. Arrays of
    weights, scores or strata must be aligned with that ``X``, which rules
    them out in cross-validation, where each fold sees other rows: use a
    column name or a callable there.

    ``X`` may hold strings or missing values; only the rows are selected.
    Like every imbalanced-learn sampler, ``fit_resample`` wants a
    classification target with at least two classes.

    Examples
    --------
    >>> import numpy as np
    >>> from skfast.sampling import Sampler
    >>> X = np.arange(200).reshape(100, 2)
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> sampler = Sampler(method="stratified", n=20, random_state=0)
    >>> X_small, y_small = sampler.fit_resample(X, y)
    >>> np.bincount(y_small)
    array([18,  2])
    >>> sampler.sample_weight_[y_small == 1]
    array([5., 5.])
    """

    # The subsample size comes from n or frac, never from sampling_strategy.
    _sampling_type = "bypass"

    _parameter_constraints: dict = {
        "method": [StrOptions({"stratified", "weighted", "importance"})],
        "n": [Interval(Integral, 0, None, closed="left"), None],
        "frac": [Interval(Real, 0, 1, closed="right"), None],
        "by": [str, "array-like", None],
        "weights": [str, "array-like", callable, None],
        "scores": [str, "array-like", callable, None],
        "floor": [Interval(Real, 0, 1, closed="both")],
        "allocation": [StrOptions({"proportional", "equal"}), dict],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        *,
        method="stratified",
        n=None,
        frac=None,
        by=None,
        weights=None,
        scores=None,
        floor=0.1,
        allocation="proportional",
        random_state=None,
    ):
        super().__init__()
        self.method = method
        self.n = n
        self.frac = frac
        self.by = by
        self.weights = weights
        self.scores = scores
        self.floor = floor
        self.allocation = allocation
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags

    def fit_resample(self, X, y):
        """Draw the subsample.

        Parameters
        ----------
        X : {array-like, dataframe, sparse matrix} of shape (n_samples, n_features)
            The rows to subsample.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        X_resampled : {array-like, dataframe, sparse matrix} of shape (n, n_features)
            The kept rows, in input order.
        y_resampled : array-like of shape (n,)
            Their labels.
        """
        # X goes on as given, as well as validated, so that column names
        # and callables see the table the user passed.
        return super().fit_resample(X, y, given_X=X)

    def _check_X_y(self, X, y, accept_sparse=None):
        # Only rows are selected, so any values are accepted.
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self,
            X=X,
            y=y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=False,
        )
        return X, y, binarize_y

    def _fit_resample(self, X, y, given_X=None):
        given_X = X if given_X is None else given_X
        rows, design_weights = self._draw(X, y, given_X)

        self.sample_indices_ = rows
        self.sample_weight_ = design_weights
        return _safe_indexing(X, rows), _safe_indexing(y, rows)

    def _draw(self, X, y, given_X):
        """Positions of the kept rows and their design weights."""
        if self.method == "stratified":
            labels = y if self.by is None else self._per_row(given_X, self.by, "by")
            rows, probabilities = stratified_sample(
                X,
                labels,
                self.n,
                frac=self.frac,
                allocation=self.allocation,
                random_state=self.random_state,
                return_indices=True,
                return_probabilities=True,
            )
            return rows, 1.0 / probabilities

        n = _sample_size(self.n, self.frac, X.shape[0])
        if self.method == "weighted":
            weights = self._per_row(given_X, self.weights, "weights")
            rows, probabilities = weighted_sample(
                X,
                n,
                weights=weights,
                design="pps",
                random_state=self.random_state,
                return_indices=True,
                return_probabilities=True,
            )
            return rows, 1.0 / probabilities

        scores = self._per_row(given_X, self.scores, "scores")
        return importance_sample(
            X,
            n,
            scores=scores,
            floor=self.floor,
            random_state=self.random_state,
            return_indices=True,
        )

    def _per_row(self, X, spec, name):
        """Values of a per-row parameter: from a column, a callable or as given."""
        if spec is None:
            raise ValueError(
                f"method={self.method!r} needs {name}=: a column name of X, one "
                "value per row, or a callable on X."
            )
        if callable(spec):
            return np.asarray(spec(X))
        if isinstance(spec, str):
            return column_values(X, spec, name=name)
        return np.asarray(spec)
