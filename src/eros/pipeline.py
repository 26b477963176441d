"""Pipeline: the stage order written once (analyse -> target -> select -> build -> validate ->
persist -> gate -> export). Each function here loads what a stage needs from the store, calls the
pure stage, and writes its result back; the decisions live in the stage modules.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time as time_module
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from eros import clock
from eros.allocate import PageDemand, allocate_shared
from eros.analyze import PerformanceReport, analyze_pages
from eros.captions import (
    Eligibility,
    SharedEvidence,
    SharedSums,
    caption_values,
    lock_window,
    page_overdispersion,
    select_captions,
    shared_evidence,
)
from eros.errors import (
    ErosError,
    InputError,
    LockConflictError,
    StaleDataError,
    TransientError,
    UnknownPageError,
)
from eros.export import StreamedXlsx
from eros.export.rows import schedule_export
from eros.models import (
    CaptionCandidate,
    CaptionEvidence,
    CaptionLock,
    CaptionSelection,
    CaptionSnapshot,
    group_bounds,
)
from eros.schedule import Schedule, build
from eros.settings import Settings
from eros.store import Store, open_store
from eros.store.base import Page, SaveRequest
from eros.validate import Validation, ValidationContext, stale_data, validate
from eros.workers import die_with_parent

logger = logging.getLogger(__name__)

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
    """The named pages (all when None), or an error naming the first unknown or repeated one."""
    pages = {page.page_name: page for page in store.pages()}
    if names is None:
        return [pages[name] for name in sorted(pages)]
    seen: set[str] = set()
    for name in names:
        if name not in pages:
            raise UnknownPageError(name, "see `eros pages`", pages)
        if name in seen:
            raise InputError(f"page {name!r} is named twice")
        seen.add(name)
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


def coming_week(settings: Settings) -> date:
    """`--week next`: the coming Monday in the agency's time zone, one ISO week for every page
    (each page plans its own local Monday of it)."""
    return clock.coming_monday(clock.zone(settings.timezone))


@dataclass(frozen=True)
class WeekInputs:
    """What the select, build and validate stages read of the store for one page-week, read once
    so that all three see the same snapshot."""

    candidates: list[CaptionCandidate]
    evidence: CaptionEvidence
    last_sent: dict[str, datetime]  # newest use before the week: sent, or planned in another week
    locks: list[CaptionLock]  # other pages' holds: saved locks and the week's allocation
    next_planned: dict[str, datetime] = field(default_factory=dict)  # first planned use after
    newest_message_at: datetime | None = None
    # Other pages' sends of shared captions, summed (kind -> caption -> successes, failures); None
    # when `evidence` carries those sends itself.
    elsewhere: dict[str, SharedSums] | None = None


@dataclass(frozen=True)
class AgencyWeek:
    """Everything planning one week reads of the store, read once: every page's week, report,
    caption bank and evidence, the saved plans and locks around the week. The one reader of
    page-week inputs for `eros select`, `eros build`, `eros run` and the backtest.

    The week's own saved schedules of the pages being re-planned are left out (a re-plan never
    competes with itself); everything else saved counts: a planned caption counts as sent at its
    planned time for the page's cooldowns, and another page's lock holds its window."""

    week_start: date
    weeks: dict[str, PageWeek]  # every page of the agency, by name
    reports: dict[str, PerformanceReport]
    snapshot: CaptionSnapshot
    planned: dict[str, Any]  # columns of store.planned_sends, without the re-planned schedules
    held: list[CaptionLock]  # saved locks meeting the week, without the re-planned schedules
    newest: dict[str, datetime]  # each page's newest message before its week
    shared: SharedEvidence  # every page's sends of the shared captions, summed once
    allocation: dict[str, str] = field(default_factory=dict)  # shared caption -> page

    def newest_message_at(self, page_name: str) -> datetime | None:
        return self.newest.get(page_name)

    @cached_property
    def planned_bounds(self) -> dict[str, tuple[int, int]]:
        """Each page's rows of `planned` (the store returns them grouped by page)."""
        return group_bounds(self.planned["page_name"])

    def stale(self, page_name: str, settings: Settings) -> str | None:
        """Why the page must not be planned from its data, or None when its data is recent."""
        week = self.weeks[page_name]
        reason = stale_data(self.newest_message_at(page_name), week.week_start_utc, settings)
        if reason is None:
            return None
        return f"page {page_name!r}: {reason}; import its recent messages first"

    def inputs(self, page_name: str, *, allocated: bool = True) -> WeekInputs:
        """One page's inputs; with `allocated`, shared captions allocated to other pages count
        as held by them."""
        base = self._read_inputs(page_name)
        if not allocated or not self.allocation:
            return base
        week = self.weeks[page_name]
        window_end = week.week_start_utc + timedelta(days=7 + LONGEST_COOLDOWN_DAYS)
        allocated_elsewhere = [
            CaptionLock(key, owner, ALLOCATION, window_end, week.week_start_utc)
            for key, owner in self.allocation.items()
            if owner != page_name
        ]
        return replace(base, locks=base.locks + allocated_elsewhere)

    def _read_inputs(self, page_name: str) -> WeekInputs:
        """The page's slice of the snapshot and of the saved plans. Made when asked, never kept:
        a slice holds other pages' sends of shared captions, so keeping every page's would grow
        with the square of the agency's size."""
        week = self.weeks[page_name]
        candidates, evidence, last_sent = self.snapshot.for_page(
            page_name, week.as_of, others=False
        )
        start_s = week.week_start_utc.timestamp()
        end_s = clock.week_bounds_utc(week.week_start, clock.zone(week.page.timezone))[1]
        planned = self.planned
        start, stop = self.planned_bounds.get(page_name, (0, 0))
        rows = range(start, stop)
        next_planned: dict[str, datetime] = {}
        for i in rows:
            key, instant = str(planned["caption_key"][i]), float(planned["send_at"][i])
            when = datetime.fromtimestamp(instant, UTC)
            if instant < start_s:
                if key not in last_sent or last_sent[key] < when:
                    last_sent[key] = when
            elif instant >= end_s.timestamp() and (
                key not in next_planned or when < next_planned[key]
            ):
                next_planned[key] = when
        return WeekInputs(
            candidates,
            evidence,
            last_sent,
            list(self.held),
            next_planned,
            self.newest_message_at(page_name),
            {
                kind: self.shared.elsewhere(
                    kind, start_s, evidence, page_overdispersion(evidence, True, kind)
                )
                for kind in ("ppv", "bump")
            },
        )


ALLOCATION = "allocation"  # the schedule_id of a hold that the week's allocation gives a page
LONGEST_COOLDOWN_DAYS = 366  # an allocation holds the whole week's window, whatever the cooldown


def read_agency_week(
    store: Store, week_start: date, settings: Settings, replanning: Sequence[str]
) -> AgencyWeek:
    """The one read of the store for planning the week starting `week_start` (local Mondays)."""
    import numpy as np

    pages = find_pages(store, None)
    if not pages:
        raise InputError(
            f"{store.url}: the store has no pages; import them with `eros import pages FILE` "
            "(or build the demo with `eros demo`)"
        )
    weeks = {page.page_name: page_week(page, week_start) for page in pages}
    reports = analyze_weeks(store, list(weeks.values()), settings)
    snapshot = store.caption_snapshot(
        max(week.as_of for week in weeks.values()), CAPTION_LOOKBACK_DAYS
    )
    longest = max(settings.cooldown_days.ppv, settings.cooldown_days.bump)
    first = min(week.week_start_utc for week in weeks.values())
    last = max(week.week_start_utc for week in weeks.values()) + timedelta(days=8)
    replanned = set(replanning)
    replaced = {
        schedule_id
        for page_name, schedule_id in store.active_schedules(week_start).items()
        if page_name in replanned
    }
    planned = store.planned_sends(
        first - timedelta(days=longest + 1), last + timedelta(days=longest + 1)
    )
    keep = np.fromiter(
        (schedule_id not in replaced for schedule_id in planned["schedule_id"]),
        dtype=bool,
        count=len(planned["schedule_id"]),
    )
    planned = {name: column[keep] for name, column in planned.items()}
    # Another page's lock matters only on a caption more than one page may use.
    contested = snapshot.contested_keys
    held = [
        lock
        for lock in store.locks_overlapping(first, last + timedelta(days=longest))
        if lock.schedule_id not in replaced and lock.caption_key in contested
    ]
    as_of = {name: week.as_of for name, week in weeks.items()}
    newest = store.newest_messages(as_of)
    shared = shared_evidence(snapshot, as_of, settings)
    return AgencyWeek(week_start, weeks, reports, snapshot, planned, held, newest, shared)


def page_demands(agency: AgencyWeek, page_name: str, settings: Settings) -> list[PageDemand]:
    """What one page wants of the week's captions, PPVs then bumps (pure; one page at a time so
    that worker processes can value the pages of a large agency in parallel). Only the values the
    allocation can use are kept: every shared caption's, and the page's best own ones."""
    import math

    shared = agency.snapshot.shared_keys
    week, report = agency.weeks[page_name], agency.reports[page_name]
    inputs = agency.inputs(page_name, allocated=False)
    classification = report.account_classification
    demands = []
    for kind in ("ppv", "bump"):
        eligibility = Eligibility.of(
            page_name,
            inputs.last_sent,
            inputs.next_planned,
            inputs.locks,
            week.week_start_utc,
            settings,
            kind,
        )
        capacity = (
            report.caption_target
            if kind == "ppv"
            else math.ceil(
                report.optimization_parameters.daily_bump_target * 7 * settings.bump_pool_factor
            )
        )
        values = caption_values(
            kind,
            inputs.candidates,
            inputs.evidence,
            eligibility,
            week.week_start_utc,
            settings,
            classification.audience_size * classification.view_rate,
            (inputs.elsewhere or {}).get(kind),
        )
        own = sorted(((-value, key) for key, value in values.items() if key not in shared))
        kept = {key: values[key] for key in values if key in shared}
        kept.update((key, -negative) for negative, key in own[:capacity])
        demands.append(PageDemand(page_name, capacity, kept))
    return demands


def allocation_pages(agency: AgencyWeek, settings: Settings) -> list[str]:
    """The pages that take part in the week's allocation: every page of the agency whose data is
    recent enough to be planned (a page outside this run still has its claim)."""
    if not agency.snapshot.shared_keys:
        return []
    return [name for name in sorted(agency.weeks) if agency.stale(name, settings) is None]


def allocate_week(
    agency: AgencyWeek,
    settings: Settings,
    demands: Sequence[Sequence[PageDemand]] | None = None,
) -> AgencyWeek:
    """The week's shared captions allocated across the agency's pages (pure). `demands` are
    `page_demands` of `allocation_pages`, when already computed (in workers)."""
    shared = agency.snapshot.shared_keys
    if not shared:
        return agency
    if demands is None:
        demands = [page_demands(agency, n, settings) for n in allocation_pages(agency, settings)]
    allocation: dict[str, str] = {}
    for kind_index in range(2):  # PPVs, then bumps
        allocation.update(allocate_shared([page[kind_index] for page in demands], shared))
    return replace(agency, allocation=allocation)


def select_from(
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    inputs: WeekInputs,
    count: int | None = None,
) -> CaptionSelection:
    """The select stage on inputs already read."""
    return select_captions(
        page_name=week.page.page_name,
        week_start=week.week_start,
        week_start_utc=week.week_start_utc,
        mode=mode,
        candidates=inputs.candidates,
        evidence=inputs.evidence,
        last_sent=inputs.last_sent,
        locks=inputs.locks,
        report=report,
        settings=settings,
        count=count,
        next_planned=inputs.next_planned,
        elsewhere=inputs.elsewhere,
    )


def select_page_week(
    store: Store,
    page_name: str,
    week_start: date,
    mode: str,
    settings: Settings,
    count: int | None = None,
) -> CaptionSelection:
    """`eros select`: one page-week's pools, from what the agency's allocation leaves it."""
    find_pages(store, [page_name])  # an unknown page is an error naming it
    agency = allocate_week(read_agency_week(store, week_start, settings, [page_name]), settings)
    return select_from(
        agency.weeks[page_name],
        mode,
        agency.reports[page_name],
        settings,
        agency.inputs(page_name),
        count,
    )


def lock_windows(
    week: PageWeek, settings: Settings, captions: Sequence[tuple[str, str]]
) -> dict[str, tuple[datetime, datetime]]:
    """The lock window of each (caption_key, kind) planned in the week."""
    return {key: lock_window(week.week_start_utc, settings, kind) for key, kind in captions}


def select_and_lock(
    store_url: str,
    page_name: str,
    week_start: date,
    mode: str,
    settings: Settings,
    *,
    schedule_id: str | None = None,
) -> CaptionSelection:
    """Select a page-week's pools and lock them in one unit of work on the store; a caption
    another page holds in an overlapping window raises LockConflictError."""
    with open_store(store_url) as store:
        selection = select_page_week(store, page_name, week_start, mode, settings)
        week = page_week(find_pages(store, [page_name])[0], week_start)
        pool = selection.caption_pool.ppv_captions + selection.caption_pool.bump_captions
        held = store.lock_captions(
            schedule_id or f"SEL_{week_start.isoformat()}_{page_name}",
            page_name,
            lock_windows(week, settings, [(item.caption_key, item.message_type) for item in pool]),
            clock.now(),
        )
    if held:
        raise LockConflictError(page_name, held)
    return selection


@dataclass(frozen=True)
class BuiltWeek:
    """One page-week through analyse, select, build, validate and persist."""

    report: PerformanceReport
    selection: CaptionSelection
    schedule: Schedule
    validation: Validation
    persisted: str  # created | unchanged | not saved


def validation_context(inputs: WeekInputs, schedule: Schedule) -> ValidationContext:
    return ValidationContext(
        ppv_targets={plan.day.isoformat(): plan.ppv_target for plan in schedule.day_plans},
        last_sent=inputs.last_sent,
        locks=inputs.locks,
        next_planned=inputs.next_planned,
        newest_message_at=inputs.newest_message_at,
    )


def plan_week(
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    inputs: WeekInputs,
) -> BuiltWeek:
    """Select, build and validate one page-week: pure, no store (so it can run in a worker)."""
    selection = select_from(week, mode, report, settings, inputs)
    schedule = build(
        report,
        selection,
        page_name=week.page.page_name,
        timezone=week.page.timezone,
        week_start=week.week_start,
        mode=mode,
        settings=settings,
    )
    validation = validate(schedule, validation_context(inputs, schedule), settings)
    return BuiltWeek(report, selection, schedule, validation, "not saved")


def save_request(week: PageWeek, planned: BuiltWeek, settings: Settings) -> SaveRequest:
    """What persisting a planned week writes: the schedule and its captions' lock windows."""
    schedule = planned.schedule
    return SaveRequest(
        schedule,
        planned.validation.ok,
        json.dumps(report_summary(planned.report)),
        lock_windows(
            week,
            settings,
            [
                (m.caption_key, m.message_type)
                for m in schedule.messages
                if m.message_type != "followup"
            ],
        ),
    )


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
    """`eros build`: one page-week end to end, from what the agency's allocation leaves it; its
    export is left to `eros export ID` (logged as skipped, manual). Raises the page's error (stale
    data, a lock conflict) when it could not be planned."""
    result = run_pages(
        store_url,
        [page_name],
        week_start,
        mode,
        settings,
        auto_export=False,
        parallel=False,
        destinations=(),
    )
    (run,) = result.pages
    if run.built is None:
        raise run.failure or ErosError(f"page {page_name!r} could not be planned")
    return run.built


# -- the main job: many pages ----------------------------------------------------------------------

PageStatus = Literal["success", "partial_success", "failed"]


@dataclass
class PageRun:
    """What happened to one page in `run_pages`."""

    page_name: str
    status: PageStatus = "failed"
    built: BuiltWeek | None = None
    export_status: str = ""  # exported | skipped | failed ("" when nothing was built)
    export_reason: str | None = None
    destinations: list[str] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    failure: ErosError | None = None  # why nothing was built, when the cause is the project's

    def fail(self, stage: str, error: Exception, attempts: int = 1) -> None:
        if isinstance(error, ErosError):
            self.failure = error
        self.errors.append(
            {
                "page_name": self.page_name,
                "stage": stage,
                "error": str(error) or type(error).__name__,
                "attempts": attempts,
            }
        )


@dataclass(frozen=True)
class RunResult:
    week_start: date
    mode: str
    pages: list[PageRun]
    seconds: float
    started_at: datetime
    files: dict[str, list[str]]


def gate(built: BuiltWeek, auto_export: bool) -> str | None:
    """The seed's export gate: None when the schedule may be exported, else why not."""
    if not built.validation.ok:
        return "invalid"
    if built.schedule.saturation_zone == "RED":
        return "red_zone"
    if not auto_export:
        return "manual"
    return None


def log_skipped_exports(store: Store, reasons: dict[str, str], destinations: Sequence[str]) -> None:
    """Log that saved schedules were held back on purpose (status 'skipped', the gate's reason as
    the error), one row per destination asked for (or 'none'). A saved schedule with no row at
    all is then one whose run stopped before its export, which `eros health` reports."""
    from eros.export.rows import ExportLogEntry

    store.record_exports(
        [
            ExportLogEntry(schedule_id, destination, "skipped", 0, 0.0, reason)
            for schedule_id, reason in reasons.items()
            for destination in destinations or ["none"]
        ],
        clock.now(),
    )


def retrying(settings: Settings) -> Retrying:
    """The one retry policy: transient faults (a busy store, HTTP 429/5xx) are tried again with
    exponential backoff and jitter; terminal ones are not."""
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        stop=stop_after_attempt(settings.retry_attempts),
        reraise=True,
    )


@dataclass(frozen=True)
class _WorkerContext:
    """What a forked planning worker needs; set just before the fork, so nothing is pickled."""

    agency: AgencyWeek
    mode: str
    settings: Settings


_WORKER_CONTEXT: _WorkerContext | None = None


def _demands_in_worker(page_name: str) -> list[PageDemand]:
    context = _WORKER_CONTEXT
    assert context is not None, "planning workers must be forked from run_pages"
    return page_demands(context.agency, page_name, context.settings)


def _plan_in_worker(page_name: str, allocation: dict[str, str]) -> BuiltWeek:
    context = _WORKER_CONTEXT
    assert context is not None, "planning workers must be forked from run_pages"
    agency = replace(context.agency, allocation=allocation)
    return _plan(agency, page_name, context.mode, context.settings)


MIN_PAGES_PER_WORKER = 8  # below this a worker process costs more than it saves


def planning_workers(pages: int, settings: Settings) -> int:
    """How many processes plan a run: never more than the setting, the cores that are free now
    (another busy process per core means one planner) or the work can use. The answer changes
    only the speed: every page is planned the same way whatever the count."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not every platform reports a load
        busy = 0.0
    free = max(1, round(cores - busy))
    return max(1, min(settings.workers, cores, free, pages // MIN_PAGES_PER_WORKER))


def _plan(agency: AgencyWeek, page_name: str, mode: str, settings: Settings) -> BuiltWeek:
    return plan_week(
        agency.weeks[page_name],
        mode,
        agency.reports[page_name],
        settings,
        agency.inputs(page_name),
    )


def run_pages(
    store_url: str,
    page_names: Sequence[str] | None,
    week_start: date | None,
    mode: str,
    settings: Settings,
    *,
    auto_export: bool = True,
    parallel: bool = True,
    destinations: Sequence[str] = (),
    out_dir: Path = Path("out"),
    on_page_done: Callable[[PageRun], None] | None = None,
) -> RunResult:
    """analyse -> allocate -> select -> build -> validate -> persist -> gate -> export.

    One read of the store; the agency's shared captions are allocated once; then every page is
    planned on its own (in parallel worker processes when there are several) and all valid
    schedules are saved in one transaction. One page's failure never stops the others. The week
    defaults to the coming ISO week (`coming_week`); each page plans its own local Monday of it.
    Pages whose newest message is older than `stale_after_days` before the week are not planned.
    """
    started_at, clock_start = clock.now(), time_module.perf_counter()
    week_start = week_start or coming_week(settings)
    streamed: StreamedXlsx | None = None
    # One store unit for the run (one process holds the DuckDB file; workers never touch it).
    with open_store(store_url) as store:
        pages = find_pages(store, page_names)
        if not pages:
            raise InputError(
                f"{store.url}: no pages to plan; import them with `eros import pages FILE`"
            )
        names = [page.page_name for page in pages]
        agency = read_agency_week(store, week_start, settings, names)
        runs = {name: PageRun(name) for name in names}
        plannable = []
        for name in names:
            reason = agency.stale(name, settings)
            if reason is None:
                plannable.append(name)
            else:
                runs[name].fail("analyze", StaleDataError(reason))
        voters = allocation_pages(agency, settings)
        workers = planning_workers(len(plannable) + len(voters), settings)
        forking = parallel and workers > 1 and "fork" in multiprocessing.get_all_start_methods()
        # The workbook, the slowest export, is written by its own process as pages are planned.
        if forking and auto_export and "xlsx" in destinations:
            streamed = StreamedXlsx(out_dir / "schedules.xlsx")
        planned: dict[str, BuiltWeek] = {}

        def done(name: str, plan: Callable[[], BuiltWeek]) -> None:
            begun = time_module.perf_counter()
            try:
                built = plan()
            except Exception as error:  # one page's failure never stops the others
                if not isinstance(error, ErosError):
                    logger.exception("page %s failed", name)
                runs[name].fail("build", error)
            else:
                planned[name] = built
                runs[name].built = built
            runs[name].seconds = time_module.perf_counter() - begun

        # Valuing and planning are pure and CPU-bound: forked worker processes share the agency's
        # week for free; between the two, this process allocates the shared captions.
        if forking:
            global _WORKER_CONTEXT
            _WORKER_CONTEXT = _WorkerContext(agency, mode, settings)
            try:
                context = multiprocessing.get_context("fork")
                chunk = max(1, len(voters) // (workers * 4))
                with ProcessPoolExecutor(
                    workers, mp_context=context, initializer=die_with_parent
                ) as pool:
                    demands = list(pool.map(_demands_in_worker, voters, chunksize=chunk))
                    agency = allocate_week(agency, settings, demands)
                    futures = [
                        pool.submit(_plan_in_worker, name, agency.allocation) for name in plannable
                    ]
                    for name, future in zip(plannable, futures, strict=True):
                        done(name, future.result)
            finally:
                _WORKER_CONTEXT = None
        else:
            agency = allocate_week(agency, settings)
            for name in plannable:
                done(name, lambda name=name: _plan(agency, name, mode, settings))  # type: ignore[misc]

        # Save every valid schedule in one transaction, in page order.
        valid = [name for name in plannable if name in planned and planned[name].validation.ok]
        requests = [save_request(agency.weeks[n], planned[n], settings) for n in valid]
        for attempt in retrying(settings):
            with attempt:
                outcomes = store.save_schedules(requests, clock.now()) if requests else []
        for name, outcome in zip(valid, outcomes, strict=True):
            run = runs[name]
            if isinstance(outcome, LockConflictError):
                run.built = None
                run.fail("persist", outcome)
            else:
                assert run.built is not None
                run.built = replace(run.built, persisted=outcome)
                if streamed is not None and gate(run.built, auto_export) is None:
                    streamed.send(schedule_export(run.built.schedule))
        log_skipped_exports(store, _held_back(list(runs.values()), auto_export), destinations)

    ordered = [runs[name] for name in names]
    exportable: list[PageRun] = []
    for run in ordered:
        if run.built is None:
            continue
        reason = gate(run.built, auto_export)
        if reason is None:
            exportable.append(run)
        else:
            run.export_status, run.export_reason = "skipped", reason
    files = export_runs(store_url, exportable, destinations, out_dir, settings, streamed)
    for run in ordered:
        if run.built is None:
            run.status = "failed"
        elif not run.built.validation.ok or run.export_status == "failed":
            run.status = "partial_success"
        else:
            run.status = "success"
        if on_page_done is not None:
            on_page_done(run)
    return RunResult(
        week_start=week_start,
        mode=mode,
        pages=ordered,
        seconds=time_module.perf_counter() - clock_start,
        started_at=started_at,
        files=files,
    )


def _held_back(runs: Sequence[PageRun], auto_export: bool) -> dict[str, str]:
    """schedule_id -> the gate's reason, for the saved schedules the gate keeps from export."""
    reasons = {}
    for run in runs:
        if run.built is not None and run.built.persisted != "not saved":
            reason = gate(run.built, auto_export)
            if reason is not None:
                reasons[run.built.schedule.schedule_id] = reason
    return reasons


def export_runs(
    store_url: str,
    runs: list[PageRun],
    destinations: Sequence[str],
    out_dir: Path,
    settings: Settings,
    streamed: StreamedXlsx | None = None,
) -> dict[str, list[str]]:
    """Export the gated schedules to every destination, recording each attempt in the log."""
    from eros.export import export_schedules, record_attempts

    if not runs:
        if streamed is not None:
            export_schedules([], ["xlsx"], out_dir, settings, streamed=streamed)
        return {}
    schedules = {}
    for run in runs:
        assert run.built is not None
        schedules[run.page_name] = schedule_export(run.built.schedule)
    # The files are written while this process holds the store, so a run whose schedules were
    # superseded meanwhile by another run exports only those still live: a file never mixes them.
    with open_store(store_url) as store:
        live = {
            run.page_name
            for run in runs
            if run.built is not None
            and store.active_schedule_id(run.page_name, run.built.schedule.week_start)
            == run.built.schedule.schedule_id
        }
        for run in runs:
            if run.page_name not in live:
                run.export_status, run.export_reason = "skipped", "superseded"
                del schedules[run.page_name]
        runs = [run for run in runs if run.page_name in live]
        if streamed is not None and len(streamed.sent) != len(schedules):
            from eros.export import ExportOutcome

            streamed.finish(ExportOutcome())  # its workbook holds a superseded page: rewrite
            streamed = None
        if not destinations:
            for run in runs:
                run.export_status = "exported"
            return {}
        outcome = export_schedules(
            list(schedules.values()), destinations, out_dir, settings, streamed=streamed
        )
        record_attempts(store, outcome.attempts)
        for run in runs:
            schedule = schedules[run.page_name]
            attempts = outcome.attempts.get(schedule.schedule_id, [])
            for attempt in attempts:
                if attempt.status == "exported":
                    run.destinations.append(attempt.destination)
                else:
                    run.errors.append(
                        {
                            "page_name": run.page_name,
                            "stage": f"export:{attempt.destination}",
                            "error": attempt.error or "failed",
                            "attempts": attempt.tries,
                        }
                    )
            failed = [
                a for a in outcome.attempts.get(schedule.schedule_id, []) if a.status != "exported"
            ]
            run.export_status = "failed" if failed else "exported"
    return outcome.files


def run_summary(result: RunResult) -> dict[str, object]:
    """The run in the seed's "Expected Results" shape: orchestration_summary + page_results."""
    runs = result.pages
    zones = {"GREEN": 0, "YELLOW": 0, "RED": 0}
    page_results: dict[str, object] = {}
    for run in runs:
        built = run.built
        entry: dict[str, object] = {"status": run.status}
        if built is not None:
            report, schedule, validation = built.report, built.schedule, built.validation
            zones[schedule.saturation_zone] = zones.get(schedule.saturation_zone, 0) + 1
            entry["performance"] = {
                "account_classification": {
                    "size_tier": report.account_classification.size_tier,
                    "audience_size": report.account_classification.audience_size,
                },
                "saturation_analysis": {
                    "saturation_score": report.saturation_analysis.saturation_score,
                    "risk_level": report.saturation_analysis.risk_level,
                },
            }
            entry["caption_selection"] = {
                "target_count": built.selection.target_count,
                "selected_count": len(built.selection.caption_pool.ppv_captions),
                "pool_health": built.selection.pool_health,
            }
            entry["schedule"] = {
                "schedule_id": schedule.schedule_id,
                "total_messages": len(schedule.messages),
                "saturation_zone": schedule.saturation_zone,
                "persisted": built.persisted,
                "validation": {"ok": validation.ok, "warnings": validation.warnings},
            }
            export: dict[str, object] = {
                "status": run.export_status,
                "schedule_id": schedule.schedule_id,
            }
            if run.export_status == "skipped":
                export["reason"] = run.export_reason
            else:
                export["destinations"] = run.destinations
            entry["export"] = export
        page_results[run.page_name] = entry
    failed = sum(run.status == "failed" for run in runs)
    status = "failed" if runs and failed == len(runs) else "completed"
    if 0 < failed < len(runs) or any(run.status == "partial_success" for run in runs):
        status = "completed_with_errors"
    return {
        "orchestration_summary": {
            "status": status,
            "week_start": result.week_start.isoformat(),
            "mode": result.mode,
            "total_pages": len(runs),
            "successful": sum(run.status == "success" for run in runs),
            "failed": failed,
            "exported": sum(run.export_status == "exported" for run in runs),
            "skipped_exports": sum(run.export_status == "skipped" for run in runs),
            "saved": sum(
                run.built is not None and run.built.persisted == "created" for run in runs
            ),
            "unchanged": sum(
                run.built is not None and run.built.persisted == "unchanged" for run in runs
            ),
            "execution_time_seconds": round(result.seconds, 3),
            "average_time_per_page": round(result.seconds / len(runs), 3) if runs else 0.0,
            "timestamp": result.started_at.isoformat(),
            "saturation_breakdown": zones,
            "files": result.files,
        },
        "page_results": page_results,
        "errors": [error for run in runs for error in run.errors],
    }
