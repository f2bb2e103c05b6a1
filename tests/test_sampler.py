"""The Sampler step and the pipeline that hands its design weights on."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from imblearn.over_sampling import SMOTE
from imblearn.under_sampling import RandomUnderSampler
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as parametrize_with_sampler_checks,
)
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfast.pipeline import Pipeline, make_pipeline
from skfast.sampling import (
    Sampler,
    importance_sample,
    inclusion_probabilities,
    stratified_sample,
)
from skfast.utils._containers import n_rows


class Recorder(ClassifierMixin, BaseEstimator):
    """A classifier that keeps what its fit was given."""

    def fit(self, X, y, sample_weight=None):
        self.n_fitted_ = n_rows(X)
        self.sample_weight_seen_ = sample_weight
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(n_rows(X), self.classes_[0])


class RecordingTransformer(TransformerMixin, BaseEstimator):
    """A transformer that keeps the sample_weight its fit was given."""

    def fit(self, X, y=None, sample_weight=None):
        self.sample_weight_seen_ = sample_weight
        return self

    def transform(self, X):
        return X


def imbalanced(n_rows=1000, minority=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    y = np.r_[np.zeros(n_rows - minority, dtype=int), np.ones(minority, dtype=int)]
    X[y == 1] += 1.5
    return X, y


class RowWeights:
    """Weights for the checks: positive, and defined for any X."""

    def __call__(self, X):
        return 1.0 + np.arange(n_rows(X)) % 7

    def __repr__(self):
        return "RowWeights()"


def test_stratified_counts_and_weights_are_exact():
    X, y = imbalanced()
    sampler = Sampler(n=100, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)

    assert np.bincount(y_res).tolist() == [90, 10]
    np.testing.assert_array_equal(
        sampler.sample_indices_,
        stratified_sample(X, y, 100, random_state=0, return_indices=True),
    )
    np.testing.assert_array_equal(X_res, X[sampler.sample_indices_])
    np.testing.assert_allclose(sampler.sample_weight_, 10.0)

    equal = Sampler(n=100, allocation="equal", random_state=0)
    _, y_equal = equal.fit_resample(X, y)
    assert np.bincount(y_equal).tolist() == [50, 50]
    np.testing.assert_allclose(equal.sample_weight_, np.where(y_equal == 1, 2, 18))

    mapping = Sampler(allocation={0: 30, 1: 7}, random_state=0)
    assert np.bincount(mapping.fit_resample(X, y)[1]).tolist() == [30, 7]


def test_stratified_by_a_column_of_a_table():
    X, y = imbalanced()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(group=np.arange(1000) % 4)
    sampler = Sampler(frac=0.1, by="group", random_state=1)
    X_res, y_res = sampler.fit_resample(frame, pd.Series(y, name="label"))

    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(frame)
    assert y_res.name == "label"
    assert np.bincount(X_res["group"].to_numpy()).tolist() == [25, 25, 25, 25]
    np.testing.assert_allclose(sampler.sample_weight_, 10.0)


def test_weighted_weights_are_inverse_pps_probabilities():
    X, y = imbalanced()
    weights = 1.0 + np.abs(X[:, 0])
    sampler = Sampler(method="weighted", weights=weights, n=50, random_state=2)
    _, y_res = sampler.fit_resample(X, y)

    probabilities = inclusion_probabilities(weights, 50, design="pps").probabilities
    assert y_res.shape == (50,)
    np.testing.assert_allclose(
        sampler.sample_weight_, 1 / probabilities[sampler.sample_indices_]
    )


def test_importance_matches_importance_sample_and_reads_the_table():
    X, y = imbalanced()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(score=np.abs(X[:, 0]))
    seen = []

    def scores(data):
        seen.append(data)
        return data["score"].to_numpy()

    by_callable = Sampler(
        method="importance", scores=scores, frac=0.05, floor=0.2, random_state=3
    )
    by_callable.fit_resample(frame, y)
    by_name = Sampler(
        method="importance", scores="score", n=50, floor=0.2, random_state=3
    )
    by_name.fit_resample(frame, y)
    rows, weights = importance_sample(
        frame, 50, scores="score", floor=0.2, random_state=3, return_indices=True
    )

    assert seen[0] is frame
    for sampler in (by_callable, by_name):
        np.testing.assert_array_equal(sampler.sample_indices_, rows)
        np.testing.assert_array_equal(sampler.sample_weight_, weights)


def test_sampler_explains_missing_options():
    X, y = imbalanced(100, 20)
    with pytest.raises(ValueError, match="method='weighted' needs weights="):
        Sampler(method="weighted", n=10).fit_resample(X, y)
    with pytest.raises(ValueError, match="exactly one of n and frac"):
        Sampler(method="importance", scores=np.ones(100)).fit_resample(X, y)
    with pytest.raises(ValueError, match="exactly one of n and frac"):
        Sampler(n=10, frac=0.1).fit_resample(X, y)
    with pytest.raises(ValueError, match="has no column names"):
        Sampler(method="weighted", weights="w", n=10).fit_resample(X, y)
    with pytest.raises(ValueError, match="floor"):
        Sampler(method="importance", floor=2.0).fit_resample(X, y)
    with pytest.raises(ValueError, match="one weight per row"):
        Sampler(method="weighted", weights=np.ones(99), n=10).fit_resample(X, y)


def test_final_estimator_and_later_steps_get_the_design_weights():
    X, y = imbalanced()
    pipe = Pipeline(
        [
            ("sample", Sampler(n=100, allocation="equal", random_state=0)),
            ("record", RecordingTransformer()),
            ("model", Recorder()),
        ]
    ).fit(X, y)

    expected = pipe.named_steps["sample"].sample_weight_
    assert pipe.named_steps["model"].n_fitted_ == 100
    np.testing.assert_array_equal(
        pipe.named_steps["model"].sample_weight_seen_, expected
    )
    np.testing.assert_array_equal(
        pipe.named_steps["record"].sample_weight_seen_, expected
    )


def test_steps_before_the_sampler_get_no_design_weights():
    X, y = imbalanced()
    pipe = make_pipeline(
        RecordingTransformer(), Sampler(n=100, random_state=0), Recorder()
    ).fit(X, y)
    assert pipe.steps[0][1].sample_weight_seen_ is None


def test_given_sample_weight_is_subset_and_multiplied():
    X, y = imbalanced()
    given = np.linspace(1, 2, 1000)
    pipe = make_pipeline(
        Sampler(n=100, allocation="equal", random_state=0), Recorder()
    ).fit(X, y, recorder__sample_weight=given)

    sampler = pipe.named_steps["sampler"]
    np.testing.assert_allclose(
        pipe.named_steps["recorder"].sample_weight_seen_,
        sampler.sample_weight_ * given[sampler.sample_indices_],
    )


def test_weights_follow_any_sampler_with_sample_indices():
    X, y = imbalanced()
    given = np.linspace(1, 2, 1000)
    pipe = make_pipeline(
        Sampler(n=400, random_state=0),
        RandomUnderSampler(random_state=0),
        Recorder(),
    ).fit(X, y, recorder__sample_weight=given)

    design, under = pipe.steps[0][1], pipe.steps[1][1]
    rows = design.sample_indices_[under.sample_indices_]
    np.testing.assert_allclose(
        pipe.named_steps["recorder"].sample_weight_seen_,
        design.sample_weight_[under.sample_indices_] * given[rows],
    )

    two_phase = make_pipeline(
        Sampler(n=400, random_state=0),
        Sampler(
            method="weighted",
            weights=lambda X: 1 + np.abs(X[:, 0]),
            n=100,
            random_state=1,
        ),
        Recorder(),
    ).fit(X, y)
    first, second = two_phase.steps[0][1], two_phase.steps[1][1]
    np.testing.assert_allclose(
        two_phase.named_steps["recorder"].sample_weight_seen_,
        first.sample_weight_[second.sample_indices_] * second.sample_weight_,
    )


def test_weights_cannot_follow_rows_without_sample_indices():
    X, y = imbalanced()
    pipe = make_pipeline(
        Sampler(n=200, random_state=0), SMOTE(random_state=0), Recorder()
    )
    with pytest.raises(ValueError, match="Put 'smote' before 'sampler'"):
        pipe.fit(X, y)

    before = make_pipeline(
        SMOTE(random_state=0), Sampler(n=200, random_state=0), Recorder()
    ).fit(X, y)
    np.testing.assert_array_equal(
        before.named_steps["recorder"].sample_weight_seen_,
        before.named_steps["sampler"].sample_weight_,
    )


def test_final_estimator_without_sample_weight_is_warned_about():
    X, y = imbalanced()
    unequal = make_pipeline(
        Sampler(n=100, allocation="equal", random_state=0), KNeighborsClassifier()
    )
    with pytest.warns(UserWarning, match="takes no sample_weight") as caught:
        unequal.fit(X, y)
    assert caught[0].filename == __file__

    # Proportional allocation here gives every row the weight 10: nothing lost.
    equal = make_pipeline(Sampler(n=100, random_state=0), KNeighborsClassifier())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        equal.fit(X, y)


def test_with_metadata_routing_and_caching(tmp_path):
    X, y = imbalanced()
    given = np.linspace(1, 2, 1000)
    with sklearn.config_context(enable_metadata_routing=True):
        model = Recorder().set_fit_request(sample_weight=True)
        pipe = Pipeline(
            [
                ("sample", Sampler(n=100, allocation="equal", random_state=0)),
                ("model", model),
            ],
            memory=str(tmp_path),
        ).fit(X, y, sample_weight=given)

    sampler = pipe.named_steps["sample"]
    np.testing.assert_allclose(
        pipe.named_steps["model"].sample_weight_seen_,
        sampler.sample_weight_ * given[sampler.sample_indices_],
    )


def test_cross_validation_with_the_pipeline():
    X, y = imbalanced()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    pipe = make_pipeline(
        Sampler(
            method="importance",
            scores=lambda X: 1 + np.abs(X["a"].to_numpy()),
            frac=0.3,
            random_state=0,
        ),
        LogisticRegression(),
    )
    scores = cross_val_score(pipe, frame, y, cv=3)
    assert scores.shape == (3,) and np.all((scores > 0.5) & (scores <= 1))

    weighted = cross_val_score(
        make_pipeline(Sampler(frac=0.5, random_state=0), Recorder()),
        X,
        y,
        cv=3,
        params={"recorder__sample_weight": np.ones(1000)},
    )
    assert weighted.shape == (3,)


CHECKED = [
    Sampler(frac=0.5, random_state=0),
    Sampler(method="weighted", weights=RowWeights(), frac=0.4, random_state=0),
    Sampler(method="importance", scores=RowWeights(), frac=0.3, random_state=0),
]

# Every check passes; the dict is where an expected failure would be named.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@pytest.mark.filterwarnings("ignore::skfast.sampling.CertaintyWarning")
@parametrize_with_sampler_checks(
    CHECKED, expected_failed_checks=_expected_failed_checks
)
def test_imbalanced_learn_sampler_checks(estimator, check):
    check(estimator)


@parametrize_with_checks(CHECKED[:1], expected_failed_checks=_expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
