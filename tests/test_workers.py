"""Killing `eros run` with SIGKILL leaves none of its child processes running: the planning workers
and the workbook writer die with it (eros.workers.die_with_parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from eros.settings import load_settings

# run_pages over every demo page with parallel planning and the streamed workbook: the children
# are the planning workers and the xlsx writer.
DRIVER = """
import sys
from datetime import date
from pathlib import Path
from eros import pipeline
from eros.pipeline import run_pages
from eros.settings import load_settings
pipeline.planning_workers = lambda pages, settings: 2  # fork whatever the machine's load
run_pages(sys.argv[1], None, date(2025, 11, 3), "optimize", load_settings(), parallel=True,
          destinations=("xlsx",), out_dir=Path(sys.argv[2]))
"""
KILLS = 3
WAIT_S = 120.0  # upper bound of every wait; each ends as soon as its condition holds


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def session_members(session: int) -> set[int]:
    """Live (not zombie) processes of a session."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        # fields: state ppid pgrp session ...
        if fields is not None and fields[0] != "Z" and int(fields[3]) == session:
            members.add(int(entry.name))
    return members


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize("kill", range(KILLS))
def test_killing_a_run_kills_its_workers(kill: int, demo_store_path: Path, tmp_path: Path) -> None:
    expected_children = 1 + min(load_settings().workers, 38)  # the xlsx writer + the workers
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(demo_store_path), str(tmp_path / "out")],
        start_new_session=True,  # its session id is its pid: every descendant can be found
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # The first kill comes as soon as the first worker exists (racing the next forks and the
        # workers' start-up), the others once every worker has started.
        wanted = 2 if kill == 0 else expected_children
        assert wait_until(lambda: len(children(driver.pid)) >= wanted or driver.poll() is not None)
        assert driver.poll() is None, "the run ended before its workers could be killed"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        assert wait_until(lambda: not session_members(driver.pid), timeout_s=30.0), (
            f"still running after kill -9 of the run: {sorted(session_members(driver.pid))}"
        )
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for survivor in session_members(driver.pid):  # only ever this test's own processes
            os.kill(survivor, signal.SIGKILL)
        assert driver.stderr is not None
        driver.stderr.close()


# A parent that forks one multiprocessing child calling die_with_parent, then waits forever; with
# "watchdog" the child uses the portable fallback (the parent-pid poll) instead of prctl.
MECHANISM_DRIVER = """
import multiprocessing, sys, time
import eros.workers

def child():
    if sys.argv[1] == "watchdog":
        eros.workers._kernel_signals_parent_death = lambda: False
    eros.workers.die_with_parent()
    time.sleep(600)

process = multiprocessing.get_context("fork").Process(target=child)
process.start()
process.join()
"""


@pytest.mark.parametrize("mechanism", ["prctl", "watchdog"])
def test_a_child_dies_with_its_killed_parent(mechanism: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", MECHANISM_DRIVER, mechanism], start_new_session=True
    )
    try:
        assert wait_until(lambda: bool(children(parent.pid)))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert wait_until(lambda: not session_members(parent.pid), timeout_s=30.0)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for survivor in session_members(parent.pid):
            os.kill(survivor, signal.SIGKILL)
