"""Pipeline: the stage order written once (analyse -> target -> select -> build -> validate ->
persist -> gate -> export). Each function here loads what a stage needs from the store, calls the
pure stage, and writes its result back; the decisions live in the stage modules.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from eros import clock
from eros.analyze import PerformanceReport, analyze_pages
from eros.captions import lock_expiry, select_captions
from eros.errors import LockConflictError, UnknownPageError
from eros.models import CaptionSelection
from eros.schedule import Schedule, build
from eros.settings import Settings
from eros.store import Store, open_store
from eros.store.base import Page
from eros.validate import Validation, ValidationContext, validate

CAPTION_LOOKBACK_DAYS = 365  # with a 30-day half-life, older sends weigh < 0.03 %


@dataclass(frozen=True)
class PageWeek:
    """A page and the week being planned, with the instant every stage reads history up to."""

    page: Page
    week_start: date
    week_start_utc: datetime
    as_of: datetime


def page_week(page: Page, week_start: date) -> PageWeek:
    """as_of = the week's Monday 00:00 in the page's zone, or now if that is earlier."""
    tz = clock.zone(page.timezone)
    start = clock.local_datetime(clock.week_start(week_start), time(0), tz)
    start_utc = clock.as_utc(start)
    return PageWeek(page, week_start, start_utc, min(start_utc, clock.now()))


def find_pages(store: Store, names: Sequence[str] | None) -> list[Page]:
    """The named pages (all when None), or an UnknownPageError naming the first unknown one."""
    pages = {page.page_name: page for page in store.pages()}
    if names is None:
        return [pages[name] for name in sorted(pages)]
    for name in names:
        if name not in pages:
            raise UnknownPageError(name, "see `eros pages`")
    return [pages[name] for name in names]


def analyze_weeks(
    store: Store, weeks: Sequence[PageWeek], settings: Settings
) -> dict[str, PerformanceReport]:
    """Reports of the given page-weeks; every page is analysed so the platform-wide rule holds."""
    as_of = {week.page.page_name: week.as_of for week in weeks}
    latest = max(as_of.values())
    histories = store.page_histories(latest, settings.saturation.lookback_days + 1)
    everyone = {history.page_name: as_of.get(history.page_name, latest) for history in histories}
    reports = analyze_pages(histories, settings, everyone)
    return {report.page_name: report for report in reports if report.page_name in as_of}


def select_week(
    store: Store,
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    count: int | None = None,
) -> CaptionSelection:
    """The caption pools of one page-week, from the store as of the week's start."""
    name = week.page.page_name
    return select_captions(
        page_name=name,
        week_start=week.week_start,
        week_start_utc=week.week_start_utc,
        mode=mode,
        candidates=store.caption_candidates(name),
        evidence=store.caption_evidence(name, week.as_of, CAPTION_LOOKBACK_DAYS),
        last_sent=store.last_sent(name, week.as_of),
        locks=store.live_locks(week.week_start_utc),
        report=report,
        settings=settings,
        count=count,
    )


def lock_selection(
    store: Store, selection: CaptionSelection, week: PageWeek, schedule_id: str, settings: Settings
) -> None:
    """Lock every pooled caption for `schedule_id`, or raise LockConflictError naming held ones."""
    expiry = {
        item.caption_key: lock_expiry(week.week_start_utc, settings, item.message_type)
        for item in selection.caption_pool.ppv_captions + selection.caption_pool.bump_captions
    }
    held = store.lock_captions(schedule_id, week.page.page_name, expiry, clock.now())
    if held:
        raise LockConflictError(week.page.page_name, held)


def _on_lock_conflict() -> Retrying:
    """Retry a unit of work when another page locked one of its captions first."""
    return Retrying(
        retry=retry_if_exception_type(LockConflictError),
        wait=wait_random_exponential(multiplier=0.01, max=0.2),
        stop=stop_after_attempt(8),
        reraise=True,
    )


def select_and_lock(
    store_url: str,
    page_name: str,
    week_start: date,
    mode: str,
    settings: Settings,
    *,
    schedule_id: str | None = None,
) -> CaptionSelection:
    """Select a page-week's pools and lock them, re-selecting when another page took a caption
    first (each attempt is one unit of work on the store)."""
    for attempt in _on_lock_conflict():
        with attempt, open_store(store_url) as store:
            (page,) = find_pages(store, [page_name])
            week = page_week(page, week_start)
            report = analyze_weeks(store, [week], settings)[page_name]
            selection = select_week(store, week, mode, report, settings)
            lock_selection(
                store,
                selection,
                week,
                schedule_id or f"SEL_{week_start.isoformat()}_{page_name}",
                settings,
            )
    return selection


@dataclass(frozen=True)
class BuiltWeek:
    """One page-week through analyse, select, build, validate and persist."""

    report: PerformanceReport
    selection: CaptionSelection
    schedule: Schedule
    validation: Validation
    persisted: str  # created | unchanged | not saved


def validation_context(store: Store, week: PageWeek, schedule: Schedule) -> ValidationContext:
    return ValidationContext(
        ppv_targets={plan.day.isoformat(): plan.ppv_target for plan in schedule.day_plans},
        last_sent=store.last_sent(week.page.page_name, week.as_of),
        locks=store.live_locks(week.week_start_utc),
    )


def build_week(
    store: Store,
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    *,
    persist: bool = True,
) -> BuiltWeek:
    """Select, build, validate and (when valid) persist one page-week with its caption locks."""
    selection = select_week(store, week, mode, report, settings)
    schedule = build(
        report,
        selection,
        page_name=week.page.page_name,
        timezone=week.page.timezone,
        week_start=week.week_start,
        mode=mode,
        settings=settings,
    )
    validation = validate(schedule, validation_context(store, week, schedule), settings)
    persisted = "not saved"
    if persist and validation.ok:
        expiry = {
            message.caption_key: lock_expiry(week.week_start_utc, settings, message.message_type)
            for message in schedule.messages
            if message.message_type in ("ppv", "bump")
        }
        persisted = store.save_schedule(
            schedule, validation.ok, json.dumps(report_summary(report)), expiry, clock.now()
        )
    return BuiltWeek(report, selection, schedule, validation, persisted)


def report_summary(report: PerformanceReport) -> dict[str, object]:
    """What a saved schedule keeps of the analysis that shaped it."""
    saturation = report.saturation_analysis
    return {
        "size_tier": report.account_classification.size_tier,
        "audience_size": report.account_classification.audience_size,
        "risk_level": saturation.risk_level,
        "saturation_score": saturation.saturation_score,
        "zone": saturation.zone,
        "caption_target": report.caption_target,
    }


def build_page_week(
    store_url: str, page_name: str, week_start: date, mode: str, settings: Settings
) -> BuiltWeek:
    """`eros build`: one page-week end to end, re-selecting if another page locked a caption."""
    for attempt in _on_lock_conflict():
        with attempt, open_store(store_url) as store:
            (page,) = find_pages(store, [page_name])
            week = page_week(page, week_start)
            report = analyze_weeks(store, [week], settings)[page_name]
            built = build_week(store, week, mode, report, settings)
    return built
