"""Compare models by cross-validation, then tune the best with Optuna."""

import logging
import time
from contextlib import contextmanager, nullcontext

import numpy as np
from sklearn.base import clone
from sklearn.metrics import average_precision_score, f1_score, get_scorer, make_scorer
from sklearn.model_selection import StratifiedKFold

from skfast.workflow._models import DEFAULT_TRIAL, suggest_params

logger = logging.getLogger(__name__)


def make_metric_scorer(metric, positive_label):
    """A scorer for ``metric``; binary F1 and PR AUC score ``positive_label``."""
    if metric == "f1":
        return make_scorer(f1_score, pos_label=positive_label)
    if metric == "average_precision":
        return make_scorer(
            average_precision_score,
            response_method=("decision_function", "predict_proba"),
            pos_label=positive_label,
        )
    return get_scorer(metric)


def no_progress(description, total):
    """A progress hook that shows nothing."""
    return nullcontext(lambda steps=1: None)


def compare(pipelines, X, y, scorer, config, progress=no_progress):
    """Score every pipeline by stratified K-fold cross-validation.

    Returns
    -------
    leaderboard : list of dict
        One entry per pipeline (its key under ``"candidate"``), best mean
        score first, with the per-fold
        scores, their mean and standard deviation, and the mean fit and
        score times in seconds.
    """
    folds = list(
        StratifiedKFold(
            config.cv, shuffle=True, random_state=config.random_state
        ).split(X, y)
    )
    leaderboard = []
    with progress("compare models", len(pipelines) * len(folds)) as advance:
        for name, pipeline in pipelines.items():
            scores, fit_times, score_times = [], [], []
            for train_rows, test_rows in folds:
                fitted = clone(pipeline)
                start = time.perf_counter()
                fitted.fit(X.iloc[train_rows], y[train_rows])
                fit_times.append(time.perf_counter() - start)

                start = time.perf_counter()
                scores.append(float(scorer(fitted, X.iloc[test_rows], y[test_rows])))
                score_times.append(time.perf_counter() - start)
                advance()

            leaderboard.append(
                {
                    "candidate": name,
                    "mean": float(np.mean(scores)),
                    "std": float(np.std(scores)),
                    "fold_scores": scores,
                    "fit_seconds": float(np.mean(fit_times)),
                    "score_seconds": float(np.mean(score_times)),
                }
            )
            logger.info(
                "%-32s %.4f ± %.4f  (fit %.2f s per fold)",
                name,
                np.mean(scores),
                np.std(scores),
                np.mean(fit_times),
            )
    leaderboard.sort(key=lambda entry: entry["mean"], reverse=True)
    return leaderboard


@contextmanager
def _optuna_warnings_only(optuna):
    """Silence Optuna's per-trial INFO lines for the call, then restore."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def tune(
    name,
    pipeline,
    fit_data,
    validation_data,
    scorer,
    *,
    trials,
    seconds,
    random_state,
    progress=no_progress,
):
    """Tune one pipeline with Optuna's TPE sampler on the validation rows.

    The first trial is the model's default point, so the best value is never
    worse than the untuned model on the same rows.

    Returns
    -------
    result : dict
        ``best_params`` (pipeline parameter names), ``best_score``,
        ``default_score``, ``trials`` (number run), ``seconds`` and
        ``history`` (each trial's score and the best so far).
    """
    import optuna

    X_fit, y_fit = fit_data
    X_val, y_val = validation_data

    def objective(trial):
        params = suggest_params(name, trial)
        candidate = clone(pipeline).set_params(**params)
        candidate.fit(X_fit, y_fit)
        return float(scorer(candidate, X_val, y_val))

    start = time.perf_counter()
    with _optuna_warnings_only(optuna), progress(f"tune {name}", trials) as advance:
        sampler = optuna.samplers.TPESampler(seed=random_state)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial(DEFAULT_TRIAL[name])
        study.optimize(
            objective,
            n_trials=trials,
            timeout=seconds,
            callbacks=[lambda study, trial: advance()],
        )
    elapsed = time.perf_counter() - start

    complete = [t for t in study.trials if t.value is not None]
    best_so_far = np.maximum.accumulate([t.value for t in complete])
    best = study.best_trial
    logger.info(
        "tuned %s: %d trials in %.1f s, validation %.4f (defaults %.4f)",
        name,
        len(complete),
        elapsed,
        best.value,
        complete[0].value,
    )
    return {
        "model": name,
        "best_params": suggest_params(name, optuna.trial.FixedTrial(best.params)),
        "best_score": float(best.value),
        "default_score": float(complete[0].value),
        "trials": len(complete),
        "seconds": elapsed,
        "history": [
            {"trial": i, "score": float(t.value), "best": float(b)}
            for i, (t, b) in enumerate(zip(complete, best_so_far, strict=True))
        ],
    }
