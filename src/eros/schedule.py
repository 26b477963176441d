"""Build: report + caption pools -> the week's Schedule (times, captions, prices, follow-ups).

Pure. Per local day: the PPV count from the analyzer's target × mode × day-of-week × holiday factor
(a RED page cools two days, then ramps up from 50 % by 10 % a day); PPV times by an exact dynamic
programme over 15-minute slots maximising the page's revenue-per-send curve by local hour under the
PPV window and the minimum PPV gap; follow-ups at their delays; bumps in the best remaining slots,
20 minutes clear of everything. Then captions are placed in the PPV slots (placement.py). Times are
local wall-clock times made with zoneinfo, stored as UTC instants.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from eros import clock
from eros.analyze import PerformanceReport, round_half_up
from eros.models import CaptionSelection, PooledCaption
from eros.placement import PlacementCaption, place_filled
from eros.settings import Settings, setting_key

SLOT_MINUTES = 15
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
FOLLOW_UP_REVENUE_SHARE = 0.25  # a follow-up earns about a quarter of its PPV (non-buyers only)
FOLLOW_UP_MAX_SHIFT = timedelta(hours=2)
BUMP_SPREAD_SLOTS = 4  # bumps an hour apart when the day has room


@dataclass(frozen=True)
class ScheduledMessage:
    send_at_utc: datetime
    send_at_local: datetime
    day: date
    message_type: str  # ppv | bump | followup
    caption_key: str
    caption_text: str
    price: float
    price_tier: str | None
    content_category: str | None
    trigger: str | None
    parent: str | None
    expected_revenue: float
    holiday: str | None
    note: str | None = None


@dataclass(frozen=True)
class DayPlan:
    day: date
    ppv_target: int
    bump_target: int
    holiday: str | None
    cooling: bool


@dataclass(frozen=True)
class Schedule:
    schedule_id: str
    page_name: str
    timezone: str
    week_start: date
    mode: str
    saturation_zone: str
    min_ppv_gap_minutes: int
    max_messages_per_day: int
    messages: list[ScheduledMessage]
    day_plans: list[DayPlan]
    placement_method: str
    warnings: list[str] = field(default_factory=list)
    # Why some days have fewer PPVs than planned (short pool, window, diversity); empty if none.
    ppv_shortfalls: list[str] = field(default_factory=list)

    @property
    def expected_revenue(self) -> float:
        return round(sum(message.expected_revenue for message in self.messages), 2)

    def summary(self) -> dict[str, object]:
        per_day: dict[str, dict[str, int]] = {}
        for plan in self.day_plans:
            per_day[plan.day.isoformat()] = {"ppv": 0, "bump": 0, "followup": 0, "total": 0}
        for message in self.messages:
            counts = per_day[message.day.isoformat()]
            counts[message.message_type] += 1
            counts["total"] += 1
        return {
            "total_messages": len(self.messages),
            "ppv": sum(m.message_type == "ppv" for m in self.messages),
            "bumps": sum(m.message_type == "bump" for m in self.messages),
            "followups": sum(m.message_type == "followup" for m in self.messages),
            "expected_revenue": self.expected_revenue,
            "per_day": per_day,
        }


def schedule_id(page_name: str, week_start: date, digest_input: str) -> str:
    """SCH_{ISO year}W{week}_{PAGE}_{6 chars of base32 SHA-256 of the inputs}."""
    year, week, _ = week_start.isocalendar()
    page = "".join(character for character in page_name.upper() if character.isalnum())
    digest = hashlib.sha256(digest_input.encode("utf-8")).digest()
    return f"SCH_{year}W{week:02d}_{page}_{base64.b32encode(digest).decode()[:6]}"


# -- daily volume ----------------------------------------------------------------------------------


def holiday_on(day: date, settings: Settings) -> tuple[str | None, float]:
    """The holiday on a local date (if any) and its volume factor."""
    names = clock.holiday_dates(
        settings.holidays.country, settings.holidays.categories, range(day.year, day.year + 1)
    ).get(day, ())
    if not names:
        return None, 1.0
    factors = [
        settings.holidays.factors.get(name, settings.holidays.default_factor) for name in names
    ]
    return names[0], max(factors)


def day_plans(
    report: PerformanceReport, week_start: date, mode: str, settings: Settings
) -> list[DayPlan]:
    tier = settings.tier(report.account_classification.size_tier)
    risk_name = report.saturation_analysis.risk_level
    risk = settings.risk(risk_name)
    mode_rule = settings.mode(mode)
    cooling = settings.cooling
    parameters = report.optimization_parameters
    plans = []
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        holiday, holiday_factor = holiday_on(day, settings)
        dow = report.day_of_week[offset].volume_multiplier if report.day_of_week else 1.0
        is_cooling = risk_name == "CRITICAL" and offset < cooling.days
        if risk_name == "CRITICAL":
            volume = cooling.ramp_start + cooling.ramp_step * max(0, offset - cooling.days)
        else:
            volume = risk.volume_factor
        ppv = 0
        if not is_cooling:
            raw = tier.ppv_midpoint * volume * mode_rule.volume_factor * dow * holiday_factor
            ppv = max(1, round_half_up(raw))
        ppv = min(ppv, parameters.max_messages_per_day)
        bumps = max(0, min(parameters.daily_bump_target, parameters.max_messages_per_day - ppv))
        plans.append(DayPlan(day, ppv, bumps, holiday, is_cooling))
    return plans


# -- times -----------------------------------------------------------------------------------------


def _slot_time(day: date, slot: int, tz: ZoneInfo) -> datetime | None:
    """The local datetime of a slot, or None when that wall-clock time is skipped or repeated."""
    wall = datetime.combine(day, time(slot * SLOT_MINUTES // 60, slot * SLOT_MINUTES % 60))
    local = wall.replace(tzinfo=tz)
    back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    other_fold = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if back != wall or other_fold != local.astimezone(UTC):
        return None
    return local


@lru_cache(maxsize=512)
def _day_slots(day: date, timezone: str) -> list[datetime | None]:
    """Every slot's local datetime on a day (None where the wall clock skips or repeats it);
    pages share time zones, so this is cached."""
    tz = clock.zone(timezone)
    return [_slot_time(day, slot, tz) for slot in range(SLOTS_PER_DAY)]


def _in_window(local: datetime, start: time, end: time) -> bool:
    return start <= local.time() <= end


def best_slots(values: Sequence[float], allowed: Sequence[bool], count: int, gap: int) -> list[int]:
    """Exactly the `count` allowed slots, each `gap` or more apart, with the largest total value
    (dynamic programme; fewer when fewer fit). Ties go to the earlier slots."""
    slots = len(values)
    negative = -math.inf
    # best[i][k]: best total using slots < i with k chosen; choice[i][k]: slot i-1 taken.
    best = [[negative] * (count + 1) for _ in range(slots + 1)]
    took = [[False] * (count + 1) for _ in range(slots + 1)]
    for i in range(slots + 1):
        best[i][0] = 0.0
    for i in range(1, slots + 1):
        for k in range(1, count + 1):
            skip = best[i - 1][k]
            take = negative
            if allowed[i - 1]:
                previous = best[max(0, i - gap)][k - 1]
                if previous > negative:
                    take = previous + values[i - 1]
            if take > skip + 1e-12:
                best[i][k], took[i][k] = take, True
            else:
                best[i][k] = skip
    reachable = max((k for k in range(count + 1) if best[slots][k] > negative), default=0)
    chosen = []
    i, k = slots, reachable
    while k > 0 and i > 0:
        if took[i][k]:
            chosen.append(i - 1)
            i, k = max(0, i - gap), k - 1
        else:
            i -= 1
    return sorted(chosen)


def hour_values(report: PerformanceReport) -> list[float]:
    """Each local hour's revenue per send over the mean (flat when the page has no history)."""
    rows = sorted(report.hour_of_day, key=lambda row: row.hour)
    values = [row.revenue_per_send for row in rows] if len(rows) == 24 else []
    mean = sum(values) / 24 if values else 0.0
    if mean <= 0:
        return [1.0] * 24
    return [value / mean for value in values]


# -- the build -------------------------------------------------------------------------------------


def build(
    report: PerformanceReport,
    selection: CaptionSelection,
    *,
    page_name: str,
    timezone: str,
    week_start: date,
    mode: str,
    settings: Settings,
) -> Schedule:
    """The week's schedule for one page (pure: the same inputs give the same schedule and id)."""
    tz = clock.zone(timezone)
    week_start = clock.week_start(week_start)
    windows = settings.windows
    parameters = report.optimization_parameters
    mode_rule = settings.mode(mode)
    min_gap = parameters.min_ppv_gap_minutes + mode_rule.gap_extension_minutes
    gap_slots = math.ceil(min_gap / SLOT_MINUTES)
    any_gap = timedelta(minutes=windows.min_message_gap_minutes)
    hours = hour_values(report)
    plans = day_plans(report, week_start, mode, settings)
    day_slots = {plan.day: _day_slots(plan.day, timezone) for plan in plans}
    week_end_utc = clock.week_bounds_utc(week_start, tz)[1]
    warnings: list[str] = []
    shortfalls: list[str] = []

    # 1. PPV times, per day (exact DP), then captions placed across the week.
    ppv_times: list[datetime] = []
    ppv_values: list[float] = []
    for plan_index, plan in enumerate(plans):
        if plan.ppv_target == 0:
            continue
        locals_ = day_slots[plan.day]
        allowed = [
            local is not None and _in_window(local, windows.ppv_start, windows.ppv_end)
            for local in locals_
        ]
        values = [hours[slot * SLOT_MINUTES // 60] for slot in range(SLOTS_PER_DAY)]
        chosen = best_slots(values, allowed, plan.ppv_target, gap_slots)
        if len(chosen) < plan.ppv_target:
            shortfalls.append(
                f"{plan.day}: only {len(chosen)} of {plan.ppv_target} PPVs fit the window "
                f"with a {min_gap}-minute gap"
            )
        # A slot's value: the hour's revenue index × the weekday's (1 where unknown).
        day_index = report.day_of_week[plan_index].index if report.day_of_week else 1.0
        for slot in chosen:
            local = locals_[slot]
            assert local is not None
            ppv_times.append(local)
            ppv_values.append(values[slot] * day_index)
    pool = selection.caption_pool.ppv_captions
    if len(pool) < len(ppv_times):
        shortfalls.append(
            f"short PPV pool: {len(pool)} captions for {len(ppv_times)} PPV slots; "
            f"{len(ppv_times) - len(pool)} slot(s) left out"
        )
        keep = sorted(sorted(range(len(ppv_times)), key=lambda i: (-ppv_values[i], i))[: len(pool)])
        ppv_times = [ppv_times[i] for i in keep]
        ppv_values = [ppv_values[i] for i in keep]
    viewers = report.account_classification.audience_size * report.account_classification.view_rate
    kept, placement = place_filled(
        ppv_values,
        [
            PlacementCaption(
                value=item.posterior_mean * item.price * viewers,
                category=item.content_category or "",
                price_tier=item.price_tier or "",
                trigger=setting_key(item.trigger) if item.trigger else None,
            )
            for item in pool
        ],
        dict(settings.trigger_budgets),
    )
    messages: list[ScheduledMessage] = []
    for slot, index in zip(kept, placement.caption_by_slot, strict=True):
        assert index is not None
        item = pool[index]
        expected = ppv_values[slot] * item.posterior_mean * item.price * viewers
        messages.append(
            _message(ppv_times[slot], "ppv", item, item.price, plans, expected=expected)
        )
    if len(kept) < len(ppv_times):
        shortfalls.append(
            f"{len(ppv_times) - len(kept)} PPV slot(s) left out: the diversity rules or the "
            "trigger budgets leave no caption for them"
        )

    # 2. Follow-ups at their delays, inside the week and outside the quiet hours.
    occupied = sorted(message.send_at_utc for message in messages)
    per_day = {plan.day: plan for plan in plans}
    counts = {plan.day: sum(m.day == plan.day for m in messages) for plan in plans}
    follow_ups_on = dict.fromkeys(per_day, 0)
    if mode_rule.follow_ups:
        for ppv in sorted(
            (m for m in messages if m.message_type == "ppv"), key=lambda m: m.send_at_utc
        ):
            rule = settings.follow_up(ppv.price_tier)
            for delay in rule.delays_hours if rule else ():
                when = _follow_up_time(
                    ppv.send_at_utc + timedelta(hours=delay), tz, occupied, any_gap, settings
                )
                if when is None or when >= week_end_utc:
                    continue
                day = when.astimezone(tz).date()
                # A follow-up is one of the day's secondary messages: it takes a bump's place.
                if (
                    day not in per_day
                    or counts[day] >= parameters.max_messages_per_day
                    or follow_ups_on[day] >= per_day[day].bump_target
                ):
                    continue
                note = "only if unopened" if rule and rule.only_if_unopened else None
                messages.append(
                    ScheduledMessage(
                        send_at_utc=when,
                        send_at_local=when.astimezone(tz),
                        day=day,
                        message_type="followup",
                        caption_key=ppv.caption_key,
                        caption_text=ppv.caption_text,
                        price=ppv.price,
                        price_tier=ppv.price_tier,
                        content_category=ppv.content_category,
                        trigger=ppv.trigger,
                        parent=ppv.caption_key,
                        expected_revenue=round(ppv.expected_revenue * FOLLOW_UP_REVENUE_SHARE, 2),
                        holiday=per_day[day].holiday,
                        note=note,
                    )
                )
                insort(occupied, when)
                counts[day] += 1
                follow_ups_on[day] += 1

    # 3. Bumps: best remaining slots, 20 minutes clear of every message, within the daily maximum.
    bump_pool = list(selection.caption_pool.bump_captions)
    bump_slots: list[datetime] = []
    for plan in plans:
        room = min(
            plan.bump_target - follow_ups_on[plan.day],
            parameters.max_messages_per_day - counts[plan.day],
        )
        if room <= 0:
            continue
        locals_ = day_slots[plan.day]
        allowed = [
            local is not None
            and not _quiet(local, settings)
            and _clear(local.astimezone(UTC), occupied, any_gap)
            for local in locals_
        ]
        # Bumps belong in the waking day: the small hours are allowed but worth a tenth.
        values = [
            hours[slot * SLOT_MINUTES // 60]
            * (1.0 if _in_window(local, windows.ppv_start, windows.ppv_end) else 0.1)
            if local is not None
            else 0.0
            for slot, local in enumerate(locals_)
        ]
        minimum_gap = math.ceil(any_gap / timedelta(minutes=SLOT_MINUTES))
        chosen = best_slots(values, allowed, room, max(minimum_gap, BUMP_SPREAD_SLOTS))
        if len(chosen) < room:  # spread them less rather than send fewer
            chosen = best_slots(values, allowed, room, minimum_gap)
        for slot in chosen:
            local = locals_[slot]
            assert local is not None
            bump_slots.append(local)
            insort(occupied, local.astimezone(UTC))
            counts[plan.day] += 1
    # A short pool is spread over the week: each day's first bump is served before second ones.
    bump_slots.sort()
    first_of_day: dict[date, datetime] = {}
    for local in bump_slots:
        first_of_day.setdefault(local.date(), local)
    order = sorted(first_of_day.values()) + [
        local for local in bump_slots if first_of_day[local.date()] != local
    ]
    uses: dict[str, list[datetime]] = {}
    short_bumps = 0
    for local in order:
        caption = _next_bump(bump_pool, uses, local)
        if caption is None:
            short_bumps += 1
            counts[local.date()] -= 1
            continue
        uses.setdefault(caption.caption_key, []).append(local.astimezone(UTC))
        messages.append(_message(local, "bump", caption, 0.0, plans, expected=0.0))
    if short_bumps:
        warnings.append(f"short bump pool: {short_bumps} bump slot(s) left out")
    warnings.extend(_empty_days(plans, messages))

    messages.sort(key=lambda message: (message.send_at_utc, message.message_type))
    digest = json.dumps(
        {
            "page": page_name,
            "week": week_start.isoformat(),
            "mode": mode,
            "zone": report.saturation_analysis.zone,
            "messages": [
                [m.send_at_utc.isoformat(), m.message_type, m.caption_key, m.price, m.parent]
                for m in messages
            ],
        },
        sort_keys=True,
    )
    return Schedule(
        schedule_id=schedule_id(page_name, week_start, digest),
        page_name=page_name,
        timezone=timezone,
        week_start=week_start,
        mode=mode,
        saturation_zone=report.saturation_analysis.zone,
        min_ppv_gap_minutes=min_gap,
        max_messages_per_day=parameters.max_messages_per_day,
        messages=messages,
        day_plans=plans,
        placement_method=placement.method,
        warnings=shortfalls + warnings,
        ppv_shortfalls=shortfalls,
    )


def _clear(instant: datetime, occupied: list[datetime], gap: timedelta) -> bool:
    """No message in the sorted `occupied` is closer than `gap` to `instant`."""
    position = bisect_left(occupied, instant)
    before = occupied[position - 1] if position > 0 else None
    after = occupied[position] if position < len(occupied) else None
    return (before is None or instant - before >= gap) and (after is None or after - instant >= gap)


def _quiet(local: datetime, settings: Settings) -> bool:
    return settings.windows.quiet_start <= local.time() < settings.windows.quiet_end


def _message(
    local: datetime,
    kind: str,
    item: PooledCaption,
    price: float,
    plans: list[DayPlan],
    *,
    expected: float,
) -> ScheduledMessage:
    day = local.date()
    holiday = next((plan.holiday for plan in plans if plan.day == day), None)
    return ScheduledMessage(
        send_at_utc=local.astimezone(UTC),
        send_at_local=local,
        day=day,
        message_type=kind,
        caption_key=item.caption_key,
        caption_text=item.caption_text,
        price=round(price, 2),
        price_tier=item.price_tier,
        content_category=item.content_category,
        trigger=item.trigger,
        parent=None,
        expected_revenue=round(expected, 2),
        holiday=holiday,
    )


def _follow_up_time(
    target: datetime,
    tz: ZoneInfo,
    occupied: list[datetime],
    any_gap: timedelta,
    settings: Settings,
) -> datetime | None:
    """The follow-up's instant: its delay after the PPV, moved out of the quiet hours and clear of
    other messages by whole slots (at most two hours later); None when no such time exists."""
    local = target.astimezone(tz)
    if _quiet(local, settings):
        local = datetime.combine(local.date(), settings.windows.quiet_end, tzinfo=tz)
    minute = local.minute - local.minute % SLOT_MINUTES
    candidate = local.replace(minute=minute, second=0, microsecond=0)
    if candidate < local:
        candidate += timedelta(minutes=SLOT_MINUTES)
    limit = candidate + FOLLOW_UP_MAX_SHIFT
    while candidate <= limit:
        instant = candidate.astimezone(UTC)
        if not _quiet(instant.astimezone(tz), settings) and _clear(instant, occupied, any_gap):
            return instant
        candidate = (instant + timedelta(minutes=SLOT_MINUTES)).astimezone(tz)
    return None


def _next_bump(
    pool: list[PooledCaption], uses: dict[str, list[datetime]], at: datetime
) -> PooledCaption | None:
    """The best-ranked bump not used yet; else the one used least, if 48 h or more from each use."""
    for caption in pool:
        if caption.caption_key not in uses:
            return caption
    # Elapsed time in UTC: two local times of one zone subtract as wall clocks, wrong across DST.
    instant = at.astimezone(UTC)
    rested = [
        caption
        for caption in pool
        if all(abs(instant - used) >= timedelta(hours=48) for used in uses[caption.caption_key])
    ]
    return min(rested, key=lambda c: (len(uses[c.caption_key]), c.caption_key)) if rested else None


def _empty_days(plans: list[DayPlan], messages: list[ScheduledMessage]) -> list[str]:
    days = {message.day for message in messages}
    return [f"{plan.day}: no message could be planned" for plan in plans if plan.day not in days]


def schedule_as_dict(schedule: Schedule) -> dict[str, object]:
    """The schedule in the JSON shape of `eros build --json`."""
    return {
        "schedule_id": schedule.schedule_id,
        "page_name": schedule.page_name,
        "week_start": schedule.week_start.isoformat(),
        "mode": schedule.mode,
        "saturation_zone": schedule.saturation_zone,
        "messages": [
            {
                "send_at_local": message.send_at_local.isoformat(),
                "send_at_utc": message.send_at_utc.isoformat().replace("+00:00", "Z"),
                **{
                    key: value
                    for key, value in asdict(message).items()
                    if key not in ("send_at_local", "send_at_utc")
                },
                "day": message.day.isoformat(),
            }
            for message in schedule.messages
        ],
        "summary": schedule.summary(),
        "placement_method": schedule.placement_method,
    }
