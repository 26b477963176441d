"""Benchmark: `eros health` and `eros verify` on the planned demo store, as whole processes.

    python bench/bench_health.py [--runs 5]

Builds the demo store for the week of 2025-11-03 and plans every page (as `eros demo` leaves it),
then times each command end to end with process start-up (median of `--runs`). The design asks for
well under two seconds; this was asserted in tests/test_health.py until a loaded CI machine failed
it, so the figure is printed here instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from eros import clock
from eros.demo import build_demo
from eros.pipeline import run_pages
from eros.settings import load_settings

NOW = datetime(2025, 11, 2, 20, tzinfo=UTC)  # as in tests/test_health.py


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        check=False,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "EROS_NOW": NOW.isoformat()},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "demo.duckdb"
        build_demo(settings, store_path=store, week_start=date(2025, 11, 3))
        with clock.frozen(NOW):
            run_pages(str(store), None, date(2025, 11, 3), "optimize", settings, auto_export=False)
        for command in ("health", "verify"):
            times = [
                timed([sys.executable, "-m", "eros", command, "--store", str(store)])
                for _ in range(arguments.runs)
            ]
            print(
                f"eros {command} (38 pages, planned): median {statistics.median(times):.2f} s "
                f"(min {min(times):.2f}, max {max(times):.2f}, {arguments.runs} runs)"
            )


if __name__ == "__main__":
    main()
