"""Jobs: repeat-safe maintenance commands. Each works out what is missing and does only that, so
running it twice changes nothing; the daemon only triggers them."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eros import clock
from eros.bandit import caption_evidence, intra_class_correlation
from eros.errors import ErosError
from eros.models import CaptionStats, JobRun
from eros.settings import WEEKDAYS, Settings
from eros.store import Store, open_store
from eros.store.base import Alert, AnalysisSnapshot

logger = logging.getLogger(__name__)

STATS_LOOKBACK_DAYS = 3_650  # all of a page's history: old sends fade by decay, not by a cut


JOBS = ("update-stats", "sweep-locks", "daily")


@dataclass(frozen=True)
class JobResult:
    job: str
    pages_processed: int
    changed: int
    detail: str
    status: str = "ok"  # ok | partial (some pages failed) | failed | skipped (lease held elsewhere)
    pages_failed: int = 0


class JobStopped(ErosError):
    """Too many pages failed one after another: the job stops (and raises an alert)."""


@dataclass
class PageTally:
    """Pages a job processed and failed; `limit` failures in a row stop the job."""

    limit: int
    processed: int = 0
    failed: int = 0
    in_a_row: int = 0
    errors: list[str] = field(default_factory=list)

    def ok(self) -> None:
        self.processed += 1
        self.in_a_row = 0

    def fail(self, page_name: str, error: BaseException) -> None:
        logger.warning("page %s failed: %s", page_name, error)
        self.failed += 1
        self.in_a_row += 1
        self.errors.append(f"{page_name}: {error or type(error).__name__}")
        if self.in_a_row >= self.limit:
            raise JobStopped(f"stopped after {self.in_a_row} consecutive page failures")

    @property
    def status(self) -> str:
        return "partial" if self.failed else "ok"

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors[-5:]) or None

    def job_run(self, job: str, started: datetime) -> JobRun:
        """The job_runs row of a job that ran to its end, finishing now."""
        return JobRun(
            job, started, clock.now(), self.status, self.processed, self.failed, self.error
        )


def caption_stats_for_page(
    store: Store, page_name: str, settings: Settings, now: datetime, loaded: datetime
) -> list[CaptionStats]:
    """Each caption's evidence on one page, decayed to `now`; recomputed whole, never re-counted."""
    import numpy as np

    evidence = store.caption_evidence(page_name, now, STATS_LOOKBACK_DAYS)
    here = evidence.on_this_page & evidence.is_ppv
    keys, codes = np.unique(evidence.caption_key[here], return_inverse=True)
    if keys.size == 0:
        return []
    codes = codes.astype(np.int64)
    viewed, purchased = evidence.viewed[here], evidence.purchased[here]
    rho = intra_class_correlation(purchased, viewed, codes)
    age_days = (now.timestamp() - evidence.sent_at[here]) / 86_400
    successes, failures, sends = caption_evidence(
        codes, keys.size, viewed, purchased, age_days, settings.half_life_days, rho
    )
    views = np.bincount(codes, viewed, minlength=keys.size)
    purchases = np.bincount(codes, purchased, minlength=keys.size)
    last = np.full(keys.size, -np.inf)
    np.maximum.at(last, codes, evidence.sent_at[here])
    return [
        CaptionStats(
            caption_key=str(key),
            successes=float(successes[i]),
            failures=float(failures[i]),
            sends=int(sends[i]),
            views=int(views[i]),
            purchases=int(purchases[i]),
            last_sent_at=datetime.fromtimestamp(float(last[i]), UTC),
            reference_at=now,
            source_loaded_at=loaded,
            updated_at=now,
        )
        for i, key in enumerate(keys)
    ]


def _refresh_stats(store: Store, settings: Settings, now: datetime, tally: PageTally) -> int:
    """Caption stats of the pages whose messages changed; returns the rows written."""
    rows = 0
    for page_name in store.pages_needing_stats():
        try:
            loaded = store.newest_load(page_name) or now
            stats = caption_stats_for_page(store, page_name, settings, now, loaded)
            store.replace_caption_stats(page_name, stats, loaded, now)
        except JobStopped:
            raise
        except Exception as error:  # one page's failure never stops the others
            tally.fail(page_name, error)
            continue
        tally.ok()
        rows += len(stats)
    return rows


def update_stats(store: Store, settings: Settings) -> JobResult:
    """Refresh caption_bandit_stats for the pages whose messages changed since the last refresh."""
    started = clock.now()
    tally = PageTally(settings.job_max_consecutive_failures)
    try:
        rows = _refresh_stats(store, settings, started, tally)
    except JobStopped as stop:
        _stopped(store, "update-stats", started, tally, stop)
        raise
    store.record_job_run(tally.job_run("update-stats", started))
    pages = tally.processed
    detail = f"refreshed {rows} caption stats on {pages} page(s)" if pages else "up to date"
    if tally.failed:
        detail += f", {tally.failed} page(s) failed"
    return JobResult("update-stats", pages, rows, detail, tally.status, tally.failed)


def sweep_locks(store: Store) -> JobResult:
    """Free expired caption locks and those of superseded schedules."""
    started = clock.now()
    freed = store.sweep_locks(started)
    store.record_job_run(JobRun("sweep-locks", started, clock.now(), "ok", 0, 0, None))
    return JobResult("sweep-locks", 0, freed, f"freed {freed} lock(s)")


def _stopped(store: Store, job: str, started: datetime, tally: PageTally, stop: JobStopped) -> None:
    """Record a stopped run and alert about it."""
    error = f"{stop}: {tally.error}"
    store.record_job_run(
        JobRun(job, started, clock.now(), "failed", tally.processed, tally.failed, error)
    )
    store.raise_alerts(
        [
            Alert(
                f"job-stopped:{job}:{started.isoformat()}",
                clock.now(),
                None,
                "job_stopped",
                f"{job} {error}",
            )
        ]
    )


# -- daily ----------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _snapshot_day(
    store: Store, settings: Settings, day: date, now: datetime, tally: PageTally
) -> tuple[int, int, list[str]]:
    """Analyse every page as of the end of `day` (or now), keep the day's snapshot and alert for
    the pages that entered RED since the previous snapshot; returns (snapshots, alerts, RED)."""
    from eros.pipeline import PageWeek, analyze_weeks

    weeks = []
    for page in store.pages():
        tz = clock.zone(page.timezone)
        end_of_day = clock.as_utc(clock.local_datetime(day + timedelta(days=1), time(0), tz))
        monday = day - timedelta(days=day.weekday())
        start = clock.as_utc(clock.local_datetime(monday, time(0), tz))
        weeks.append(PageWeek(page, monday, start, min(end_of_day, now)))
    if not weeks:
        return 0, 0, []
    reports = analyze_weeks(store, weeks, settings)
    snapshots = []
    for week in weeks:
        name = week.page.page_name
        try:
            report = reports[name]
            saturation = report.saturation_analysis
            snapshots.append(
                AnalysisSnapshot(
                    date=day,
                    page_name=name,
                    tier=report.account_classification.size_tier,
                    risk=saturation.risk_level,
                    zone=saturation.zone,
                    score=float(saturation.saturation_score),
                    report_json=json.dumps(asdict(report), default=_json_default),
                )
            )
        except JobStopped:
            raise
        except Exception as error:
            tally.fail(name, error)
            continue
        tally.ok()
    kept = store.save_snapshots(snapshots, now)
    before = store.snapshot_zones_before(day)
    red = [row for row in snapshots if row.zone == "RED" and before.get(row.page_name) != "RED"]
    alerts = [
        Alert(
            f"entered-red:{row.page_name}:{day.isoformat()}",
            now,
            row.page_name,
            "entered_red",
            f"{row.page_name} entered RED on {day.isoformat()} (saturation score "
            f"{row.score:.2f}, risk {row.risk}): cooling days, no auto-export",
        )
        for row in red
    ]
    return kept, store.raise_alerts(alerts), [row.page_name for row in red]


def next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def _build_missing(
    store_url: str, settings: Settings, monday: date, missing: list[str], tally: PageTally
) -> int:
    """Plan next week for the pages without an active schedule, a few pages at a time so that
    `job_max_consecutive_failures` failures in a row stop the job."""
    from eros.pipeline import run_pages

    built = 0
    batch = settings.job_max_consecutive_failures
    for first in range(0, len(missing), batch):
        result = run_pages(
            store_url,
            missing[first : first + batch],
            monday,
            "optimize",
            settings,
            auto_export=False,
            destinations=(),
        )
        for run in result.pages:
            if run.built is not None and run.built.persisted == "created":
                built += 1
            if run.status == "failed" or run.built is None or not run.built.validation.ok:
                reason = "; ".join(str(error["error"]) for error in run.errors) or "invalid plan"
                tally.fail(run.page_name, ErosError(reason))
            else:
                tally.ok()
    return built


def daily(store_url: str, settings: Settings, day: date | None = None) -> JobResult:
    """The nightly job: refresh stats, sweep locks, analyse every page and keep the day's snapshot,
    alert for pages that entered RED, and on `daily_build_weekday` plan next week for the pages
    without a schedule. Repeat-safe: a second run for the same day changes nothing."""
    started = clock.now()
    day = day or started.astimezone(clock.zone(settings.timezone)).date()
    tally = PageTally(settings.job_max_consecutive_failures)
    built, red, missing = 0, list[str](), list[str]()
    monday = next_monday(day)
    build_day = WEEKDAYS[day.weekday()] == settings.daily_build_weekday
    try:
        with open_store(store_url) as store:
            stats = _refresh_stats(store, settings, started, tally)
            freed = store.sweep_locks(started)
            kept, alerted, red = _snapshot_day(store, settings, day, started, tally)
            if build_day:
                missing = [
                    page.page_name
                    for page in store.pages()
                    if store.active_schedule_id(page.page_name, monday) is None
                ]
        if missing:
            built = _build_missing(store_url, settings, monday, missing, tally)
    except JobStopped as stop:
        with open_store(store_url) as store:
            _stopped(store, "daily", started, tally, stop)
        raise
    with open_store(store_url) as store:
        store.record_job_run(tally.job_run("daily", started))
    parts = [
        f"{stats} caption stats",
        f"{freed} lock(s) freed",
        f"{kept} snapshot(s) kept for {day.isoformat()}",
        f"{alerted} RED alert(s)" + (f" ({', '.join(red)})" if red else ""),
    ]
    if build_day:
        parts.append(f"{built} schedule(s) built for the week of {monday.isoformat()}")
    if tally.failed:
        parts.append(f"{tally.failed} page failure(s)")
    changed = stats + freed + kept + alerted + built
    return JobResult(
        "daily", tally.processed, changed, ", ".join(parts), tally.status, tally.failed
    )


# -- running a job under its lease ----------------------------------------------------------------


def lease_holder() -> str:
    """This runner's name in job_leases: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def leased(store_url: str, job: str, settings: Settings, holder: str) -> Iterator[str | None]:
    """Hold `job`'s lease for the block; yields None when we hold it, else the other holder."""
    with open_store(store_url) as store:
        current = store.acquire_lease(job, holder, clock.now(), settings.job_lease_seconds)
    if current != holder:
        yield current
        return
    try:
        yield None
    finally:
        with open_store(store_url) as store:
            store.release_lease(job, holder)


def run_job(
    job: str,
    store_url: str,
    settings: Settings,
    *,
    day: date | None = None,
    holder: str | None = None,
) -> JobResult:
    """Run one job by name under its lease, so no two runners (CLI or daemons) run it at once."""
    runners: dict[str, Callable[[], JobResult]] = {
        "update-stats": lambda: _with_store(store_url, lambda store: update_stats(store, settings)),
        "sweep-locks": lambda: _with_store(store_url, sweep_locks),
        "daily": lambda: daily(store_url, settings, day),
    }
    if job not in runners:
        raise ErosError(f"unknown job {job!r}: use one of {', '.join(JOBS)}")
    with leased(store_url, job, settings, holder or lease_holder()) as other:
        if other is not None:
            return JobResult(job, 0, 0, f"skipped: running elsewhere ({other})", "skipped")
        return runners[job]()


def _with_store(store_url: str, work: Callable[[Store], JobResult]) -> JobResult:
    with open_store(store_url) as store:
        return work(store)
