"""Weekly operation as an agency runs it: two weeks in a row, the same week twice, a past week
with today's clock. Each test reproduces a defect found on the engine before the agency allocation
of shared captions and time-independent locks (issue 12 §1-§3)."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eros import clock
from eros.cli import app
from eros.errors import StaleDataError
from eros.pipeline import RunResult, build_page_week, run_pages
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore

WEEK = date(2025, 11, 3)
TODAY = datetime(2026, 11, 30, 9, tzinfo=UTC)  # long after the demo's history ends
runner = CliRunner()


def ppvs(result: RunResult) -> dict[str, list[tuple[str, datetime]]]:
    """Each page's PPVs (caption, UTC time) in a run."""
    planned: dict[str, list[tuple[str, datetime]]] = {}
    for run in result.pages:
        assert run.built is not None, run.errors
        planned[run.page_name] = [
            (m.caption_key, m.send_at_utc)
            for m in run.built.schedule.messages
            if m.message_type == "ppv"
        ]
    return planned


def test_next_week_repeats_no_ppv_of_this_week_on_the_same_page(demo_store_path: Path) -> None:
    settings = load_settings()
    with clock.frozen(TODAY):
        first = ppvs(run_pages(str(demo_store_path), None, WEEK, "optimize", settings))
        second = ppvs(
            run_pages(str(demo_store_path), None, WEEK + timedelta(days=7), "optimize", settings)
        )
    repeats = [
        (page, key)
        for page, planned in second.items()
        for key, _ in planned
        if key in {earlier for earlier, _ in first[page]}
    ]
    assert sum(len(planned) for planned in second.values()) > 1000
    assert repeats == []


def test_a_past_week_planned_today_gives_no_shared_caption_to_two_pages(
    demo_store_path: Path,
) -> None:
    settings = load_settings()
    with clock.frozen(TODAY):
        result = run_pages(str(demo_store_path), None, WEEK, "optimize", settings)
    pages_of: dict[str, set[str]] = defaultdict(set)
    for page, planned in ppvs(result).items():
        for key, _ in planned:
            pages_of[key].add(page)
    assert {key: pages for key, pages in pages_of.items() if len(pages) > 1} == {}
    # The locks were saved with their windows, whatever the clock: none was freed as "expired".
    with open_store(str(demo_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        locks = store.scalar("SELECT count(*) FROM caption_locks")
    planned = {
        (run.page_name, m.caption_key)
        for run in result.pages
        if run.built is not None
        for m in run.built.schedule.messages
        if m.message_type != "followup"
    }
    assert locks == len(planned)


def cli_run(store: Path, out: Path) -> dict[str, object]:
    import json

    result = runner.invoke(
        app,
        [
            *("run", "--all", "--week", WEEK.isoformat(), "--export", "csv"),
            *("--out", str(out), "--store", str(store), "--json"),
        ],
    )
    assert result.exit_code == 0, result.stdout
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_the_same_week_twice_gives_the_same_bytes_and_saves_nothing_new(
    demo_store_path: Path, tmp_path: Path
) -> None:
    with clock.frozen(TODAY):
        first = cli_run(demo_store_path, tmp_path / "first")
        with open_store(str(demo_store_path)) as store:
            before = store.table_counts()
        second = cli_run(demo_store_path, tmp_path / "second")
        with open_store(str(demo_store_path)) as store:
            assert isinstance(store, DuckDBStore)
            after = store.table_counts()
            superseded = store.scalar("SELECT count(*) FROM schedules WHERE status = 'superseded'")
    csv_first = (tmp_path / "first" / "schedules.csv").read_bytes()
    assert csv_first == (tmp_path / "second" / "schedules.csv").read_bytes()
    results = second["page_results"]
    assert isinstance(results, dict)
    assert {page: r["schedule"]["persisted"] for page, r in results.items()} == dict.fromkeys(
        results, "unchanged"
    )
    ids = {page: r["schedule"]["schedule_id"] for page, r in results.items()}
    first_results = first["page_results"]
    assert isinstance(first_results, dict)
    assert ids == {page: r["schedule"]["schedule_id"] for page, r in first_results.items()}
    assert superseded == 0
    assert {t: n for t, n in after.items() if t != "schedule_export_log"} == {
        t: n for t, n in before.items() if t != "schedule_export_log"
    }


def test_one_page_rebuilt_after_the_agency_run_is_unchanged(small_store_path: Path) -> None:
    settings = load_settings()
    with clock.frozen(TODAY):
        agency = run_pages(str(small_store_path), None, WEEK, "optimize", settings)
        alone = build_page_week(str(small_store_path), "jadebri", WEEK, "optimize", settings)
    (planned,) = [run.built for run in agency.pages if run.page_name == "jadebri"]
    assert planned is not None, "the agency run planned jadebri"
    assert alone.schedule.schedule_id == planned.schedule.schedule_id
    assert alone.persisted == "unchanged"


def test_a_page_with_stale_data_is_not_planned(small_store_path: Path) -> None:
    settings = load_settings()
    with (
        clock.frozen(TODAY),
        pytest.raises(StaleDataError, match=r"jadebri.*newest message 2025-11-0.*stale_after_days"),
    ):
        build_page_week(str(small_store_path), "jadebri", date(2026, 12, 7), "optimize", settings)
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        assert store.scalar("SELECT count(*) FROM schedules") == 0


def test_week_next_is_one_iso_week_for_every_page(small_store_path: Path) -> None:
    """Late on a Sunday in Los Angeles it is already Monday in Sydney: both plan the same week."""
    import json

    sunday_evening_la = datetime(2025, 11, 3, 5, tzinfo=UTC)  # Sun 21:00 LA, Mon 16:00 Sydney
    with clock.frozen(sunday_evening_la):
        result = runner.invoke(
            app,
            [
                *("run", "--all", "--week", "next", "--no-auto-export", "--export", "csv"),
                *("--store", str(small_store_path), "--json"),
            ],
        )
    summary = json.loads(result.stdout)
    weeks = {
        r["schedule"]["schedule_id"].split("_")[1]
        for r in summary["page_results"].values()
        if "schedule" in r
    }
    assert summary["orchestration_summary"]["week_start"] == "2025-11-03"
    assert weeks == {"2025W45"}


def test_an_export_after_another_run_superseded_a_page_writes_only_live_schedules(
    small_store_path: Path, tmp_path: Path
) -> None:
    """Run A plans and saves; run B re-plans one page (a new schedule) before A exports: A's file
    must not carry the superseded schedule next to live ones."""
    import csv

    from eros.pipeline import export_runs

    settings = load_settings()
    pages = ["jadebri", "talia", "myahill"]
    with clock.frozen(TODAY):
        first = run_pages(str(small_store_path), pages, WEEK, "optimize", settings)
        replaced = build_page_week(str(small_store_path), "talia", WEEK, "conservative", settings)
        export_runs(str(small_store_path), first.pages, ["csv"], tmp_path, settings)
    with (tmp_path / "schedules.csv").open(encoding="utf-8", newline="") as handle:
        exported = {row["schedule_id"] for row in csv.DictReader(handle)}
    talia = next(run for run in first.pages if run.page_name == "talia")
    assert talia.built is not None
    assert talia.built.schedule.schedule_id not in exported
    assert replaced.schedule.schedule_id != talia.built.schedule.schedule_id
    assert (talia.export_status, talia.export_reason) == ("skipped", "superseded")
    assert len(exported) == 2


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_worker_count_changes_nothing_but_speed(
    small_store_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eros import pipeline

    monkeypatch.setattr(pipeline, "planning_workers", lambda pages, settings: workers)
    settings = load_settings()
    with clock.frozen(TODAY):
        result = run_pages(str(small_store_path), None, WEEK, "optimize", settings)
        alone = run_pages(str(small_store_path), None, WEEK, "optimize", settings, parallel=False)
    ids = [run.built.schedule.schedule_id for run in result.pages if run.built is not None]
    assert len(ids) == len(result.pages)
    assert ids == [run.built.schedule.schedule_id for run in alone.pages if run.built is not None]
    assert all(run.built.persisted == "unchanged" for run in alone.pages if run.built is not None)


def test_a_run_that_finds_no_page_exits_2(db_path: Path) -> None:
    with open_store(str(db_path), create=True):
        pass
    result = runner.invoke(app, ["run", "--all", "--week", "2025-11-03", "--store", str(db_path)])
    assert result.exit_code == 2
    assert "no pages to plan" in result.stderr
