"""Pipeline: the stage order written once (analyse -> target -> select -> build -> validate ->
persist -> gate -> export). Each function here loads what a stage needs from the store, calls the
pure stage, and writes its result back; the decisions live in the stage modules.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time as time_module
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from eros import clock
from eros.analyze import PerformanceReport, analyze_pages
from eros.captions import lock_expiry, select_captions
from eros.errors import ErosError, LockConflictError, TransientError, UnknownPageError
from eros.export import StreamedXlsx
from eros.export.rows import schedule_export
from eros.models import CaptionCandidate, CaptionEvidence, CaptionLock, CaptionSelection
from eros.schedule import Schedule, build
from eros.settings import Settings
from eros.store import Store, open_store
from eros.store.base import Page
from eros.validate import Validation, ValidationContext, validate

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
    """The named pages (all when None), or an UnknownPageError naming the first unknown one."""
    pages = {page.page_name: page for page in store.pages()}
    if names is None:
        return [pages[name] for name in sorted(pages)]
    for name in names:
        if name not in pages:
            raise UnknownPageError(name, "see `eros pages`", pages)
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


def _analyzed_week(
    store: Store, page_name: str, week_start: date, settings: Settings
) -> tuple[PageWeek, PerformanceReport]:
    """One page's week and its report (`eros select` and `eros build`)."""
    (page,) = find_pages(store, [page_name])
    week = page_week(page, week_start)
    return week, analyze_weeks(store, [week], settings)[page_name]


@dataclass(frozen=True)
class WeekInputs:
    """What the select, build and validate stages read of the store for one page-week, read once
    so that all three see the same snapshot."""

    candidates: list[CaptionCandidate]
    evidence: CaptionEvidence
    last_sent: dict[str, datetime]
    locks: list[CaptionLock]


def load_week_inputs(store: Store, week: PageWeek) -> WeekInputs:
    name = week.page.page_name
    return WeekInputs(
        candidates=store.caption_candidates(name),
        evidence=store.caption_evidence(name, week.as_of, CAPTION_LOOKBACK_DAYS),
        last_sent=store.last_sent(name, week.as_of),
        locks=store.live_locks(week.week_start_utc),
    )


def select_week(
    store: Store,
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    count: int | None = None,
) -> CaptionSelection:
    """The caption pools of one page-week, from the store as of the week's start."""
    return select_from(week, mode, report, settings, load_week_inputs(store, week), count)


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
            week, report = _analyzed_week(store, page_name, week_start, settings)
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


def validation_context(inputs: WeekInputs, schedule: Schedule) -> ValidationContext:
    return ValidationContext(
        ppv_targets={plan.day.isoformat(): plan.ppv_target for plan in schedule.day_plans},
        last_sent=inputs.last_sent,
        locks=inputs.locks,
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


def persist_week(store: Store, week: PageWeek, planned: BuiltWeek, settings: Settings) -> BuiltWeek:
    """Save a valid planned week with its caption locks (one transaction); an invalid one is not
    saved. A caption another page locked meanwhile raises LockConflictError (transient)."""
    if not planned.validation.ok:
        return planned
    schedule = planned.schedule
    expiry = {
        message.caption_key: lock_expiry(week.week_start_utc, settings, message.message_type)
        for message in schedule.messages
        if message.message_type in ("ppv", "bump")
    }
    persisted = store.save_schedule(
        schedule, True, json.dumps(report_summary(planned.report)), expiry, clock.now()
    )
    return replace(planned, persisted=persisted)


def build_week(
    store: Store,
    week: PageWeek,
    mode: str,
    report: PerformanceReport,
    settings: Settings,
    *,
    persist: bool = True,
    inputs: WeekInputs | None = None,
) -> BuiltWeek:
    """Select, build, validate and (when valid) persist one page-week with its caption locks.

    A caption that another page locked after this page read the locks makes the save raise
    LockConflictError (transient): the caller retries with fresh inputs."""
    planned = plan_week(week, mode, report, settings, inputs or load_week_inputs(store, week))
    return persist_week(store, week, planned, settings) if persist else planned


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
            week, report = _analyzed_week(store, page_name, week_start, settings)
            built = build_week(store, week, mode, report, settings)
            if built.persisted != "not saved":  # exported later, by hand: eros export ID
                log_skipped_exports(store, {built.schedule.schedule_id: "manual"}, ())
    return built


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


def _retrying(settings: Settings) -> Retrying:
    """Transient faults (busy store, a caption locked meanwhile, HTTP 429/5xx) are tried again."""
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        stop=stop_after_attempt(settings.retry_attempts),
        reraise=True,
    )


def _attempts(retrying: Retrying) -> int:
    return int(retrying.statistics.get("attempt_number", 1))


@dataclass(frozen=True)
class _WorkerContext:
    """What a forked planning worker needs; set just before the fork, so nothing is pickled."""

    weeks: dict[str, PageWeek]
    reports: dict[str, PerformanceReport]
    inputs: Callable[[PageWeek], WeekInputs]
    mode: str
    settings: Settings


_WORKER_CONTEXT: _WorkerContext | None = None


def _plan_in_worker(page_name: str) -> BuiltWeek:
    context = _WORKER_CONTEXT
    assert context is not None, "planning workers must be forked from run_pages"
    week = context.weeks[page_name]
    return plan_week(
        week, context.mode, context.reports[page_name], context.settings, context.inputs(week)
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
    """analyse -> target -> select -> build -> validate -> persist -> gate -> export, per page.

    Pages are planned in parallel (bounded worker processes) and saved one by one in page order;
    one page's failure never stops the others. The week defaults to the coming Monday in each
    page's time zone.
    """
    started_at, clock_start = clock.now(), time_module.perf_counter()
    # One store unit for the run (one process holds the DuckDB file; workers never touch it).
    with open_store(store_url) as store:
        pages = find_pages(store, page_names)
        weeks = [
            page_week(page, week_start or clock.coming_monday(clock.zone(page.timezone)))
            for page in pages
        ]
        reports = analyze_weeks(store, weeks, settings) if weeks else {}
        snapshot = (
            store.caption_snapshot(max(w.as_of for w in weeks), CAPTION_LOOKBACK_DAYS)
            if weeks
            else None
        )
        locks = store.live_locks(min(w.week_start_utc for w in weeks)) if weeks else []

        def from_snapshot(week: PageWeek) -> WeekInputs:
            assert snapshot is not None
            candidates, evidence, last_sent = snapshot.for_page(week.page.page_name, week.as_of)
            return WeekInputs(candidates, evidence, last_sent, locks)

        def complete(week: PageWeek, first_plan: Callable[[], BuiltWeek]) -> PageRun:
            """Persist a page's plan, planning again from the store if a caption was taken."""
            run = PageRun(week.page.page_name)
            begun = time_module.perf_counter()
            retrying = _retrying(settings)
            plans = [first_plan]
            report = reports[week.page.page_name]
            try:
                for attempt in retrying:
                    with attempt:
                        planned = (
                            plans.pop()()
                            if plans
                            else plan_week(
                                week, mode, report, settings, load_week_inputs(store, week)
                            )
                        )
                        run.built = persist_week(store, week, planned, settings)
                built = run.built
                if streamed is not None and built is not None and gate(built, auto_export) is None:
                    streamed.send(schedule_export(built.schedule))
            except Exception as error:  # one page's failure never stops the others
                if not isinstance(error, ErosError):
                    logger.exception("page %s failed", run.page_name)
                run.errors.append(
                    {
                        "page_name": run.page_name,
                        "stage": "build",
                        "error": str(error) or type(error).__name__,
                        "attempts": _attempts(retrying),
                    }
                )
            run.seconds = time_module.perf_counter() - begun
            return run

        def in_process(week: PageWeek) -> Callable[[], BuiltWeek]:
            report = reports[week.page.page_name]
            return lambda: plan_week(week, mode, report, settings, from_snapshot(week))

        # Planning is pure and CPU-bound: worker processes (forked, so they share the snapshot
        # for free) plan the pages while this process saves them, in page order so that which
        # page keeps a contested shared caption never depends on timing.
        workers = min(settings.workers, len(weeks))
        forking = parallel and workers > 1 and "fork" in multiprocessing.get_all_start_methods()
        # The workbook, the slowest export, is written by its own process as pages are saved.
        streamed = (
            StreamedXlsx(out_dir / "schedules.xlsx")
            if forking and auto_export and "xlsx" in destinations
            else None
        )
        if forking:
            global _WORKER_CONTEXT
            _WORKER_CONTEXT = _WorkerContext(
                {w.page.page_name: w for w in weeks}, reports, from_snapshot, mode, settings
            )
            try:
                context = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(workers, mp_context=context) as pool:
                    futures = [pool.submit(_plan_in_worker, w.page.page_name) for w in weeks]
                    runs = [
                        complete(week, future.result)
                        for week, future in zip(weeks, futures, strict=True)
                    ]
            finally:
                _WORKER_CONTEXT = None
        else:
            runs = [complete(week, in_process(week)) for week in weeks]
        log_skipped_exports(store, _held_back(runs, auto_export), destinations)

    exportable: list[PageRun] = []
    for run in runs:
        if run.built is None:
            continue
        reason = gate(run.built, auto_export)
        if reason is None:
            exportable.append(run)
        else:
            run.export_status, run.export_reason = "skipped", reason
    files = export_runs(store_url, exportable, destinations, out_dir, settings, streamed)
    for run in runs:
        if run.built is None:
            run.status = "failed"
        elif not run.built.validation.ok or run.export_status == "failed":
            run.status = "partial_success"
        else:
            run.status = "success"
        if on_page_done is not None:
            on_page_done(run)
    return RunResult(
        week_start=weeks[0].week_start if weeks else (week_start or clock.now().date()),
        mode=mode,
        pages=runs,
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
    with open_store(store_url) as store:
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
            "execution_time_seconds": round(result.seconds, 3),
            "average_time_per_page": round(result.seconds / len(runs), 3) if runs else 0.0,
            "timestamp": result.started_at.isoformat(),
            "saturation_breakdown": zones,
            "files": result.files,
        },
        "page_results": page_results,
        "errors": [error for run in runs for error in run.errors],
    }
