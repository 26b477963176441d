"""Weekly operation on the demo agency, as an agency runs it, with today's clock:

    python bench/bench_weekly.py [--week 2025-11-03]

Builds the demo store for the week, then plans (through `eros run`, whole processes) that week, the
same week again and the next week, and prints: PPVs of the next week that repeat a PPV of the page's
previous week (and the shortest gap), shared captions planned on two pages in one week, whether the
re-run gave the same schedule_ids and byte-identical schedules.csv and how many schedules it saved.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from eros.demo import build_demo
from eros.settings import load_settings


def eros_run(store: Path, week: date, out: Path) -> tuple[dict[str, object], float]:
    command = [sys.executable, "-m", "eros", "run", "--all", "--week", week.isoformat()]
    command += ["--export", "csv", "--out", str(out), "--store", str(store), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    summary: dict[str, object] = json.loads(done.stdout)
    return summary, seconds


def ppv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["message_type"] == "ppv"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--week", type=date.fromisoformat, default=date(2025, 11, 3))
    week = parser.parse_args().week
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = build_demo(load_settings(), store_path=root / "demo.duckdb", week_start=week)
        _, first_s = eros_run(store.store_path, week, root / "first")
        again, again_s = eros_run(store.store_path, week, root / "again")
        _, later_s = eros_run(store.store_path, week + timedelta(days=7), root / "next")
        this_week = ppv_rows(root / "first" / "schedules.csv")
        next_week = ppv_rows(root / "next" / "schedules.csv")
        sent: dict[tuple[str, str], datetime] = {}
        for row in this_week:
            sent[(row["page_name"], row["caption_key"])] = datetime.fromisoformat(
                row["send_at_utc"]
            )
        repeats = [
            datetime.fromisoformat(row["send_at_utc"])
            - sent[(row["page_name"], row["caption_key"])]
            for row in next_week
            if (row["page_name"], row["caption_key"]) in sent
        ]
        pages_of: dict[str, set[str]] = defaultdict(set)
        for row in this_week:
            pages_of[row["caption_key"]].add(row["page_name"])
        shared_twice = sum(len(pages) > 1 for pages in pages_of.values())
        same_bytes = (root / "first" / "schedules.csv").read_bytes() == (
            root / "again" / "schedules.csv"
        ).read_bytes()
        summary = again["orchestration_summary"]
        assert isinstance(summary, dict)
    print(
        f"week {week} planned in {first_s:.1f} s, again in {again_s:.1f} s, next in {later_s:.1f} s"
    )
    print(
        f"next week's PPVs repeating the page's previous week  {len(repeats)} of {len(next_week)}"
    )
    if repeats:
        print(f"  shortest gap                                      {min(repeats)}")
    print(f"PPV captions planned on two pages in one week        {shared_twice}")
    print(f"re-run: byte-identical schedules.csv                 {same_bytes}")
    print(
        f"re-run: saved new / unchanged                        "
        f"{summary['saved']} / {summary['unchanged']}"
    )


if __name__ == "__main__":
    main()
