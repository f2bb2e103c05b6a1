"""Every sampling design against its exact probabilities, and its bad inputs."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skfast.sampling import (
    CertaintyWarning,
    inclusion_probabilities,
    random_sample,
    stratified_sample,
    weighted_sample,
)


def subset_counts(draw, population, n, repeats):
    """How often each n-subset of range(population) comes out of ``draw``."""
    counts = dict.fromkeys(itertools.combinations(range(population), n), 0)
    for seed in range(repeats):
        counts[tuple(int(r) for r in draw(seed))] += 1
    return np.array(list(counts.values()))


def assert_binomial(counts, probabilities, repeats, z=4.5):
    """Each row's inclusion count is within ``z`` binomial errors of its expectation."""
    probabilities = np.asarray(probabilities, dtype=float)
    errors = np.sqrt(probabilities * (1 - probabilities) / repeats)
    deviation = np.abs(counts / repeats - probabilities)
    assert np.all(deviation <= z * np.where(errors > 0, errors, 1e-12)), (
        counts / repeats,
        probabilities,
    )


def test_random_sample_gives_every_subset_the_same_chance():
    repeats = 20_000
    counts = subset_counts(
        lambda seed: random_sample(
            np.arange(5), 2, random_state=seed, return_indices=True
        ),
        5,
        2,
        repeats,
    )
    assert counts.sum() == repeats
    assert stats.chisquare(counts).pvalue > 1e-3


def test_random_sample_with_replacement_is_multinomial():
    rows = random_sample(
        np.arange(7), 70_000, replace=True, random_state=1, return_indices=True
    )
    assert np.all(np.diff(rows) >= 0)
    assert stats.chisquare(np.bincount(rows, minlength=7)).pvalue > 1e-3

    shuffled = random_sample(
        np.arange(7),
        70_000,
        replace=True,
        random_state=1,
        shuffle=True,
        return_indices=True,
    )
    np.testing.assert_array_equal(np.sort(shuffled), rows)
    assert not np.all(np.diff(shuffled) >= 0)


@pytest.mark.parametrize("size", [10, 100_000])
def test_random_sample_sizes_and_order(size):
    for n in (0, 1, size // 3, size):
        rows = random_sample(np.arange(size), n, random_state=n, return_indices=True)
        assert rows.shape == (n,) and len(set(rows.tolist())) == n
        assert np.all(np.diff(rows) > 0)
    frac = random_sample(np.arange(size), frac=0.25, random_state=0)
    assert frac.shape == (round(0.25 * size),)


def test_shuffle_keeps_the_rows_and_changes_the_order():
    weights = np.linspace(0.1, 1, 5000)
    for function, kwargs in [
        (random_sample, {}),
        (weighted_sample, {"weights": weights}),
        (weighted_sample, {"weights": weights, "design": "pps"}),
        (stratified_sample, {"by": np.arange(5000) % 3}),
    ]:
        args = (
            (np.arange(5000),)
            if function is not stratified_sample
            else (np.arange(5000), kwargs.pop("by"))
        )
        plain = function(*args, 500, random_state=3, return_indices=True, **kwargs)
        mixed = function(
            *args, 500, random_state=3, return_indices=True, shuffle=True, **kwargs
        )
        np.testing.assert_array_equal(np.sort(mixed), plain)
        assert not np.all(np.diff(mixed) > 0)


def test_weighted_with_replacement_follows_the_weights():
    weights = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    rows = weighted_sample(
        np.arange(6),
        100_000,
        weights=weights,
        replace=True,
        random_state=5,
        return_indices=True,
    )
    counts = np.bincount(rows, minlength=6)
    assert counts[4] == 0
    expected = 100_000 * weights / weights.sum()
    assert stats.chisquare(counts[weights > 0], expected[weights > 0]).pvalue > 1e-3


def test_with_replacement_over_many_chunks():
    weights = np.zeros(300_000)
    weights[[5, 150_000, 299_999]] = [1.0, 2.0, 1.0]
    rows = weighted_sample(
        np.arange(300_000),
        40_000,
        weights=weights,
        replace=True,
        random_state=0,
        return_indices=True,
    )
    values, counts = np.unique(rows, return_counts=True)
    np.testing.assert_array_equal(values, [5, 150_000, 299_999])
    assert stats.chisquare(counts, [10_000, 20_000, 10_000]).pvalue > 1e-3


def test_pps_inclusion_probabilities_are_exactly_proportional():
    weights = np.array([4.0, 3.0, 2.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.0])
    n, repeats = 3, 20_000
    expected = inclusion_probabilities(weights, n, design="pps").probabilities
    np.testing.assert_allclose(expected, n * weights / weights.sum())

    counts = np.zeros(len(weights))
    for seed in range(repeats):
        rows = weighted_sample(
            np.arange(9),
            n,
            weights=weights,
            design="pps",
            random_state=seed,
            return_indices=True,
        )
        assert len(rows) == n
        counts[rows] += 1
    assert_binomial(counts, expected, repeats)


def test_pps_takes_rows_with_certainty_and_says_so():
    weights = np.array([50.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    with pytest.warns(CertaintyWarning, match="1 rows .* with certainty"):
        rows, pi = weighted_sample(
            np.arange(6),
            3,
            weights=weights,
            design="pps",
            random_state=0,
            return_indices=True,
            return_probabilities=True,
        )
    assert 0 in rows.tolist()
    np.testing.assert_allclose(pi, [[1.0, 0.4, 0.4, 0.4, 0.4, 0.4][r] for r in rows])
    probabilities = inclusion_probabilities(weights, 3, design="pps").probabilities
    np.testing.assert_allclose(probabilities, [1.0, 0.4, 0.4, 0.4, 0.4, 0.4])


def exact_successive_probabilities(weights, n):
    weights = np.asarray(weights, dtype=float)
    pi = np.zeros(len(weights))
    for sequence in itertools.permutations(range(len(weights)), n):
        probability, left = 1.0, weights.sum()
        for row in sequence:
            probability *= weights[row] / left
            left -= weights[row]
        pi[list(sequence)] += probability
    return pi


def test_successive_probabilities_are_estimated_within_their_error():
    weights = np.array([5.0, 3.0, 1.0, 1.0, 0.5])
    result = inclusion_probabilities(weights, 2, n_simulations=20_000, random_state=0)
    exact = exact_successive_probabilities(weights, 2)

    assert np.all(np.abs(result.probabilities - exact) <= 4.5 * result.standard_errors)
    np.testing.assert_allclose(result.probabilities.sum(), 2)


def test_with_replacement_probabilities_are_exact():
    result = inclusion_probabilities([1, 1, 2], 3, replace=True)
    np.testing.assert_allclose(
        result.probabilities, [1 - 0.75**3, 1 - 0.75**3, 1 - 0.5**3]
    )
    assert np.all(result.standard_errors == 0)


def test_stratified_allocations():
    strata = np.repeat([0, 1, 2], [600, 300, 100])
    values = np.concatenate(
        [np.full(600, 1.0), np.linspace(0, 10, 300), np.linspace(0, 40, 100)]
    )
    data = pd.DataFrame({"stratum": strata, "value": values})

    def counts(**kwargs):
        rows = stratified_sample(
            data, "stratum", random_state=0, return_indices=True, **kwargs
        )
        return np.bincount(strata[rows], minlength=3).tolist()

    assert counts(n=100) == [60, 30, 10]
    assert counts(n=100, allocation="equal") == [34, 33, 33]
    assert counts(allocation={0: 5, 2: 7}) == [5, 0, 7]
    sd = np.array([0.0, values[600:900].std(ddof=1), values[900:].std(ddof=1)])
    neyman = (
        100 * np.array([600, 300, 100]) * sd / (np.array([600, 300, 100]) * sd).sum()
    )
    got = counts(n=100, allocation="neyman", variable="value", min_per_stratum=0)
    assert sum(got) == 100 and np.all(np.abs(np.array(got) - neyman) < 1)


def test_stratified_probabilities_and_within_stratum_uniformity():
    strata = np.array([0, 0, 0, 0, 1, 1, 1])
    rows, pi = stratified_sample(
        np.arange(7),
        strata,
        n=4,
        random_state=1,
        return_indices=True,
        return_probabilities=True,
    )
    np.testing.assert_allclose(pi, [0.5 if row < 4 else 2 / 3 for row in rows])

    repeats = 12_000
    counts = np.zeros(7)
    for seed in range(repeats):
        counts[
            stratified_sample(
                np.arange(7), strata, n=4, random_state=seed, return_indices=True
            )
        ] += 1
    assert_binomial(counts, [0.5] * 4 + [2 / 3] * 3, repeats)


def test_weights_and_strata_given_as_columns_of_every_kind():
    polars = pytest.importorskip("polars")
    frame = pd.DataFrame({"w": np.linspace(0, 1, 400), "s": np.arange(400) % 4})
    results = []
    for data in (frame, polars.from_pandas(frame)):
        results.append(
            (
                weighted_sample(
                    data, 30, weights="w", random_state=2, return_indices=True
                ),
                weighted_sample(
                    data,
                    30,
                    weights="w",
                    design="pps",
                    random_state=2,
                    return_indices=True,
                ),
                weighted_sample(
                    data,
                    30,
                    weights="w",
                    replace=True,
                    random_state=2,
                    return_indices=True,
                ),
                stratified_sample(data, "s", n=30, random_state=2, return_indices=True),
                random_sample(data, 30, random_state=2, return_indices=True),
            )
        )
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: weighted_sample(np.arange(4), 2, weights=np.ones(4), replace=1),
            TypeError,
            "replace",
        ),
        (lambda: weighted_sample(np.arange(4), 2, np.ones(4)), TypeError, "positional"),
        (lambda: random_sample(np.arange(4), 2, replace="yes"), TypeError, "replace"),
        (lambda: random_sample(np.arange(0), 1), ValueError, "no rows"),
        (lambda: random_sample(np.arange(4), 5), ValueError, "replace=True"),
        (lambda: random_sample(np.arange(4), frac=1.5), ValueError, "at most 1"),
        (
            lambda: weighted_sample(np.arange(4), 1, weights=np.zeros(4)),
            ValueError,
            "zero",
        ),
        (
            lambda: weighted_sample(np.arange(4), 4, weights=[0.5, 0.4, 0.1, 0]),
            ValueError,
            "only 3 of the 4",
        ),
        (
            lambda: weighted_sample(np.arange(3), 1, weights=[1, np.nan, 1]),
            ValueError,
            r"weights\[1\]",
        ),
        (
            lambda: stratified_sample(pd.DataFrame({"a": [1]}), "b", n=1),
            ValueError,
            "'b' is not a column",
        ),
        (
            lambda: stratified_sample(np.arange(3), [1.0, np.nan, 2.0], n=1),
            ValueError,
            "missing value at row 1",
        ),
        (
            lambda: stratified_sample(np.arange(3), [0, 1, 1], allocation={5: 1}),
            ValueError,
            "stratum 5",
        ),
        (
            lambda: stratified_sample(
                np.arange(3), [0, 1, 1], n=2, allocation="neyman"
            ),
            ValueError,
            "variable",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_float32_weights_and_zero_weight_rows():
    weights = np.tile(np.array([1.0, 0.0], dtype=np.float32), 1000)
    for replace in (False, True):
        rows = weighted_sample(
            np.arange(2000),
            300,
            weights=weights,
            replace=replace,
            random_state=4,
            return_indices=True,
        )
        assert np.all(rows % 2 == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = weighted_sample(
            np.arange(2000),
            300,
            weights=weights,
            design="pps",
            random_state=4,
            return_indices=True,
        )
    assert np.all(rows % 2 == 0) and len(rows) == 300
