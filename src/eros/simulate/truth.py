"""The hidden ground truth of the demo world and the response model that turns a send into outcomes.

The engine never reads this module; only the simulator (and an oracle policy in a backtest) does.

Response model, per mass message of a page (rates are probabilities, clipped to sane ranges):

* audience: a mass message goes to the whole active audience; sent_count ~ Binomial(active fans,
  reach ≈ 0.98: a few fans turned messages off). Active fans grow log-linearly with a small AR(1)
  wobble. A follow-up goes only to its parent PPV's non-buyers.
* view probability = base_view × hour[local hour] × weekday[local weekday] × holiday lift
  × exp(−fatigue_view_sensitivity · F) × platform factor
  (× exp(caption appeal) for bumps, × follow-up factor for follow-ups).
* unlock probability (of viewers; PPVs and follow-ups) = sigmoid(logit(base_unlock) + caption
  appeal) × (price / 25)^(−price_elasticity) × exp(−fatigue_unlock_sensitivity · F)
  × holiday lift × platform factor (× follow-up factor).
* overdispersion: the realised rate of one send is Beta-distributed around its probability with a
  per-page concentration (80–200), then counts are binomial: one huge send never pins the rate.
* fatigue F (per page, in units of "a day of comfortable volume") is read at the start of a local
  day; after the day, F ← F·exp(−1/τ) + max(0, messages that day − comfortable) / comfortable.
  It recovers when volume drops below the comfortable level.
* holiday lift: US public holidays plus the `holidays` package's unofficial ones (Valentine's Day,
  Halloween, New Year's Eve...) on the page's local date; each named holiday has its own lift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Final

import holidays
import numpy as np
from numpy.typing import NDArray

from eros.simulate.pages import (
    AUDIENCE_AT_END,
    COMFORTABLE_MESSAGES_PER_DAY,
    PageSpec,
    PageType,
    SizeTier,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

REFERENCE_PRICE: Final = 25.0
REACH: Final = 0.98
VIEW_PROBABILITY_BOUNDS: Final = (0.002, 0.9)
UNLOCK_PROBABILITY_BOUNDS: Final = (0.001, 0.6)
FOLLOWUP_VIEW_FACTOR: Final = 0.6
FOLLOWUP_UNLOCK_FACTOR: Final = 0.6
# Only the holidays that move fans; the package's others (Columbus Day, Groundhog Day...) lift 1.0.
LIFTING_HOLIDAYS: Final = (
    "New Year's Day",
    "Valentine's Day",
    "Saint Patrick's Day",
    "Easter Sunday",
    "Mother's Day",
    "Memorial Day",
    "Father's Day",
    "Independence Day",
    "Labor Day",
    "Halloween",
    "Thanksgiving Day",
    "Christmas Eve",
    "Christmas Day",
    "New Year's Eve",
)

# Per page type: (base view rate range, base unlock rate range); free pages reach many, sell little.
RATES_BY_PAGE_TYPE: Final[dict[PageType, tuple[tuple[float, float], tuple[float, float]]]] = {
    "free": ((0.10, 0.17), (0.05, 0.075)),
    "paid": ((0.24, 0.32), (0.10, 0.16)),
    "standard": ((0.15, 0.28), (0.07, 0.13)),
}
# Where a page's hour response can peak (local hours): morning, lunch, after work, evening, late.
HOUR_PEAKS: Final = (9.0, 12.5, 17.5, 20.5, 22.5)


@dataclass(frozen=True)
class PageTruth:
    """Everything the simulator knows about one page and the engine must infer from history."""

    page_name: str
    page_type: PageType
    timezone: str
    size_tier: SizeTier  # intended; the analyzer should find it from sent counts
    start_date: date  # first local day of the page's history (recent for NEW pages)
    audience_at_start: float
    daily_growth: float  # log growth of active fans per day
    churn_per_day: float
    hour_response: tuple[float, ...]  # 24 multipliers by LOCAL hour, mean 1 over sending hours
    weekday_response: tuple[float, ...]  # 7 multipliers, Monday first, mean 1
    base_view_rate: float
    base_unlock_rate: float
    price_elasticity: float
    view_concentration: float  # Beta concentration of a send's realised view rate
    unlock_concentration: float
    comfortable_messages_per_day: float
    fatigue_time_constant_days: float
    fatigue_view_sensitivity: float
    fatigue_unlock_sensitivity: float
    fatigued: bool  # the agency over-messaged it over the last weeks of history
    fatigue_at_history_end: float
    caption_appeal: dict[str, float] = field(
        repr=False
    )  # caption_key → logit shift (view for bumps)

    @property
    def base_unlock_logit(self) -> float:
        return math.log(self.base_unlock_rate / (1.0 - self.base_unlock_rate))

    def appeal_of(self, key: str) -> float:
        """The caption's appeal on this page; a caption outside the bank is neutral (0)."""
        return self.caption_appeal.get(key, 0.0)

    def audience_trend(self, day: date) -> float:
        """Active fans on `day` before the daily wobble."""
        return self.audience_at_start * math.exp(self.daily_growth * (day - self.start_date).days)


@dataclass(frozen=True)
class GroundTruth:
    """The hidden truth of the whole demo world."""

    seed: int
    history_end: date
    history_days: int
    platform_drop: (
        float  # applied to view and unlock rates of every page in the last 14 history days
    )
    platform_drop_start: date
    holiday_lift_by_name: dict[str, float]
    pages: dict[str, PageTruth]
    followup_view_factor: float = FOLLOWUP_VIEW_FACTOR
    followup_unlock_factor: float = FOLLOWUP_UNLOCK_FACTOR

    @property
    def fatigued_pages(self) -> frozenset[str]:
        return frozenset(name for name, page in self.pages.items() if page.fatigued)

    @property
    def stable_pages(self) -> frozenset[str]:
        return frozenset(name for name, page in self.pages.items() if not page.fatigued)

    def holiday_lift(self, day: date) -> float:
        """The lift on a local date: the largest lift of its holidays (1.0 if none)."""
        names = _us_holiday_names(day.year).get(day, ())
        return max((self.holiday_lift_by_name.get(name, 1.0) for name in names), default=1.0)


@lru_cache(maxsize=64)
def _us_holiday_names(year: int) -> dict[date, tuple[str, ...]]:
    try:
        calendar = holidays.country_holidays("US", years=year, categories=("public", "unofficial"))
    except (TypeError, NotImplementedError, ValueError):  # older package: public holidays only
        calendar = holidays.country_holidays("US", years=year)
    return {day: tuple(name.split("; ")) for day, name in calendar.items()}


def draw_holiday_lifts(rng: np.random.Generator) -> dict[str, float]:
    """A lift of 1.1–1.3 for each holiday that moves fans."""
    return {name: round(float(rng.uniform(1.1, 1.3)), 3) for name in LIFTING_HOLIDAYS}


def _hour_response(rng: np.random.Generator) -> tuple[float, ...]:
    hours = np.arange(24, dtype=np.float64)
    curve = np.full(24, rng.uniform(0.45, 0.65))
    peak_count = 1 + int(rng.random() < 0.6)
    for peak in rng.choice(HOUR_PEAKS, size=peak_count, replace=False):
        distance = np.abs(hours - peak)
        distance = np.minimum(distance, 24.0 - distance)
        width = rng.uniform(1.5, 3.0)
        curve += rng.uniform(0.5, 1.0) * np.exp(-0.5 * (distance / width) ** 2)
    sending_hours = np.r_[0:2, 8:24]
    curve /= curve[sending_hours].mean()
    return tuple(round(float(value), 4) for value in curve)


def _weekday_response(rng: np.random.Generator) -> tuple[float, ...]:
    weekend = rng.uniform(-0.1, 0.15)
    response = 1.0 + rng.normal(0.0, 0.06, size=7) + np.array([0, 0, 0, 0, 0.5, 1, 1]) * weekend
    response = np.clip(response / response.mean(), 0.8, 1.25)
    return tuple(round(float(value), 4) for value in response)


def draw_page_truth(
    spec: PageSpec,
    rng: np.random.Generator,
    *,
    history_end: date,
    history_days: int,
    caption_appeal: dict[str, float],
) -> PageTruth:
    """The hidden parameters of one page, drawn inside its designed layout."""
    if spec.size_tier == "NEW":
        history_length = int(rng.integers(10, 26))
        growth = float(rng.uniform(0.02, 0.04))
    else:
        history_length = history_days
        growth = float(np.clip(rng.normal(0.0012, 0.0008), -0.0004, 0.003))
    start_date = history_end.fromordinal(history_end.toordinal() - history_length)
    low, high = AUDIENCE_AT_END[spec.size_tier]
    audience_at_end = math.exp(rng.uniform(math.log(low), math.log(high)))
    (view_low, view_high), (unlock_low, unlock_high) = RATES_BY_PAGE_TYPE[spec.page_type]
    return PageTruth(
        page_name=spec.page_name,
        page_type=spec.page_type,
        timezone=spec.timezone,
        size_tier=spec.size_tier,
        start_date=start_date,
        audience_at_start=audience_at_end * math.exp(-growth * history_length),
        daily_growth=growth,
        churn_per_day=float(rng.uniform(0.004, 0.015)),
        hour_response=_hour_response(rng),
        weekday_response=_weekday_response(rng),
        base_view_rate=float(rng.uniform(view_low, view_high)),
        base_unlock_rate=float(rng.uniform(unlock_low, unlock_high)),
        price_elasticity=float(rng.uniform(0.6, 1.1)),
        view_concentration=float(rng.uniform(100.0, 200.0)),
        unlock_concentration=float(rng.uniform(80.0, 200.0)),
        comfortable_messages_per_day=COMFORTABLE_MESSAGES_PER_DAY[spec.size_tier]
        * float(rng.uniform(0.95, 1.1)),
        fatigue_time_constant_days=float(rng.uniform(6.0, 8.0)),
        fatigue_view_sensitivity=float(rng.uniform(0.13, 0.17)),
        fatigue_unlock_sensitivity=float(rng.uniform(0.13, 0.17)),
        fatigued=spec.fatigued,
        fatigue_at_history_end=0.0,
        caption_appeal=caption_appeal,
    )


def next_fatigue(truth: PageTruth, fatigue: float, messages_that_day: int) -> float:
    """Fatigue at the start of the next local day."""
    comfortable = truth.comfortable_messages_per_day
    excess = max(0.0, messages_that_day - comfortable) / comfortable
    return fatigue * math.exp(-1.0 / truth.fatigue_time_constant_days) + excess


def view_probability(
    truth: PageTruth,
    *,
    local_hour: IntArray,
    weekday: IntArray,
    holiday_lift: FloatArray,
    fatigue: FloatArray,
    platform_factor: FloatArray,
    view_appeal: FloatArray,
    followup: NDArray[np.bool_],
) -> FloatArray:
    """Mean view probability of each send (vectorised over sends)."""
    hour_response = np.asarray(truth.hour_response)[local_hour]
    weekday_response = np.asarray(truth.weekday_response)[weekday]
    probability = (
        truth.base_view_rate
        * hour_response
        * weekday_response
        * holiday_lift
        * np.exp(-truth.fatigue_view_sensitivity * fatigue)
        * platform_factor
        * np.exp(view_appeal)
        * np.where(followup, FOLLOWUP_VIEW_FACTOR, 1.0)
    )
    clipped: FloatArray = np.clip(probability, *VIEW_PROBABILITY_BOUNDS)
    return clipped


def unlock_probability(
    truth: PageTruth,
    *,
    appeal: FloatArray,
    price: FloatArray,
    holiday_lift: FloatArray,
    fatigue: FloatArray,
    platform_factor: FloatArray,
    followup: NDArray[np.bool_],
) -> FloatArray:
    """Mean unlock probability (of viewers) of each priced send."""
    caption_rate = 1.0 / (1.0 + np.exp(-(truth.base_unlock_logit + appeal)))
    price_factor = (np.maximum(price, 1.0) / REFERENCE_PRICE) ** (-truth.price_elasticity)
    probability = (
        caption_rate
        * price_factor
        * np.exp(-truth.fatigue_unlock_sensitivity * fatigue)
        * holiday_lift
        * platform_factor
        * np.where(followup, FOLLOWUP_UNLOCK_FACTOR, 1.0)
    )
    clipped: FloatArray = np.clip(probability, *UNLOCK_PROBABILITY_BOUNDS)
    return clipped


def draw_rate(mean: FloatArray, concentration: float, rng: np.random.Generator) -> FloatArray:
    """A send's realised rate, Beta-distributed around its mean (overdispersion)."""
    rate: FloatArray = rng.beta(mean * concentration, (1.0 - mean) * concentration)
    return rate
