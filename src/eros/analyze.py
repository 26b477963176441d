"""Analyse: a page's history -> PerformanceReport (tier, audience, saturation, patterns, targets).

Pure: the history comes in as arrays (read by the store), the settings and `as_of` are given, and
the report goes out. Every rate is a ratio of sums. Hours and days are the page's local ones.

Saturation compares mature PPVs (>= 48 h old) of the recent window with the baseline (the rest of
the lookback), holidays excluded. Each recent message is compared with what the baseline predicts
for its local hour and weekday, so a change of sending times is not read as fatigue. The
uncertainty of the observed/expected ratio comes from the spread between messages (a ratio
estimator), which holds for overdispersed mass-message counts; a drop counts only when its
posterior probability (normal approximation) reaches `credible_probability`, so a small noisy page
is not flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from eros import clock
from eros.settings import RISKS, Settings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

SizeTier = Literal["NEW", "SMALL", "MEDIUM", "LARGE", "XL"]
RiskLevel = Literal["LOW", "MODERATE", "HIGH", "CRITICAL"]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NORMAL = NormalDist()
HOUR_PRIOR_SENDS = 3.0  # pseudo-sends pulling a thin hour's rate towards the page's overall rate
DAY_PRIOR_MESSAGES = 20.0  # pseudo-messages shrinking a weekday's index towards 1
MIN_RECENT_MESSAGES = 5
MIN_RECENT_PURCHASES = 30.0  # expected purchases below which a drop is too noisy to judge
PLATFORM_MIN_PAGES = 5


def round_half_up(value: float) -> int:
    """Round as people do (2.5 -> 3), not to even."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def caption_target(settings: Settings, tier: str, risk: str) -> int:
    """The seed's formula: max(floor, round-half-up(base[tier] × multiplier[risk]))."""
    base = settings.tier(tier).caption_target_base
    multiplier = settings.risk(risk).caption_multiplier
    return max(settings.caption_target_floor, round_half_up(base * multiplier))


def size_tier(settings: Settings, audience: float) -> SizeTier:
    """The tier of an established page by its audience (NEW is decided by history length)."""
    for name in ("small", "medium", "large"):
        bound = settings.tier(name).audience_below
        if bound is not None and audience < bound:
            return name.upper()  # type: ignore[return-value]
    return "XL"


def risk_level(settings: Settings, score: float) -> RiskLevel:
    for name in RISKS:
        bound = settings.risk(name).score_below
        if bound is None or score < bound:
            return name.upper()  # type: ignore[return-value]
    return "CRITICAL"


@dataclass(frozen=True)
class PageHistory:
    """What the analysis reads of one page: its messages before `as_of` and its fan counts."""

    page_name: str
    timezone: str
    sent_at: FloatArray  # seconds since the epoch, UTC
    is_ppv: npt.NDArray[np.bool_]
    is_followup: npt.NDArray[np.bool_]
    sent: FloatArray
    viewed: FloatArray
    purchased: FloatArray
    revenue: FloatArray
    first_sent_at: datetime | None  # the first message ever, for the NEW rule
    total_messages: int  # every message ever before as_of
    latest_fans: tuple[date, int] | None = None


@dataclass(frozen=True)
class AccountClassification:
    size_tier: SizeTier
    audience_size: int
    active_days: int
    total_messages: int
    total_revenue: float
    revenue_per_send: float
    view_rate: float
    unlock_rate: float


@dataclass(frozen=True)
class SaturationAnalysis:
    saturation_score: float
    confidence: float
    risk_level: RiskLevel
    zone: str
    view_rate_change: float | None
    unlock_rate_change: float | None
    revenue_per_send_change: float | None
    volume_change: float | None
    exclusion_reason: str | None
    recommended_action: str
    drop_probability: float = 0.0


@dataclass(frozen=True)
class DayOfWeek:
    day: str
    revenue_per_send: float | None
    index: float
    credible: bool
    volume_multiplier: float


@dataclass(frozen=True)
class HourOfDay:
    hour: int
    sends: int
    revenue_per_send: float
    revenue_per_send_low: float
    revenue_per_send_high: float


@dataclass(frozen=True)
class OptimizationParameters:
    daily_ppv_target: int
    daily_bump_target: int
    min_ppv_gap_minutes: int
    max_messages_per_day: int
    volume_adjustment_factor: float


@dataclass(frozen=True)
class PerformanceReport:
    page_name: str
    as_of: datetime
    lookback_days: int
    timezone: str
    account_classification: AccountClassification
    saturation_analysis: SaturationAnalysis
    day_of_week: list[DayOfWeek]
    hour_of_day: list[HourOfDay]
    optimization_parameters: OptimizationParameters
    caption_target: int
    notes: list[str] = field(default_factory=list)


# -- local time ------------------------------------------------------------------------------------


def local_hour_and_day(
    sent_at: FloatArray, timezone: str
) -> tuple[IntArray, IntArray, npt.NDArray[np.int64]]:
    """Local hour (0-23), weekday (0 = Monday) and local date ordinal of each UTC instant.

    Offsets are looked up once per half hour of UTC (every IANA transition falls on one), so a DST
    week is exact without a per-message zone call.
    """
    import numpy as np

    tz = clock.zone(timezone)
    buckets = np.floor(sent_at / 1800.0).astype(np.int64)
    unique, inverse = np.unique(buckets, return_inverse=True)
    offsets = np.array(
        [
            _offset_seconds(datetime.fromtimestamp(int(bucket) * 1800, UTC).astimezone(tz))
            for bucket in unique
        ],
        dtype=np.int64,
    )
    local_seconds = sent_at.astype(np.int64) + offsets[inverse]
    days = local_seconds // 86_400  # days since 1970-01-01 (a Thursday)
    hours = (local_seconds % 86_400) // 3_600
    weekdays = (days + 3) % 7
    return hours, weekdays, days + date(1970, 1, 1).toordinal()


def _offset_seconds(local: datetime) -> int:
    offset = local.utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


# -- the analysis ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ratio:
    """Observed/expected over a set of messages, with the ratio estimator's standard error."""

    ratio: float
    standard_error: float
    count: int


def _ratio(observed: FloatArray, expected: FloatArray) -> _Ratio | None:
    import numpy as np

    total_expected = float(expected.sum())
    if observed.size < 2 or total_expected <= 0:
        return None
    ratio = float(observed.sum()) / total_expected
    residuals = observed - ratio * expected
    n = observed.size
    variance = float(np.sum(residuals**2)) * n / (n - 1) / total_expected**2
    return _Ratio(ratio, math.sqrt(variance), n)


def _index(
    numerator: FloatArray, denominator: FloatArray, groups: IntArray, size: int, prior: float
) -> FloatArray:
    """Each group's rate relative to the overall rate, shrunk towards 1 by `prior` denominators."""
    import numpy as np

    overall = numerator.sum() / max(denominator.sum(), 1e-12)
    group_numerator = np.bincount(groups, numerator, minlength=size)
    group_denominator = np.bincount(groups, denominator, minlength=size)
    strength = prior * max(denominator.mean() if denominator.size else 0.0, 1e-12)
    rate = (group_numerator + strength * overall) / (group_denominator + strength)
    result: FloatArray = rate / overall if overall > 0 else np.ones(size)
    return result


def _holiday_ordinals(settings: Settings, ordinals: npt.NDArray[np.int64]) -> set[int]:
    if ordinals.size == 0:
        return set()
    first, last = date.fromordinal(int(ordinals.min())), date.fromordinal(int(ordinals.max()))
    return {
        day.toordinal()
        for day in clock.holiday_dates(
            settings.holidays.country,
            settings.holidays.categories,
            range(first.year, last.year + 1),
        )
    }


def analyze(history: PageHistory, settings: Settings, as_of: datetime) -> PerformanceReport:
    """The PerformanceReport of one page as of `as_of` (messages at or after it are ignored)."""
    import numpy as np

    rules = settings.saturation
    as_of_s = clock.as_utc(as_of).timestamp()
    lookback_start = as_of_s - rules.lookback_days * 86_400
    in_window = (history.sent_at < as_of_s) & (history.sent_at >= lookback_start)
    sent_at = history.sent_at[in_window]
    is_ppv = history.is_ppv[in_window]
    is_followup = history.is_followup[in_window]
    sent, viewed = history.sent[in_window], history.viewed[in_window]
    purchased, revenue = history.purchased[in_window], history.revenue[in_window]
    hours, weekdays, ordinals = local_hour_and_day(sent_at, history.timezone)

    # -- account classification
    audience_window = sent_at >= as_of_s - settings.audience_window_days * 86_400
    reach = audience_window & ~is_followup
    audience = float(np.percentile(sent[reach], settings.audience_percentile)) if reach.any() else 0
    if history.latest_fans is not None and sent_at.size:
        fans_day, fans_count = history.latest_fans
        if fans_day.toordinal() >= int(ordinals.max()):
            audience = float(fans_count)
    history_days = (
        (clock.as_utc(as_of) - history.first_sent_at).days if history.first_sent_at else 0
    )
    is_new = (
        history_days < settings.new_page_min_days
        or history.total_messages < settings.new_page_min_messages
    )
    tier: SizeTier = "NEW" if is_new else size_tier(settings, audience)
    priced = is_ppv | is_followup
    classification = AccountClassification(
        size_tier=tier,
        audience_size=round_half_up(audience),
        active_days=int(np.unique(ordinals).size),
        total_messages=int(sent_at.size),
        total_revenue=round(float(revenue.sum()), 2),
        revenue_per_send=_safe_div(revenue.sum(), sent.sum()),
        view_rate=_safe_div(viewed.sum(), sent.sum()),
        unlock_rate=_safe_div(purchased[priced].sum(), viewed[priced].sum()),
    )

    # -- local patterns (PPVs, decayed by age)
    age_days = (as_of_s - sent_at) / 86_400
    weight = 0.5 ** (age_days / settings.half_life_days)
    ppv_hours, ppv_weekdays = hours[is_ppv], weekdays[is_ppv]
    hour_rows = _hours(revenue[is_ppv] * weight[is_ppv], sent[is_ppv] * weight[is_ppv], ppv_hours)
    day_rows = _days(settings, revenue[is_ppv], sent[is_ppv], ppv_weekdays, ordinals[is_ppv])

    # -- saturation
    holidays = _holiday_ordinals(settings, ordinals)
    not_holiday = ~np.isin(ordinals, list(holidays)) if holidays else np.ones_like(is_ppv)
    mature = sent_at <= as_of_s - rules.mature_hours * 3_600
    recent_start = as_of_s - rules.recent_days * 86_400
    usable = is_ppv & mature & not_holiday & (sent > 0)
    baseline = usable & (sent_at < recent_start)
    recent = usable & (sent_at >= recent_start)
    saturation = _saturation(
        settings,
        sent=sent,
        viewed=viewed,
        purchased=purchased,
        revenue=revenue,
        hours=hours,
        weekdays=weekdays,
        baseline=baseline,
        recent=recent,
        volume_recent=float(np.sum((sent_at >= recent_start) & ~is_followup)),
        volume_baseline=float(np.sum((sent_at < recent_start) & ~is_followup)),
        baseline_days=max((recent_start - lookback_start) / 86_400, 1.0),
        recent_days=float(rules.recent_days),
        is_new=is_new,
    )
    return _finish(
        history.page_name,
        history.timezone,
        settings,
        as_of,
        classification,
        saturation,
        day_rows,
        hour_rows,
    )


def _finish(
    page_name: str,
    timezone: str,
    settings: Settings,
    as_of: datetime,
    classification: AccountClassification,
    saturation: SaturationAnalysis,
    day_rows: list[DayOfWeek],
    hour_rows: list[HourOfDay],
) -> PerformanceReport:
    tier = settings.tier(classification.size_tier)
    risk = settings.risk(saturation.risk_level)
    parameters = OptimizationParameters(
        daily_ppv_target=max(1, round_half_up(tier.ppv_midpoint * risk.volume_factor)),
        daily_bump_target=round_half_up(tier.bumps_per_day * risk.bump_factor),
        min_ppv_gap_minutes=tier.min_ppv_gap_minutes + risk.gap_extension_minutes,
        max_messages_per_day=tier.max_messages_per_day,
        volume_adjustment_factor=risk.volume_factor,
    )
    return PerformanceReport(
        page_name=page_name,
        as_of=clock.as_utc(as_of),
        lookback_days=settings.saturation.lookback_days,
        timezone=timezone,
        account_classification=classification,
        saturation_analysis=saturation,
        day_of_week=day_rows,
        hour_of_day=hour_rows,
        optimization_parameters=parameters,
        caption_target=caption_target(settings, classification.size_tier, saturation.risk_level),
    )


def _safe_div(numerator: float, denominator: float) -> float:
    return round(float(numerator) / float(denominator), 6) if denominator > 0 else 0.0


def _hours(revenue: FloatArray, sent: FloatArray, hours: IntArray) -> list[HourOfDay]:
    """Decayed revenue per send by local hour, smoothed with the neighbouring hours (circular),
    pulled towards the page's overall rate by a few pseudo-sends; 90 % interval of a ratio
    estimator from the spread between messages."""
    import numpy as np

    def smooth(values: npt.NDArray[Any]) -> FloatArray:
        rolled: FloatArray = 0.25 * np.roll(values, 1) + 0.5 * values + 0.25 * np.roll(values, -1)
        return rolled

    sends = np.bincount(hours, minlength=24)
    total_sent = float(sent.sum())
    overall = float(revenue.sum()) / total_sent if total_sent > 0 else 0.0
    prior = HOUR_PRIOR_SENDS * float(sent.mean()) if sent.size else 0.0
    sum_revenue = smooth(np.bincount(hours, revenue, minlength=24)) + prior * overall
    sum_sent = smooth(np.bincount(hours, sent, minlength=24)) + prior
    sum_rr = smooth(np.bincount(hours, revenue * revenue, minlength=24))
    sum_rs = smooth(np.bincount(hours, revenue * sent, minlength=24))
    sum_ss = smooth(np.bincount(hours, sent * sent, minlength=24))
    mean = np.divide(sum_revenue, sum_sent, out=np.zeros(24), where=sum_sent > 0)
    squared_residuals = np.maximum(sum_rr - 2 * mean * sum_rs + mean**2 * sum_ss, 0.0)
    error = np.divide(np.sqrt(squared_residuals), sum_sent, out=np.zeros(24), where=sum_sent > 0)
    z = _NORMAL.inv_cdf(0.95)
    return [
        HourOfDay(
            hour=hour,
            sends=int(sends[hour]),
            revenue_per_send=round(float(mean[hour]), 6),
            revenue_per_send_low=round(max(0.0, float(mean[hour] - z * error[hour])), 6),
            revenue_per_send_high=round(float(mean[hour] + z * error[hour]), 6),
        )
        for hour in range(24)
    ]


def _days(
    settings: Settings,
    revenue: FloatArray,
    sent: FloatArray,
    weekdays: IntArray,
    ordinals: npt.NDArray[np.int64],
) -> list[DayOfWeek]:
    import numpy as np

    rules = settings.day_of_week
    index = _index(revenue, sent, weekdays, 7, DAY_PRIOR_MESSAGES)
    day_revenue = np.bincount(weekdays, revenue, minlength=7)
    day_sent = np.bincount(weekdays, sent, minlength=7)
    rows = []
    for day in range(7):
        weeks = np.unique(ordinals[weekdays == day]).size  # distinct dates of this weekday
        credible = weeks >= rules.min_weeks
        multiplier = (
            min(rules.max_multiplier, max(rules.min_multiplier, float(index[day])))
            if credible
            else 1.0
        )
        rows.append(
            DayOfWeek(
                day=WEEKDAYS[day],
                revenue_per_send=round(float(day_revenue[day] / day_sent[day]), 6)
                if day_sent[day] > 0
                else None,
                index=round(float(index[day]), 4),
                credible=bool(credible),
                volume_multiplier=round(multiplier, 4),
            )
        )
    return rows


def _saturation(
    settings: Settings,
    *,
    sent: FloatArray,
    viewed: FloatArray,
    purchased: FloatArray,
    revenue: FloatArray,
    hours: IntArray,
    weekdays: IntArray,
    baseline: npt.NDArray[np.bool_],
    recent: npt.NDArray[np.bool_],
    volume_recent: float,
    volume_baseline: float,
    baseline_days: float,
    recent_days: float,
    is_new: bool,
) -> SaturationAnalysis:
    import numpy as np

    volume_change = (
        (volume_recent / recent_days) / (volume_baseline / baseline_days) - 1
        if volume_baseline > 0
        else None
    )
    if is_new or baseline.sum() < 2 * MIN_RECENT_MESSAGES or recent.sum() < MIN_RECENT_MESSAGES:
        reason = "new page: not enough history" if is_new else "not enough mature messages"
        return _no_drop(settings, reason, volume_change)

    def expected_by_slot(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
        """Baseline rate × hour index × weekday index, for every message."""
        base_rate = numerator[baseline].sum() / denominator[baseline].sum()
        hour_index = _index(numerator[baseline], denominator[baseline], hours[baseline], 24, 5)
        day_index = _index(numerator[baseline], denominator[baseline], weekdays[baseline], 7, 5)
        expected: FloatArray = denominator * base_rate * hour_index[hours] * day_index[weekdays]
        return expected

    expected_purchases = float(
        sent[recent].sum() * purchased[baseline].sum() / max(sent[baseline].sum(), 1.0)
    )
    if expected_purchases < MIN_RECENT_PURCHASES:
        return _no_drop(
            settings,
            f"too few purchases to judge ({expected_purchases:.0f} expected in the recent window)",
            volume_change,
        )

    changes: dict[str, tuple[float, float]] = {}
    for name, numerator, denominator in (
        ("view", viewed, sent),
        ("unlock", purchased, viewed),
        ("revenue", revenue, sent),
    ):
        if denominator[baseline].sum() <= 0 or numerator[baseline].sum() <= 0:
            continue
        expected = expected_by_slot(numerator, denominator)
        recent_ratio = _ratio(numerator[recent], expected[recent])
        baseline_ratio = _ratio(numerator[baseline], expected[baseline])
        if recent_ratio is None or baseline_ratio is None:
            continue
        change = recent_ratio.ratio / baseline_ratio.ratio - 1
        error = math.hypot(recent_ratio.standard_error, baseline_ratio.standard_error)
        probability = _NORMAL.cdf(-change / error) if error > 0 else float(change < 0)
        changes[name] = (change, probability)
    if "revenue" not in changes:
        return _no_drop(settings, "no revenue in the baseline", volume_change)

    threshold = settings.saturation.credible_probability
    revenue_change, drop_probability = changes["revenue"]
    credible_drops = [
        -change
        for change, probability in changes.values()
        if change < 0 and probability >= threshold
    ]
    score = 0.0
    if revenue_change < 0 and drop_probability >= threshold:
        score = -revenue_change
        if credible_drops:
            score = max(score, float(np.mean(credible_drops)))
        if volume_change is not None and volume_change > 0:
            # Rising volume with falling rates is fatigue's signature, not noise.
            score += min(0.2, 0.5 * volume_change)
    score = round(min(1.0, max(0.0, score)), 4)
    level = risk_level(settings, score)
    confidence = _level_confidence(settings, level, -revenue_change, changes, drop_probability)
    return SaturationAnalysis(
        saturation_score=score,
        confidence=round(confidence, 4),
        risk_level=level,
        zone=settings.risk(level).zone,
        view_rate_change=_rounded(changes.get("view")),
        unlock_rate_change=_rounded(changes.get("unlock")),
        revenue_per_send_change=round(revenue_change, 4),
        volume_change=round(volume_change, 4) if volume_change is not None else None,
        exclusion_reason=None,
        recommended_action=RECOMMENDED_ACTIONS[level],
        drop_probability=round(drop_probability, 4),
    )


def _rounded(change: tuple[float, float] | None) -> float | None:
    return round(change[0], 4) if change is not None else None


def _level_confidence(
    settings: Settings,
    level: RiskLevel,
    drop: float,
    changes: dict[str, tuple[float, float]],
    drop_probability: float,
) -> float:
    """How sure the level is: the posterior probability of a drop when one is flagged, else of none
    large enough to raise the level."""
    if level == "LOW":
        bound = settings.risk("low").score_below or 0.3
        # Probability that the true drop is below the LOW bound, from the revenue change's z.
        change, probability = changes["revenue"]
        if probability in (0.0, 1.0):
            return 1.0 if drop < bound else 0.0
        z = _NORMAL.inv_cdf(probability)
        error = -change / z if z != 0 else 1.0
        return _NORMAL.cdf((bound - drop) / abs(error)) if error else 1.0
    return drop_probability


def _no_drop(settings: Settings, reason: str, volume_change: float | None) -> SaturationAnalysis:
    return SaturationAnalysis(
        saturation_score=0.0,
        confidence=0.0,
        risk_level="LOW",
        zone=settings.risk("low").zone,
        view_rate_change=None,
        unlock_rate_change=None,
        revenue_per_send_change=None,
        volume_change=round(volume_change, 4) if volume_change is not None else None,
        exclusion_reason=reason,
        recommended_action=RECOMMENDED_ACTIONS["LOW"],
    )


RECOMMENDED_ACTIONS: dict[RiskLevel, str] = {
    "LOW": "keep the plan: volume as the tier allows",
    "MODERATE": "trim PPV volume 10 %, lengthen gaps 30 min, more free bumps",
    "HIGH": "cut PPV volume 25 %, lengthen gaps 30 min, more free bumps",
    "CRITICAL": "cool down: 2 days without PPVs, then ramp up 10 % a day; no auto-export",
}


def analyze_pages(
    histories: list[PageHistory], settings: Settings, as_of: datetime | dict[str, datetime]
) -> list[PerformanceReport]:
    """Reports of many pages, with the platform-wide rule applied across them.

    When at least `platform_page_share` of the pages (with enough data) lost at least
    `platform_drop` of their revenue per send in the same window, the cause is the platform, not
    fatigue: every page gets exclusion_reason and none is flagged.
    """
    reports = [
        analyze(
            history,
            settings,
            as_of[history.page_name] if isinstance(as_of, dict) else as_of,
        )
        for history in histories
    ]
    rules = settings.saturation
    measured = [
        report
        for report in reports
        if report.saturation_analysis.revenue_per_send_change is not None
    ]
    dropped = [
        report
        for report in measured
        if (report.saturation_analysis.revenue_per_send_change or 0) <= -rules.platform_drop
    ]
    if len(measured) < PLATFORM_MIN_PAGES or len(dropped) < rules.platform_page_share * len(
        measured
    ):
        return reports
    reason = (
        f"platform-wide drop: {len(dropped)} of {len(measured)} pages lost >= "
        f"{rules.platform_drop:.0%} of revenue per send in the last {rules.recent_days} days"
    )
    return [_excluded(report, settings, reason) for report in reports]


def _excluded(report: PerformanceReport, settings: Settings, reason: str) -> PerformanceReport:
    saturation = replace(
        report.saturation_analysis,
        saturation_score=0.0,
        risk_level="LOW",
        zone=settings.risk("low").zone,
        exclusion_reason=reason,
        recommended_action="keep the plan: the drop is platform-wide, not this page's audience",
    )
    return _finish(
        report.page_name,
        report.timezone,
        settings,
        report.as_of,
        report.account_classification,
        saturation,
        report.day_of_week,
        report.hour_of_day,
    )
