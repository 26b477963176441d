"""Closed-loop backtest: the engine against the seed's heuristics, random and an oracle, week after
week on the demo world (`eros backtest`). See docs/evaluation.md.

`run_backtest` (harness) runs it and returns a `BacktestResult`; `report` turns that into totals,
tables, JSON and the weekly-revenue chart; `policies` holds the non-engine policies.
"""

from eros.backtest.harness import (
    DEFAULT_SEED,
    DEFAULT_START,
    DEFAULT_WEEKS,
    POLICIES,
    BacktestResult,
    PageWeekOutcome,
    run_backtest,
)

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "DEFAULT_WEEKS",
    "POLICIES",
    "BacktestResult",
    "PageWeekOutcome",
    "run_backtest",
]
