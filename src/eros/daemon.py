"""`eros daemon`: runs the jobs on cron schedules in the settings' time zone until SIGTERM.

APScheduler 3 (BlockingScheduler): each job runs at most one instance at a time in this process
(max_instances=1), missed runs are coalesced into one (a machine that slept runs a job once on
wake), and a lease in the store keeps two daemons (or a daemon and `eros jobs ...`) from running
one job at once. Each run opens the store for its own unit of work only.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from eros.jobs import JOBS, JobResult, lease_holder, run_job
from eros.settings import Settings

logger = logging.getLogger(__name__)

CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def trigger(cron: str, timezone: str) -> Any:
    """A CronTrigger from 5 cron fields (minute hour day month weekday) or 6 (seconds first)."""
    from apscheduler.triggers.cron import CronTrigger

    from eros import clock
    from eros.errors import SettingsError

    fields = cron.split()
    names = ("second", *CRON_FIELDS) if len(fields) == 6 else CRON_FIELDS
    if len(fields) != len(names):
        raise SettingsError(f"schedule {cron!r}: give 5 cron fields, or 6 with seconds first")
    try:
        return CronTrigger(timezone=clock.zone(timezone), **dict(zip(names, fields, strict=True)))
    except ValueError as error:
        raise SettingsError(f"schedule {cron!r}: {error}") from error


def schedules(settings: Settings) -> dict[str, str]:
    """Each job's cron expression."""
    return {
        "update-stats": settings.update_stats_cron,
        "sweep-locks": settings.sweep_locks_cron,
        "daily": settings.daily_cron,
    }


def run_daemon(
    store_url: str,
    settings: Settings,
    on_result: Callable[[JobResult], None] | None = None,
) -> None:
    """Block, running the jobs on their schedules, until SIGTERM or SIGINT; then wait for the
    running jobs to finish and return."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    holder = lease_holder()
    scheduler = BlockingScheduler(
        timezone=settings.timezone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.daemon_misfire_grace_seconds,
        },
    )

    def run(job: str) -> None:
        try:
            result = run_job(job, store_url, settings, holder=holder)
        except Exception:  # a failed run is in job_runs; the daemon keeps going
            logger.exception("job %s failed", job)
            return
        logger.info("%s: %s", job, result.detail)
        if on_result is not None:
            on_result(result)

    for job, cron in schedules(settings).items():
        assert job in JOBS
        scheduler.add_job(run, trigger(cron, settings.timezone), args=[job], id=job, name=job)

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s: stopping after the running jobs", signum)
        scheduler.shutdown(wait=True)  # waits for running jobs, then ends start()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM.value, signal.SIGINT.value):
        previous[signum] = signal.signal(signum, stop)
    try:
        scheduler.start()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
