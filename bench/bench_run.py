"""Benchmark: the main job for all 38 demo pages, xlsx and CSV export included, as a whole process.

    python bench/bench_run.py [--runs 5]

Builds the demo store once; each run copies it fresh (so every page is planned and saved anew, not
found unchanged) and times `eros run --all --week 2025-11-03 --export xlsx,csv` end to end with
process start-up; prints the median, and once the same command on the already-planned store.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from eros.demo import build_demo
from eros.settings import load_settings


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "template.duckdb"
        build_demo(load_settings(), store_path=template, week_start=date(2025, 11, 3))
        store = Path(folder) / "demo.duckdb"
        command = [
            sys.executable,
            "-m",
            "eros",
            "run",
            "--all",
            "--week",
            "2025-11-03",
            "--export",
            "xlsx,csv",
            "--out",
            str(Path(folder) / "out"),
            "--store",
            str(store),
        ]
        fresh = []
        for _ in range(arguments.runs):
            shutil.copyfile(template, store)
            fresh.append(timed(command))
        again = timed(command)
        median = statistics.median(fresh)
        print(
            f"eros run --all (38 pages, xlsx + csv), fresh store: median {median:.2f} s "
            f"(min {min(fresh):.2f}, max {max(fresh):.2f}, {arguments.runs} runs)"
        )
        print(f"same command again (every schedule unchanged):     {again:.2f} s")


if __name__ == "__main__":
    main()
