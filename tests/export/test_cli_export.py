"""`eros export` and the export options of `eros run` through typer's runner, on a small store that
holds one hand-built saved schedule (a premium and a standard PPV, their follow-ups, a bump)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from eros.cli import app
from eros.schedule import DayPlan, Schedule, ScheduledMessage
from eros.store import open_store
from eros.store.base import Page
from eros.store.duckdb import DuckDBStore

runner = CliRunner()
LA = ZoneInfo("America/Los_Angeles")
WEEK = date(2025, 10, 27)
SCHEDULE_ID = "SCH_2025W44_JADEBRI_TEST01"
PREMIUM = "Premium set, only for you"
STANDARD = "=1+1 new set"


def message(
    local: datetime,
    kind: str,
    key: str,
    text: str,
    *,
    price: float = 0.0,
    tier: str | None = None,
    parent: str | None = None,
    note: str | None = None,
) -> ScheduledMessage:
    aware = local.replace(tzinfo=LA)
    return ScheduledMessage(
        send_at_utc=aware.astimezone(UTC),
        send_at_local=aware,
        day=aware.date(),
        message_type=kind,
        caption_key=key,
        caption_text=text,
        price=price,
        price_tier=tier,
        content_category=None,
        trigger=None,
        parent=parent,
        expected_revenue=10.0,
        holiday=None,
        note=note,
    )


def saved_schedule() -> Schedule:
    return Schedule(
        schedule_id=SCHEDULE_ID,
        page_name="jadebri",
        timezone="America/Los_Angeles",
        week_start=WEEK,
        mode="optimize",
        saturation_zone="GREEN",
        min_ppv_gap_minutes=120,
        max_messages_per_day=10,
        messages=[
            message(
                datetime(2025, 10, 27, 9, 30), "ppv", "k-prem", PREMIUM, price=40, tier="premium"
            ),
            message(
                datetime(2025, 10, 27, 20, 0), "ppv", "k-std", STANDARD, price=25, tier="standard"
            ),
            message(
                datetime(2025, 10, 28, 9, 30),
                "followup",
                "k-prem",
                PREMIUM,
                price=40,
                tier="premium",
                parent="k-prem",
                note="only if unopened",
            ),
            message(
                datetime(2025, 10, 28, 8, 0),
                "followup",
                "k-std",
                STANDARD,
                price=25,
                tier="standard",
                parent="k-std",
            ),
            message(datetime(2025, 10, 29, 12, 0), "bump", "k-bump", "-50% tonight"),
        ],
        day_plans=[DayPlan(WEEK, 2, 1, None, False)],
        placement_method="test",
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "small.duckdb"
    with open_store(str(path), create=True) as store:
        store.upsert_pages([Page("jadebri", "standard", "America/Los_Angeles")])
        store.save_schedule(saved_schedule(), True, "{}", {}, datetime(2025, 10, 20, tzinfo=UTC))
    return path


def table_count(path: Path, table: str) -> int:
    with open_store(str(path)) as store:
        assert isinstance(store, DuckDBStore)
        return int(store.scalar(f"SELECT count(*) FROM {table}"))


def test_exporting_one_schedule_names_its_files_and_leaves_the_agency_files(
    store_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "schedules.csv").write_text("the agency's 38 pages\n")
    (out / "schedules.xlsx").write_bytes(b"the agency's workbook")
    result = runner.invoke(
        app,
        ["export", SCHEDULE_ID, "--to", "csv,xlsx", "--out", str(out), "--store", str(store_path)],
    )
    assert result.exit_code == 0, result.output
    assert (out / "schedules.csv").read_text() == "the agency's 38 pages\n"
    assert (out / "schedules.xlsx").read_bytes() == b"the agency's workbook"
    with open(out / f"{SCHEDULE_ID}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["schedule_id"] for row in rows] == [SCHEDULE_ID] * 5
    follow_ups = {row["caption_key"]: row for row in rows if row["message_type"] == "followup"}
    assert {key: list(row.values())[-3:] for key, row in follow_ups.items()} == {
        "k-prem": ["only if unopened", "2025-10-27T09:30:00-07:00", PREMIUM],
        "k-std": ["send to all", "2025-10-27T20:00:00-07:00", "'" + STANDARD],
    }
    assert (out / f"{SCHEDULE_ID}.xlsx").is_file()
    assert f"{SCHEDULE_ID}.csv" in result.stdout
    assert table_count(store_path, "schedule_export_log") == 2


def saved_rows(path: Path) -> tuple[int, int, int]:
    return (
        table_count(path, "schedules"),
        table_count(path, "schedule_messages"),
        table_count(path, "schedule_export_log"),
    )


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "sheets_credentials"),
        ({"EROS_SHEETS_CREDENTIALS": "key.json"}, "sheets_spreadsheet_id"),
        (
            {"EROS_SHEETS_CREDENTIALS": "missing.json", "EROS_SHEETS_SPREADSHEET_ID": "book"},
            "sheets_credentials",
        ),
    ],
)
def test_run_with_sheets_and_no_credentials_is_one_error_before_planning(
    store_path: Path, tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    (tmp_path / "key.json").write_text("{}")
    before = saved_rows(store_path)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            *("run", "--all", "--week", "2025-10-27", "--export", "xlsx,sheets"),
            *("--out", str(out), "--store", str(store_path)),
        ],
        env=settings,
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert named in line
    assert saved_rows(store_path) == before  # nothing planned, saved or logged
    assert not out.exists()


def test_export_to_sheets_without_credentials_is_a_configuration_error(store_path: Path) -> None:
    result = runner.invoke(
        app, ["export", SCHEDULE_ID, "--to", "sheets", "--store", str(store_path)]
    )
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "sheets_credentials" in line
    assert "EROS_SHEETS_CREDENTIALS" in line
    assert table_count(store_path, "schedule_export_log") == 0
