"""Sampling kernels against NumPy and scikit-learn, side by side in one process.

    python benchmarks/bench_sampling.py [--rows 10000000] [--repeat 3]

For each task, prints the best of ``--repeat`` timings of skfast and of the
library a user would otherwise call, the ratio, and skfast's throughput in
rows per second beside the memory bandwidth measured in the same run (one
read of a float64 array of ``--rows`` values). Where the anchor returns row
positions, skfast is asked for positions too (``return_indices=True``).
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split as sklearn_split

from skfast.model_selection import train_test_split
from skfast.sampling import random_sample, stratified_sample, weighted_sample


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def read_bandwidth(values, repeat):
    """Bytes per second of one pass reading ``values`` (a sum)."""
    seconds = best_of(repeat, lambda: values.sum())
    return values.nbytes / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rows = args.rows
    weights = rng.random(rows)
    probabilities = weights / weights.sum()
    strata = rng.integers(0, 100, rows)
    index = np.arange(rows)
    draws = rows // 10

    tasks = [
        (
            f"weighted, no replacement, {draws:,} of {rows:,}",
            lambda: weighted_sample(
                index, draws, weights=weights, random_state=1, return_indices=True
            ),
            "numpy Generator.choice(p=, replace=False)",
            lambda: np.random.default_rng(1).choice(
                rows, draws, replace=False, p=probabilities
            ),
        ),
        (
            f"weighted, with replacement, {rows:,} draws",
            lambda: weighted_sample(
                index,
                rows,
                weights=weights,
                replace=True,
                random_state=1,
                return_indices=True,
            ),
            "numpy Generator.choice(p=)",
            lambda: np.random.default_rng(1).choice(rows, rows, p=probabilities),
        ),
        (
            f"stratified split 10 %, 100 strata, {rows:,} rows",
            lambda: train_test_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
            "sklearn train_test_split(stratify=)",
            lambda: sklearn_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
        ),
        (
            f"stratified sample 10 %, 100 strata, {rows:,} rows",
            lambda: stratified_sample(index, strata, frac=0.1, random_state=1),
            "sklearn train_test_split(stratify=)",
            lambda: sklearn_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
        ),
        (
            f"uniform, no replacement, {draws:,} of {rows:,}",
            lambda: random_sample(index, draws, random_state=1, return_indices=True),
            "numpy Generator.choice(replace=False)",
            lambda: np.random.default_rng(1).choice(rows, draws, replace=False),
        ),
    ]
    bandwidth = read_bandwidth(weights, args.repeat)
    print(
        f"memory read bandwidth: {bandwidth / 1e9:.1f} GB/s "
        f"({bandwidth / 8 / 1e6:.0f} M float64 values/s)"
    )
    print(
        f"{'task':52} {'skfast s':>9} {'anchor s':>9} {'ratio':>7} "
        f"{'M rows/s':>9}  anchor"
    )
    for name, ours, anchor_name, anchor in tasks:
        ours_seconds = best_of(args.repeat, ours)
        anchor_seconds = best_of(args.repeat, anchor)
        print(
            f"{name:52} {ours_seconds:9.3f} {anchor_seconds:9.3f} "
            f"{anchor_seconds / ours_seconds:6.1f}x {rows / ours_seconds / 1e6:9.0f}"
            f"  {anchor_name}"
        )


if __name__ == "__main__":
    main()
