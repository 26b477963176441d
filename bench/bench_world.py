"""Benchmark: the demo world and its store, whole and cut down to the tests' small world.

    python bench/bench_world.py [--runs 5]

Times `build_world(2025-11-03)` (38 pages × 26 weeks, in memory; median of `--runs`), the same
world cut to the 8 pages of the tests' small world (tests/conftest.py SMALL_PAGES), and once each
the import of both into a store (`eros.demo.demo_from_world`, as `eros demo --no-run` builds it).
This figure was a test (`build_world` under 3 s) until a loaded CI machine failed it; it is printed
here instead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from eros.demo import demo_from_world
from eros.settings import load_settings
from eros.simulate import World, build_world
from eros.simulate.pages import SMALL_AGENCY as SMALL_PAGES

WEEK = date(2025, 11, 3)
T = TypeVar("T")


def timed(make: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    made = make()
    return made, time.perf_counter() - started


def median_build(runs: int, pages: tuple[str, ...] | None) -> tuple[World, float, float, float]:
    times = []
    world = None
    for _ in range(runs):
        world, seconds = timed(lambda: build_world(WEEK, pages=pages))
        times.append(seconds)
    assert world is not None
    return world, statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as folder:
        for label, pages in (("38 pages", None), ("small world, 8 pages", SMALL_PAGES)):
            world, median, low, high = median_build(arguments.runs, pages)
            _, stored = timed(
                lambda world=world: demo_from_world(
                    world, settings, store_path=Path(folder) / f"{len(world.pages)}.duckdb"
                )
            )
            print(
                f"{label}: build_world median {median:.2f} s (min {low:.2f}, max {high:.2f}, "
                f"{arguments.runs} runs; {len(world.messages):,} messages, "
                f"{len(world.captions):,} captions); into a store {stored:.2f} s"
            )


if __name__ == "__main__":
    main()
