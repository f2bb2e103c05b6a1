"""Shared fixtures: small stratified slices of the bundled Adult data."""

import os
from pathlib import Path

import numpy as np
import pytest

# The shared reference data sit beside the repository; .ci/run, which tests a
# copy elsewhere, points at them with SKFAST_SHARED_DATA.
SHARED_DATA = Path(
    os.environ.get(
        "SKFAST_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)


@pytest.fixture(scope="session")
def shared_data():
    """The shared reference data folder; tests using it skip where it is absent."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent from this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def adult_slice(tmp_path_factory):
    """CSV files with a stratified slice of Adult train and test, with header."""
    from skfast.datasets import load_adult
    from skfast.sampling import stratified_sample

    folder = tmp_path_factory.mktemp("adult_slice")
    paths = {}
    for subset, rows in (("train", 3000), ("test", 1500)):
        frame = load_adult(subset=subset).frame
        sample = stratified_sample(frame, "income", n=rows, random_state=0)
        paths[subset] = folder / f"adult_{subset}.csv"
        sample.to_csv(paths[subset], index=False)
    return paths


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory):
    """A small two-class CSV with a categorical and a numeric column."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "tiny.csv"
    x = rng.normal(size=400)
    colour = rng.choice(["red", "green", "blue"], size=400)
    label = np.where(
        x + (colour == "red") + rng.normal(scale=0.5, size=400) > 0.8, "yes", "no"
    )
    lines = ["x,colour,label"] + [
        f"{a:.4f},{b},{c}" for a, b, c in zip(x, colour, label, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
