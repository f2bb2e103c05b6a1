"""Time skfast's exact kNN and SMOTE against the libraries users would use.

Both sides run in one process on the same data, after a warm-up call that
compiles or loads the Numba kernels (timed apart, as "first call"):

- kNN: ``skfast.neighbors.kneighbors`` against scikit-learn's
  ``NearestNeighbors(algorithm="brute")``, every row queried against all rows;
- SMOTE: ``skfast.over_sampling.SMOTE`` against imbalanced-learn's ``SMOTE``
  with the same ``random_state``; the outputs are also compared.

Usage::

    python benchmarks/bench_knn_smote.py --knn-rows 100000 --smote-rows 200000
"""

import argparse
import time

import numpy as np
from imblearn.over_sampling import SMOTE as ImbSMOTE
from sklearn.datasets import make_classification
from sklearn.neighbors import NearestNeighbors

from skfast.neighbors import kneighbors
from skfast.over_sampling import SMOTE


def best_time(func, repeat):
    """Smallest wall time of ``repeat`` calls, and the last result."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def report(name, ours, anchor, note=""):
    print(
        f"{name:<6} skfast {ours:8.3f} s   anchor {anchor:8.3f} s   "
        f"speed-up x{anchor / ours:5.1f}   {note}"
    )


def bench_knn(n_rows, n_features, n_neighbors, repeat, dtype):
    X = np.random.default_rng(0).random((n_rows, n_features)).astype(dtype)

    start = time.perf_counter()
    kneighbors(X[:200], n_neighbors=n_neighbors)
    print(
        f"kNN first call (compile or cache load): {time.perf_counter() - start:.2f} s"
    )

    ours, (_, ind) = best_time(lambda: kneighbors(X, n_neighbors=n_neighbors), repeat)
    brute = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(X)
    anchor, (_, sk_ind) = best_time(lambda: brute.kneighbors(X), 1)

    agree = (np.sort(ind, axis=1) == np.sort(sk_ind, axis=1)).all(axis=1).mean()
    note = f"{n_rows} x {n_features} {np.dtype(dtype)}, k={n_neighbors}, "
    report("kNN", ours, anchor, note + f"rows agreeing {agree:.4f}")


def bench_smote(n_rows, n_features, minority, repeat, dtype):
    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=n_features // 2,
        weights=[1 - minority],
        flip_y=0,
        random_state=0,
    )
    X = X.astype(dtype)

    start = time.perf_counter()
    SMOTE(random_state=0).fit_resample(X[:2000], y[:2000])
    print(
        f"SMOTE first call (compile or cache load): {time.perf_counter() - start:.2f} s"
    )

    ours, (X_res, y_res) = best_time(
        lambda: SMOTE(random_state=0).fit_resample(X, y), repeat
    )
    anchor, (X_imb, y_imb) = best_time(
        lambda: ImbSMOTE(random_state=0).fit_resample(X, y), 1
    )

    same = np.array_equal(X_res, X_imb) and np.array_equal(y_res, y_imb)
    note = f"{n_rows} x {n_features} {np.dtype(dtype)}, minority {minority:.0%}, "
    report("SMOTE", ours, anchor, note + f"identical output {same}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knn-rows", type=int, default=100_000)
    parser.add_argument("--smote-rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--neighbors", type=int, default=6)
    parser.add_argument("--minority", type=float, default=0.1)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-knn", action="store_true")
    parser.add_argument("--skip-smote", action="store_true")
    args = parser.parse_args()

    if not args.skip_knn:
        bench_knn(args.knn_rows, args.features, args.neighbors, args.repeat, args.dtype)
    if not args.skip_smote:
        bench_smote(
            args.smote_rows, args.features, args.minority, args.repeat, args.dtype
        )


if __name__ == "__main__":
    main()
