"""The Cython sampling kernels against plain NumPy references."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from skfast._native import _sampling

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def reference_uniform(seed, rows):
    """SplitMix64's output at each position, as a double in (0, 1)."""
    with np.errstate(over="ignore"):
        z = (
            np.uint64(seed)
            + (np.asarray(rows, dtype=np.uint64) + np.uint64(1)) * GOLDEN
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def reference_keys(seed, weights):
    weights = np.asarray(weights, dtype=np.float64)
    exponential = -np.log(reference_uniform(seed, np.arange(len(weights))))
    with np.errstate(divide="ignore"):
        return np.where(
            weights > 0, exponential / np.where(weights > 0, weights, 1), np.inf
        )


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


def test_seed_is_the_generators_next_raw_draw():
    seed = _sampling.draw_seed(np.random.default_rng(7))
    assert seed == int(np.random.default_rng(7).bit_generator.random_raw())


@pytest.mark.parametrize("start", [0, 1, 12345, 2**40])
def test_keys_follow_the_counter_stream(start):
    seed, n_rows = 987654321, 5000
    rows = start + np.arange(n_rows)

    np.testing.assert_array_equal(
        _sampling.uniform_keys(seed, start, n_rows), reference_uniform(seed, rows)
    )
    np.testing.assert_allclose(
        _sampling.exponential_keys(seed, start, n_rows),
        -np.log(reference_uniform(seed, rows)),
        rtol=1e-15,
    )


def test_keys_are_uniform_and_independent():
    keys = _sampling.uniform_keys(2024, 0, 200_000)

    assert 0 < keys.min() and keys.max() < 1
    assert stats.kstest(keys, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(keys[:-1], keys[1:])[0, 1]) < 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_keys_and_keys_at_rows(dtype):
    rng = np.random.default_rng(1)
    weights = rng.random(3000).astype(dtype)
    weights[rng.random(3000) < 0.2] = 0
    keys = _sampling.weighted_keys(77, 0, weights)

    np.testing.assert_array_equal(np.isinf(keys), weights == 0)
    np.testing.assert_allclose(
        keys, reference_keys(77, weights.astype(float)), rtol=1e-14
    )
    rows = np.array([5, 17, 2999, 0], dtype=np.intp)
    np.testing.assert_array_equal(
        _sampling.keys_at(77, rows, weights[rows]), keys[rows]
    )


@pytest.mark.parametrize("n_rows", [1, 2, 17, 1000, 70_000, 300_000])
def test_kth_smallest_and_selection_match_reference(n_rows):
    keys = _sampling.weighted_keys(
        n_rows, 0, np.random.default_rng(n_rows).random(n_rows)
    )
    for k in sorted({1, min(2, n_rows), n_rows // 100 + 1, n_rows // 3 + 1, n_rows}):
        order = reference_smallest(keys, k)
        key, row = _sampling.kth_smallest(keys, k)
        assert (key, row) == (keys[order[-1]], order[-1])
        np.testing.assert_array_equal(
            np.flatnonzero(_sampling.mask_up_to(keys, key, row)), np.sort(order)
        )
        np.testing.assert_array_equal(_sampling.select_smallest(keys, k), order)


def test_selection_breaks_ties_by_lower_row():
    keys = np.array([2.0, 1.0, 1.0, np.inf, 1.0, np.inf, 0.5])

    np.testing.assert_array_equal(_sampling.select_smallest(keys, 4), [6, 1, 2, 4])
    np.testing.assert_array_equal(
        _sampling.select_smallest(keys, 7), [6, 1, 2, 4, 0, 3, 5]
    )
    assert _sampling.kth_smallest(keys, 3) == (1.0, 2)


@pytest.mark.parametrize("pattern", ["ascending", "descending", "constant", "organ"])
def test_selection_on_adversarial_orders(pattern):
    n_rows = 200_001
    keys = {
        "ascending": np.arange(n_rows, dtype=float),
        "descending": np.arange(n_rows, dtype=float)[::-1].copy(),
        "constant": np.ones(n_rows),
        "organ": np.abs(np.arange(n_rows) - n_rows // 2).astype(float),
    }[pattern]

    for k in (1, 100, 30_000, n_rows // 2, n_rows - 1):
        order = reference_smallest(keys, k)
        assert _sampling.kth_smallest(keys, k) == (keys[order[-1]], order[-1])
        np.testing.assert_array_equal(_sampling.select_smallest(keys, k), order)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_candidates_hold_every_key_under_the_bound(dtype):
    weights = np.random.default_rng(3).random(100_000).astype(dtype)
    weights[::7] = 0
    keys = _sampling.weighted_keys(11, 0, weights)
    bound = np.quantile(keys[np.isfinite(keys)], 0.05)

    rows, draws = _sampling.weighted_candidates(11, weights, bound, 100)

    np.testing.assert_array_equal(draws, reference_uniform(11, rows))
    assert np.all(np.diff(rows) > 0)
    assert set(np.flatnonzero(keys <= bound)) <= set(rows)
    assert len(rows) < 1.2 * np.count_nonzero(keys <= bound)


@pytest.mark.parametrize("k", [1, 500, 4000])
def test_fused_selection_matches_full_selection(k):
    uniform = _sampling.uniform_keys(21, 0, 80_000)

    rows = _sampling.uniform_selection(21, 80_000, np.sort(uniform)[2 * k], k)
    np.testing.assert_array_equal(rows, np.sort(reference_smallest(uniform, k)))
    # A bound below the k-th key cannot certify the selection.
    below = np.nextafter(np.sort(uniform)[k - 1], 0)
    assert _sampling.uniform_selection(21, 80_000, below, k) is None


def test_uniform_candidates_by_stratum():
    codes = np.random.default_rng(4).integers(0, 5, 50_000).astype(np.intp)
    bounds = np.array([0.0, 0.1, 0.5, 1.0, 0.01])
    keys = _sampling.uniform_keys(5, 0, 50_000)

    rows, candidate_keys = _sampling.uniform_candidates_by_stratum(5, 0, codes, bounds)

    np.testing.assert_array_equal(rows, np.flatnonzero(keys <= bounds[codes]))
    np.testing.assert_array_equal(candidate_keys, keys[rows])


def test_stratified_select_matches_reference():
    rng = np.random.default_rng(0)
    n_rows, n_strata = 30_000, 57
    codes = rng.integers(0, n_strata, n_rows).astype(np.intp)
    codes[codes == 5] = 6  # stratum 5 is empty
    sizes = np.bincount(codes, minlength=n_strata)
    take = rng.integers(0, sizes + 1).astype(np.int64)
    take[[0, 1]] = [0, sizes[1]]
    keys = _sampling.uniform_keys(1, 0, n_rows)

    mask = _sampling.stratified_select(keys, codes, take)

    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, reference_stratified(keys, codes, take))
    np.testing.assert_array_equal(np.bincount(codes[mask], minlength=n_strata), take)


def test_stratified_select_of_zero_rows():
    mask = _sampling.stratified_select(
        np.empty(0), np.empty(0, np.intp), np.zeros(2, np.int64)
    )
    assert mask.shape == (0,)


def alias_distribution(table):
    """The probability of each row under an alias table."""
    n = len(table)
    mass = table["accept"].copy()
    np.add.at(mass, table["alias"], 1 - table["accept"])
    return mass / n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_alias_table_reproduces_the_weights(dtype):
    weights = np.random.default_rng(8).pareto(1.5, 5000).astype(dtype)
    weights[::13] = 0
    table = _sampling.alias_table(weights)

    assert np.all((table["accept"] >= 0) & (table["accept"] <= 1))
    np.testing.assert_allclose(
        alias_distribution(table), weights / weights.astype(float).sum(), atol=1e-12
    )


def test_alias_and_uniform_draws_follow_their_distributions():
    weights = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    draws = _sampling.alias_draws(_sampling.alias_table(weights), 99, 0, 200_000)
    counts = np.bincount(draws, minlength=6)
    assert counts[4] == 0
    expected = 200_000 * weights / weights.sum()
    assert stats.chisquare(counts[weights > 0], expected[weights > 0]).pvalue > 1e-3

    uniform = _sampling.uniform_draws(99, 0, 100_000, 7)
    assert stats.chisquare(np.bincount(uniform, minlength=7)).pvalue > 1e-3

    split = np.concatenate(
        [
            _sampling.alias_draws(_sampling.alias_table(weights), 99, start, 50_000)
            for start in (0, 50_000, 100_000, 150_000)
        ]
    )
    np.testing.assert_array_equal(split, draws)


def test_counting_and_expanding_rows():
    draws = np.array([3, 0, 3, 2, 3], dtype=np.intp)
    counts = _sampling.count_rows(draws, 5)

    np.testing.assert_array_equal(counts, np.bincount(draws, minlength=5))
    np.testing.assert_array_equal(_sampling.counts_to_rows(counts, 5), np.sort(draws))


def test_pivotal_selection_keeps_size_and_probabilities():
    probabilities = np.array([0.5, 0.3, 0.2, 0.6, 0.4, 1.0, 0.0, 0.7, 0.3])
    n, repeats = int(round(probabilities.sum())), 40_000
    counts = np.zeros(len(probabilities))
    for seed in range(repeats):
        mask, _, open_row, carried = _sampling.pivotal_select(
            probabilities, seed * 7919 + 1, 0, -1, 0.0
        )
        if open_row >= 0 and carried >= 0.5:
            mask[open_row] = True
        assert mask.sum() == n
        counts += mask

    # A binomial z-score per row; the rows are dependent, so each is checked
    # on its own at a strict level.
    errors = np.sqrt(probabilities * (1 - probabilities) / repeats)
    z = np.abs(counts / repeats - probabilities) / np.where(errors > 0, errors, 1)
    assert np.all(z < 4.5)
    assert counts[5] == repeats and counts[6] == 0


def test_kernels_do_not_depend_on_the_thread_count():
    script = (
        "import numpy as np; from skfast._native import _sampling as s;"
        "w = np.random.default_rng(1).random(300_000);"
        "k = s.weighted_keys(5, 0, w);"
        "c = np.random.default_rng(2).integers(0, 40, 300_000).astype(np.intp);"
        "m = s.stratified_select(k, c, np.full(40, 1000, np.int64));"
        "r, ck = s.weighted_candidates(5, w, 0.05, 1000);"
        "u = s.uniform_selection(5, 300_000, 0.05, 10_000);"
        "t = s.alias_table(w); d = s.alias_draws(t, 5, 0, 100_000);"
        "print(s.select_smallest(k, 5000).sum(), np.flatnonzero(m).sum(),"
        " r.sum(), ck.sum(), d.sum(), t['alias'].sum(), u.sum())"
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
    observed = {}
    for seed in range(repeats):
        keys = _sampling.weighted_keys(seed * 104729 + 17, 0, weights)
        sample = tuple(sorted(_sampling.select_smallest(keys, n)))
        observed[sample] = observed.get(sample, 0) + 1

    # Each repeat yields one of the ten possible samples, so the counts are
    # multinomial and a chi-square goodness-of-fit test applies exactly.
    exact = exact_sample_probabilities(weights, n)
    counts = np.array([observed.get(sample, 0) for sample in exact])
    expected = np.array(list(exact.values())) * repeats
    assert counts.sum() == repeats
    assert stats.chisquare(counts, expected).pvalue > 1e-3
