"""Importance sampling and design-based estimates, checked by their design.

The statistical tests repeat a design over a fixed block of seeds and compare
the average estimate with the known population value, in units of the
standard error of that average; nothing is compared with a frozen random
stream.
"""

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import sparse
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from skfast.sampling import (
    CertaintyWarning,
    Estimate,
    _kernels,
    estimate,
    importance_sample,
    loss,
    margin,
    random_sample,
    stratified_sample,
    uncertainty,
    weighted_sample,
)

polars = pytest.importorskip("polars")

SEEDS = range(400)


def population(size, seed=12345):
    """Skewed values, and scores that track them with noise."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 1.0, size)
    return values, values + rng.exponential(0.3, size)


def mixture_probabilities(scores, n, floor):
    """The design's inclusion probabilities, computed from its definition."""
    mixture = (1 - floor) * scores / scores.mean() + floor
    return _kernels.pps_probabilities(mixture, n, warn=False)


def repeat(values, scores, n, *, floor=0.1, statistic="total"):
    """Estimates from one importance sample per seed."""
    results = []
    for seed in SEEDS:
        rows, weights = importance_sample(
            values,
            n,
            scores=scores,
            floor=floor,
            random_state=seed,
            return_indices=True,
        )
        results.append(estimate(values[rows], statistic=statistic, weights=weights))
    return results


def z_score(estimates, truth):
    """Distance of the mean estimate from the truth, in its standard errors."""
    estimates = np.asarray(estimates)
    error = estimates.std(ddof=1) / np.sqrt(estimates.size)
    return (estimates.mean() - truth) / error


def coverage(results, truth):
    return np.mean([r.ci_low <= truth <= r.ci_high for r in results])


def test_horvitz_thompson_total_is_unbiased_and_covered():
    values, scores = population(2000)
    results = repeat(values, scores, 100)

    assert abs(z_score([r.value for r in results], values.sum())) < 3
    assert coverage(results, values.sum()) >= 0.9


@pytest.mark.filterwarnings("ignore::skfast.sampling.CertaintyWarning")
def test_hajek_mean_is_unbiased_to_first_order_and_covered():
    # The ratio of two estimated totals has a bias of order 1/n: with n=100
    # of these skewed values it is about 0.08 of a standard deviation, which
    # 400 seeds can resolve. At n=400 it is well below what they resolve.
    values, scores = population(4000)
    results = repeat(values, scores, 400, statistic="mean")

    assert abs(z_score([r.value for r in results], values.mean())) < 3
    assert coverage(results, values.mean()) >= 0.9


def test_scores_that_track_the_values_beat_uniform_sampling():
    values, scores = population(2000)
    n = 100
    importance = [r.value for r in repeat(values, scores, n)]
    uniform = []
    for seed in SEEDS:
        rows = random_sample(values, n, random_state=seed, return_indices=True)
        uniform.append(np.sum(values[rows]) * values.size / n)

    ratio = np.var(importance, ddof=1) / np.var(uniform, ddof=1)
    assert ratio < 0.25
    assert abs(z_score(uniform, values.sum())) < 3


def test_design_weights_are_the_inverse_mixture_probabilities():
    values, scores = population(500)
    for floor in (0.0, 0.1, 0.5, 1.0):
        rows, weights = importance_sample(
            values,
            40,
            scores=scores,
            floor=floor,
            random_state=3,
            return_indices=True,
        )
        expected = 1 / mixture_probabilities(scores, 40, floor)[rows]
        np.testing.assert_allclose(weights, expected, rtol=1e-12)


def test_design_weights_sum_to_the_population_size_in_expectation():
    values, scores = population(2000)
    sums = []
    for seed in SEEDS:
        _, weights = importance_sample(
            values, 100, scores=scores, random_state=seed, return_indices=True
        )
        sums.append(weights.sum())

    assert abs(z_score(sums, 2000)) < 3


def test_inclusion_frequencies_follow_the_design():
    scores = np.r_[np.zeros(5), np.arange(1.0, 16.0)]
    n, repeats = 6, 4000
    probabilities = mixture_probabilities(scores, n, 0.2)
    counts = np.zeros(scores.size)
    for seed in range(repeats):
        rows, _ = importance_sample(
            scores,
            n,
            scores=scores,
            floor=0.2,
            random_state=seed,
            return_indices=True,
        )
        assert rows.size == n
        counts[rows] += 1

    errors = np.sqrt(probabilities * (1 - probabilities) / repeats)
    assert np.all(np.abs(counts / repeats - probabilities) / errors < 4.5)
    assert np.all(probabilities[:5] == pytest.approx(0.2 * n / scores.size))
    assert np.all(counts[:5] > 0)


def test_a_positive_floor_leaves_no_row_impossible():
    scores = np.r_[np.zeros(50), np.full(50, 1e6)]
    probabilities = mixture_probabilities(scores, 10, 0.01)
    assert np.all(probabilities > 0)

    _, weights = importance_sample(
        scores, 10, scores=scores, floor=0.01, random_state=0, return_indices=True
    )
    assert np.all(np.isfinite(weights)) and weights.max() <= 100 / (0.01 * 10)


def test_floor_zero_never_draws_rows_of_score_zero():
    scores = np.r_[np.zeros(30), np.arange(1.0, 31.0)]
    for seed in range(200):
        rows, _ = importance_sample(
            scores,
            12,
            scores=scores,
            floor=0.0,
            random_state=seed,
            return_indices=True,
        )
        assert rows.min() >= 30

    with pytest.raises(ValueError, match=r"only the 30 of the 60 rows"):
        importance_sample(scores, 31, scores=scores, floor=0.0)
    with pytest.warns(CertaintyWarning):
        importance_sample(scores, 31, scores=scores, floor=0.1)


def test_zero_scores_give_a_uniform_sample_unless_floor_is_zero():
    rows, weights = importance_sample(
        np.arange(10), 4, scores=np.zeros(10), random_state=0, return_indices=True
    )
    np.testing.assert_allclose(weights, 2.5)
    with pytest.raises(ValueError, match="every one of the 10 scores is zero"):
        importance_sample(np.arange(10), 4, scores=np.zeros(10), floor=0.0)


def test_floor_one_ignores_the_scores():
    values, scores = population(100)
    _, weights = importance_sample(
        values, 10, scores=scores, floor=1.0, random_state=0, return_indices=True
    )
    np.testing.assert_allclose(weights, 10.0)


def test_certainty_rows_are_taken_and_the_warning_points_at_the_caller():
    scores = np.r_[1000.0, np.ones(99)]
    with pytest.warns(CertaintyWarning, match="1 rows") as caught:
        rows, weights = importance_sample(
            np.arange(100), 5, scores=scores, random_state=0, return_indices=True
        )
    assert caught[0].filename == __file__
    assert rows[0] == 0 and weights[0] == 1.0


def frames(values, scores):
    frame = pd.DataFrame({"value": values, "score": scores})
    return {
        "pandas": frame,
        "polars": polars.from_pandas(frame),
        "pyarrow": pa.Table.from_pandas(frame, preserve_index=False),
    }


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_tables_get_a_design_weight_column(kind):
    values, scores = population(300)
    data = frames(values, scores)[kind]
    rows, weights = importance_sample(
        values, 20, scores=scores, random_state=7, return_indices=True
    )

    sample = importance_sample(data, 20, scores="score", random_state=7)
    sample = pd.DataFrame(sample.to_pandas() if kind != "pandas" else sample)
    assert list(sample.columns) == ["value", "score", "design_weight"]
    np.testing.assert_array_equal(sample["value"].to_numpy(), values[rows])
    np.testing.assert_array_equal(sample["design_weight"].to_numpy(), weights)

    renamed = importance_sample(data, 5, scores="score", weight_column="w")
    assert "w" in (renamed.columns if kind != "pyarrow" else renamed.column_names)
    with pytest.raises(ValueError, match="already has a column 'score'"):
        importance_sample(data, 5, scores="score", weight_column="score")


def test_arrays_and_sparse_matrices_come_back_with_their_weights():
    values, scores = population(300)
    X = np.column_stack([values, scores])
    rows, weights = importance_sample(
        X, 20, scores=scores, random_state=1, return_indices=True
    )

    sample, sample_weights = importance_sample(X, 20, scores=scores, random_state=1)
    np.testing.assert_array_equal(sample, X[rows])
    np.testing.assert_array_equal(sample_weights, weights)

    matrix, matrix_weights = importance_sample(
        sparse.csr_matrix(X), 20, scores=scores, random_state=1
    )
    np.testing.assert_array_equal(matrix.toarray(), X[rows])
    np.testing.assert_array_equal(matrix_weights, weights)


def test_shuffle_keeps_the_rows_and_pairs_them_with_their_weights():
    values, scores = population(300)
    rows, weights = importance_sample(
        values, 30, scores=scores, random_state=2, return_indices=True
    )
    shuffled, shuffled_weights = importance_sample(
        values, 30, scores=scores, random_state=2, return_indices=True, shuffle=True
    )
    order = np.argsort(shuffled)
    assert not np.array_equal(shuffled, rows)
    np.testing.assert_array_equal(shuffled[order], rows)
    np.testing.assert_array_equal(shuffled_weights[order], weights)


def test_a_callable_receives_the_data():
    values, scores = population(200)
    frame = pd.DataFrame({"value": values, "score": scores})
    seen = []

    def score(data):
        seen.append(data)
        return data["score"].to_numpy()

    sample = importance_sample(frame, 10, scores=score, random_state=0)
    direct = importance_sample(frame, 10, scores="score", random_state=0)
    assert seen[0] is frame
    pd.testing.assert_frame_equal(sample, direct)


@pytest.mark.parametrize(("bad", "position"), [(-1.0, 3), (np.nan, 0), (np.inf, 7)])
def test_bad_scores_name_their_row(bad, position):
    scores = np.ones(10)
    scores[position] = bad
    with pytest.raises(ValueError, match=rf"scores\[{position}\] is"):
        importance_sample(np.arange(10), 3, scores=scores)


@pytest.mark.parametrize("floor", [-0.1, 1.5, np.nan])
def test_floor_must_lie_in_the_unit_interval(floor):
    with pytest.raises(ValueError, match="floor"):
        importance_sample(np.arange(10), 3, scores=np.ones(10), floor=floor)


def test_other_bad_input_is_explained():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="'b' is not a column"):
        importance_sample(frame, 2, scores="b")
    with pytest.raises(ValueError, match=r"returned by the callable have shape \(2,\)"):
        importance_sample(frame, 2, scores=lambda data: np.ones(2))
    with pytest.raises(ValueError, match="give one score per row"):
        importance_sample(frame, 2, scores=[1.0, 2.0])
    with pytest.raises(TypeError, match="must be numbers"):
        importance_sample(frame, 2, scores=["x", "y", "z"])
    with pytest.raises(ValueError, match="cannot draw n=4 rows"):
        importance_sample(frame, 4, scores="a")
    with pytest.raises(TypeError):
        importance_sample(frame, 2, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="no rows"):
        importance_sample(np.empty((0, 2)), 0, scores=np.empty(0))


@pytest.fixture(scope="module")
def iris_model():
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    return model, X, y


def test_uncertainty_and_margin_agree_with_predict_proba(iris_model):
    model, X, _ = iris_model
    proba = model.predict_proba(X)
    ordered = np.sort(proba, axis=1)

    np.testing.assert_allclose(uncertainty(model)(X), 1 - proba.max(axis=1))
    np.testing.assert_allclose(margin(model)(X), 1 - (ordered[:, -1] - ordered[:, -2]))


def test_loss_agrees_with_the_log_loss_of_each_row(iris_model):
    model, X, y = iris_model
    proba = model.predict_proba(X)
    expected = -np.log(proba[np.arange(len(y)), y.to_numpy()])

    np.testing.assert_allclose(loss(model, y.to_numpy())(X), expected)
    table = X.assign(label=y)
    np.testing.assert_allclose(loss(model, y="label")(table), expected)


def test_score_builders_pick_the_model_features_out_of_a_table(iris_model):
    model, X, y = iris_model
    table = X.assign(label=y, note="x")[["note", "label", *X.columns]]
    expected = uncertainty(model)(X)

    np.testing.assert_allclose(uncertainty(model)(table), expected)
    np.testing.assert_allclose(uncertainty(model)(polars.from_pandas(table)), expected)
    np.testing.assert_allclose(
        uncertainty(model)(pa.Table.from_pandas(table, preserve_index=False)),
        expected,
    )

    bare = LogisticRegression(max_iter=500).fit(X.to_numpy(), y)
    np.testing.assert_allclose(
        loss(bare, y="label")(X.assign(label=y)),
        loss(model, y="label")(table),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        margin(bare, features=[0, 1, 2, 3])(table[X.columns].to_numpy()),
        margin(bare)(X.to_numpy()),
    )
    with pytest.raises(ValueError, match="'petal width \\(cm\\)' is not a column"):
        uncertainty(model)(table.drop(columns="petal width (cm)"))


def test_score_builders_need_a_fitted_probabilistic_model(iris_model):
    model, X, y = iris_model
    with pytest.raises(ValueError, match="predict_proba"):
        uncertainty(object())
    with pytest.raises(Exception, match="not fitted"):
        margin(LogisticRegression())
    with pytest.raises(ValueError, match=r"y\[0\] is 'setosa'"):
        loss(model, y=np.full(len(y), "setosa"))(X)
    assert repr(loss(model, y="label")).startswith("loss(LogisticRegression(")


@pytest.mark.filterwarnings("ignore::skfast.sampling.CertaintyWarning")
def test_importance_sampling_with_a_model_score(iris_model):
    model, X, y = iris_model
    table = X.assign(label=y)
    sample = importance_sample(table, 30, scores=loss(model, y="label"), random_state=0)
    assert sample.shape == (30, 6)
    assert sample["design_weight"].min() >= 1


def test_estimate_formulas_by_hand():
    values = np.array([1.0, 4.0, 2.0, 8.0])
    weights = np.array([2.0, 1.0, 4.0, 1.0])
    n = 4

    total = estimate(values, statistic="total", weights=weights)
    t = np.sum(weights * values)
    variance = n / (n - 1) * np.sum((weights * values - t / n) ** 2)
    assert isinstance(total, Estimate) and total.n == 4
    assert total.value == pytest.approx(t)
    assert total.standard_error == pytest.approx(np.sqrt(variance))
    assert total.ci_high - total.value == pytest.approx(
        1.959963984540054 * np.sqrt(variance)
    )

    mean = estimate(values, weights=weights, confidence=0.9)
    m = t / weights.sum()
    variance = n / (n - 1) * np.sum((weights * (values - m)) ** 2) / weights.sum() ** 2
    assert mean.value == pytest.approx(m)
    assert mean.standard_error == pytest.approx(np.sqrt(variance))
    assert mean.value - mean.ci_low == pytest.approx(
        1.6448536269514722 * np.sqrt(variance)
    )

    matrix = np.column_stack([values * 0, values])
    assert estimate(matrix, 1, weights=weights, confidence=0.9) == mean


def test_estimate_from_a_pps_weighted_sample_is_unbiased():
    values, scores = population(1000)
    totals = []
    for seed in SEEDS:
        sample, pi = weighted_sample(
            values,
            50,
            weights=scores,
            design="pps",
            random_state=seed,
            return_probabilities=True,
        )
        totals.append(estimate(sample, statistic="total", weights=1 / pi))

    assert abs(z_score([t.value for t in totals], values.sum())) < 3
    assert coverage(totals, values.sum()) >= 0.9


def test_estimate_from_a_stratified_sample_is_unbiased():
    values, _ = population(1200)
    stratum = np.repeat([0, 1, 2], [900, 200, 100])
    values = values * (1 + stratum)
    means = []
    for seed in SEEDS:
        rows, pi = stratified_sample(
            values,
            stratum,
            60,
            allocation="equal",
            random_state=seed,
            return_indices=True,
            return_probabilities=True,
        )
        means.append(estimate(values[rows], weights=1 / pi))

    assert abs(z_score([m.value for m in means], values.mean())) < 3
    assert coverage(means, values.mean()) >= 0.9

    frame = pd.DataFrame({"value": values, "stratum": stratum})
    sample, pi = stratified_sample(
        frame,
        "stratum",
        60,
        allocation="equal",
        random_state=0,
        return_probabilities=True,
    )
    assert estimate(sample, "value", weights=1 / pi) == means[0]


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_estimate_reads_the_weight_column_of_any_table(kind):
    values, scores = population(300)
    sample = importance_sample(
        frames(values, scores)[kind], 30, scores="score", random_state=4
    )
    reference = importance_sample(
        values, 30, scores=scores, random_state=4, return_indices=True
    )
    rows, weights = reference

    assert estimate(sample, "value") == estimate(values[rows], weights=weights)


def test_estimate_explains_bad_input():
    frame = pd.DataFrame({"y": [1.0, 2.0, np.nan], "design_weight": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="name the column"):
        estimate(frame)
    with pytest.raises(ValueError, match="'z' is not a column"):
        estimate(frame, "z")
    with pytest.raises(ValueError, match="value at row 2 is nan"):
        estimate(frame, "y")
    with pytest.raises(ValueError, match="at least 2"):
        estimate(frame.iloc[:1], "y")
    with pytest.raises(ValueError, match="weight at row 1 is 0.0"):
        estimate([1.0, 2.0], weights=[1.0, 0.0])
    with pytest.raises(ValueError, match="weight at row 0 is -1.0"):
        estimate([1.0, 2.0], weights=[-1.0, 1.0])
    with pytest.raises(ValueError, match="no column names"):
        estimate([1.0, 2.0])
    with pytest.raises(ValueError, match="one design weight per row"):
        estimate([1.0, 2.0], weights=[1.0])
    with pytest.raises(TypeError, match="must be numbers"):
        estimate(["a", "b"], weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="statistic"):
        estimate([1.0, 2.0], statistic="median", weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="confidence"):
        estimate([1.0, 2.0], weights=[1.0, 1.0], confidence=1.0)


def test_no_warning_without_certainty_rows():
    values, scores = population(1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importance_sample(values, 20, scores=scores, random_state=0)
