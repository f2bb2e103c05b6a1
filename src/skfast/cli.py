"""The ``skfast`` command line.

Only this module attaches logging handlers and draws progress bars; the
library underneath logs through ``logging`` and reports progress through a
hook. Errors in the input end with one line on stderr and exit status 2.
"""

import logging
import sys
from contextlib import contextmanager

import click

from skfast import __version__
from skfast.exceptions import InputError

EXIT_INPUT_ERROR = 2


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


@main.command()
@click.argument("data", required=False, type=click.Path(path_type=str))
@click.option("--target", help="Column to predict (default for Adult: income).")
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
    type=click.Path(file_okay=False, path_type=str),
    help="Output folder; it must not exist or be empty.",
)
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
@click.option(
    "--metric",
    help="Scorer to compare and tune on "
    "(default: roc_auc for two classes, balanced_accuracy for more).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option(
    "--cv",
    default=5,
    show_default=True,
    type=int,
    help="Cross-validation folds for the comparison.",
)
@click.option("--models", help="Comma-separated models to compare (default: all five).")
@click.option(
    "--sample-rows",
    default=20_000,
    show_default=True,
    type=int,
    help="Compare and tune on a stratified sample above this many rows.",
)
@click.option(
    "--resample-below",
    default=0.3,
    show_default=True,
    type=float,
    help="Apply SMOTE when the smallest class share is below this.",
)
@click.option(
    "--trials",
    default=25,
    show_default=True,
    type=int,
    help="Optuna trials per tuned model.",
)
@click.option(
    "--tune-top",
    default=2,
    show_default=True,
    type=int,
    help="How many of the best compared models to tune.",
)
@click.option(
    "--tune-seconds",
    default=240.0,
    show_default=True,
    type=float,
    help="Time budget for tuning, in seconds.",
)
@click.option(
    "--validation-size",
    default=0.2,
    show_default=True,
    type=float,
    help="Share of training rows held out for tuning.",
)
@click.option(
    "--test-size",
    default=0.2,
    show_default=True,
    type=float,
    help="Share held out for testing when no --test file is given.",
)
@click.option("--delimiter", help="CSV delimiter (detected by default).")
@click.option(
    "--header/--no-header",
    default=None,
    help="Whether CSV files have a header row (detected by default).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings only, no progress.")
def run(
    data,
    target,
    test,
    out,
    force,
    metric,
    seed,
    cv,
    models,
    sample_rows,
    resample_below,
    trials,
    tune_top,
    tune_seconds,
    validation_size,
    test_size,
    delimiter,
    header,
    verbose,
    quiet,
):
    """Run the whole process on DATA (CSV or Parquet) and write a report.

    With no DATA, runs on the bundled UCI Adult data with its own test file.
    """
    from rich.console import Console

    console = Console(stderr=True)
    _configure_logging(verbose, quiet, console)
    try:
        from skfast.workflow import MODEL_NAMES, RunConfig, Workflow

        config = RunConfig(
            target=target,
            metric=metric,
            random_state=seed,
            validation_size=validation_size,
            test_size=test_size,
            cv=cv,
            sample_rows=sample_rows,
            resample_below=resample_below,
            models=tuple(models.split(",")) if models else MODEL_NAMES,
            tune_top=tune_top,
            tune_trials=trials,
            tune_seconds=tune_seconds,
            delimiter=delimiter,
            header=header,
        )
        workflow = Workflow(config, progress=_rich_progress(console, not quiet))
        result = workflow.run(data, test=test, out=out, overwrite=force)
    except InputError as error:
        click.echo(f"skfast: error: {error}", err=True)
        sys.exit(EXIT_INPUT_ERROR)

    metrics = result.report["evaluate"]["metrics"]
    click.echo(
        f"{result.report['model']['name']}: test ROC AUC {metrics['roc_auc']:.4f}, "
        f"PR AUC {metrics['pr_auc']:.4f}, balanced accuracy "
        f"{metrics['balanced_accuracy']:.4f}; report in {result.out / 'report.html'}"
    )


if __name__ == "__main__":
    main()
