"""Benchmark: the full closed-loop backtest (issue 7): 38 demo pages × 8 weeks × 4 policies.

    PYTHONPATH=src python bench/bench_backtest.py [--weeks 8] [--seed 7] [--plot FILE.png] [--json]

Builds the demo world, imports it once per policy, runs eros, seed, random and oracle in lockstep
(see docs/evaluation.md) and prints the totals table, the per-page table, the issue's bar
(eros >= +15 % revenue over seed with no more messages) and the wall time. Target: under 2 minutes
on the 2-core build machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console

from eros.backtest import POLICIES, report, run_backtest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", type=Path, default=None, help="write the weekly-revenue chart")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead")
    arguments = parser.parse_args()
    console = Console(width=200, highlight=False)
    started = time.perf_counter()
    result = run_backtest(
        arguments.weeks,
        None,
        POLICIES,
        arguments.seed,
        on_progress=None if arguments.json else lambda line: console.print(line, style="dim"),
    )
    wall = time.perf_counter() - started
    if arguments.plot:
        report.plot_weekly_revenue(result, arguments.plot)
    if arguments.json:
        print(json.dumps(report.summary(result), indent=2))
        return
    console.print(report.totals_table(result))
    console.print(report.pages_table(result))
    console.print(report.bar_line(result) or "")
    planning = ", ".join(
        f"{policy} {seconds:.1f} s" for policy, seconds in result.policy_seconds.items()
    )
    console.print(
        f"wall time {wall:.1f} s for {len(result.pages)} pages × {len(result.weeks)} weeks × "
        f"{len(result.policies)} policies (planning: {planning})"
    )


if __name__ == "__main__":
    main()
