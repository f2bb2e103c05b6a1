"""The options of a run, declared once with their defaults and limits."""

import dataclasses
from dataclasses import dataclass, field

from skfast.exceptions import InputError

MODEL_NAMES = (
    "logistic_regression",
    "decision_tree",
    "random_forest",
    "linear_svm",
    "hist_gradient_boosting",
)

BINARY_METRICS = (
    "roc_auc",
    "average_precision",
    "balanced_accuracy",
    "f1",
    "accuracy",
    "neg_log_loss",
)
MULTICLASS_METRICS = (
    "roc_auc_ovr",
    "balanced_accuracy",
    "f1_macro",
    "accuracy",
    "neg_log_loss",
)


@dataclass
class RunConfig:
    """Options of :class:`~skfast.workflow.Workflow`, one field per choice.

    Parameters
    ----------
    target : str, default=None
        Target column. Required with a data file; ``"income"`` for the
        bundled Adult data.
    metric : str, default=None
        Scikit-learn scorer name used to compare and tune models;
        ``"roc_auc"`` for a binary target and ``"balanced_accuracy"`` for a
        multi-class one when None.
    random_state : int, default=0
        Seed for every split, subsample, resampler and model.
    validation_size : float, default=0.2
        Share of the training rows held out to tune and select models.
    test_size : float, default=0.2
        Share of the rows held out for the test set when no test file is
        given.
    cv : int, default=5
        Folds of the stratified cross-validation that compares models.
    sample_rows : int, default=20000
        Above this many training rows, comparison and tuning run on a
        stratified subsample of this size; the final model always sees
        every training row.
    resample_below : float, default=0.3
        SMOTE is applied inside each training fold when the smallest class
        holds less than this share of the training rows; 0 turns it off.
    k_neighbors : int, default=5
        Neighbours SMOTE interpolates between.
    models : tuple of str
        Models to compare, from ``MODEL_NAMES``.
    tune_top : int, default=2
        How many of the best compared models to tune.
    tune_trials : int, default=25
        Optuna trials per tuned model, the default parameters included.
    tune_seconds : float, default=240
        Time budget for all tuning together, in seconds.
    error_slices : int, default=10
        Number of feature slices listed by error analysis.
    delimiter : str, default=None
        CSV delimiter; detected when None.
    header : bool, default=None
        Whether CSV files start with a header row; detected when None.
        Without a header, columns are named ``column_0``, ``column_1``, ...
    keep_duplicates : bool, default=False
        Keep exact duplicate training rows instead of removing them before
        the split.
    positive_label : str, default=None
        Positive class of a binary target, for F1, PR AUC and the curves;
        the rarer class when None.

    Examples
    --------
    >>> from skfast.workflow import RunConfig
    >>> RunConfig(target="income", tune_trials=5).cv
    5
    """

    target: str | None = None
    metric: str | None = None
    random_state: int = 0
    validation_size: float = 0.2
    test_size: float = 0.2
    cv: int = 5
    sample_rows: int = 20_000
    resample_below: float = 0.3
    k_neighbors: int = 5
    models: tuple[str, ...] = field(default=MODEL_NAMES)
    tune_top: int = 2
    tune_trials: int = 25
    tune_seconds: float = 240.0
    error_slices: int = 10
    delimiter: str | None = None
    header: bool | None = None
    keep_duplicates: bool = False
    positive_label: str | None = None

    def __post_init__(self):
        if isinstance(self.models, str):
            self.models = self.models.split(",")
        self.models = tuple(name.strip() for name in self.models)
        self.validate()

    def validate(self):
        """Check every option once; raise ``InputError`` naming the first bad one."""
        checks = [
            ("validation_size", 0 < self.validation_size < 1, "a share in (0, 1)"),
            ("test_size", 0 < self.test_size < 1, "a share in (0, 1)"),
            ("cv", self.cv >= 2, "an integer of at least 2"),
            ("sample_rows", self.sample_rows >= 100, "at least 100 rows"),
            ("resample_below", 0 <= self.resample_below <= 0.5, "a share in [0, 0.5]"),
            ("k_neighbors", self.k_neighbors >= 1, "at least 1"),
            ("tune_top", self.tune_top >= 0, "0 or more"),
            ("tune_trials", self.tune_trials >= 1, "at least 1"),
            ("tune_seconds", self.tune_seconds > 0, "a positive number of seconds"),
            ("error_slices", self.error_slices >= 1, "at least 1"),
            ("models", len(self.models) > 0, "at least one model"),
        ]
        for name, ok, expected in checks:
            if not ok:
                value = getattr(self, name)
                raise InputError(
                    f"{name}={value!r} is invalid; it must be {expected}.",
                    option=name,
                )
        unknown = [name for name in self.models if name not in MODEL_NAMES]
        if unknown:
            raise InputError(
                f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_NAMES)}.",
                option="models",
            )
        metrics = set(BINARY_METRICS) | set(MULTICLASS_METRICS)
        if self.metric is not None and self.metric not in metrics:
            raise InputError(
                f"unknown metric {self.metric!r}; choose from "
                f"{', '.join(sorted(metrics))}.",
                option="metric",
            )

    def to_dict(self):
        """Return the options as plain JSON-ready values."""
        values = dataclasses.asdict(self)
        values["models"] = list(self.models)
        return values
