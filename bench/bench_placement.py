"""Benchmark: the placement (captions into PPV slots) on every demo page's instances.

    python bench/bench_placement.py [--weeks 3] [--baseline REV] [--force-solver]

Builds the demo store for the week of 2025-11-03, plans every page for `--weeks` weeks in the
three modes (not saved) and records each placement instance the builder hands to `place`. Then it
places every instance again and prints how often each method answers, the slowest and median
placement, and the objective as a share of the upper bound. `--baseline REV` also places every
instance with `src/eros/placement.py` as of a git revision (e.g. 288897b, the 0.3 s time limit)
and compares objectives instance by instance. `--force-solver` times HiGHS on every instance the
size rule lets it see, certified or not: the worst case of the limits.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import eros.placement as placement
from eros import clock
from eros.demo import build_demo
from eros.pipeline import analyze_weeks, find_pages, load_week_inputs, page_week, plan_week
from eros.settings import load_settings
from eros.store import open_store

WEEK = date(2025, 11, 3)
MODES = ("optimize", "safe", "conservative")
Instance = tuple[list[float], list[placement.PlacementCaption], dict[str, int]]


def collect(weeks: int) -> list[Instance]:
    """Every placement instance of the demo pages' plans, week after week and mode by mode."""
    instances: list[Instance] = []
    original = placement.place

    def recording(
        slot_values: Sequence[float],
        captions: Sequence[placement.PlacementCaption],
        budgets: dict[str, int],
    ) -> placement.Placement:
        instances.append((list(slot_values), list(captions), dict(budgets)))
        return original(slot_values, captions, budgets)

    settings = load_settings()
    placement.place = recording  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "demo.duckdb"
            build_demo(settings, store_path=path, week_start=WEEK)
            with open_store(str(path)) as store:
                pages = find_pages(store, None)
                for offset in range(weeks):
                    week_start = WEEK + timedelta(weeks=offset)
                    starts = [page_week(page, week_start).week_start_utc for page in pages]
                    with clock.frozen(max(starts)):
                        page_weeks = [page_week(page, week_start) for page in pages]
                        reports = analyze_weeks(store, page_weeks, settings)
                        for week in page_weeks:
                            inputs = load_week_inputs(store, week)
                            report = reports[week.page.page_name]
                            for mode in MODES:
                                plan_week(week, mode, report, settings, inputs)
    finally:
        placement.place = original
    return instances


def baseline_module(revision: str) -> ModuleType:
    """src/eros/placement.py as of `revision`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/eros/placement.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
    ).stdout
    folder = Path(tempfile.mkdtemp())
    file = folder / "placement_baseline.py"
    file.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("placement_baseline", file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["placement_baseline"] = module
    spec.loader.exec_module(module)
    return module


def timed(function: Any, *arguments: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function(*arguments)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="a git revision to compare with")
    parser.add_argument("--force-solver", action="store_true")
    arguments = parser.parse_args()
    instances = collect(arguments.weeks)
    sizes = [len(values) * len(captions) for values, captions, _ in instances]
    print(f"instances               {len(instances)} (variables: max {max(sizes)})")
    results = [timed(placement.place, *instance) for instance in instances]
    methods = Counter(result.method for result, _ in results)
    seconds = [elapsed for _, elapsed in results]
    print(f"methods                 {dict(methods)}")
    print(
        f"place() time            max {max(seconds):.2f} s, median {statistics.median(seconds):.3f}"
        " s"
    )
    for method in sorted(methods):
        worst = max(elapsed for result, elapsed in results if result.method == method)
        print(f"  slowest {method:<15} {worst:.2f} s")
    ratios = [result.objective / result.upper_bound for result, _ in results if result.upper_bound]
    print(f"objective / bound       mean {statistics.fmean(ratios):.5f}, min {min(ratios):.4f}")
    if arguments.baseline:
        old = baseline_module(arguments.baseline)
        before = [timed(old.place, *instance) for instance in instances]
        old_methods = Counter(result.method for result, _ in before)
        print(f"baseline {arguments.baseline} methods {dict(old_methods)}")
        print(f"baseline max time       {max(elapsed for _, elapsed in before):.2f} s")
        gains = [
            (new.objective - was.objective) / was.objective
            for (new, _), (was, _) in zip(results, before, strict=True)
            if was.objective
        ]
        better = sum(gain > 1e-12 for gain in gains)
        worse = sum(gain < -1e-12 for gain in gains)
        print(
            f"objective vs baseline   mean {statistics.fmean(gains) * 100:+.4f} %, "
            f"{better} better, {worse} worse, {len(gains) - better - worse} equal"
        )
    if arguments.force_solver:
        eligible = [
            instance
            for instance, size in zip(instances, sizes, strict=True)
            if size <= placement.MILP_MAX_VARIABLES
        ]
        solves = [timed(placement.solve_milp, *instance)[1] for instance in eligible]
        print(
            f"solver on all {len(eligible)} eligible: max {max(solves):.2f} s, "
            f"median {statistics.median(solves):.3f} s"
        )


if __name__ == "__main__":
    main()
