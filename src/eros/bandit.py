"""Bandit: decayed, overdispersion-corrected Beta posteriors of caption unlock rates; Wilson bounds;
Thompson sampling. Pure numpy; the random generator is passed in.

Per (page, caption) the posterior is Beta(α0 + S, β0 + F) with S = Σ w·purchased·k and
F = Σ w·(viewed − purchased)·k, where w = 0.5^(age_days / half_life) and k is the message's
effective-sample-size factor. Mass-message counts are overdispersed — one send reaches thousands of
fans, yet the caption's rate moves from send to send — so a message of n viewers counts as
n / (1 + (n − 1)·ρ) trials, with the intra-class correlation ρ estimated per page from the
between-message variance (beta-binomial method of moments). A huge send therefore counts as at most
about 1/ρ viewers and never makes a caption look certain.

The prior (α0, β0) is empirical Bayes from the page's captions, per group (price tier), with its
strength α0 + β0 capped so that evidence soon dominates. Thompson sampling draws θ per caption;
PPVs are ranked by θ × price (expected revenue per viewer). Wilson bounds are for reports and for
dropping clearly bad captions, never for ranking (a greedy lower-bound ranking never explores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

WILSON_Z_95 = 1.959963984540054
DEFAULT_PRIOR_STRENGTH_CAP = 40.0
DEFAULT_TEMPERATURE = 0.5
FALLBACK_PRIOR_MEAN = 0.05


def wilson_bounds(
    successes: FloatArray | float, trials: FloatArray | float, z: float = WILSON_Z_95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval of a binomial proportion (vectorised); (0, 1) where trials = 0."""
    import numpy as np

    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    p = s / safe_n
    denominator = 1 + z * z / safe_n
    centre = (p + z * z / (2 * safe_n)) / denominator
    half_width = z * np.sqrt(p * (1 - p) / safe_n + z * z / (4 * safe_n * safe_n)) / denominator
    low = np.where(n > 0, np.clip(centre - half_width, 0.0, 1.0), 0.0)
    high = np.where(n > 0, np.clip(centre + half_width, 0.0, 1.0), 1.0)
    return low, high


def decay_weights(age_days: FloatArray, half_life_days: float) -> FloatArray:
    """0.5^(age / half-life): a message half a life old counts half."""
    import numpy as np

    weights: FloatArray = np.exp2(-np.maximum(age_days, 0.0) / half_life_days)
    return weights


def intra_class_correlation(purchased: FloatArray, viewed: FloatArray, groups: IntArray) -> float:
    """ρ of the beta-binomial: how much more rates vary between sends (of one caption) than binomial
    noise explains. Method of moments on the Pearson dispersion φ = 1 + (n̄ − 1)·ρ; 0 when the
    data show no overdispersion."""
    import numpy as np

    if groups.size < 3:
        return 0.0
    # Per caption first (few), then per send without copies: this runs once per page-week.
    caption_viewed = np.bincount(groups, viewed)
    rate_of = np.bincount(groups, purchased) / np.where(caption_viewed > 0, caption_viewed, 1.0)
    variance_of = rate_of * (1 - rate_of)
    informative = (variance_of > 0)[groups] & (viewed > 0)
    messages = int(np.count_nonzero(informative))
    captions = int(np.count_nonzero(np.bincount(groups, informative)))
    degrees = messages - captions
    if degrees < 2:
        return 0.0
    rate, variance = rate_of[groups], variance_of[groups]
    scale = np.where(informative, viewed * variance, 1.0)
    pearson = float(np.sum(np.where(informative, (purchased - viewed * rate) ** 2 / scale, 0.0)))
    dispersion = pearson / degrees
    mean_views = float(np.sum(viewed, where=informative) / messages)
    if dispersion <= 1 or mean_views <= 1:
        return 0.0
    return float(min(1.0, (dispersion - 1) / (mean_views - 1)))


def effective_trials_factor(viewed: FloatArray, rho: float) -> FloatArray:
    """k = 1 / (1 + (n − 1)·ρ): the share of a send's viewers that counts as independent trials."""
    import numpy as np

    factor: FloatArray = 1.0 / (1.0 + np.maximum(viewed - 1.0, 0.0) * rho)
    return factor


@dataclass(frozen=True)
class BetaPrior:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        return self.alpha + self.beta


def empirical_bayes_prior(
    successes: FloatArray,
    failures: FloatArray,
    *,
    strength_cap: float = DEFAULT_PRIOR_STRENGTH_CAP,
    fallback_mean: float = FALLBACK_PRIOR_MEAN,
) -> BetaPrior:
    """A Beta prior matching the spread of the captions' rates (method of moments, weighted by their
    evidence), with strength α + β capped. Captions without evidence are ignored; with fewer than
    three, a weak prior around `fallback_mean`."""
    import numpy as np

    trials = successes + failures
    seen = trials > 0
    if seen.sum() < 3:
        strength = min(strength_cap, 10.0)
        return BetaPrior(fallback_mean * strength, (1 - fallback_mean) * strength)
    rates = successes[seen] / trials[seen]
    weights = trials[seen] / trials[seen].sum()
    mean = float(np.clip(np.sum(weights * rates), 1e-4, 1 - 1e-4))
    # Between-caption variance minus the binomial noise each rate carries.
    observed = float(np.sum(weights * (rates - mean) ** 2))
    noise = float(np.sum(weights * mean * (1 - mean) / trials[seen]))
    between = max(observed - noise, 1e-12)
    strength = mean * (1 - mean) / between - 1
    strength = float(np.clip(strength, 2.0, strength_cap))
    return BetaPrior(mean * strength, (1 - mean) * strength)


class CaptionBandit:
    """Thompson sampling over one page's captions.

    `fit` turns each caption's decayed, effective successes and failures into Beta posteriors on top
    of a per-group empirical-Bayes prior; `sample` draws θ for every caption from the injected
    generator. With `temperature` T < 1 a draw is pulled towards its posterior mean,
    θ = m + T·(draw − m) (still inside [0, 1]): with hundreds of captions and a dozen picks a week,
    full-width draws keep re-trying captions whose evidence has faded, and T = 0.5 halves that
    waste (measured in bench/bench_selector.py).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        prior_strength_cap: float = DEFAULT_PRIOR_STRENGTH_CAP,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> None:
        self.rng = rng
        self.prior_strength_cap = prior_strength_cap
        self.temperature = temperature
        self.alpha: FloatArray | None = None
        self.beta: FloatArray | None = None
        self.prior_mean: FloatArray | None = None  # per group
        self.prior_strength: FloatArray | None = None  # per group

    def fit(
        self,
        caption_to_successes: FloatArray,
        caption_to_failures: FloatArray,
        caption_to_group: IntArray,
    ) -> CaptionBandit:
        """Posteriors for captions given their evidence and group (e.g. price tier index).

        The prior of each group is `empirical_bayes_prior` of its captions, computed for all
        groups at once; a group with no evidence borrows the whole page's prior mean.
        """
        import numpy as np

        successes, failures, group = caption_to_successes, caption_to_failures, caption_to_group
        groups = int(group.max()) + 1 if group.size else 0
        trials = successes + failures
        seen = trials > 0
        # Per group, the evidence-weighted spread of the captions' rates, from sums alone:
        # Σ t·(s/t − m)² = Σ s²/t − 2m·Σ s + m²·Σ t. A handful of groups: plain floats are faster.
        seen_count = np.bincount(group, seen, minlength=groups).tolist()
        sum_trials = np.bincount(group, trials, minlength=groups).tolist()
        sum_successes = np.bincount(group, successes, minlength=groups).tolist()
        squares = successes * successes / np.where(seen, trials, 1.0)
        sum_squares = np.bincount(group, squares, minlength=groups).tolist()
        cap = self.prior_strength_cap
        means, strengths = [], []
        pooled: BetaPrior | None = None
        for index in range(groups):
            count, total = seen_count[index], sum_trials[index]
            if count == 0:  # no evidence in this group: borrow the page-wide prior's mean
                pooled = pooled or empirical_bayes_prior(successes, failures, strength_cap=cap)
                means.append(pooled.mean)
                strengths.append(min(min(cap, 10.0), pooled.strength))
            elif count < 3:
                means.append(FALLBACK_PRIOR_MEAN)
                strengths.append(min(cap, 10.0))
            else:
                mean = min(max(sum_successes[index] / total, 1e-4), 1 - 1e-4)
                observed = (
                    sum_squares[index] - 2 * mean * sum_successes[index] + mean * mean * total
                ) / total
                between = max(observed - count * mean * (1 - mean) / total, 1e-12)
                means.append(mean)
                strengths.append(min(max(mean * (1 - mean) / between - 1, 2.0), cap))
        self.prior_mean, self.prior_strength = np.array(means), np.array(strengths)
        prior_alpha = self.prior_mean * self.prior_strength
        self.alpha = prior_alpha[group] + successes
        self.beta = (self.prior_strength - prior_alpha)[group] + failures
        return self

    def update(self, caption_index: IntArray, successes: FloatArray, failures: FloatArray) -> None:
        """Add new evidence to fitted posteriors (simulations; stores refit from history)."""
        import numpy as np

        if self.alpha is None or self.beta is None:
            raise RuntimeError("fit the bandit before updating it")
        np.add.at(self.alpha, caption_index, successes)
        np.add.at(self.beta, caption_index, failures)

    @property
    def posterior_mean(self) -> FloatArray:
        if self.alpha is None or self.beta is None:
            raise RuntimeError("fit the bandit first")
        mean: FloatArray = self.alpha / (self.alpha + self.beta)
        return mean

    def sample(self) -> FloatArray:
        """One Thompson draw θ per caption (tempered towards the mean when temperature < 1)."""
        if self.alpha is None or self.beta is None:
            raise RuntimeError("fit the bandit first")
        draws: FloatArray = self.rng.beta(self.alpha, self.beta)
        if self.temperature == 1.0:
            return draws
        mean = self.posterior_mean
        tempered: FloatArray = mean + self.temperature * (draws - mean)
        return tempered


def caption_evidence(
    caption_index: IntArray,
    captions: int,
    viewed: FloatArray,
    purchased: FloatArray,
    age_days: FloatArray,
    half_life_days: float,
    rho: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per caption: decayed effective successes, failures, and the raw number of sends."""
    import numpy as np

    weight = decay_weights(age_days, half_life_days) * effective_trials_factor(viewed, rho)
    # Weighted bincounts are float64 already (astype without a copy is for the type checker).
    successes = np.bincount(caption_index, weight * purchased, minlength=captions)
    failures = np.bincount(caption_index, weight * (viewed - purchased), minlength=captions)
    sends = np.bincount(caption_index, minlength=captions)
    return (
        successes.astype(np.float64, copy=False),
        failures.astype(np.float64, copy=False),
        sends.astype(np.float64),
    )
