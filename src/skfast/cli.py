"""The ``skfast`` command line.

Only this module attaches logging handlers and draws progress bars; the
library underneath logs through ``logging`` and reports progress through a
hook. Errors in the input end with one line on stderr and exit status 2.
"""

import logging
import signal
import sys
from contextlib import contextmanager

import click

from skfast import __version__
from skfast.exceptions import InputError

EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130


def _configure_logging(verbose, quiet, console):
    from rich.logging import RichHandler

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(
        console=console,
        show_path=False,
        show_level=verbose,
        markup=False,
        log_time_format="[%X]",
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    package = logging.getLogger("skfast")
    package.handlers[:] = [handler]
    package.setLevel(level)
    package.propagate = False
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.handlers[:] = [handler]
    warnings_logger.setLevel(logging.ERROR if not verbose else logging.WARNING)


def _rich_progress(console, enabled):
    """A progress hook for the workflow that draws a rich progress bar."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    @contextmanager
    def progress(description, total):
        if not enabled:
            yield lambda steps=1: None
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda steps=1: bar.advance(task, steps)

    return progress


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="skfast")
def main():
    """skfast: from raw data to a model fit to ship, on native kernels."""


# Options of ``skfast run`` that set a field of RunConfig: flag, field, help.
# Defaults and types come from RunConfig, so they are declared in one place.
_RUN_OPTIONS = (
    ("--target", "target", "Column to predict (default for Adult: income)."),
    (
        "--metric",
        "metric",
        "Scorer to compare and tune on (default: roc_auc for two classes, "
        "balanced_accuracy for more).",
    ),
    ("--seed", "random_state", "Random seed of every split, sample and model."),
    ("--cv", "cv", "Cross-validation folds for the comparison."),
    (
        "--sample-rows",
        "sample_rows",
        "Compare and tune on a stratified sample above this many rows.",
    ),
    (
        "--resample-below",
        "resample_below",
        "Also compare each model with SMOTE when the smallest class share is "
        "below this (0 turns it off).",
    ),
    ("--trials", "tune_trials", "Optuna trials per tuned model."),
    ("--tune-top", "tune_top", "How many of the best compared models to tune."),
    ("--tune-seconds", "tune_seconds", "Time budget for tuning, in seconds."),
    (
        "--validation-size",
        "validation_size",
        "Share of training rows held out for tuning.",
    ),
    (
        "--test-size",
        "test_size",
        "Share held out for testing when no --test file is given.",
    ),
    ("--delimiter", "delimiter", "CSV delimiter (detected by default)."),
    (
        "--keep-duplicates",
        "keep_duplicates",
        "Keep exact duplicate training rows (by default they are removed "
        "before the split, and counted).",
    ),
    (
        "--positive-label",
        "positive_label",
        "Positive class of a binary target, for F1, PR AUC and the curves "
        "(default: the rarer class).",
    ),
)


def _exit_on_signal(signum, frame):
    raise KeyboardInterrupt


def _with_flag(error):
    """Name the command-line flag, not the RunConfig field, in an option error."""
    flags = {field: flag for flag, field, _ in _RUN_OPTIONS}
    flags["models"] = "--models"
    message = str(error)
    if error.option in flags:
        message = message.replace(f"{error.option}=", f"{flags[error.option]} ", 1)
    return message


def _run_options(command):
    """Attach one click option per RunConfig field listed in ``_RUN_OPTIONS``."""
    from skfast.workflow._config import RunConfig

    defaults = RunConfig()
    for flag, field, help_text in reversed(_RUN_OPTIONS):
        default = getattr(defaults, field)
        if isinstance(default, bool):
            kind = {"is_flag": True}
        else:
            kind = {"type": None if default is None else type(default)}
        command = click.option(
            flag,
            field,
            default=default,
            show_default=default is not None and not isinstance(default, bool),
            help=help_text,
            **kind,
        )(command)
    return command


@main.command()
@click.argument("data", required=False, type=click.Path(path_type=str))
@click.option(
    "--test",
    "test",
    type=click.Path(path_type=str),
    help="Test file with the same columns; otherwise a share is held out.",
)
@click.option(
    "--out",
    default="skfast-output",
    show_default=True,
    help="Output folder; it must not exist or be empty.",
)
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
@_run_options
@click.option(
    "--models",
    help="Comma-separated models to compare (default: all five: "
    "logistic_regression, decision_tree, random_forest, linear_svm, "
    "hist_gradient_boosting).",
)
@click.option(
    "--header/--no-header",
    default=None,
    help="Whether CSV files have a header row (detected by default); "
    "headerless columns are named column_0, column_1, ...",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings only, no progress.")
def run(data, test, out, force, models, header, verbose, quiet, **options):
    """Run the whole process on DATA (CSV or Parquet) and write a report.

    With no DATA, runs on the bundled UCI Adult data with its own test file.
    """
    from rich.console import Console

    console = Console(stderr=True)
    _configure_logging(verbose, quiet, console)
    # A terminated run unwinds like an interrupted one, so the workflow removes
    # its temporary folder either way.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        from skfast.workflow import RunConfig, Workflow

        if models is not None:
            options["models"] = models
        config = RunConfig(header=header, **options)
        workflow = Workflow(config, progress=_rich_progress(console, not quiet))
        result = workflow.run(data, test=test, out=out, overwrite=force)
    except InputError as error:
        click.echo(f"skfast: error: {_with_flag(error)}", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    except KeyboardInterrupt:
        click.echo("skfast: interrupted; nothing was written", err=True)
        sys.exit(EXIT_INTERRUPTED)

    metrics = result.report["evaluate"]["metrics"]
    click.echo(
        f"{result.report['model']['name']}: test ROC AUC {metrics['roc_auc']:.4f}, "
        f"PR AUC {metrics['pr_auc']:.4f}, balanced accuracy "
        f"{metrics['balanced_accuracy']:.4f}; report in {result.out / 'report.html'}"
    )


_SAMPLE_CHOICES = {
    "--method": ("random", "stratified", "weighted", "importance"),
    "--design": ("successive", "pps"),
    "--allocation": ("proportional", "equal", "neyman"),
}

# The column option each method needs, and the options only it takes.
_SAMPLE_COLUMNS = {
    "random": (None, ()),
    "stratified": ("--by", ("--allocation", "--variable", "--min-per-stratum")),
    "weighted": ("--weights", ("--design",)),
    "importance": ("--scores", ("--floor",)),
}


def _check_sample_options(method, options):
    """Raise an InputError for a choice, a missing column or an unused option."""
    for flag, choices in _SAMPLE_CHOICES.items():
        value = method if flag == "--method" else options[flag]
        if value is not None and value not in choices:
            raise InputError(f"{flag} {value!r} is not one of {', '.join(choices)}.")
    needed = _SAMPLE_COLUMNS[method][0]
    if needed is not None and options[needed] is None:
        raise InputError(f"--method {method} needs {needed} COLUMN.")
    for other, (column, flags) in _SAMPLE_COLUMNS.items():
        if other == method:
            continue
        for flag in (column, *flags):
            if flag is not None and options[flag] is not None:
                raise InputError(
                    f"{flag} applies to --method {other}, not --method {method}."
                )
    if (options["--n"] is None) == (options["--frac"] is None):
        raise InputError("pass exactly one of --n and --frac.")
    for flag in ("--n", "--frac", "--min-per-stratum", "--floor"):
        if options[flag] is not None and options[flag] < 0:
            raise InputError(f"{flag} {options[flag]} is negative.")
    if options["--allocation"] == "neyman" and options["--variable"] is None:
        raise InputError("--allocation neyman needs --variable COLUMN.")
    if options["--variable"] is not None and options["--allocation"] != "neyman":
        raise InputError("--variable applies to --allocation neyman only.")
    if options["--replace"] and method not in ("random", "weighted"):
        raise InputError("--replace applies to --method random and weighted only.")


def _importance_sample(data, n, frac, scores, floor, seed, out, shuffle):
    """Importance sampling of a file read into memory, written atomically."""
    import pyarrow as pa

    from skfast.io import read_table
    from skfast.sampling import importance_sample
    from skfast.sampling._files import _check_out, write_table

    out = _check_out(out, False)
    frame = read_table(data)
    if n is None:
        n = int(round(frac * len(frame)))
    options = {} if floor is None else {"floor": floor}
    sample = importance_sample(
        frame, n, scores=scores, random_state=seed, shuffle=shuffle, **options
    )
    return write_table(pa.Table.from_pandas(sample, preserve_index=False), out)


@main.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option(
    "--method",
    default="random",
    show_default=True,
    help="random, stratified, weighted or importance.",
)
@click.option("--n", "n", type=int, help="Rows to draw.")
@click.option("--frac", type=float, help="Share of the rows to draw, instead of --n.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=str),
    help="Output file: .parquet, .csv or .csv.gz; written only when complete.",
)
@click.option("--by", help="Stratum column (stratified).")
@click.option(
    "--allocation",
    help="Stratified: proportional (default), equal, or neyman (with --variable).",
)
@click.option("--variable", help="Column whose spread per stratum sets neyman.")
@click.option(
    "--min-per-stratum", type=int, help="Stratified: rows each stratum keeps (1)."
)
@click.option("--weights", help="Weight column (weighted).")
@click.option(
    "--design",
    help="Weighted without replacement: successive (default) or pps.",
)
@click.option("--scores", help="Score column (importance; the file is read whole).")
@click.option("--floor", type=float, help="Importance: share of uniform sampling.")
@click.option("--replace", is_flag=True, help="Draw with replacement.")
@click.option("--shuffle", is_flag=True, help="Write rows in random order.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--batch-size",
    type=int,
    help="Rows read at a time (default 65536); memory grows with it.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings only, no progress.")
def sample(data, method, n, frac, out, replace, shuffle, seed, batch_size, **rest):
    """Sample the rows of DATA (CSV or Parquet, any size) into --out.

    DATA is read in batches, so it may be larger than memory: random,
    weighted and stratified samples take one pass (Neyman, pps and
    --replace two). The same --seed gives the same rows as the Python
    functions of skfast.sampling.
    """
    from rich.console import Console

    verbose, quiet = rest.pop("verbose"), rest.pop("quiet")
    console = Console(stderr=True)
    _configure_logging(verbose, quiet, console)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    options = {f"--{key.replace('_', '-')}": value for key, value in rest.items()}
    options.update({"--n": n, "--frac": frac, "--replace": replace or None})
    try:
        _check_sample_options(method, options)
        if method == "importance":
            path = _importance_sample(
                data, n, frac, rest["scores"], rest["floor"], seed, out, shuffle
            )
        else:
            common = {
                "random_state": seed,
                "shuffle": shuffle,
                "out": out,
                "batch_size": batch_size,
                "progress": _rich_progress(console, not quiet and console.is_terminal),
            }
            path = _sample_file(data, method, n, frac, replace, rest, common)
    except (InputError, ValueError, TypeError) as error:
        message = str(error)
        option = getattr(error, "option", None)
        if option is not None:
            message = message.replace(f"{option}=", f"--{option} ", 1)
        click.echo(f"skfast: error: {message}", err=True)
        sys.exit(EXIT_INPUT_ERROR)
    except KeyboardInterrupt:
        click.echo("skfast: interrupted; nothing was written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(f"sample written to {path}")


def _sample_file(data, method, n, frac, replace, rest, common):
    """Run the file sampler of ``method``; ``common`` holds the shared options."""
    from skfast.sampling import _files

    if method == "random":
        return _files.random_sample(data, n, frac=frac, replace=replace, **common)
    if method == "weighted":
        if n is None:
            source = _files.open_source(data, batch_size=common["batch_size"])
            n = int(round(frac * source.count_rows(common["progress"])))
        return _files.weighted_sample(
            data,
            n,
            weights=rest["weights"],
            replace=replace,
            design=rest["design"] or "successive",
            **common,
        )
    floor = rest["min_per_stratum"]
    return _files.stratified_sample(
        data,
        rest["by"],
        n,
        frac=frac,
        allocation=rest["allocation"] or "proportional",
        min_per_stratum=1 if floor is None else floor,
        variable=rest["variable"],
        **common,
    )


if __name__ == "__main__":
    main()
