"""Placement is a function of its instance: the same slots, captions and budgets give the same
placement however busy the machine is (DESIGN §4: no decision depends on wall-clock time or machine
load). Each check runs while other processes keep every core busy."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np

from eros.placement import (
    MILP_MAX_VARIABLES,
    PlacementCaption,
    feasible,
    greedy,
    improve,
    objective,
    place,
    place_filled,
)
from eros.schedule import Schedule, ScheduledMessage

BUSY_PROCESSES = 2  # the build machine's cores
DEMO_WEEK = date(2025, 11, 3)
CATEGORIES = (
    "Custom request",
    "Bundle",
    "Voice note",
    "Behind the scenes",
    "Outfit try-on",
    "Photo set",
    "Live replay",
    "Video",
)
TIERS = ("luxury", "premium", "standard", "vip", "budget")
# The demo world's weekly trigger budgets.
BUDGETS = {
    "scarcity": 3,
    "urgency": 5,
    "fomo": 4,
    "exclusivity": 4,
    "social_proof": 6,
    "curiosity": 7,
    "flash_sale": 2,
}


def _burn() -> None:
    while True:
        pass


@contextmanager
def cpu_load(processes: int = BUSY_PROCESSES) -> Iterator[None]:
    """Keep `processes` cores busy inside the block."""
    context = multiprocessing.get_context("spawn")
    burners = [context.Process(target=_burn, daemon=True) for _ in range(processes)]
    try:
        for burner in burners:
            burner.start()
        yield
    finally:
        for burner in burners:
            burner.terminate()
        for burner in burners:
            burner.join()


def demo_like_instance(
    seed: int, slots: int = 22, count: int = 60
) -> tuple[list[float], list[PlacementCaption], dict[str, int]]:
    """A demo-sized week: 22 PPV slots, 60 captions, categories of very different sizes."""
    rng = np.random.default_rng(seed)
    values = [round(float(value), 3) for value in rng.uniform(1.0, 1.4, slots)]
    category_shares = rng.dirichlet(np.ones(len(CATEGORIES)) * 0.8)
    captions = [
        PlacementCaption(
            value=round(float(rng.gamma(4, 500)), 2),
            category=str(rng.choice(CATEGORIES, p=category_shares)),
            price_tier=str(rng.choice(TIERS)),
            trigger=str(rng.choice(list(BUDGETS))) if rng.random() < 0.6 else None,
        )
        for _ in range(count)
    ]
    return values, captions, dict(BUDGETS)


# A seed whose greedy placement is not certified within 1 %, so the solver runs; its root node takes
# longer than the old 0.3 s time limit on the 2-core build machine (about 1-2 s).
SOLVER_SEED = 0


def test_a_solver_instance_gets_the_same_placement_under_cpu_load() -> None:
    values, captions, budgets = demo_like_instance(SOLVER_SEED)
    assert len(values) * len(captions) <= MILP_MAX_VARIABLES
    first = improve(values, captions, budgets, greedy(values, captions, budgets))
    quiet = place(values, captions, budgets)
    with cpu_load():
        loaded = [place(values, captions, budgets) for _ in range(2)]
    assert quiet.method == "milp"  # the solver's answer, not a fallback taken for lack of time
    assert all(placement == quiet for placement in loaded)
    assert feasible(quiet.caption_by_slot, captions, budgets)
    assert quiet.objective >= objective(values, captions, first)


def test_instances_too_large_for_the_solver_keep_the_greedy_answer() -> None:
    values, captions, budgets = demo_like_instance(SOLVER_SEED, slots=60, count=60)
    assert len(values) * len(captions) > MILP_MAX_VARIABLES
    kept, placement = place_filled(values, captions, budgets)
    assert placement.method in ("greedy-optimal", "greedy-large")
    assert feasible(placement.caption_by_slot, captions, budgets)
    assert place_filled(values, captions, budgets) == (kept, placement)


# Pages and modes of the demo week whose placement goes to the solver (oliviahansley_paid's pool is
# crowded with custom requests); every other page is planned in optimize mode.
SOLVER_PAGE_MODES = (("oliviahansley_paid", "safe"), ("oliviahansley_paid", "conservative"))


PlanJob = tuple[str, str]  # page, mode


def _demo_week_jobs(store_path: Path) -> list[tuple[PlanJob, Callable[[], Schedule]]]:
    """Every demo page's planning for the demo week, its store reads done once: each job plans
    (select, build, validate) one page in one mode without saving."""
    from eros.pipeline import allocate_week, plan_week, read_agency_week
    from eros.settings import load_settings
    from eros.store import open_store

    settings = load_settings()
    with open_store(str(store_path)) as store:
        agency = allocate_week(read_agency_week(store, DEMO_WEEK, settings, []), settings)
    weeks, reports = agency.weeks, agency.reports
    inputs = {name: agency.inputs(name) for name in weeks}

    def plan(name: str, mode: str) -> Schedule:
        return plan_week(weeks[name], mode, reports[name], settings, inputs[name]).schedule

    jobs = [(name, "optimize") for name in weeks] + list(SOLVER_PAGE_MODES)
    return [((name, mode), partial(plan, name, mode)) for name, mode in jobs]


def _outcome(schedule: Schedule) -> tuple[str, str, list[ScheduledMessage]]:
    return schedule.schedule_id, schedule.placement_method, list(schedule.messages)


def test_all_demo_pages_plan_the_same_under_cpu_load(demo_store_path: Path) -> None:
    jobs = _demo_week_jobs(demo_store_path)
    quiet = {job: _outcome(plan()) for job, plan in jobs}
    with cpu_load():
        loaded = {job: _outcome(plan()) for job, plan in jobs}
    assert len(quiet) == 38 + len(SOLVER_PAGE_MODES)
    assert {quiet[job][1] for job in SOLVER_PAGE_MODES} == {"milp"}
    changed = sorted(job for job in quiet if quiet[job] != loaded[job])
    assert changed == []
