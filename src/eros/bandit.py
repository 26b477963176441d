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

A portfolio can be fitted in one pass, with the same posteriors as page by page: number captions and
groups across pages, take ρ per page from `intra_class_correlations`, pass each send its page's ρ,
and give `CaptionBandit.fit` each group's page as its parent.
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
    if groups.size < 3:
        return 0.0
    # `intra_class_correlations` with one stratum, in plain floats: the per-page path stays at half
    # the cost of the vectorised one on arrays of length 1.
    pearson, messages, captions, views = (
        float(part.sum()) for part in _dispersion(purchased, viewed, groups)
    )
    degrees = messages - captions
    if degrees < 2:
        return 0.0
    dispersion, mean_views = pearson / degrees, views / messages
    if dispersion <= 1 or mean_views <= 1:
        return 0.0
    return min(1.0, (dispersion - 1) / (mean_views - 1))


def intra_class_correlations(
    purchased: FloatArray, viewed: FloatArray, groups: IntArray, strata: IntArray, count: int
) -> FloatArray:
    """`intra_class_correlation` of each of `count` strata (pages) at once: send i belongs to
    stratum `strata[i]`, and a group (caption) lies within one stratum."""
    import numpy as np

    parts = _dispersion(purchased, viewed, groups)
    stratum_of = np.zeros(parts[0].size, dtype=np.int64)
    stratum_of[groups] = strata
    pearson, messages, captions, views = (np.bincount(stratum_of, part, count) for part in parts)
    degrees = messages - captions
    dispersion = pearson / np.maximum(degrees, 1.0)
    mean_views = views / np.maximum(messages, 1.0)
    overdispersed = (degrees >= 2) & (dispersion > 1) & (mean_views > 1)
    excess = np.where(
        overdispersed, (dispersion - 1) / np.where(overdispersed, mean_views - 1, 1.0), 0.0
    )
    rho: FloatArray = np.minimum(excess, 1.0)
    return rho


def _dispersion(
    purchased: FloatArray, viewed: FloatArray, groups: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per caption, over the captions whose rate r = Y/N is strictly inside (0, 1): the Pearson sum
    Σ_i (y_i − n_i·r)² / (n_i·r(1 − r)), the sends, 1 (the caption), and the views; 0 elsewhere.
    From sums alone: Σ_i (y_i − n_i·r)² / n_i = Σ_i y_i²/n_i − r·Y."""
    import numpy as np

    caption_viewed = np.bincount(groups, viewed)
    caption_purchased = np.bincount(groups, purchased)
    squares = np.bincount(groups, purchased * purchased / np.maximum(viewed, 1.0))
    rate = caption_purchased / np.maximum(caption_viewed, 1.0)
    variance = rate * (1.0 - rate)
    informative = (variance > 0).astype(np.float64)
    pearson = (squares - rate * caption_purchased) / np.where(variance > 0, variance, 1.0)
    sends = np.bincount(groups, viewed > 0)
    return pearson * informative, sends * informative, informative, caption_viewed * informative


def effective_trials_factor(viewed: FloatArray, rho: float | FloatArray) -> FloatArray:
    """k = 1 / (1 + (n − 1)·ρ): the share of a send's viewers that counts as independent trials
    (ρ one number, or one per send)."""
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
    successes: FloatArray, failures: FloatArray, *, strength_cap: float = DEFAULT_PRIOR_STRENGTH_CAP
) -> BetaPrior:
    """A Beta prior matching the spread of the captions' rates (method of moments, weighted by their
    evidence), with strength α + β capped. Captions without evidence are ignored; with fewer than
    three, a weak prior around `FALLBACK_PRIOR_MEAN`."""
    import numpy as np

    pool = np.zeros(successes.size, dtype=np.int64)
    mean, strength = _prior_moments(*_pool_sums(successes, failures, pool, 1), strength_cap)
    return BetaPrior(float(mean[0] * strength[0]), float((1 - mean[0]) * strength[0]))


def _pool_sums(
    successes: FloatArray, failures: FloatArray, pool: IntArray, pools: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per pool: captions seen, Σ t, Σ s and Σ s²/t — enough for the evidence-weighted spread of
    the rates s/t around m, Σ t·(s/t − m)² = Σ s²/t − 2m·Σ s + m²·Σ t."""
    import numpy as np

    trials = successes + failures
    seen = trials > 0
    squares = successes * successes / np.where(seen, trials, 1.0)
    return _sums_by(pool, (seen, trials, successes, squares), pools)


def _sums_by(
    index: IntArray, parts: tuple[npt.NDArray[np.generic], ...], size: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    import numpy as np

    first, second, third, fourth = (
        np.bincount(index, part, size).astype(np.float64, copy=False) for part in parts
    )
    return first, second, third, fourth


def _prior_moments(
    seen: FloatArray, trials: FloatArray, successes: FloatArray, squares: FloatArray, cap: float
) -> tuple[FloatArray, FloatArray]:
    """Prior mean and strength of each pool from its sums: the strength makes the Beta's variance
    the captions' spread less the binomial noise each rate carries, clipped to [2, cap]; a pool
    with fewer than three captions seen gets `FALLBACK_PRIOR_MEAN` at strength min(cap, 10)."""
    import numpy as np

    enough = seen >= 3
    total = np.maximum(trials, 1e-300)
    mean = np.minimum(np.maximum(successes / total, 1e-4), 1 - 1e-4)  # (np.clip is slower)
    spread = mean * (1 - mean)
    observed = squares / total - mean * (2 * successes / total - mean)
    between = np.maximum(observed - seen * spread / total, 1e-12)
    strength = np.minimum(np.maximum(spread / between - 1, 2.0), cap)
    weak_strength = min(cap, 10.0)
    return np.where(enough, mean, FALLBACK_PRIOR_MEAN), np.where(enough, strength, weak_strength)


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
        group_to_parent: IntArray | None = None,
    ) -> CaptionBandit:
        """Posteriors for captions given their evidence and group (e.g. price tier index).

        The prior of each group is `empirical_bayes_prior` of its captions, for all groups at once.
        A group with fewer than three captions seen borrows the mean of its parent's prior (the
        parent pools its groups' captions: by default one parent, the page; for many pages at once,
        each group's page), at a strength of at most 10.
        """
        import numpy as np

        successes, failures, group = caption_to_successes, caption_to_failures, caption_to_group
        groups = int(group.max()) + 1 if group.size else 0
        cap = self.prior_strength_cap
        sums = _pool_sums(successes, failures, group, groups)
        mean, strength = _prior_moments(*sums, cap)
        weak = sums[0] < 3
        if weak.any():
            parent = (
                np.zeros(groups, dtype=np.int64) if group_to_parent is None else group_to_parent
            )
            parents = int(parent.max()) + 1
            pooled_mean, pooled_strength = _prior_moments(*_sums_by(parent, sums, parents), cap)
            mean = np.where(weak, pooled_mean[parent], mean)
            strength = np.where(weak, np.minimum(pooled_strength[parent], min(cap, 10.0)), strength)
        self.prior_mean, self.prior_strength = mean, strength
        prior_alpha = mean * strength
        self.alpha = prior_alpha[group] + successes
        self.beta = (strength - prior_alpha)[group] + failures
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
    rho: float | FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per caption: decayed effective successes, failures, and the raw number of sends (ρ one
    number, or one per send, e.g. its page's)."""
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
