"""Known answers and properties of the bandit's formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eros.bandit import (
    CaptionBandit,
    caption_evidence,
    decay_weights,
    effective_trials_factor,
    empirical_bayes_prior,
    intra_class_correlation,
    intra_class_correlations,
    wilson_bounds,
)


@pytest.mark.parametrize(
    ("successes", "failures", "low", "high"),
    [
        (1, 1, 0.0945, 0.9055),
        (10, 5, 0.4171, 0.8482),
        (50, 50, 0.4038, 0.5962),
        (20, 10, 0.4878, 0.8077),
    ],
)
def test_wilson_known_answers(successes: int, failures: int, low: float, high: float) -> None:
    lower, upper = wilson_bounds(successes, successes + failures)
    assert (round(float(lower), 4), round(float(upper), 4)) == (low, high)


def test_wilson_without_trials_is_uninformative() -> None:
    lower, upper = wilson_bounds(np.array([0.0]), np.array([0.0]))
    assert (float(lower[0]), float(upper[0])) == (0.0, 1.0)


def test_decay_halves_every_half_life() -> None:
    weights = decay_weights(np.array([0.0, 30.0, 60.0, -5.0]), 30.0)
    assert weights.tolist() == [1.0, 0.5, 0.25, 1.0]


def test_a_huge_send_counts_as_at_most_one_over_rho_viewers() -> None:
    factor = effective_trials_factor(np.array([1.0, 1_000.0, 1_000_000.0]), rho=0.01)
    effective = factor * np.array([1.0, 1_000.0, 1_000_000.0])
    assert effective[0] == 1.0
    assert effective[1] == pytest.approx(1_000 / (1 + 999 * 0.01))
    assert effective[2] < 100.0
    assert effective_trials_factor(np.array([5_000.0]), rho=0.0)[0] == 1.0


def beta_binomial_sends(
    rng: np.random.Generator, rho: float, captions: int = 40, sends: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    concentration = (1 - rho) / rho
    rates = rng.beta(2, 30, captions)
    groups = np.repeat(np.arange(captions), sends)
    viewed = rng.integers(500, 3_000, groups.size).astype(float)
    send_rates = rng.beta(rates[groups] * concentration, (1 - rates[groups]) * concentration)
    purchased = rng.binomial(viewed.astype(np.int64), send_rates).astype(float)
    return purchased, viewed, groups


@pytest.mark.parametrize("rho", [0.002, 0.01, 0.03])
def test_intra_class_correlation_is_recovered(rho: float, rng: np.random.Generator) -> None:
    purchased, viewed, groups = beta_binomial_sends(rng, rho)
    assert intra_class_correlation(purchased, viewed, groups) == pytest.approx(rho, rel=0.35)


def test_binomial_data_show_no_overdispersion(rng: np.random.Generator) -> None:
    groups = np.repeat(np.arange(30), 10)
    viewed = np.full(groups.size, 1_000.0)
    purchased = rng.binomial(1_000, 0.05, groups.size).astype(float)
    assert intra_class_correlation(purchased, viewed, groups) < 0.002


def test_empirical_bayes_prior_matches_the_spread_and_is_capped(rng: np.random.Generator) -> None:
    rates = rng.beta(4, 36, 400)  # mean 0.1, strength 40
    trials = np.full(400, 5_000.0)
    successes = rng.binomial(5_000, rates).astype(float)
    prior = empirical_bayes_prior(successes, trials - successes, strength_cap=1_000)
    assert prior.mean == pytest.approx(0.1, abs=0.01)
    assert prior.strength == pytest.approx(40, rel=0.3)
    capped = empirical_bayes_prior(successes, trials - successes, strength_cap=10)
    assert capped.strength == 10
    assert capped.mean == pytest.approx(prior.mean)


def test_empirical_bayes_prior_known_answer() -> None:
    # Rates 0.1, 0.2, 0.3 on 100 trials each: mean 0.2; spread Σt(r − m)²/Σt = 0.02/3, minus the
    # binomial noise 3·0.16/300 = 0.0016, leaves 0.0050667 = 0.16 / (strength + 1).
    prior = empirical_bayes_prior(np.array([10.0, 20.0, 30.0]), np.array([90.0, 80.0, 70.0]))
    strength = 0.16 / (0.02 / 3 - 0.0016) - 1
    assert prior.mean == pytest.approx(0.2)
    assert prior.strength == pytest.approx(strength)
    assert (prior.alpha, prior.beta) == pytest.approx((0.2 * strength, 0.8 * strength))
    assert empirical_bayes_prior(np.array([1.0, 0.0]), np.array([9.0, 0.0])).mean == 0.05


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_many_pages_at_once_match_each_page_alone(pages: int, seed: int) -> None:
    """ρ per page, decayed evidence with each send's page ρ, and posteriors fitted with each
    (page, price tier) group under its page: identical to the pages fitted one by one."""
    rng = np.random.default_rng(seed)
    captions, tiers = 30, 3
    per_page = []
    for _ in range(pages):
        sends = int(rng.integers(20, 80))
        caption = rng.integers(0, captions, sends)
        viewed = rng.integers(0, 3_000, sends).astype(float)
        rates = rng.beta(2, 30, captions) * (rng.random(captions) > 0.1)
        send_rates = np.minimum(rates[caption] * rng.lognormal(0, 0.3, sends), 1.0)  # overdispersed
        purchased = rng.binomial(viewed.astype(np.int64), send_rates).astype(float)
        age = rng.uniform(0, 200, sends)
        tier = rng.integers(0, tiers, captions)
        per_page.append((caption, viewed, purchased, age, tier))

    caption = np.concatenate([p[0] + page * captions for page, p in enumerate(per_page)])
    page_of = np.concatenate([np.full(p[0].size, page) for page, p in enumerate(per_page)])
    viewed, purchased, age = (np.concatenate([p[i] for p in per_page]) for i in (1, 2, 3))
    rho = intra_class_correlations(purchased, viewed, caption, page_of, pages)
    successes, failures, _ = caption_evidence(
        caption, pages * captions, viewed, purchased, age, 90.0, rho[page_of]
    )
    group = np.concatenate([p[4] + page * tiers for page, p in enumerate(per_page)])
    parent = np.repeat(np.arange(pages), tiers)
    together = CaptionBandit(np.random.default_rng(0)).fit(successes, failures, group, parent)

    assert pages == 1 or rho.max() > rho.min()  # the pages' ρ differ: a shared ρ would fail
    for page, (caption, viewed, purchased, age, tier) in enumerate(per_page):
        alone_rho = intra_class_correlation(purchased, viewed, caption)
        assert rho[page] == pytest.approx(alone_rho, rel=1e-9, abs=1e-15)
        s, f, _ = caption_evidence(caption, captions, viewed, purchased, age, 90.0, alone_rho)
        rows = slice(page * captions, (page + 1) * captions)
        assert successes[rows] == pytest.approx(s, rel=1e-9)
        assert failures[rows] == pytest.approx(f, rel=1e-9)
        alone = CaptionBandit(np.random.default_rng(0)).fit(s, f, tier)
        assert together.alpha is not None
        assert together.beta is not None
        assert alone.alpha is not None
        assert alone.beta is not None
        assert together.alpha[rows] == pytest.approx(alone.alpha, rel=1e-9)
        assert together.beta[rows] == pytest.approx(alone.beta, rel=1e-9)


def test_thompson_draws_are_seeded_and_centred() -> None:
    successes = np.array([5.0, 50.0, 0.0])
    failures = np.array([95.0, 950.0, 0.0])
    groups = np.zeros(3, dtype=np.int64)
    first = CaptionBandit(np.random.default_rng(7), temperature=1.0).fit(
        successes, failures, groups
    )
    second = CaptionBandit(np.random.default_rng(7), temperature=1.0).fit(
        successes, failures, groups
    )
    assert first.sample().tolist() == second.sample().tolist()
    draws = np.array([first.sample() for _ in range(4_000)])
    alpha, beta = first.alpha, first.beta
    assert isinstance(alpha, np.ndarray)
    assert isinstance(beta, np.ndarray)
    expected_mean = alpha / (alpha + beta)
    expected_variance = alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1))
    assert draws.mean(axis=0) == pytest.approx(expected_mean, rel=0.05)
    assert draws.var(axis=0) == pytest.approx(expected_variance, rel=0.15)
    # More evidence, narrower posterior: the caption with ten times the data varies less.
    assert expected_variance[1] < expected_variance[0]


def test_tempered_draws_keep_the_mean_and_shrink_the_spread() -> None:
    successes, failures = np.array([5.0, 40.0]), np.array([95.0, 360.0])
    groups = np.zeros(2, dtype=np.int64)
    plain = CaptionBandit(np.random.default_rng(3), temperature=1.0).fit(
        successes, failures, groups
    )
    tempered = CaptionBandit(np.random.default_rng(3), temperature=0.5).fit(
        successes, failures, groups
    )
    plain_draws = np.array([plain.sample() for _ in range(3_000)])
    tempered_draws = np.array([tempered.sample() for _ in range(3_000)])
    assert tempered_draws.mean(axis=0) == pytest.approx(plain_draws.mean(axis=0), rel=0.02)
    assert tempered_draws.var(axis=0) == pytest.approx(0.25 * plain_draws.var(axis=0), rel=1e-9)


def test_a_caption_never_sent_starts_at_its_group_prior() -> None:
    successes = np.array([10.0, 20.0, 30.0, 0.0, 50.0, 60.0, 70.0])
    failures = np.array([190.0, 180.0, 170.0, 0.0, 150.0, 140.0, 130.0])
    groups = np.array([0, 0, 0, 0, 1, 1, 1], dtype=np.int64)
    bandit = CaptionBandit(np.random.default_rng(1)).fit(successes, failures, groups)
    expected = empirical_bayes_prior(successes[:3], failures[:3])
    assert bandit.posterior_mean[3] == pytest.approx(expected.mean)
    assert bandit.prior_strength is not None
    assert bandit.prior_strength[0] == pytest.approx(expected.strength)
    other = empirical_bayes_prior(successes[4:], failures[4:])
    assert bandit.prior_mean is not None
    assert bandit.prior_mean[1] == pytest.approx(other.mean)


def test_a_sparse_group_borrows_its_page_prior_mean() -> None:
    successes = np.array([10.0, 20.0, 30.0, 40.0, 0.0])
    failures = np.array([90.0, 80.0, 70.0, 60.0, 0.0])
    groups = np.array([0, 0, 0, 1, 1], dtype=np.int64)  # group 1: one caption seen, one unseen
    bandit = CaptionBandit(np.random.default_rng(1)).fit(successes, failures, groups)
    page = empirical_bayes_prior(successes, failures)
    assert bandit.prior_mean is not None
    assert bandit.prior_strength is not None
    assert bandit.prior_mean[1] == pytest.approx(page.mean)
    assert bandit.prior_strength[1] == pytest.approx(min(10.0, page.strength))
    assert bandit.posterior_mean[4] == pytest.approx(page.mean)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(1, 5_000), st.floats(0, 1), st.floats(0, 400)),
        min_size=1,
        max_size=40,
    )
)
def test_evidence_is_never_negative_and_posteriors_stay_in_the_unit_interval(
    sends: list[tuple[int, float, float, float]],
) -> None:
    index = np.array([caption for caption, _, _, _ in sends], dtype=np.int64)
    viewed = np.array([views for _, views, _, _ in sends])
    purchased = np.floor(viewed * np.array([share for _, _, share, _ in sends]))
    age = np.array([days for _, _, _, days in sends])
    successes, failures, count = caption_evidence(index, 6, viewed, purchased, age, 30.0, 0.01)
    assert (successes >= 0).all()
    assert (failures >= 0).all()
    assert count.sum() == len(sends)
    bandit = CaptionBandit(np.random.default_rng(0)).fit(
        successes, failures, np.zeros(6, dtype=np.int64)
    )
    draws = bandit.sample()
    assert ((draws >= 0) & (draws <= 1)).all()
    assert ((bandit.posterior_mean > 0) & (bandit.posterior_mean < 1)).all()
