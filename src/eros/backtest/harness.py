"""The closed loop: every policy plans every page each week on its own copy of the demo world.

One demo world is built (`eros.simulate.build_world`, history up to `start`) and imported once
into a template store through the real import path (or copied from a store that already holds
it); each policy gets a copy of that store file and its own `World.copy()`. Then, week after week
(all policies in lockstep, eros first):

1. each policy plans every chosen page for the week starting at the world's `next_day` (a
   Monday), reading only its own store (the oracle also reads the ground truth);
2. its world turns the rows into outcomes (`World.simulate_week`; audience and fatigue carry
   over to the next week);
3. the outcomes (messages) and the week's fan counts are imported into that policy's store with
   `eros.ingest.import_file`, so they are its history for the next week.

The clock is frozen at the latest Monday 00:00 (local) among the pages while a week is planned and
recorded, so every stage reads history exactly up to the week's start, whatever today is. Pages
are planned one after another (`run_pages(parallel=False)`): with parallel workers which page
wins a shared caption's lock would depend on thread timing. Every random generator is seeded from
(--seed, policy, week, page), so the same arguments give the same result.
"""

from __future__ import annotations

import shutil
import tempfile
import time as time_module
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eros import clock
from eros.backtest.policies import (
    DayCounts,
    PlanRow,
    day_counts,
    eros_rows,
    oracle_rows,
    random_rows,
    read_week,
    seed_rows,
)
from eros.errors import InputError, UnknownPageError
from eros.pipeline import page_week, run_pages
from eros.settings import Settings, load_settings
from eros.store import open_store
from eros.store.base import ImportKind, Page

if TYPE_CHECKING:
    import numpy as np

    from eros.simulate import OutcomeRow, World

POLICIES: tuple[str, ...] = ("eros", "seed", "random", "oracle")
DEFAULT_START = date(2025, 11, 3)  # the seed's example week
DEFAULT_WEEKS = 8
DEFAULT_SEED = 7
_STREAM = {"eros": 0, "seed": 1, "random": 2, "oracle": 3}


@dataclass(frozen=True)
class PageWeekOutcome:
    """What one policy's week did on one page (realised by the simulator)."""

    policy: str
    page_name: str
    week_start: date
    zone: str  # the saturation zone of the policy's own analysis of the page ("" if none)
    messages: int
    ppv: int
    bumps: int
    followups: int
    sent: int  # sum of sent_count (fans reached, counted per message)
    purchases: int
    revenue: float
    ppv_revenue: float
    followup_revenue: float


@dataclass(frozen=True)
class BacktestResult:
    seed: int
    start: date
    weeks: tuple[date, ...]
    pages: tuple[str, ...]
    policies: tuple[str, ...]
    outcomes: tuple[PageWeekOutcome, ...]
    end_fatigue: dict[str, dict[str, float]]  # policy -> page -> fatigue at the end of the run
    notes: tuple[str, ...] = ()
    seconds: float = 0.0  # wall time of the whole run
    policy_seconds: dict[str, float] = field(default_factory=dict)  # planning time per policy

    def figures(self) -> tuple[Any, ...]:
        """Everything but the timings: equal for two runs with the same arguments."""
        return (
            self.seed,
            self.start,
            self.weeks,
            self.pages,
            self.policies,
            self.outcomes,
            self.end_fatigue,
            self.notes,
        )


Progress = Callable[[str], None]


@dataclass
class _Arm:
    """One policy's closed loop: its world copy and its store."""

    policy: str
    world: World
    store_url: str
    seconds: float = 0.0


def run_backtest(
    weeks: int = DEFAULT_WEEKS,
    pages: Sequence[str] | None = None,
    policies: Sequence[str] = POLICIES,
    seed: int = DEFAULT_SEED,
    *,
    start: date = DEFAULT_START,
    settings: Settings | None = None,
    workdir: Path | None = None,
    on_progress: Progress | None = None,
    template: Path | None = None,
) -> BacktestResult:
    """Run `policies` for `weeks` weeks on the demo world of `seed` whose history ends at `start`.

    `pages`: the pages planned (default all 38); the others stay idle in every world. The stores
    live in `workdir` (kept) or a temporary folder (removed). `template`: a store already holding
    that world's history and nothing else (as `eros demo --no-run --seed SEED --week START` leaves
    it), copied instead of importing the history again; the tests share one.
    """
    from eros.simulate import build_world

    began = time_module.perf_counter()
    settings = settings or load_settings()
    chosen_policies = _check_policies(policies)
    if weeks < 1:
        raise InputError(f"--weeks must be at least 1, got {weeks}")
    start = clock.week_start(start)
    say = on_progress or (lambda _message: None)
    # Checked before the world is built, so a typo or a wrong store fails at once.
    page_names = _check_pages(pages)
    template_counts = None if template is None else _template_counts(template)
    say(f"building the demo world (seed {seed}, history up to {start.isoformat()})")
    world = build_world(start, seed=seed)
    page_rows = {row["page_name"]: Page(**row) for row in world.pages}

    with tempfile.TemporaryDirectory(prefix="eros-backtest-") as scratch:
        folder = workdir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        history = folder / "template.duckdb"
        if template is None or template_counts is None:
            say("importing its history into a store for each policy")
            _fill_store(history, world, settings, folder)
        else:
            say(f"copying its history from {template} into a store for each policy")
            _check_template(template, template_counts, world)
            _copy_store(template, history)
        arms = {}
        for policy in chosen_policies:
            path = folder / f"{policy}.duckdb"
            _copy_store(history, path)
            arms[policy] = _Arm(policy, world.copy(), str(path))
        outcomes: list[PageWeekOutcome] = []
        notes: list[str] = []
        week_starts: list[date] = []
        for week_index in range(weeks):
            week_start = world_next_day(arms)
            week_starts.append(week_start)
            plan_at = max(
                page_week(page_rows[name], week_start).week_start_utc for name in page_names
            )
            with clock.frozen(plan_at):
                planned = _plan_week(
                    arms, page_names, week_start, week_index, seed, settings, notes
                )
                for policy, (rows, zones) in planned.items():
                    arm = arms[policy]
                    results = arm.world.simulate_week(rows, week_start)
                    _record(arm.store_url, results, arm.world.week_fans, settings, folder)
                    outcomes.extend(_summarise(policy, week_start, page_names, zones, results))
            revenue = {policy: 0.0 for policy in chosen_policies}
            for outcome in outcomes:
                if outcome.week_start == week_start:
                    revenue[outcome.policy] += outcome.revenue
            say(
                f"week {week_index + 1}/{weeks} ({week_start.isoformat()}): "
                + ", ".join(f"{policy} {value:,.0f} USD" for policy, value in revenue.items())
            )
        fatigue = {
            policy: {name: round(arm.world.current_fatigue(name), 4) for name in page_names}
            for policy, arm in arms.items()
        }
    return BacktestResult(
        seed=seed,
        start=start,
        weeks=tuple(week_starts),
        pages=tuple(page_names),
        policies=chosen_policies,
        outcomes=tuple(outcomes),
        end_fatigue=fatigue,
        notes=tuple(notes),
        seconds=round(time_module.perf_counter() - began, 2),
        policy_seconds={policy: round(arm.seconds, 2) for policy, arm in arms.items()},
    )


def world_next_day(arms: Mapping[str, _Arm]) -> date:
    days = {arm.world.next_day for arm in arms.values()}
    assert len(days) == 1, f"the policies' worlds drifted apart: {sorted(days)}"
    return days.pop()


def _check_policies(policies: Sequence[str]) -> tuple[str, ...]:
    wanted = [policy.strip().lower() for policy in policies if policy.strip()]
    unknown = [policy for policy in wanted if policy not in POLICIES]
    if unknown or not wanted:
        raise InputError(
            f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICIES)}"
            if unknown
            else f"name at least one policy: {', '.join(POLICIES)}"
        )
    # Eros plans first: the random policy copies its volume.
    return tuple(policy for policy in POLICIES if policy in wanted)


def _check_pages(pages: Sequence[str] | None) -> list[str]:
    from eros.simulate import PAGE_NAMES

    known = sorted(PAGE_NAMES)
    if pages is None:
        return known
    for name in pages:
        if name not in known:
            raise UnknownPageError(
                name, "the demo world has the seed's 38 pages (eros pages)", known
            )
    return sorted(set(pages))


def _fill_store(path: Path, world: World, settings: Settings, folder: Path) -> None:
    """The world's history into a new store through the import path (as `eros demo` does)."""
    from eros.demo import DEMO_ORDER, write_csv
    from eros.ingest import import_columns, import_file

    tables: dict[ImportKind, Sequence[Mapping[str, Any]]] = {
        "pages": world.pages,
        "captions": world.captions,
        "messages": world.messages,
        "fans": world.fans,
    }
    with open_store(str(path), create=True) as store:
        for kind in DEMO_ORDER:
            file = folder / f"history-{kind}.csv"
            write_csv(file, import_columns(kind), tables[kind])
            import_file(store, kind, file, settings)
            file.unlink()


def _template_counts(template: Path) -> dict[str, int]:
    """Rows per table of a template store, which must hold the demo's pages and no plans (checked
    before the world is built, so a wrong store fails at once)."""
    from eros.simulate import PAGE_NAMES

    if not template.is_file():
        raise InputError(f"no store at {template}")
    with open_store(str(template)) as store:
        counts = store.table_counts()
        names = sorted(page.page_name for page in store.pages())
    if names != sorted(PAGE_NAMES) or counts.get("schedules", 0):
        raise InputError(
            f"{template} does not hold the demo world alone: {len(names)} page(s) "
            f"(the demo has {len(PAGE_NAMES)}), {counts.get('schedules', 0)} schedule(s)"
        )
    return counts


def _check_template(template: Path, counts: Mapping[str, int], world: World) -> None:
    """The template holds this world's history: as many captions, messages and fans rows."""
    expected = {
        "captions": len(world.captions),
        "messages": len(world.messages),
        "fans_daily": len(world.fans),
    }
    found = {table: counts.get(table, 0) for table in expected}
    if found != expected:
        raise InputError(
            f"{template} does not hold the demo world of seed {world.truth.seed} up to "
            f"{world.next_day}: {found} rows, expected {expected}"
        )


def _copy_store(template: Path, path: Path) -> None:
    shutil.copyfile(template, path)
    wal = template.with_name(template.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, path.with_name(path.name + ".wal"))


def _rng(seed: int, policy: str, week_index: int, page_name: str) -> np.random.Generator:
    import numpy as np

    entropy = [seed, _STREAM[policy], week_index, zlib.crc32(page_name.encode("utf-8"))]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _plan_week(
    arms: Mapping[str, _Arm],
    page_names: Sequence[str],
    week_start: date,
    week_index: int,
    seed: int,
    settings: Settings,
    notes: list[str],
) -> dict[str, tuple[list[PlanRow], dict[str, str]]]:
    """Every policy's rows for the week (and the zone its analysis gave each page)."""
    planned: dict[str, tuple[list[PlanRow], dict[str, str]]] = {}
    eros_counts: dict[str, dict[date, DayCounts]] = {}
    for policy, arm in arms.items():
        began = time_module.perf_counter()
        rows: list[PlanRow] = []
        zones: dict[str, str] = {}
        if policy == "eros":
            run = run_pages(
                arm.store_url,
                list(page_names),
                week_start,
                "optimize",
                settings,
                auto_export=False,
                parallel=False,
                destinations=(),
            )
            for page_run in run.pages:
                built = page_run.built
                if built is None:
                    notes.append(
                        f"{week_start}: eros failed to plan {page_run.page_name}: "
                        + "; ".join(str(error.get("error")) for error in page_run.errors)
                    )
                    continue
                if not built.validation.ok:
                    failed = ", ".join(rule.rule for rule in built.validation.failed())
                    notes.append(
                        f"{week_start}: eros schedule of {page_run.page_name} is invalid "
                        f"({failed}); sent as built"
                    )
                page_rows = eros_rows(built.schedule)
                rows.extend(page_rows)
                zones[page_run.page_name] = built.schedule.saturation_zone
                eros_counts[page_run.page_name] = day_counts(
                    page_rows, clock.zone(built.schedule.timezone)
                )
        else:
            with open_store(arm.store_url) as store:
                views = read_week(store, page_names, week_start, settings)
            for name in page_names:
                view = views[name]
                zones[name] = view.report.saturation_analysis.zone
                rng = _rng(seed, policy, week_index, name)
                if policy == "seed":
                    rows.extend(seed_rows(view, settings, rng))
                elif policy == "random":
                    rows.extend(random_rows(view, settings, rng, eros_counts.get(name)))
                else:
                    rows.extend(oracle_rows(view, arm.world, settings))
        arm.seconds += time_module.perf_counter() - began
        planned[policy] = (rows, zones)
    return planned


def _record(
    store_url: str,
    outcomes: Sequence[OutcomeRow],
    fans: Sequence[Mapping[str, Any]],
    settings: Settings,
    folder: Path,
) -> None:
    """The week's outcomes and fan counts into the policy's store, through the import path."""
    from eros.demo import write_csv
    from eros.ingest import import_columns, import_file

    with open_store(store_url) as store:
        batches: tuple[tuple[ImportKind, Sequence[Mapping[str, Any]]], ...] = (
            ("messages", outcomes),
            ("fans", fans),
        )
        for kind, rows in batches:
            if not rows:
                continue
            file = folder / f"week-{kind}.csv"
            write_csv(file, import_columns(kind), rows)
            import_file(store, kind, file, settings)
            file.unlink()


def _summarise(
    policy: str,
    week_start: date,
    page_names: Iterable[str],
    zones: Mapping[str, str],
    results: Sequence[OutcomeRow],
) -> list[PageWeekOutcome]:
    by_page: dict[str, list[OutcomeRow]] = {}
    for result in results:
        by_page.setdefault(result["page_name"], []).append(result)
    summary = []
    for name in page_names:
        rows = by_page.get(name, [])
        summary.append(
            PageWeekOutcome(
                policy=policy,
                page_name=name,
                week_start=week_start,
                zone=zones.get(name, ""),
                messages=len(rows),
                ppv=sum(r["message_type"] == "ppv" for r in rows),
                bumps=sum(r["message_type"] == "bump" for r in rows),
                followups=sum(r["message_type"] == "followup" for r in rows),
                sent=sum(r["sent_count"] for r in rows),
                purchases=sum(r["purchased_count"] for r in rows),
                revenue=round(sum(r["revenue"] for r in rows), 2),
                ppv_revenue=round(sum(r["revenue"] for r in rows if r["message_type"] == "ppv"), 2),
                followup_revenue=round(
                    sum(r["revenue"] for r in rows if r["message_type"] == "followup"), 2
                ),
            )
        )
    return summary
