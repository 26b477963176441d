"""The daemon runs each job on its cron schedule, stops cleanly on SIGTERM, and two daemons on one
store never run one job at once (the lease in job_leases)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eros.errors import SettingsError
from eros.jobs import JOBS, run_job
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore

SRC = Path(__file__).parents[1] / "src"
EVERY_SECOND = "* * * * * *"


def start_daemon(store: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("EROS_")},
        "PYTHONPATH": str(SRC),
        "EROS_UPDATE_STATS_CRON": EVERY_SECOND,
        "EROS_SWEEP_LOCKS_CRON": EVERY_SECOND,
        "EROS_DAILY_CRON": EVERY_SECOND,
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "eros", "daemon", "--store", str(store)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def job_runs(store_path: Path) -> list[tuple[str, datetime, datetime, str]]:
    with open_store(str(store_path)) as store:
        assert isinstance(store, DuckDBStore)
        return store.fetchall(
            "SELECT job, started_at, finished_at, status FROM job_runs ORDER BY started_at"
        )


FINISHED = re.compile(r"^\S+ \S+ INFO (update-stats|sweep-locks|daily): ", re.MULTILINE)


def wait_for_runs(logs: list[Path], enough: Callable[[Counter[str]], bool]) -> None:
    """Wait until the daemons' logs show `enough` finished runs (job -> count), however slow the
    machine is; a minute without them fails the test."""
    finished: Counter[str] = Counter()
    for _ in range(600):
        finished = Counter(
            job for log in logs if log.exists() for job in FINISHED.findall(log.read_text())
        )
        if enough(finished):
            return
        time.sleep(0.1)
    pytest.fail(f"the daemons finished only {dict(finished)} in a minute")


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"daemon did not stop on SIGTERM:\n{log.read_text()}")
    assert code == 0, log.read_text()


def test_daemon_runs_each_job_and_stops_on_sigterm(db_path: Path, tmp_path: Path) -> None:
    with open_store(str(db_path), create=True):
        pass
    log = tmp_path / "daemon.log"
    process = start_daemon(db_path, log)
    wait_for_runs([log], lambda finished: len(finished) == 3)
    stop(process, log)
    assert "daemon stopped" in log.read_text()
    jobs = {job for job, *_ in job_runs(db_path)}
    assert jobs == {"update-stats", "sweep-locks", "daily"}, log.read_text()


def test_two_daemons_never_run_one_job_at_once(db_path: Path, tmp_path: Path) -> None:
    with open_store(str(db_path), create=True):
        pass
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [start_daemon(db_path, log) for log in logs]
    # Both daemons try every job every second: wait for two rounds of each job between them.
    wait_for_runs(logs, lambda finished: min(finished[job] for job in JOBS) >= 2)
    for process, log in zip(processes, logs, strict=True):
        stop(process, log)
    runs = job_runs(db_path)
    assert len(runs) >= 3
    by_job: dict[str, list[tuple[datetime, datetime]]] = {}
    for job, started, finished, _ in runs:
        by_job.setdefault(job, []).append((started, finished))
    for job, spans in by_job.items():
        for (_, end), (next_start, _) in itertools.pairwise(spans):
            assert next_start >= end, f"{job} overlapped: {spans}"


def test_a_held_lease_skips_the_run_and_an_expired_one_is_taken_over(db_path: Path) -> None:
    settings = load_settings(store=str(db_path))
    now = datetime.now(UTC)
    with open_store(str(db_path), create=True) as store:
        assert store.acquire_lease("sweep-locks", "other", now, 3600) == "other"
        assert store.acquire_lease("sweep-locks", "me", now, 3600) == "other"
    skipped = run_job("sweep-locks", str(db_path), settings, holder="me")
    assert skipped.status == "skipped"
    with open_store(str(db_path)) as store:
        store.release_lease("sweep-locks", "other")
        assert store.acquire_lease("sweep-locks", "late", now, 0.001) == "late"
    # "late" expired: the next runner takes the lease over, runs, and releases it.
    assert run_job("sweep-locks", str(db_path), settings, holder="me").status == "ok"
    with open_store(str(db_path)) as store:
        assert isinstance(store, DuckDBStore)
        assert store.fetchall("SELECT count(*) FROM job_leases") == [(0,)]
        assert store.fetchall("SELECT job FROM job_runs") == [("sweep-locks",)]


def test_schedules_take_seconds_and_reject_nonsense() -> None:
    from eros.daemon import trigger

    assert "second" in str(trigger(EVERY_SECOND, "UTC"))
    with pytest.raises(SettingsError, match="schedule"):
        trigger("61 * * * *", "UTC")
    with pytest.raises(SettingsError, match="cron"):
        load_settings(daily_cron="every day")
