"""Validate: every rule of DESIGN.md §3 checked on a built schedule, each with ok and a detail.

Pure. ok = every hard rule holds. Shortfalls that the builder explained (a short caption pool, a day
that cannot fit its PPVs) are warnings, not failures. The saturation zone is reported: RED blocks
export later, not validation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from eros import clock
from eros.captions import held_elsewhere, lock_expiry, lock_window
from eros.models import CaptionLock
from eros.schedule import Schedule, ScheduledMessage
from eros.settings import PRICE_TIERS, Settings, setting_key


@dataclass(frozen=True)
class RuleResult:
    rule: str
    ok: bool
    detail: str
    hard: bool = True


@dataclass(frozen=True)
class Validation:
    ok: bool
    zone: str
    rules: list[RuleResult]
    warnings: list[str] = field(default_factory=list)

    def failed(self) -> list[RuleResult]:
        return [rule for rule in self.rules if not rule.ok]


@dataclass(frozen=True)
class ValidationContext:
    """What a schedule is checked against beyond itself: last sends, targets, others' locks."""

    ppv_targets: dict[str, int]  # local date (ISO) -> planned PPVs
    last_sent: dict[str, datetime] = field(default_factory=dict)
    locks: Sequence[CaptionLock] = ()
    next_planned: dict[str, datetime] = field(default_factory=dict)  # first use after the week
    # The page's newest message before the week: a plan made from no recent data is never ok.
    newest_message_at: datetime | None = None


def _first(items: list[str], limit: int = 3) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def validate(schedule: Schedule, context: ValidationContext, settings: Settings) -> Validation:
    messages = sorted(schedule.messages, key=lambda message: message.send_at_utc)
    tz = clock.zone(schedule.timezone)
    week_start_utc, week_end_utc = clock.week_bounds_utc(schedule.week_start, tz)
    ppvs = [m for m in messages if m.message_type == "ppv"]
    windows = settings.windows
    rules: list[RuleResult] = []
    warnings = list(schedule.warnings)

    def rule(name: str, problems: list[str], ok_detail: str, *, hard: bool = True) -> None:
        rules.append(RuleResult(name, not problems, _first(problems) or ok_detail, hard))

    days = [plan.day for plan in schedule.day_plans]
    per_day = Counter(m.day for m in messages)
    rule(
        "every_day_has_a_message",
        [f"{day} has none" for day in days if per_day[day] == 0],
        "7 of 7 days have messages",
    )
    rule(
        "max_messages_per_day",
        [
            f"{day}: {per_day[day]} > {schedule.max_messages_per_day}"
            for day in days
            if per_day[day] > schedule.max_messages_per_day
        ],
        f"every day <= {schedule.max_messages_per_day}",
    )
    ppv_per_day = Counter(m.day.isoformat() for m in ppvs)
    over = [
        f"{day}: {ppv_per_day[day]} > target {target}"
        for day, target in context.ppv_targets.items()
        if ppv_per_day[day] > target
    ]
    short = [
        f"{day}: {ppv_per_day[day]} of {target}"
        for day, target in context.ppv_targets.items()
        if ppv_per_day[day] < target
    ]
    if short and schedule.ppv_shortfalls:  # the builder said why: a warning, not a failure
        warnings.append(f"PPV targets not met: {_first(short)}")
    unexplained = [f"short without a reason: {_first(short)}"] if short else []
    rule(
        "ppv_targets",
        over + ([] if schedule.ppv_shortfalls else unexplained),
        "PPVs per day meet the targets",
    )
    rule(
        "ppv_gap",
        [
            f"{_when(a)} -> {_when(b)}"
            for a, b in pairwise(ppvs)
            if b.send_at_utc - a.send_at_utc < timedelta(minutes=schedule.min_ppv_gap_minutes)
        ],
        f"PPVs >= {schedule.min_ppv_gap_minutes} min apart",
    )
    rule(
        "message_gap",
        [
            f"{_when(a)} -> {_when(b)}"
            for a, b in pairwise(messages)
            if b.send_at_utc - a.send_at_utc < timedelta(minutes=windows.min_message_gap_minutes)
        ],
        f"messages >= {windows.min_message_gap_minutes} min apart",
    )
    rule(
        "windows",
        [
            f"{_when(m)} {m.message_type}"
            for m in messages
            if windows.quiet_start <= m.send_at_local.time() < windows.quiet_end
            or (
                m.message_type == "ppv"
                and not windows.ppv_start <= m.send_at_local.time() <= windows.ppv_end
            )
        ],
        "PPVs 08:00-23:59, nothing in the quiet hours",
    )
    rule(
        "inside_week",
        [_when(m) for m in messages if not week_start_utc <= m.send_at_utc < week_end_utc],
        f"all inside {schedule.week_start} week",
    )
    rule(
        "page_time_zone",
        [
            _when(m)
            for m in messages
            if m.send_at_local != m.send_at_utc.astimezone(tz)
            or m.send_at_local.utcoffset() != m.send_at_utc.astimezone(tz).utcoffset()
            or m.day != m.send_at_local.date()
        ],
        f"times in {schedule.timezone}",
    )
    repeated = [key for key, count in Counter(m.caption_key for m in ppvs).items() if count > 1]
    rule("unique_ppv_captions", [key[:12] for key in repeated], "no PPV caption twice")
    rule("bump_repeat_48h", _bump_repeats(messages), "no bump twice within 48 h")
    rule("recent_data", _stale(context, settings, week_start_utc), "history is recent")
    rule("cooldown", _cooldown(messages, context, settings, week_start_utc), "no caption cooling")
    rule(
        "locks",
        _locked(messages, context, schedule.page_name, week_start_utc, settings),
        "none locked",
    )
    rule("prices", _prices(messages, settings), "prices inside their tiers")
    rule("followups_after_ppv", _follow_ups(messages), "every follow-up after its PPV")
    rule(
        "category_not_consecutive",
        [
            f"{_when(b)} {b.content_category}"
            for a, b in pairwise(ppvs)
            if a.content_category and a.content_category == b.content_category
        ],
        "no two PPVs in a row in one category",
    )
    rule(
        "price_tier_not_three_in_a_row",
        [
            f"{_when(c)} {c.price_tier}"
            for a, b, c in zip(ppvs, ppvs[1:], ppvs[2:], strict=False)
            if a.price_tier and a.price_tier == b.price_tier == c.price_tier
        ],
        "no three PPVs in a row in one price tier",
    )
    used = Counter(setting_key(m.trigger) for m in ppvs if m.trigger)
    rule(
        "trigger_budgets",
        [
            f"{trigger} {count} > {settings.trigger_budgets.get(trigger, 0)}"
            for trigger, count in used.items()
            if count > settings.trigger_budgets.get(trigger, 0)
        ],
        "trigger budgets kept",
    )
    ok = all(result.ok for result in rules if result.hard)
    return Validation(ok=ok, zone=schedule.saturation_zone, rules=rules, warnings=warnings)


def _when(message: ScheduledMessage) -> str:
    return message.send_at_local.strftime("%a %Y-%m-%d %H:%M")


def _bump_repeats(messages: list[ScheduledMessage]) -> list[str]:
    last: dict[str, datetime] = {}
    problems = []
    for message in messages:
        if message.message_type != "bump":
            continue
        previous = last.get(message.caption_key)
        if previous is not None and message.send_at_utc - previous < timedelta(hours=48):
            problems.append(f"{_when(message)} repeats a bump")
        last[message.caption_key] = message.send_at_utc
    return problems


def _cooldown(
    messages: list[ScheduledMessage],
    context: ValidationContext,
    settings: Settings,
    week_start_utc: datetime,
) -> list[str]:
    problems = []
    for message in messages:
        if message.message_type not in ("ppv", "bump"):
            continue  # a follow-up re-offers its own PPV on purpose
        days = (
            settings.cooldown_days.ppv
            if message.message_type == "ppv"
            else settings.cooldown_days.bump
        )
        last = context.last_sent.get(message.caption_key)
        if last is not None and last > week_start_utc - timedelta(days=days):
            problems.append(f"{_when(message)} sent {last:%Y-%m-%d}, cooldown {days} days")
        upcoming = context.next_planned.get(message.caption_key)
        if upcoming is not None and upcoming < lock_expiry(
            week_start_utc, settings, message.message_type
        ):
            problems.append(
                f"{_when(message)} planned again {upcoming:%Y-%m-%d}, cooldown {days} days"
            )
    return problems


def stale_data(
    newest_message_at: datetime | None, week_start_utc: datetime, settings: Settings
) -> str | None:
    """Why a page's history is too old to plan the week from, or None when it is recent."""
    if newest_message_at is None:
        return "no message history before the week"
    if newest_message_at < week_start_utc - timedelta(days=settings.stale_after_days):
        days = (week_start_utc - newest_message_at).days
        return (
            f"newest message {newest_message_at:%Y-%m-%d} is {days} days before the week of "
            f"{week_start_utc:%Y-%m-%d} (stale_after_days = {settings.stale_after_days})"
        )
    return None


def _stale(context: ValidationContext, settings: Settings, week_start_utc: datetime) -> list[str]:
    reason = stale_data(context.newest_message_at, week_start_utc, settings)
    return [] if reason is None else [reason]


def _locked(
    messages: list[ScheduledMessage],
    context: ValidationContext,
    page_name: str,
    week_start_utc: datetime,
    settings: Settings,
) -> list[str]:
    held = {
        kind: held_elsewhere(context.locks, page_name, *lock_window(week_start_utc, settings, kind))
        for kind in ("ppv", "bump")
    }
    return [
        f"{_when(m)} locked by {held[m.message_type][m.caption_key]}"
        for m in messages
        if m.message_type in held and m.caption_key in held[m.message_type]
    ]


def _prices(messages: list[ScheduledMessage], settings: Settings) -> list[str]:
    problems = []
    for message in messages:
        if message.message_type == "bump":
            if message.price != 0:
                problems.append(f"{_when(message)} bump priced {message.price}")
            continue
        if message.price_tier not in PRICE_TIERS:
            problems.append(f"{_when(message)} has no price tier")
            continue
        low, high = settings.price_band(message.price_tier)
        if not low <= message.price <= high:
            problems.append(f"{_when(message)} {message.price} outside {message.price_tier}")
    return problems


def _follow_ups(messages: list[ScheduledMessage]) -> list[str]:
    seen_ppvs: set[str] = set()
    problems = []
    for message in messages:
        if message.message_type == "ppv":
            seen_ppvs.add(message.caption_key)
        elif message.message_type == "followup" and (
            message.parent != message.caption_key or message.parent not in seen_ppvs
        ):
            problems.append(f"{_when(message)} has no earlier PPV")
    return problems
