"""Benchmark: build (and validate) the week of all 38 demo pages.

    python bench/bench_build.py

Builds the demo store for the week of 2025-11-03 once, analyses and selects for every page, then
times the pure build + validate of all 38 schedules (median of 5 runs after a warm-up), and once
the whole select -> build -> validate -> persist path.
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
    analyze_weeks,
    build_week,
    find_pages,
    load_week_inputs,
    page_week,
    select_week,
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
            weeks = [page_week(page, WEEK) for page in find_pages(store, None)]
            reports = analyze_weeks(store, weeks, settings)
            selections = {
                w.page.page_name: select_week(
                    store, w, "optimize", reports[w.page.page_name], settings
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
                            load_week_inputs(store, w), schedules[w.page.page_name]
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
            for w in weeks:
                build_week(store, w, "optimize", reports[w.page.page_name], settings)
            end_to_end = time.perf_counter() - started
        print(f"pages built             {len(schedules)} ({valid} valid, {messages} messages)")
        print(
            f"build + validate, all   {statistics.median(timings[1:]) * 1000:.0f} ms (median of 5)"
        )
        print(f"placement methods       {dict(methods)}")
        print(f"select+build+persist    {end_to_end * 1000:.0f} ms for all pages, one store unit")


if __name__ == "__main__":
    main()
