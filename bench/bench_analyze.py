"""Benchmark: `eros analyze --all` over the 38 demo pages (load from the store + analyse).

    python bench/bench_analyze.py

Builds the demo store for the week of 2025-11-03 once, then times reading every page's 90-day
history and analysing all pages (median of 5 runs, in-process, after one warm-up).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from eros.analyze import analyze_pages
from eros.demo import build_demo
from eros.settings import load_settings
from eros.store import open_store


def main() -> None:
    settings = load_settings()
    as_of = datetime(2025, 11, 3, 8, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "demo.duckdb"
        build_demo(settings, store_path=store_path, week_start=date(2025, 11, 3))
        timings = []
        for _ in range(6):
            started = time.perf_counter()
            with open_store(str(store_path)) as store:
                histories = store.page_histories(as_of, settings.saturation.lookback_days)
            reports = analyze_pages(histories, settings, as_of)
            timings.append(time.perf_counter() - started)
        print(f"pages analysed       {len(reports)}")
        print(f"analyze --all        {statistics.median(timings[1:]) * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
