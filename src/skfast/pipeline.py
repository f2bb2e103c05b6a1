"""A pipeline that fits the steps after a subsampler with its design weights.

:class:`Pipeline` is imbalanced-learn's pipeline with one addition. When a
sampler step leaves ``sample_weight_`` (the design weights ``1 / pi_i`` of
the rows it kept, as :class:`skfast.sampling.Sampler` does), every later
step whose ``fit`` takes ``sample_weight`` is fitted with them, and so is
the final estimator. A ``sample_weight`` the caller gives a step, one per
row of the pipeline's input, is first cut down to the rows that reach that
step (through each sampler's ``sample_indices_``) and then multiplied by
the design weights.

imbalanced-learn fits the steps one after another in ``Pipeline._fit``,
passing each its routed parameters. The design weights are only known once
the sampler before a step has run, so ``_fit`` is written out here: the
same loop (memory caching, ``passthrough``, ``transform_input``, timing
messages) with the parameters of each step amended just before it is
fitted. For the final step the amended parameters replace its entry in the
routed parameters, which ``fit``, ``fit_transform`` and ``fit_predict``
read after ``_fit`` returns.
"""

import inspect
import logging
import sys
import warnings

import numpy as np
from imblearn import pipeline as imblearn_pipeline
from sklearn.base import clone
from sklearn.pipeline import _name_estimators
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, validate_params
from sklearn.utils._user_interface import _print_elapsed_time
from sklearn.utils.validation import check_memory

from skfast.utils._containers import n_rows

__all__ = ["Pipeline", "make_pipeline"]

logger = logging.getLogger(__name__)

# The methods that fit a step and may take sample_weight.
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")

# Packages whose frames a warning skips to reach the code that called them.
_LIBRARIES = {"skfast", "sklearn", "sklearn_compat", "imblearn", "joblib"}


class Pipeline(imblearn_pipeline.Pipeline):
    """Chain of transformers, samplers and a final estimator, with design weights.

    Behaves as :class:`imblearn.pipeline.Pipeline` (samplers act during
    ``fit`` only), and hands the design weights of a sampler such as
    :class:`skfast.sampling.Sampler` on as ``sample_weight`` to the ``fit``
    of every later step that takes it, the final estimator included, so a
    model fitted on a subsample targets the whole data set.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        The steps, in order; the last one is the final estimator.
    transform_input : list of str, default=None
        Metadata to pass through the steps before the step that consumes
        it; needs metadata routing enabled (see imbalanced-learn).
    memory : str or object with the joblib.Memory interface, default=None
        Where to cache fitted transformers and samplers.
    verbose : bool, default=False
        Print the time each step takes to fit.

    Attributes
    ----------
    named_steps : :class:`~sklearn.utils.Bunch`
        The steps by name.

    See Also
    --------
    make_pipeline : Build a Pipeline without naming the steps.

    Notes
    -----
    A ``sample_weight`` given for a step (``Pipeline.fit(X, y,
    clf__sample_weight=w)``) has one value per row of ``X``; before it
    reaches a step after a sampler it is cut down to the rows the samplers
    kept, using their ``sample_indices_``, and multiplied by the design
    weights. Two design samplers in a row multiply their weights, as in
    two-phase sampling.

    Design weights sum to about the number of rows of ``X``, not of the
    subsample. For an estimator whose penalty does not grow with the sum
    of the weights (``C`` of :class:`~sklearn.linear_model.LogisticRegression`
    or :class:`~sklearn.svm.SVC`, say), this fits as if on the full data:
    the regularisation is as weak as it would be there.

    A final estimator whose ``fit`` takes no ``sample_weight`` is fitted
    unweighted, with a warning when the design weights differ. A step after
    the design sampler that changes the rows without ``sample_indices_``
    (SMOTE, for instance) is an error, since the weights could not follow
    the rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfast.pipeline import Pipeline
    >>> from skfast.sampling import Sampler
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> pipe = Pipeline([
    ...     ("sample", Sampler(method="stratified", n=200, allocation="equal",
    ...                        random_state=0)),
    ...     ("model", LogisticRegression()),
    ... ]).fit(X, y)
    >>> weights = pipe.named_steps["sample"].sample_weight_
    >>> weights.shape, round(float(weights.sum()))
    ((200,), 1000)
    """

    def _fit(self, X, y=None, routed_params=None, raw_params=None):
        self.steps = list(self.steps)
        self._validate_steps()
        memory = check_memory(self.memory)
        fit_transform_one_cached = memory.cache(imblearn_pipeline._fit_transform_one)
        fit_resample_one_cached = memory.cache(imblearn_pipeline._fit_resample_one)
        design = _DesignWeights(_count_rows(X))

        for step_idx, name, step in self._iter(
            with_final=False, filter_passthrough=False, filter_resample=False
        ):
            if step is None or step == "passthrough":
                with _print_elapsed_time("Pipeline", self._log_message(step_idx)):
                    continue

            # Without caching the step itself is fitted, as imbalanced-learn
            # does; with caching a clone, which may come back from the cache.
            uncached = hasattr(memory, "location") and memory.location is None
            step = step if uncached else clone(step)

            if hasattr(step, "transform") or hasattr(step, "fit_transform"):
                step_params = self._get_metadata_for_step(
                    step_idx=step_idx,
                    step_params=routed_params[name],
                    all_params=raw_params,
                )
                X, fitted = fit_transform_one_cached(
                    step,
                    X,
                    y,
                    weight=None,
                    message_clsname="Pipeline",
                    message=self._log_message(step_idx),
                    params=design.params_for(name, step, step_params),
                )
            else:
                X, y, fitted = fit_resample_one_cached(
                    step,
                    X,
                    y,
                    message_clsname="Pipeline",
                    message=self._log_message(step_idx),
                    params=routed_params[name],
                )
                design.follow(name, fitted)
            self.steps[step_idx] = (name, fitted)

        final_name, final = self.steps[-1]
        if final is not None and final != "passthrough":
            routed_params[final_name] = design.params_for(
                final_name, final, routed_params[final_name], final=True
            )
        return X, y


class _DesignWeights:
    """The rows reaching the current step: their origin and design weights.

    ``positions`` maps them to rows of the pipeline's input: ``None`` while
    no sampler has changed the rows, or once one without
    ``sample_indices_`` has (``traceable`` is then false). ``weights`` are
    their design weights, ``None`` until a sampler with ``sample_weight_``.
    """

    def __init__(self, n_input):
        self.n_input = n_input
        self.positions = None
        self.traceable = True
        self.weights = None
        self.source = None

    def follow(self, name, sampler):
        """Update the rows and weights after the sampler step ``name``."""
        indices = getattr(sampler, "sample_indices_", None)
        design = getattr(sampler, "sample_weight_", None)

        if indices is None:
            if self.weights is not None:
                raise ValueError(
                    f"step {name!r} ({type(sampler).__name__}) changes the rows "
                    "without recording sample_indices_, so the design weights of "
                    f"step {self.source!r} cannot follow them. Put {name!r} "
                    f"before {self.source!r} in the pipeline."
                )
            self.positions, self.traceable = None, False
        else:
            indices = np.asarray(indices)
            if self.traceable:
                self.positions = (
                    indices if self.positions is None else self.positions[indices]
                )
            if self.weights is not None:
                self.weights = self.weights[indices]

        if design is not None:
            design = np.asarray(design, dtype=np.float64)
            self.weights = design if self.weights is None else self.weights * design
            self.source = name

    def params_for(self, name, step, step_params, *, final=False):
        """``step_params`` with ``sample_weight`` aligned and weighted."""
        if self.weights is None and self.positions is None:
            return step_params

        amended = Bunch(**{method: Bunch(**p) for method, p in step_params.items()})
        for method in _FIT_METHODS:
            if method not in amended or not hasattr(step, method):
                continue
            given = amended[method].get("sample_weight")
            if given is not None:
                given = self._align(given)
            if self.weights is not None and _takes_sample_weight(step, method):
                given = self.weights if given is None else self.weights * given
            if given is not None:
                amended[method]["sample_weight"] = given

        if self.weights is not None and not _takes_sample_weight(step, "fit"):
            self._dropped(name, step, final and not hasattr(step, "fit_resample"))
        return amended

    def _align(self, given):
        """A caller's sample_weight, cut down to the rows reaching the step."""
        given = np.asarray(given)
        if self.positions is None or given.shape[:1] != (self.n_input,):
            return given
        return given[self.positions]

    def _dropped(self, name, step, final):
        if not final:
            logger.debug(
                "step %r (%s) takes no sample_weight; fitted without the design "
                "weights",
                name,
                type(step).__name__,
            )
            return
        if np.ptp(self.weights) > 1e-12 * np.max(self.weights):
            warnings.warn(
                f"the final step {name!r} ({type(step).__name__}) takes no "
                "sample_weight, so it is fitted without the design weights of "
                f"step {self.source!r}, and learns about the subsample rather "
                "than the data it was drawn from.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )


def _count_rows(X):
    """The number of rows of the pipeline's input, or None if it has no length."""
    try:
        return n_rows(X)
    except (TypeError, ValueError):
        return None


def _caller_stacklevel():
    """The stacklevel, for its caller, of the first frame outside the libraries."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] not in _LIBRARIES:
            break
        frame, level = frame.f_back, level + 1
    return level


def _takes_sample_weight(step, method):
    """Whether ``step.method`` accepts ``sample_weight``.

    A ``fit_transform`` or ``fit_predict`` that only forwards ``**params``
    (as scikit-learn's mixins do) takes it when ``fit`` does.
    """
    parameters = inspect.signature(getattr(step, method)).parameters
    if "sample_weight" in parameters:
        return True
    forwards = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    return forwards and method != "fit" and _takes_sample_weight(step, "fit")


@validate_params(
    {
        "memory": [None, str, HasMethods(["cache"])],
        "transform_input": [None, list],
        "verbose": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`Pipeline` from its steps, named after their classes.

    Parameters
    ----------
    *steps : estimators
        Transformers and samplers, then the final estimator.
    memory : str or object with the joblib.Memory interface, default=None
        Where to cache fitted transformers and samplers.
    transform_input : list of str, default=None
        Metadata to pass through the steps; see :class:`Pipeline`.
    verbose : bool, default=False
        Print the time each step takes to fit.

    Returns
    -------
    pipeline : Pipeline

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skfast.pipeline import make_pipeline
    >>> from skfast.sampling import Sampler
    >>> pipe = make_pipeline(Sampler(frac=0.2), StandardScaler(),
    ...                      LogisticRegression())
    >>> [name for name, _ in pipe.steps]
    ['sampler', 'standardscaler', 'logisticregression']
    """
    return Pipeline(
        _name_estimators(steps),
        memory=memory,
        transform_input=transform_input,
        verbose=verbose,
    )
