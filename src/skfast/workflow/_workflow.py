"""The runner: every stage of the process, from a raw table to a report.

A run works inside a temporary folder next to the output folder and moves
it into place only when every stage has succeeded, so a failed run leaves
nothing behind. Stages log their duration through this module's logger;
long stages report progress through a hook the caller may supply (the
command line draws progress bars with it).
"""

import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from skfast._trace import trace_kernels
from skfast.exceptions import InputError
from skfast.workflow import _data, _evaluation, _models, _selection
from skfast.workflow._config import RunConfig

logger = logging.getLogger(__name__)

STAGES = (
    "stamp",
    "profile",
    "clean",
    "split",
    "sample",
    "prepare",
    "resample",
    "compare",
    "tune",
    "fit",
    "evaluate",
    "errors",
    "review",
)

OUTPUT_FILES = ("report.html", "report.json", "model.skops", "manifest.json")


@dataclass
class RunResult:
    """What a finished run produced.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    report : dict
        The content of ``report.json``.
    model : imblearn.pipeline.Pipeline
        The fitted final pipeline, also saved as ``model.skops``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from skfast.workflow import RunResult
    >>> RunResult(out=Path("run"), report={"total_seconds": 1.0}, model=None).out
    PosixPath('run')
    """

    out: Path
    report: dict
    model: object


class Workflow:
    """Run the whole process on a table and write a report a person can act on.

    Stages, in order: stamp, profile, clean, split, sample, prepare,
    resample, compare, tune, fit, evaluate, errors and review. See
    :class:`RunConfig` for every option.

    Parameters
    ----------
    config : RunConfig, default=None
        Options of the run; the defaults when None.
    progress : callable, default=None
        ``progress(description, total)`` returns a context manager that
        yields ``advance(steps=1)``; called for the long stages. Nothing is
        shown when None.

    Examples
    --------
    A quick run on the bundled Adult data: one model, two folds, one trial.

    >>> import tempfile
    >>> from skfast.workflow import RunConfig, Workflow
    >>> config = RunConfig(sample_rows=2000, cv=2, tune_trials=1,
    ...                    models=("logistic_regression",))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = Workflow(config).run(out=f"{folder}/run")
    ...     written = sorted(path.name for path in result.out.iterdir())
    >>> written
    ['manifest.json', 'misclassified.csv', 'model.skops', 'report.html', 'report.json']
    >>> result.report["evaluate"]["metrics"]["roc_auc"] > 0.85
    True
    """

    def __init__(self, config=None, *, progress=None):
        self.config = config if config is not None else RunConfig()
        self.progress = progress if progress is not None else _selection.no_progress

    def run(self, data=None, *, test=None, out="skfast-output", overwrite=False):
        """Run every stage and write the output folder.

        Parameters
        ----------
        data : str, pathlib.Path, pandas.DataFrame or polars.DataFrame
            Training data: a CSV or Parquet file, or a table in memory. The
            bundled UCI Adult data (with its own test file and target
            ``income``) when None.
        test : str, pathlib.Path, pandas.DataFrame or polars.DataFrame
            Test data with the same columns. When None, a stratified share
            ``config.test_size`` of ``data`` is held out.
        out : str or pathlib.Path, default="skfast-output"
            Output folder; it must not exist or be empty unless
            ``overwrite``.
        overwrite : bool, default=False
            Replace an existing output folder once the run has succeeded.

        Returns
        -------
        result : RunResult
        """
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise InputError(f"the output path {out} is a file; pass a folder.")
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise InputError(
                f"the output folder {out} is not empty; choose another folder or "
                "allow replacing it (--force, or overwrite=True in Python)."
            )
        if data is None and test is not None:
            raise InputError(
                "a test file needs its training data: pass DATA as well as --test."
            )

        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            with trace_kernels() as calls:
                report, model = _Run(self.config, work, self.progress, calls).execute(
                    data, test
                )
            _move_into_place(work, out)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return RunResult(out=out, report=report, model=model)


def _move_into_place(work, out):
    """Replace ``out`` by ``work`` with renames only."""
    if out.exists():
        retired = out.with_name(f".{out.name}-replaced-{os.getpid()}")
        out.rename(retired)
        work.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        work.rename(out)


class _Run:
    """State of one run while its stages execute."""

    def __init__(self, config, work, progress, kernel_calls):
        self.config = config
        self.work = work
        self.progress = progress
        self.kernel_calls = kernel_calls
        self.report = {"config": config.to_dict(), "stages": {}, "warnings": []}
        self.started = time.perf_counter()

    @contextmanager
    def stage(self, name):
        logger.info("stage %-9s ...", name)
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.report["stages"][name] = round(seconds, 3)
        logger.info("stage %-9s done in %.2f s", name, seconds)

    def execute(self, data, test):
        config = self.config
        inputs = _data.load_inputs(data, test, config)
        self.target = config.target if data is not None else _data.ADULT_TARGET
        if data is None and config.target not in (None, _data.ADULT_TARGET):
            raise InputError(
                f"the bundled Adult data has target 'income', not {config.target!r}."
            )
        _data.check_target(inputs, self.target, header=config.header)
        self.report["target"] = self.target

        with self.stage("stamp"):
            self.manifest = _data.stamp(inputs)
        with self.stage("profile"):
            self.report["profile"] = _data.profile(inputs.train, self.target)
        with self.stage("clean"):
            train, test_frame, cleaning = _data.clean(
                inputs, self.target, drop_duplicates=not config.keep_duplicates
            )
            self.report["warnings"].extend(cleaning.pop("warnings"))
            self.report["clean"] = cleaning
            _data.check_class_sizes(train, self.target, 2 * config.cv)
            self._choose_metric(train)
        with self.stage("split"):
            parts = self._split(train, test_frame)
        with self.stage("sample"):
            tuning_rows = self._sample(parts["train"])
            _data.check_class_sizes(
                tuning_rows,
                self.target,
                2 * config.cv,
                where="rows left for comparing models",
                fix=", --validation-size or --test-size, or raise --sample-rows",
            )
        with self.stage("prepare"):
            preprocessor = self._prepare(parts["train"])
        with self.stage("resample"):
            resampler = self._resample(tuning_rows)
        with self.stage("compare"):
            self.candidates = self._candidates(preprocessor, resampler)
            self._compare(tuning_rows)
        with self.stage("tune"):
            chosen, params = self._tune(tuning_rows, parts["validation"])
        with self.stage("fit"):
            model = self._fit(chosen, params, parts)
        with self.stage("evaluate"):
            predicted, probabilities = self._evaluate(model, parts["test"])
        with self.stage("errors"):
            self._errors(model, parts["test"], predicted, probabilities)
        with self.stage("review"):
            self._review(model)
        self._write_outputs()
        return self.report, model

    def _warn(self, message):
        logger.warning(message)
        self.report["warnings"].append(message)

    def _xy(self, frame):
        return frame.drop(columns=[self.target]), frame[self.target].to_numpy()

    def _split(self, train, test_frame):
        from skfast.model_selection import train_test_split

        config = self.config
        if test_frame is None:
            train, test_frame = train_test_split(
                train,
                test_size=config.test_size,
                stratify=train[self.target].to_numpy(),
                random_state=config.random_state,
            )
        fit, validation = train_test_split(
            train,
            test_size=config.validation_size,
            stratify=train[self.target].to_numpy(),
            random_state=config.random_state + 1,
        )
        self.parts = parts = {
            "train": fit,
            "validation": validation,
            "test": test_frame,
        }
        self.manifest["splits"] = {
            name: {"rows": int(len(frame)), "sha256": _data.frame_sha256(frame)}
            for name, frame in parts.items()
        }
        self.report["split"] = {
            name: {
                "rows": int(len(frame)),
                "class_counts": {
                    str(k): int(v) for k, v in frame[self.target].value_counts().items()
                },
            }
            for name, frame in parts.items()
        }
        return parts

    def _choose_metric(self, train):
        """The positive class and the metric, checked against the classes."""
        config = self.config
        counts = train[self.target].value_counts().sort_index()
        self.positive = _positive_label(counts, config.positive_label)
        self.metric = config.metric or (
            "roc_auc" if len(counts) == 2 else "balanced_accuracy"
        )
        if len(counts) > 2 and self.metric in {"roc_auc", "average_precision", "f1"}:
            raise InputError(
                f"metric {self.metric!r} is for two classes, but the target has "
                f"{len(counts)}; use roc_auc_ovr, f1_macro or balanced_accuracy.",
                option="metric",
            )
        self.scorer = _selection.make_metric_scorer(self.metric, self.positive)

    def _sample(self, train):
        from skfast.sampling import stratified_sample

        limit = self.config.sample_rows
        if len(train) <= limit:
            self.report["sample"] = {
                "used": False,
                "rows": int(len(train)),
                "reason": f"{len(train)} training rows, within the {limit} limit",
            }
            return train
        sample = stratified_sample(
            train,
            train[self.target].to_numpy(),
            n=limit,
            min_per_stratum=2 * self.config.cv,
            random_state=self.config.random_state,
        )
        self.report["sample"] = {
            "used": True,
            "rows": int(len(sample)),
            "of_rows": int(len(train)),
            "reason": (
                f"{len(train)} training rows exceed the {limit} limit: models are "
                f"compared and tuned on a stratified sample of {limit}, and the "
                "final model is fitted on every training row"
            ),
        }
        self.manifest["splits"]["tuning_sample"] = {
            "rows": int(len(sample)),
            "sha256": _data.frame_sha256(sample),
        }
        return sample

    def _prepare(self, train):
        X, _ = self._xy(train)
        preprocessor = _models.make_preprocessor(X)
        kinds = {name: _data.column_kind(X[name]) for name in X.columns}
        features_out = clone(preprocessor).fit(X).get_feature_names_out()
        self.report["prepare"] = {
            "numeric": [str(name) for name, kind in kinds.items() if kind == "numeric"],
            "categorical": [
                str(name) for name, kind in kinds.items() if kind != "numeric"
            ],
            "features_out": int(len(features_out)),
            "steps": {
                "numeric": "median imputation, then standard scaling",
                "categorical": (
                    "missing as its own category, then one-hot encoding (at most "
                    f"{_models.MAX_ONE_HOT_CATEGORIES} categories, rare ones pooled)"
                ),
            },
        }
        return preprocessor

    def _resample(self, train):
        _, y = self._xy(train)
        resampler, reason = _models.make_resampler(y, self.config)
        self.report["resample"] = {
            "used": resampler is not None,
            "method": "SMOTE" if resampler is not None else None,
            "reason": reason,
        }
        return resampler

    def _candidates(self, preprocessor, resampler):
        """Each model alone, and after SMOTE when the data called for it.

        Whether resampling helps depends on the model (trees often lose
        ranking quality on interpolated one-hot columns), so both variants
        are compared and cross-validation decides.
        """
        candidates = {}
        for name in self.config.models:
            model = _models.make_model(name, self.config.random_state)
            candidates[name] = {
                "model": name,
                "resample": None,
                "pipeline": _models.make_pipeline(preprocessor, model),
            }
            if resampler is not None:
                candidates[f"{name} + SMOTE"] = {
                    "model": name,
                    "resample": "SMOTE",
                    "pipeline": _models.make_pipeline(
                        preprocessor, clone(model), resampler
                    ),
                }
        return candidates

    def _compare(self, rows):
        X, y = self._xy(rows)
        pipelines = {key: entry["pipeline"] for key, entry in self.candidates.items()}
        leaderboard = _selection.compare(
            pipelines, X, y, self.scorer, self.config, self.progress
        )
        for entry in leaderboard:
            candidate = self.candidates[entry["candidate"]]
            entry["model"] = candidate["model"]
            entry["resample"] = candidate["resample"]
        self.report["compare"] = {
            "metric": self.metric,
            "cv": self.config.cv,
            "rows": int(len(rows)),
            "leaderboard": leaderboard,
        }

    def _tune(self, rows, validation):
        """Tune the best variant of each of the ``tune_top`` best models."""
        config = self.config
        leaderboard = self.report["compare"]["leaderboard"]
        chosen = []
        for entry in leaderboard:
            if len(chosen) < config.tune_top and all(
                entry["model"] != other["model"] for other in chosen
            ):
                chosen.append(entry)

        results = []
        deadline = time.perf_counter() + config.tune_seconds
        for position, entry in enumerate(chosen):
            seconds_left = max(deadline - time.perf_counter(), 1e-3)
            result = _selection.tune(
                entry["model"],
                self.candidates[entry["candidate"]]["pipeline"],
                self._xy(rows),
                self._xy(validation),
                self.scorer,
                trials=config.tune_trials,
                seconds=seconds_left / (len(chosen) - position),
                random_state=config.random_state,
                progress=self.progress,
            )
            results.append({"candidate": entry["candidate"], **result})

        self.report["tune"] = {
            "sampler": "optuna TPE",
            "trials_per_model": config.tune_trials,
            "seconds_budget": config.tune_seconds,
            "results": results,
        }
        if results:
            best = max(results, key=lambda result: result["best_score"])
            selected, params = best["candidate"], best["best_params"]
        else:
            selected, params = leaderboard[0]["candidate"], {}
        self.report["tune"]["selected"] = selected
        return selected, params

    def _fit(self, candidate, params, parts):
        everything = pd.concat([parts["train"], parts["validation"]], ignore_index=True)
        X, y = self._xy(everything)
        model = clone(self.candidates[candidate]["pipeline"]).set_params(**params)
        start = time.perf_counter()
        model.fit(X, y)
        fit_seconds = time.perf_counter() - start
        self.report["model"] = {
            "name": candidate,
            "params": {k: _jsonable(v) for k, v in params.items()},
            "fitted_rows": int(len(everything)),
            "fit_seconds": fit_seconds,
        }
        self.report["resample"]["in_final_model"] = "resample" in model.named_steps
        if "resample" in model.named_steps:
            counts = dict(zip(*np.unique(y, return_counts=True), strict=True))
            strategy = model.named_steps["resample"].sampling_strategy_
            self.report["resample"]["final_fit"] = {
                "before": {str(k): int(v) for k, v in counts.items()},
                "after": {
                    str(k): int(v + strategy.get(k, 0)) for k, v in counts.items()
                },
            }
        return model

    def _evaluate(self, model, test_frame):
        X, y = self._xy(test_frame)
        evaluation, predicted, probabilities = _evaluation.score_on_test(
            model, X, y, self.positive
        )
        evaluation["rows"] = int(len(test_frame))
        never = [str(label) for label in model.classes_ if label not in set(predicted)]
        if never:
            self._warn(
                f"the final model never predicts class {', '.join(never)} on the "
                "test set at the default decision rule (the most probable class); "
                "its ranking metrics may still be good, but its labels are not: "
                "consider --metric balanced_accuracy or average_precision"
            )
        evaluation["positive_label"] = (
            None if self.positive is None else str(self.positive)
        )
        self.report["evaluate"] = evaluation
        metrics = evaluation["metrics"]
        logger.info(
            "test ROC AUC %.4f, PR AUC %.4f, balanced accuracy %.4f",
            metrics["roc_auc"],
            metrics["pr_auc"],
            metrics["balanced_accuracy"],
        )
        return predicted, probabilities

    def _errors(self, model, test_frame, predicted, probabilities):
        X, y = self._xy(test_frame)
        summary, misclassified = _evaluation.error_analysis(
            X, y, predicted, probabilities, model.classes_, top=self.config.error_slices
        )
        misclassified.to_csv(self.work / "misclassified.csv", index_label="row")
        summary["file"] = "misclassified.csv"
        self.report["errors"] = summary

    def _review(self, model):
        from skfast.workflow._model_file import save_model

        X_test, _ = self._xy(self.parts["test"])
        model_path = self.work / "model.skops"
        save_model(model, model_path)
        self.report["review"] = {
            "model_file": model_path.name,
            "model_bytes": model_path.stat().st_size,
            "load_with": "skfast.workflow.load_model('model.skops')",
            "prediction": _evaluation.prediction_cost(
                model, X_test, random_state=self.config.random_state
            ),
        }

    def _write_outputs(self):
        from skfast.workflow import _report

        self.report["kernels"] = dict(sorted(self.kernel_calls.items()))
        self.report["environment"] = _environment()
        self.report["manifest"] = "manifest.json"
        self.report["total_seconds"] = time.perf_counter() - self.started
        _write_json(self.work / "manifest.json", self.manifest)
        _write_json(self.work / "report.json", self.report)
        _report.write_html(self.report, self.manifest, self.work / "report.html")


def _positive_label(counts, asked):
    """The positive class of a binary target: as asked, else the rarer one."""
    if asked is None:
        return counts.idxmin() if len(counts) == 2 else None
    labels = {str(label): label for label in counts.index}
    if len(counts) != 2 or str(asked) not in labels:
        raise InputError(
            f"positive label {asked!r} is not one of the two classes of the target "
            f"({', '.join(labels)}); pass one of them, or leave it unset for the "
            "rarer class.",
            option="positive_label",
        )
    return labels[str(asked)]


def _environment():
    """Versions and native build facts that a result depends on."""
    import platform
    from importlib.metadata import version

    from skfast._native import _openmp

    packages = ("numpy", "scikit-learn", "imbalanced-learn", "numba", "optuna")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "openmp": _openmp.openmp_enabled(),
        "openmp_threads": _openmp.max_threads(),
        **{name: version(name) for name in packages},
    }


def _jsonable(value):
    """JSON fallback: NumPy scalars as Python numbers, anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _write_json(path, content):
    path.write_text(json.dumps(content, indent=2, default=_jsonable) + "\n")
