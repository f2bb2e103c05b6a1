"""The Cython sampling kernels against plain NumPy references."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from skfast._native import _sampling


def reference_keys(seed, weights):
    keys = np.random.default_rng(seed).standard_exponential(len(weights))
    with np.errstate(divide="ignore"):
        return np.where(weights > 0, keys / np.where(weights > 0, weights, 1), np.inf)


def reference_smallest(keys, k):
    return np.lexsort((np.arange(len(keys)), keys))[:k]


def reference_stratified(keys, codes, take):
    mask = np.zeros(len(keys), dtype=bool)
    for h, count in enumerate(take):
        rows = np.flatnonzero(codes == h)
        order = np.lexsort((rows, keys[rows]))
        mask[rows[order[:count]]] = True
    return mask


def reference_allocate(target, lower, upper, size, n):
    """Unit-by-unit greedy: the definition the kernel implements."""
    alloc = np.clip(np.floor(target).astype(np.int64), lower, upper)
    while alloc.sum() != n:
        step = 1 if alloc.sum() < n else -1
        gap = step * (target - alloc)
        movable = alloc != (upper if step == 1 else lower)
        candidates = np.flatnonzero(movable)
        best = max(candidates, key=lambda h: (gap[h], size[h], -h))
        alloc[best] += step
    return alloc


def test_exponential_keys_follow_the_generator_stream():
    generator = np.random.default_rng(7)
    keys = _sampling.exponential_keys(generator, 1000)
    reference = np.random.default_rng(7)

    np.testing.assert_array_equal(keys, reference.standard_exponential(1000))
    assert generator.random() == reference.random()


def test_exponential_keys_of_zero_rows():
    assert _sampling.exponential_keys(np.random.default_rng(0), 0).shape == (0,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [1, 2, 17, 1000, 50_000])
def test_weighted_keys_and_selection_match_reference(dtype, n_rows):
    rng = np.random.default_rng(n_rows)
    weights = rng.random(n_rows).astype(dtype)
    weights[rng.random(n_rows) < 0.2] = 0
    keys = _sampling.exponential_keys(np.random.default_rng(3), n_rows)
    _sampling.divide_by_weights(keys, weights)
    expected_keys = reference_keys(3, weights.astype(np.float64))

    np.testing.assert_array_equal(np.isinf(keys), weights == 0)
    np.testing.assert_allclose(keys, expected_keys, rtol=1e-15)
    for k in sorted({0, 1, n_rows // 3, n_rows // 2, n_rows}):
        np.testing.assert_array_equal(
            _sampling.select_smallest(keys, k), reference_smallest(keys, k)
        )


def test_selection_breaks_ties_by_lower_row():
    keys = np.array([2.0, 1.0, 1.0, np.inf, 1.0, np.inf, 0.5])

    np.testing.assert_array_equal(_sampling.select_smallest(keys, 4), [6, 1, 2, 4])
    np.testing.assert_array_equal(
        _sampling.select_smallest(keys, 7), [6, 1, 2, 4, 0, 3, 5]
    )


@pytest.mark.parametrize("pattern", ["ascending", "descending", "constant", "organ"])
def test_selection_on_adversarial_orders(pattern):
    n_rows = 20_001
    keys = {
        "ascending": np.arange(n_rows, dtype=float),
        "descending": np.arange(n_rows, dtype=float)[::-1].copy(),
        "constant": np.ones(n_rows),
        "organ": np.abs(np.arange(n_rows) - n_rows // 2).astype(float),
    }[pattern]

    for k in (1, 100, n_rows // 2, n_rows - 1):
        np.testing.assert_array_equal(
            _sampling.select_smallest(keys, k), reference_smallest(keys, k)
        )


def test_stratified_select_matches_reference():
    rng = np.random.default_rng(0)
    n_rows, n_strata = 30_000, 57
    codes = rng.integers(0, n_strata, n_rows).astype(np.intp)
    codes[codes == 5] = 6  # stratum 5 is empty
    sizes = np.bincount(codes, minlength=n_strata)
    take = rng.integers(0, sizes + 1).astype(np.int64)
    take[[0, 1]] = [0, sizes[1]]
    keys = _sampling.exponential_keys(np.random.default_rng(1), n_rows)

    mask = _sampling.stratified_select(keys, codes, take)

    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, reference_stratified(keys, codes, take))
    np.testing.assert_array_equal(np.bincount(codes[mask], minlength=n_strata), take)


def test_stratified_select_of_zero_rows():
    empty = np.empty(0)
    mask = _sampling.stratified_select(
        empty, np.empty(0, np.intp), np.zeros(2, np.int64)
    )
    assert mask.shape == (0,)


def test_kernels_do_not_depend_on_the_thread_count():
    script = (
        "import numpy as np; from skfast._native import _sampling as s;"
        "k = s.exponential_keys(np.random.default_rng(0), 200_000);"
        "w = np.random.default_rng(1).random(200_000); s.divide_by_weights(k, w);"
        "c = np.random.default_rng(2).integers(0, 40, 200_000).astype(np.intp);"
        "m = s.stratified_select(k, c, np.full(40, 1000, np.int64));"
        "print(s.select_smallest(k, 5000).sum(), np.flatnonzero(m).sum())"
    )
    outputs = set()
    for threads in ("1", "2", "3"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


@pytest.mark.parametrize("seed", range(40))
def test_allocate_matches_the_greedy_definition(seed):
    rng = np.random.default_rng(seed)
    n_strata = int(rng.integers(1, 30))
    size = rng.integers(0, 50, n_strata).astype(np.int64)
    total = int(size.sum())
    n = int(rng.integers(0, total + 1))
    share = size / max(total, 1)
    target = n * share
    lower = np.minimum(rng.integers(0, 3, n_strata), size).astype(np.int64)
    upper = np.maximum(size - rng.integers(0, 3, n_strata), lower).astype(np.int64)
    if not lower.sum() <= n <= upper.sum():
        n = int(np.clip(n, lower.sum(), upper.sum()))
        target = n * share

    alloc = _sampling.allocate(target, lower, upper, size, n)

    assert alloc.sum() == n
    assert np.all((lower <= alloc) & (alloc <= upper))
    np.testing.assert_array_equal(
        alloc, reference_allocate(target, lower, upper, size, n)
    )


def test_allocate_is_largest_remainder_without_bounds():
    size = np.array([41, 29, 17, 13], dtype=np.int64)
    n = 10
    target = n * size / size.sum()

    alloc = _sampling.allocate(target, np.zeros(4, np.int64), size, size, n)

    # Hamilton's method by hand: floors [4, 2, 1, 1], remainders
    # [.1, .9, .7, .3], so the two largest remainders get a unit.
    np.testing.assert_array_equal(alloc, [4, 3, 2, 1])


def exact_sample_probabilities(weights, n):
    """Probability of each unordered sample under successive sampling."""
    weights = np.asarray(weights, dtype=float)
    probabilities = {}
    for sequence in itertools.permutations(range(len(weights)), n):
        probability, left = 1.0, weights.sum()
        for row in sequence:
            probability *= weights[row] / left
            left -= weights[row]
        sample = tuple(sorted(sequence))
        probabilities[sample] = probabilities.get(sample, 0.0) + probability
    return probabilities


def test_weighted_selection_has_the_successive_design():
    weights = np.array([5.0, 3.0, 1.0, 1.0, 0.5])
    n, repeats = 2, 40_000
    generator = np.random.default_rng(12345)
    observed = {}
    for _ in range(repeats):
        keys = _sampling.exponential_keys(generator, len(weights))
        _sampling.divide_by_weights(keys, weights)
        sample = tuple(sorted(_sampling.select_smallest(keys, n)))
        observed[sample] = observed.get(sample, 0) + 1

    # Each repeat yields one of the ten possible samples, so the counts are
    # multinomial and a chi-square goodness-of-fit test applies exactly.
    exact = exact_sample_probabilities(weights, n)
    counts = np.array([observed.get(sample, 0) for sample in exact])
    expected = np.array(list(exact.values())) * repeats
    assert counts.sum() == repeats
    assert stats.chisquare(counts, expected).pvalue > 1e-3
