"""Sampling kernels against NumPy and scikit-learn, side by side in one process.

    python benchmarks/bench_sampling.py [--rows 10000000] [--repeat 3]

Prints, for each task, the best of ``--repeat`` timings of skfast and of the
library a user would otherwise call, and the ratio.
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split as sklearn_split

from skfast.model_selection import train_test_split
from skfast.sampling import stratified_sample, weighted_sample


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


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
            lambda: weighted_sample(index, draws, weights=weights, random_state=1),
            "numpy Generator.choice(p=, replace=False)",
            lambda: np.random.default_rng(1).choice(
                rows, draws, replace=False, p=probabilities
            ),
        ),
        (
            f"stratified 10 %, 100 strata, {rows:,} rows",
            lambda: train_test_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
            "sklearn train_test_split(stratify=)",
            lambda: sklearn_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
        ),
        (
            f"stratified sample 10 %, {rows:,} rows",
            lambda: stratified_sample(index, strata, frac=0.1, random_state=1),
            "sklearn train_test_split(stratify=)",
            lambda: sklearn_split(
                index, test_size=0.1, stratify=strata, random_state=1
            ),
        ),
    ]
    print(f"{'task':48} {'skfast s':>9} {'anchor s':>9} {'ratio':>7}  anchor")
    for name, ours, anchor_name, anchor in tasks:
        ours_seconds = best_of(args.repeat, ours)
        anchor_seconds = best_of(args.repeat, anchor)
        print(
            f"{name:48} {ours_seconds:9.3f} {anchor_seconds:9.3f} "
            f"{anchor_seconds / ours_seconds:6.1f}x  {anchor_name}"
        )


if __name__ == "__main__":
    main()
