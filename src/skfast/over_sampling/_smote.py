"""SMOTE on the Numba kernels, interchangeable with imbalanced-learn's.

:class:`SMOTE` subclasses imbalanced-learn's ``BaseOverSampler``, so the
public ``fit_resample`` (target checks, ``sampling_strategy``, the container
type of the output) and the behaviour inside ``imblearn.pipeline.Pipeline``
come from imbalanced-learn. Only ``_fit_resample`` is ours: it finds each
class's neighbours with :class:`skfast.neighbors.NearestNeighbors` and
synthesises the new rows with :mod:`skfast._kernels._smote`.

The random draws are imbalanced-learn 0.14's, made in the same order from
the same ``RandomState``, and the kernel repeats its arithmetic operation
for operation. Given the same neighbour indices, the output is therefore
bit-identical to ``imblearn.over_sampling.SMOTE`` with the same
``random_state``. The searches agree unless two neighbours of a row are at
the same distance, or within rounding of it: ours breaks such ties by the
lower index, scikit-learn's as its algorithm happens to.

Only dense input is supported so far; sparse input waits for the sparse
neighbour search (issue #4).
"""

import numbers

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from scipy import sparse
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from skfast import _trace
from skfast.neighbors import NearestNeighbors

_SPARSE_MESSAGE = (
    "SMOTE received a sparse matrix, but sparse input is not implemented "
    "yet: the neighbour search and the synthesis kernels work on dense rows, "
    "and their sparse versions are issue #4. Densify X with its .toarray() "
    "method if it fits in memory, or use imblearn.over_sampling.SMOTE."
)


def _interpolate(samples, neighbors, rows, cols, steps, out):
    """Dispatch the synthesis of one class to the Numba kernel."""
    from skfast._kernels import _smote

    _trace.record("numba._smote.interpolate")
    _smote.interpolate(samples, neighbors, rows, cols, steps, out)


class SMOTE(BaseOverSampler):
    """Over-sample with SMOTE (Synthetic Minority Over-sampling Technique).

    Each new sample of a class lies on the segment between a sample of that
    class and one of its ``k_neighbors`` nearest neighbours within the
    class. Given the same ``random_state``, the result is bit-identical to
    that of :class:`imblearn.over_sampling.SMOTE` whenever the two neighbour
    searches agree, which they do unless neighbours tie in distance (on
    integer grids or one-hot columns, say): ties go to the lower index here,
    and wherever scikit-learn's search puts them there. It runs on Numba
    kernels: an exact blocked neighbour search and a parallel synthesis.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        How many samples each class should have after resampling, with
        imbalanced-learn's meanings: a float is the wanted ratio of minority
        to majority samples (binary targets only); ``"minority"``, ``"not
        minority"``, ``"not majority"``, ``"all"`` or ``"auto"`` (the same
        as ``"not majority"``) name the classes to bring up to the size of
        the majority class; a dict maps classes to their wanted number of
        samples; a callable takes ``y`` and returns such a dict.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws of seeds, neighbours and steps. An int gives
        reproducible output, the same as imbalanced-learn's for that int.
    k_neighbors : int or estimator, default=5
        Number of nearest neighbours, within its class, that a sample may
        be interpolated towards. An estimator with ``fit`` and
        ``kneighbors`` methods (such as
        :class:`sklearn.neighbors.NearestNeighbors`) may be passed instead;
        it is cloned, and its ``n_neighbors`` must count the sample itself.

    Attributes
    ----------
    sampling_strategy_ : dict
        Maps each class to over-sample to the number of samples to add.
    nn_k_ : estimator
        The neighbour search used, built from ``k_neighbors``: a
        :class:`skfast.neighbors.NearestNeighbors` with ``k_neighbors + 1``
        neighbours when ``k_neighbors`` is an int.
    n_features_in_ : int
        Number of features seen during ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit_resample``; only defined
        when ``X`` has feature names that are all strings.

    See Also
    --------
    imblearn.over_sampling.SMOTE : The implementation this one reproduces.

    Notes
    -----
    Every class to over-sample must have at least ``k_neighbors + 1``
    samples; a smaller class raises a ``ValueError`` before any search.
    Integer features are interpolated in float64 and truncated back to the
    input dtype.

    References
    ----------
    .. [1] N. V. Chawla, K. W. Bowyer, L. O. Hall and W. P. Kegelmeyer,
       "SMOTE: synthetic minority over-sampling technique", Journal of
       Artificial Intelligence Research 16, 321-357, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skfast.over_sampling import SMOTE
    >>> X, y = make_classification(
    ...     n_samples=500, weights=[0.9], flip_y=0, random_state=0
    ... )
    >>> np.bincount(y)
    array([451,  49])
    >>> X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)
    >>> np.bincount(y_res)
    array([451, 451])
    >>> bool((X_res[:500] == X).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "k_neighbors": [
            Interval(numbers.Integral, 1, None, closed="left"),
            HasMethods(["kneighbors", "fit"]),
        ],
    }

    def __init__(self, *, sampling_strategy="auto", random_state=None, k_neighbors=5):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.k_neighbors = k_neighbors

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _check_X_y(self, X, y, accept_sparse=None):
        if sparse.issparse(X):
            raise TypeError(_SPARSE_MESSAGE)
        X, y, binarize_y = super()._check_X_y(X, y, accept_sparse=False)
        if X.dtype == bool:
            raise TypeError(
                "X holds booleans, which SMOTE cannot interpolate between; cast "
                "X to float (X.astype(float)) to treat them as numbers."
            )
        return X, y, binarize_y

    def _validate_estimator(self):
        """Build ``nn_k_`` from ``k_neighbors``."""
        if isinstance(self.k_neighbors, numbers.Integral):
            self.nn_k_ = NearestNeighbors(n_neighbors=self.k_neighbors + 1)
        else:
            self.nn_k_ = clone(self.k_neighbors)

    def _check_class_sizes(self, class_sizes):
        """Raise if a class to over-sample is too small for its neighbours."""
        n_needed = getattr(self.nn_k_, "n_neighbors", None)
        if n_needed is None:
            return

        for label, size in class_sizes.items():
            if size >= n_needed:
                continue
            label = label.item() if isinstance(label, np.generic) else label
            if isinstance(self.k_neighbors, numbers.Integral):
                asked = f"k_neighbors={self.k_neighbors} needs"
                fix = f"lower k_neighbors to at most {size - 1}"
            else:
                asked = f"the k_neighbors estimator, with n_neighbors={n_needed}, needs"
                fix = f"lower its n_neighbors to at most {size}"
            raise ValueError(
                f"Class {label!r} has {size} samples, but SMOTE with {asked} "
                f"{n_needed} samples in each class it over-samples (a sample "
                f"and its neighbours). Add samples of class {label!r}, {fix}, "
                "or leave the class out of sampling_strategy."
            )

    def _draw(self, n_rows, n_neighbors, n_new):
        """Draw seeds, neighbour columns and steps as imbalanced-learn does."""
        random_state = check_random_state(self.random_state)
        flat = random_state.randint(low=0, high=n_rows * n_neighbors, size=n_new)
        steps = random_state.uniform(size=n_new)

        rows = np.floor_divide(flat, n_neighbors).astype(np.intp, copy=False)
        cols = np.mod(flat, n_neighbors).astype(np.intp, copy=False)
        return rows, cols, steps

    def _fit_resample(self, X, y):
        self._validate_estimator()
        to_add = {
            label: n_new for label, n_new in self.sampling_strategy_.items() if n_new
        }
        class_rows = {label: np.flatnonzero(y == label) for label in to_add}
        self._check_class_sizes(
            {label: rows.size for label, rows in class_rows.items()}
        )

        # The kernels work in float32 or float64; other dtypes are
        # interpolated in float64 and cast back when stored.
        work_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        n_total = X.shape[0] + sum(to_add.values())
        X_resampled = np.empty((n_total, X.shape[1]), dtype=X.dtype)
        y_resampled = np.empty(n_total, dtype=y.dtype)
        X_resampled[: X.shape[0]] = X
        y_resampled[: X.shape[0]] = y

        start = X.shape[0]
        for label, n_new in to_add.items():
            samples = np.ascontiguousarray(X[class_rows[label]], dtype=work_dtype)
            neighbors = self.nn_k_.fit(samples).kneighbors(
                samples, return_distance=False
            )
            neighbors = np.ascontiguousarray(neighbors[:, 1:], dtype=np.intp)
            rows, cols, steps = self._draw(*neighbors.shape, n_new)

            new = np.empty((n_new, X.shape[1]), dtype=work_dtype)
            _interpolate(samples, neighbors, rows, cols, steps, new)
            X_resampled[start : start + n_new] = new
            y_resampled[start : start + n_new] = label
            start += n_new

        return X_resampled, y_resampled
