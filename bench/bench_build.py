"""Benchmark: build (and validate) the week of all 38 demo pages.

    python bench/bench_build.py

Builds the demo store for the week of 2025-11-03 once, reads the agency's week, allocates its shared
captions and selects for every page, then times the pure build + validate of all 38 schedules
(median of 5 runs after a warm-up), and once the whole read -> allocate -> select -> build ->
validate -> persist path (`run_pages`, sequential, no export).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from eros.demo import build_demo
from eros.pipeline import (
    allocate_week,
    read_agency_week,
    run_pages,
    select_from,
    validation_context,
)
from eros.schedule import build
from eros.settings import load_settings
from eros.store import open_store
from eros.validate import validate

WEEK = date(2025, 11, 3)


def main() -> None:
    settings = load_settings()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.duckdb"
        build_demo(settings, store_path=path, week_start=WEEK)
        with open_store(str(path)) as store:
            agency = allocate_week(read_agency_week(store, WEEK, settings, []), settings)
        weeks = list(agency.weeks.values())
        reports = agency.reports
        inputs = {name: agency.inputs(name) for name in agency.weeks}
        selections = {
            w.page.page_name: select_from(
                w, "optimize", reports[w.page.page_name], settings, inputs[w.page.page_name]
            )
            for w in weeks
        }
        contexts = {}
        timings = []
        for _ in range(6):
            started = time.perf_counter()
            schedules = {
                w.page.page_name: build(
                    reports[w.page.page_name],
                    selections[w.page.page_name],
                    page_name=w.page.page_name,
                    timezone=w.page.timezone,
                    week_start=WEEK,
                    mode="optimize",
                    settings=settings,
                )
                for w in weeks
            }
            if not contexts:
                contexts = {
                    w.page.page_name: validation_context(
                        inputs[w.page.page_name], schedules[w.page.page_name]
                    )
                    for w in weeks
                }
            valid = sum(
                validate(schedules[name], contexts[name], settings).ok for name in schedules
            )
            timings.append(time.perf_counter() - started)
        methods = Counter(schedule.placement_method for schedule in schedules.values())
        messages = sum(len(schedule.messages) for schedule in schedules.values())
        started = time.perf_counter()
        run_pages(str(path), None, WEEK, "optimize", settings, parallel=False)
        end_to_end = time.perf_counter() - started
        print(f"pages built             {len(schedules)} ({valid} valid, {messages} messages)")
        print(
            f"build + validate, all   {statistics.median(timings[1:]) * 1000:.0f} ms (median of 5)"
        )
        print(f"placement methods       {dict(methods)}")
        print(f"read..persist, all      {end_to_end * 1000:.0f} ms (run_pages, sequential)")


if __name__ == "__main__":
    main()
