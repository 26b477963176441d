"""Benchmark: the PPV caption selector (`eros.bandit`) against MABWiser, random and greedy
baselines in a simulated environment; regret against a clairvoyant oracle and wall time.

    PYTHONPATH=src python bench/bench_selector.py            # 38 pages x 500 captions x 52 weeks
    PYTHONPATH=src python bench/bench_selector.py --quick    # 6 pages x 26 weeks
    (needs `pip install mabwiser`, bench-only; about 1 minute at full size, single-threaded)

Environment (per page; all draws from numpy generators seeded from (--seed, page, stream)):
- 500 captions; price ~ U(5, 50) USD (continuous); base purchase rate per viewer
  p0 = Beta(2, 38) draw x (price / 15)^-0.6, clipped to [1e-6, 1 - 1e-6].
- Each week every caption's logit rate takes a random-walk step N(0, sigma), sigma in
  {0, 0.05, 0.15} (week 0 undrifted). The standard-normal steps are shared across sigmas.
- Each week a policy picks 14 distinct captions per page. A send of caption c in week w reaches
  views ~ U{300..3000} viewers and sells purchases ~ Binomial(views, p_send), where
  p_send = expit(logit p_w,c + 0.1 * N(0, 1)) is the send's own rate: mild overdispersion (the
  rate moves from send to send; --send-noise sets the 0.1, an ICC of about 5e-4 at p = 0.05).
  Revenue = purchases x price.
- Common random numbers: views and purchases are drawn up front for every (page, week, caption),
  so two policies sending the same caption in the same week see the identical outcome. No
  cooldown: a caption may be picked again the following week.
- Oracle: each week the 14 captions with the highest current p x price. Regret = 1 - (policy
  revenue summed over pages and weeks) / (oracle revenue summed likewise), realised revenue.

Policies (each sees only its own past sends, page by page):
- selector (eros): each week, all pages in one vectorised pass, as a portfolio is planned:
  `caption_evidence` over every page's past sends with age = 7 days per week and the shipped
  half-life (setting half_life_days), rho per page from `intra_class_correlations`
  (groups = caption, strata = page), `CaptionBandit(rng, temperature=...).fit(...)` with
  groups = 5 price-quantile buckets of each page's captions and parent = the page, one tempered
  Thompson draw (setting thompson_temperature), top 14 per page by theta x price.
  rng = default_rng([seed, week]). Knobs for experiments: --half-life, --prior-cap, --buckets
  (1 = a single page-wide prior), --temperature (1 = plain Thompson sampling).
- selector (per page): the same model fitted one page per call, as `eros select PAGE` does
  (`intra_class_correlation`, rng = default_rng([seed, page, week])): the same regret up to the
  draws, and the cost of a single call.
- mabwiser-rate / mabwiser-price: one `MAB(arms, LearningPolicy.ThompsonSampling())` per page,
  Beta(1, 1) prior. Each week's sends are fed with `partial_fit` as one binary row per viewer
  (purchase = 1, else 0; `np.repeat` of the aggregated counts, which is the cheapest input its
  count-based Thompson update accepts; --mab-view-fraction < 1 subsamples viewers
  proportionally, default 1 = no subsampling). Selection: `predict_expectations()` (one Thompson
  draw per arm), top 14 by the draw (rate) or draw x price. Week 0 (nothing fitted; the API refuses
  to predict) picks 14 at random, which is what a Beta(1, 1) draw does.
- random: 14 uniformly at random.
- greedy-wilson: top 14 by the 95 % Wilson lower bound of undecayed purchased / viewed x price;
  unseen captions score 0 (ties broken at random), so it barely explores.

Time = wall time inside each policy's fit + select for a week of all pages (reading the history,
fitting, drawing, ranking; for MABWiser also building its per-viewer rows), summed over weeks and
divided by page-weeks; the environment and recording outcomes (the store's job) are not timed.
Each policy runs all its weeks in turn, so no policy works in caches another just filled and load
on the machine hits all alike. The targets are printed against each MABWiser variant separately.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eros.bandit import (
    DEFAULT_PRIOR_STRENGTH_CAP,
    CaptionBandit,
    caption_evidence,
    intra_class_correlation,
    intra_class_correlations,
    wilson_bounds,
)
from eros.settings import load_settings

PICKS = 14
HALF_LIFE_DAYS = load_settings().half_life_days  # the shipped default
DAYS_PER_WEEK = 7.0
SIGMAS = (0.0, 0.05, 0.15)


@dataclass
class World:
    """Every simulated page: prices (P, C) and, per (page, week, caption), the true rate and the
    send outcome (P, W, C)."""

    price: np.ndarray
    rate: np.ndarray
    views: np.ndarray
    purchases: np.ndarray


def make_world(
    seed: int, pages: int, captions: int, weeks: int, sigma: float, send_noise: float
) -> World:
    parts = [make_page(seed, page, captions, weeks, sigma, send_noise) for page in range(pages)]
    return World(*(np.stack(arrays) for arrays in zip(*parts, strict=True)))


def make_page(
    seed: int, page: int, captions: int, weeks: int, sigma: float, send_noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    base = np.random.default_rng([seed, page, 0])
    price = base.uniform(5.0, 50.0, captions)
    p0 = np.clip(base.beta(2.0, 38.0, captions) * (price / 15.0) ** -0.6, 1e-6, 1 - 1e-6)
    steps = np.random.default_rng([seed, page, 1]).standard_normal((weeks, captions))
    steps[0] = 0.0
    logit = np.log(p0 / (1 - p0)) + sigma * np.cumsum(steps, axis=0)
    rate = 1.0 / (1.0 + np.exp(-logit))
    outcome = np.random.default_rng([seed, page, 2])
    views = outcome.integers(300, 3001, (weeks, captions))
    noise = outcome.standard_normal((weeks, captions))
    send_rate = 1.0 / (1.0 + np.exp(-(logit + send_noise * noise)))
    purchases = np.random.default_rng([seed, page, 3, round(sigma * 1000)]).binomial(
        views, send_rate
    )
    return price, rate, views, purchases


def top_k(score: np.ndarray, k: int = PICKS) -> np.ndarray:
    """The k best columns of each row (unordered)."""
    return np.argpartition(-score, k, axis=-1)[..., :k]


class History:
    """A policy's past sends, in preallocated arrays (slices are free)."""

    def __init__(self, capacity: int) -> None:
        self.size = 0
        self.caption = np.zeros(capacity, dtype=np.int64)
        self.week = np.zeros(capacity, dtype=np.int64)
        self.viewed = np.zeros(capacity)
        self.purchased = np.zeros(capacity)

    def add(self, week: int, picks: np.ndarray, viewed: np.ndarray, purchased: np.ndarray) -> None:
        end = self.size + picks.size
        self.caption[self.size : end] = picks.ravel()
        self.week[self.size : end] = week
        self.viewed[self.size : end] = viewed.ravel()
        self.purchased[self.size : end] = purchased.ravel()
        self.size = end

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.size
        return self.caption[:n], self.week[:n], self.viewed[:n], self.purchased[:n]


class Policy:
    """`select(week)` returns 14 caption indices per page (pages x 14); `observe` records the
    outcomes of those sends."""

    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        self.price = price
        self.pages, self.captions = price.shape
        self.seed = seed
        self.pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.input_seconds = 0.0  # of the timed work, preparing input in the form an API needs

    def select(self, week: int) -> np.ndarray:
        raise NotImplementedError

    def observe(
        self, week: int, picks: np.ndarray, viewed: np.ndarray, purchased: np.ndarray
    ) -> None:
        self.pending = (picks, viewed, purchased)  # absorbed (timed) at the next select


@dataclass(frozen=True)
class SelectorKnobs:
    half_life_days: float = HALF_LIFE_DAYS
    prior_cap: float = DEFAULT_PRIOR_STRENGTH_CAP
    buckets: int = 5
    temperature: float = load_settings().thompson_temperature


class Selector(Policy):
    """All pages of a week in one pass: caption c of page p is caption p x C + c, its price
    bucket group p x B + b, whose parent (for sparse buckets) is page p."""

    knobs = SelectorKnobs()

    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        super().__init__(price, seed, weeks)
        buckets = self.knobs.buckets
        self.history = History(weeks * self.pages * PICKS)
        quantiles = np.linspace(0, 1, buckets + 1)[1:-1]
        edges = np.quantile(price, quantiles, axis=1).T  # (P, B - 1)
        bucket = (price[:, :, None] > edges[:, None, :]).sum(axis=2)
        self.group = (np.arange(self.pages)[:, None] * buckets + bucket).ravel().astype(np.int64)
        self.parent = np.repeat(np.arange(self.pages, dtype=np.int64), buckets)
        self.flat_price = price.ravel()
        self.offset = np.arange(self.pages)[:, None] * self.captions

    def observe(
        self, week: int, picks: np.ndarray, viewed: np.ndarray, purchased: np.ndarray
    ) -> None:
        self.history.add(week, picks + self.offset, viewed, purchased)  # the store's job

    def select(self, week: int) -> np.ndarray:
        caption, sent_week, viewed, purchased = self.history.arrays()
        page = caption // self.captions
        rho = intra_class_correlations(purchased, viewed, caption, page, self.pages)
        successes, failures, _ = caption_evidence(
            caption,
            self.flat_price.size,
            viewed,
            purchased,
            DAYS_PER_WEEK * (week - sent_week),
            self.knobs.half_life_days,
            rho[page],
        )
        bandit = CaptionBandit(
            np.random.default_rng([self.seed, week]),
            prior_strength_cap=self.knobs.prior_cap,
            temperature=self.knobs.temperature,
        ).fit(successes, failures, self.group, self.parent)
        return top_k((bandit.sample() * self.flat_price).reshape(self.pages, self.captions))


class SelectorPerPage(Selector):
    """The same model, one page per call."""

    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        super().__init__(price, seed, weeks)
        self.histories = [History(weeks * PICKS) for _ in range(self.pages)]
        self.page_group = self.group.reshape(self.pages, self.captions) % self.knobs.buckets

    def observe(
        self, week: int, picks: np.ndarray, viewed: np.ndarray, purchased: np.ndarray
    ) -> None:
        for page, history in enumerate(self.histories):
            history.add(week, picks[page], viewed[page], purchased[page])

    def select(self, week: int) -> np.ndarray:
        return np.stack([self.select_page(page, week) for page in range(self.pages)])

    def select_page(self, page: int, week: int) -> np.ndarray:
        caption, sent_week, viewed, purchased = self.histories[page].arrays()
        rho = intra_class_correlation(purchased, viewed, caption)
        successes, failures, _ = caption_evidence(
            caption,
            self.captions,
            viewed,
            purchased,
            DAYS_PER_WEEK * (week - sent_week),
            self.knobs.half_life_days,
            rho,
        )
        bandit = CaptionBandit(
            np.random.default_rng([self.seed, page, week]),
            prior_strength_cap=self.knobs.prior_cap,
            temperature=self.knobs.temperature,
        ).fit(successes, failures, self.page_group[page])
        return top_k(bandit.sample() * self.price[page])


class MabWiserThompson(Policy):
    by_price = False
    view_fraction = 1.0

    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        super().__init__(price, seed, weeks)
        self.arms = list(range(self.captions))
        self.mabs = [
            MAB(self.arms, LearningPolicy.ThompsonSampling(), seed=seed * 1000 + page)
            for page in range(self.pages)
        ]
        self.rngs = [np.random.default_rng([seed, page, 7]) for page in range(self.pages)]
        self.fitted = False

    def select(self, week: int) -> np.ndarray:
        if self.pending is not None:
            for page, mab in enumerate(self.mabs):
                self.fit(mab, *(part[page] for part in self.pending))
            self.pending = None
            self.fitted = True
        if not self.fitted:
            return np.stack([rng.choice(self.captions, PICKS, replace=False) for rng in self.rngs])
        return np.stack([self.predict(page, mab) for page, mab in enumerate(self.mabs)])

    def fit(
        self, mab: object, picks: np.ndarray, viewed: np.ndarray, purchased: np.ndarray
    ) -> None:
        started = time.perf_counter()
        if self.view_fraction < 1.0:
            viewed_rows = np.maximum(np.rint(viewed * self.view_fraction), 1).astype(np.int64)
            purchased = np.rint(purchased * self.view_fraction).astype(np.int64)
            viewed = viewed_rows
        decisions = np.repeat(picks, viewed)
        start = np.repeat(np.cumsum(viewed) - viewed, viewed)
        rewards = (np.arange(decisions.size) - start < np.repeat(purchased, viewed)).astype(
            np.int64
        )
        self.input_seconds += time.perf_counter() - started
        mab.partial_fit(decisions, rewards)  # type: ignore[attr-defined]

    def predict(self, page: int, mab: object) -> np.ndarray:
        expectations = mab.predict_expectations()  # type: ignore[attr-defined]
        draw = np.fromiter((expectations[arm] for arm in self.arms), np.float64, len(self.arms))
        return top_k(draw * self.price[page] if self.by_price else draw)


class MabWiserThompsonPrice(MabWiserThompson):
    by_price = True


class UniformRandom(Policy):
    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        super().__init__(price, seed, weeks)
        self.rngs = [np.random.default_rng([seed, page, 8]) for page in range(self.pages)]

    def select(self, week: int) -> np.ndarray:
        return np.stack([rng.choice(self.captions, PICKS, replace=False) for rng in self.rngs])


class GreedyWilson(Policy):
    def __init__(self, price: np.ndarray, seed: int, weeks: int) -> None:
        super().__init__(price, seed, weeks)
        self.rng = np.random.default_rng([seed, 9])
        self.purchased = np.zeros(price.shape)
        self.viewed = np.zeros(price.shape)

    def select(self, week: int) -> np.ndarray:
        if self.pending is not None:
            picks, viewed, purchased = self.pending
            self.pending = None
            rows = np.arange(self.pages)[:, None]
            np.add.at(self.viewed, (rows, picks), viewed)
            np.add.at(self.purchased, (rows, picks), purchased)
        low, _ = wilson_bounds(self.purchased, self.viewed)
        tie_break = self.rng.random(self.price.shape) * 1e-12
        return top_k(low * self.price + tie_break)


POLICIES: dict[str, Callable[[np.ndarray, int, int], Policy]] = {
    "selector (eros)": Selector,
    "selector (per page)": SelectorPerPage,
    "mabwiser TS rate": MabWiserThompson,
    "mabwiser TS x price": MabWiserThompsonPrice,
    "uniform random": UniformRandom,
    "greedy Wilson LB": GreedyWilson,
}


@dataclass
class Result:
    revenue: float = 0.0
    seconds: float = 0.0
    input_seconds: float = 0.0
    page_weeks: int = 0


def run_sigma(args: argparse.Namespace, sigma: float, policies: list[str]) -> dict[str, Result]:
    """Each policy in turn runs all weeks (all pages per week): timings are not disturbed by the
    caches another policy leaves behind, and load on the machine hits all policies alike."""
    world = make_world(args.seed, args.pages, args.captions, args.weeks, sigma, args.send_noise)
    rows = np.arange(args.pages)[:, None]
    results = {name: Result() for name in ["oracle", *policies]}
    for week in range(args.weeks):
        best = top_k(world.rate[:, week] * world.price)
        results["oracle"].revenue += float(
            np.sum(world.purchases[rows, week, best] * world.price[rows, best])
        )
    for name in policies:
        result = results[name]
        agent = POLICIES[name](world.price, args.seed, args.weeks)
        for week in range(args.weeks):
            started = time.perf_counter()
            picks = agent.select(week)
            result.seconds += time.perf_counter() - started
            result.page_weeks += args.pages
            ordered = np.sort(picks, axis=1)
            if picks.shape != (args.pages, PICKS) or (np.diff(ordered, axis=1) == 0).any():
                raise AssertionError(f"{name} did not pick {PICKS} distinct captions per page")
            views, purchases = world.views[rows, week, picks], world.purchases[rows, week, picks]
            result.revenue += float(np.sum(purchases * world.price[rows, picks]))
            agent.observe(week, picks, views, purchases)
        result.input_seconds = agent.input_seconds
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=38)
    parser.add_argument("--captions", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="6 pages x 500 captions x 26 weeks")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS))
    parser.add_argument("--send-noise", type=float, default=0.1, help="per-send logit noise sd")
    parser.add_argument("--half-life", type=float, default=HALF_LIFE_DAYS, help="selector, days")
    parser.add_argument("--prior-cap", type=float, default=DEFAULT_PRIOR_STRENGTH_CAP)
    parser.add_argument("--buckets", type=int, default=5, help="selector price-quantile groups")
    parser.add_argument(
        "--temperature",
        type=float,
        default=SelectorKnobs.temperature,
        help="selector: theta = mean + T (draw - mean); 1 = plain Thompson sampling",
    )
    parser.add_argument("--mab-view-fraction", type=float, default=1.0)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    args = parser.parse_args()
    if args.quick:
        args.pages, args.weeks = 6, 26
    return args


def main() -> None:
    args = parse_args()
    Selector.knobs = SelectorKnobs(args.half_life, args.prior_cap, args.buckets, args.temperature)
    MabWiserThompson.view_fraction = args.mab_view_fraction
    print(
        f"{args.pages} pages x {args.captions} captions x {args.weeks} weeks, {PICKS} picks per "
        f"page-week, seed {args.seed}, send noise {args.send_noise}; selector: half-life "
        f"{args.half_life:g} d, prior cap {args.prior_cap:g}, {args.buckets} price buckets, "
        f"temperature {args.temperature:g}; "
        f"MABWiser view fraction {args.mab_view_fraction:g}"
    )
    print(f"{'sigma':>5}  {'policy':<22}{'regret':>8}{'select s':>10}{'ms/page-wk':>12}")
    summary: dict[float, dict[str, Result]] = {}
    for sigma in args.sigmas:
        results = run_sigma(args, sigma, args.policies)
        summary[sigma] = results
        oracle = results["oracle"].revenue
        for name in args.policies:
            result = results[name]
            regret = 1 - result.revenue / oracle
            per = 1000 * result.seconds / max(result.page_weeks, 1)
            print(f"{sigma:>5.2f}  {name:<22}{regret:>8.3f}{result.seconds:>10.2f}{per:>12.3f}")
            if result.input_seconds:
                rows = 1000 * result.input_seconds / result.page_weeks
                print(f"{'':>7}(of which building its per-viewer rows: {rows:.3f} ms/page-wk)")
        print(f"{sigma:>5.2f}  {'oracle revenue':<22}{oracle:>18,.0f} USD")
    mab = [name for name in args.policies if name.startswith("mabwiser")]
    if "selector (eros)" not in args.policies or not mab:
        return
    print(
        "\ntargets for the selector: regret <= 0.30 at sigma 0.05; regret <= half of MABWiser's; "
        "selection >= 50x faster than MABWiser's fit+predict"
    )
    for sigma, results in summary.items():
        oracle = results["oracle"].revenue
        ours = results["selector (eros)"]
        our_regret = 1 - ours.revenue / oracle
        checks = [f"regret {our_regret:.3f}"]
        if abs(sigma - 0.05) < 1e-9:
            checks[0] += f" ({verdict(our_regret <= 0.30)})"
        for name in mab:
            regret = 1 - results[name].revenue / oracle
            speed = results[name].seconds / ours.seconds
            check = (
                f"vs {name.removeprefix('mabwiser ')}: regret x{our_regret / regret:.2f} "
                f"({verdict(our_regret <= regret / 2)}), time /{speed:.0f} ({verdict(speed >= 50)})"
            )
            if "selector (per page)" in results:
                per_page = results[name].seconds / results["selector (per page)"].seconds
                check += f" [per-page calls /{per_page:.0f}]"
            checks.append(check)
        print(f"sigma {sigma:.2f}: " + "; ".join(checks))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


if __name__ == "__main__":
    main()
