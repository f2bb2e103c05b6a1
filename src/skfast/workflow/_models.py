"""Candidate models, their search spaces, and the pipeline each runs in.

Every candidate runs inside one ``imblearn.pipeline.Pipeline``: prepare
(impute, encode, scale), then optionally SMOTE, then the model. Cross-
validation and tuning clone the whole pipeline, so preparation and
resampling are fitted on each training fold only and never see the rows
they are scored on.
"""

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline as TransformPipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from skfast.workflow._data import column_kind

MAX_ONE_HOT_CATEGORIES = 32


def make_preprocessor(frame):
    """Impute, one-hot encode categoricals and scale numerics, by column kind."""
    numeric = [name for name in frame.columns if column_kind(frame[name]) == "numeric"]
    categorical = [name for name in frame.columns if name not in numeric]
    transformers = []
    if numeric:
        transformers.append(
            (
                "numeric",
                TransformPipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                TransformPipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="constant", fill_value="missing"),
                        ),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist",
                                max_categories=MAX_ONE_HOT_CATEGORIES,
                                sparse_output=False,
                            ),
                        ),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def make_model(name, random_state):
    """A fresh, untuned instance of the named model."""
    if name == "logistic_regression":
        return LogisticRegression(max_iter=2000)
    if name == "decision_tree":
        return DecisionTreeClassifier(random_state=random_state)
    if name == "random_forest":
        return RandomForestClassifier(
            n_estimators=200, n_jobs=-1, random_state=random_state
        )
    if name == "linear_svm":
        # LinearSVC has no probabilities; sigmoid calibration gives them so the
        # log loss and the curves are defined.
        return CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3)
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(random_state=random_state)
    raise ValueError(f"unknown model {name!r}")


def suggest_params(name, trial):
    """Draw one point of the model's search space from an Optuna trial."""
    if name == "logistic_regression":
        return {"model__C": trial.suggest_float("C", 1e-3, 1e2, log=True)}
    if name == "decision_tree":
        return {
            "model__max_depth": trial.suggest_int("max_depth", 2, 40),
            "model__min_samples_leaf": trial.suggest_int(
                "min_samples_leaf", 1, 200, log=True
            ),
            "model__criterion": trial.suggest_categorical(
                "criterion", ["gini", "entropy"]
            ),
        }
    if name == "random_forest":
        return {
            "model__n_estimators": trial.suggest_int("n_estimators", 100, 400, step=50),
            "model__min_samples_leaf": trial.suggest_int(
                "min_samples_leaf", 1, 20, log=True
            ),
            "model__max_features": trial.suggest_categorical(
                "max_features", ["sqrt", 0.2, 0.35, 0.5]
            ),
        }
    if name == "linear_svm":
        return {"model__estimator__C": trial.suggest_float("C", 1e-3, 10, log=True)}
    if name == "hist_gradient_boosting":
        return {
            "model__learning_rate": trial.suggest_float(
                "learning_rate", 0.02, 0.3, log=True
            ),
            "model__max_iter": trial.suggest_int("max_iter", 100, 600, step=50),
            "model__max_leaf_nodes": trial.suggest_int(
                "max_leaf_nodes", 8, 128, log=True
            ),
            "model__min_samples_leaf": trial.suggest_int(
                "min_samples_leaf", 5, 200, log=True
            ),
            "model__l2_regularization": trial.suggest_float(
                "l2_regularization", 1e-8, 10, log=True
            ),
        }
    raise ValueError(f"unknown model {name!r}")


# The first trial of every study evaluates the model's defaults (or the point
# of the space nearest to them), so tuning never reports a loss against the
# untuned model.
DEFAULT_TRIAL = {
    "logistic_regression": {"C": 1.0},
    "decision_tree": {"max_depth": 40, "min_samples_leaf": 1, "criterion": "gini"},
    "random_forest": {
        "n_estimators": 200,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
    },
    "linear_svm": {"C": 1.0},
    "hist_gradient_boosting": {
        "learning_rate": 0.1,
        "max_iter": 100,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1e-8,
    },
}


def make_pipeline(preprocessor, model, resampler=None):
    """Chain prepare, the optional resampler and the model."""
    steps = [("prepare", preprocessor)]
    if resampler is not None:
        steps.append(("resample", resampler))
    steps.append(("model", model))
    return Pipeline(steps)


def make_resampler(y, config):
    """SMOTE when the smallest class is rare enough, else None, with the reason."""
    _, counts = np.unique(y, return_counts=True)
    share = counts.min() / counts.sum()
    if share >= config.resample_below:
        return None, (
            f"smallest class holds {share:.1%} of the training rows, not below "
            f"the {config.resample_below:.0%} threshold"
        )

    # The smallest class of a cross-validation training fold can be a little
    # smaller than in the whole training set; SMOTE needs k + 1 of its rows.
    smallest_fold = int(np.floor(counts.min() * (config.cv - 1) / config.cv))
    k_neighbors = min(config.k_neighbors, smallest_fold - 1)
    if k_neighbors < 1:
        return None, (
            f"smallest class has only {counts.min()} rows, too few to interpolate "
            "between neighbours"
        )
    from skfast.over_sampling import SMOTE

    resampler = SMOTE(k_neighbors=k_neighbors, random_state=config.random_state)
    return resampler, (
        f"smallest class holds {share:.1%} of the training rows, below the "
        f"{config.resample_below:.0%} threshold: every model is also compared "
        f"with SMOTE (k_neighbors={k_neighbors}) applied inside each training fold"
    )
