"""Benchmark: the main job on agencies of growing size, as a whole process (issue 13).

    python bench/bench_scale.py [--pages 38,200,500,1000] [--week 2025-11-03] [--repeat 3]

For each size, builds the agency once with `eros demo --pages N --no-run --week WEEK --json` in a
temporary folder (its build time, split into simulating + writing the import files and importing
them, comes from the demo's JSON), then times `eros run --all --week WEEK --export csv` as a whole
process: each run starts from a fresh copy of that store, so every run plans the same pages from the
same state. Prints the median of `--repeat` runs per size: wall seconds, pages per second, seconds
per page and peak RSS (the largest single process of a run, main or worker, as `wait4` reports it;
the largest of the runs), and the start-up floor (`python -c "import eros.cli"`) beside the
smallest size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timed:
    wall_seconds: float
    peak_rss_mb: float


def timed(command: list[str]) -> Timed:
    """Wall time and peak RSS of one command as a whole process (start-up included)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):  # 1: some page failed its checks, still a full run
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    return Timed(wall, usage.ru_maxrss / 1024)  # Linux reports kilobytes


def build(pages: int, week: str, store: Path) -> dict[str, float]:
    """Build the agency's store with `eros demo --no-run`; its build seconds and their split."""
    started = time.perf_counter()
    output = subprocess.run(
        [
            *EROS,
            "demo",
            "--pages",
            str(pages),
            "--no-run",
            "--week",
            week,
            "--store",
            str(store),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    wall = time.perf_counter() - started
    result = json.loads(output)
    return {
        "build": wall,
        "simulate": float(result["simulate_seconds"]),
        "import": float(result["import_seconds"]),
    }


EROS = [sys.executable, "-m", "eros"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", default="38,200,500,1000", help="agency sizes, comma-separated")
    parser.add_argument("--week", default="2025-11-03", help="the Monday to plan")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median)")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.pages.split(",")]

    floor = statistics.median(
        timed([sys.executable, "-c", "import eros.cli"]).wall_seconds for _ in range(5)
    )
    print(f"start-up floor (python -c 'import eros.cli'): {floor:.2f} s", flush=True)
    header = (
        f"{'pages':>6} {'build s':>8} {'(sim+write':>10} {'import)':>8} {'run wall s':>10} "
        f"{'pages/s':>8} {'s/page':>7} {'peak RSS MB':>11}"
    )
    print(header, flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="eros-scale-") as scratch:
        folder = Path(scratch)
        for pages in sizes:
            template = folder / f"agency-{pages}.duckdb"
            built = build(pages, arguments.week, template)
            store = folder / "run.duckdb"
            command = [
                *EROS,
                "run",
                "--all",
                "--week",
                arguments.week,
                "--export",
                "csv",
                "--store",
                str(store),
                "--out",
                str(folder / "out"),
            ]
            runs = []
            for _ in range(arguments.repeat):
                shutil.copyfile(template, store)
                store.with_name(store.name + ".wal").unlink(missing_ok=True)
                runs.append(timed(command))
            wall = statistics.median(run.wall_seconds for run in runs)
            peak = max(run.peak_rss_mb for run in runs)
            row = (
                f"{pages:>6} {built['build']:>8.1f} {built['simulate']:>10.1f} "
                f"{built['import']:>8.1f} {wall:>10.2f} {pages / wall:>8.1f} "
                f"{wall / pages:>7.3f} {peak:>11.0f}"
            )
            if pages == min(sizes):
                row += f"   (start-up floor {floor:.2f} s)"
            rows.append(row)
            print(row, flush=True)
            template.unlink()
    print()
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
