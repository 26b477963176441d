"""The main job end to end on the small world's store: the seed's JSON, the gate, retries, a
failing page or exporter never stopping the others, and schedules in the CSV that pass
validation."""

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.worlds import SMALL_PAGES
from typer.testing import CliRunner

from eros import pipeline
from eros.cli import app
from eros.errors import StoreBusyError
from eros.export.rows import CSV_COLUMNS
from eros.schedule import DayPlan, Schedule, ScheduledMessage
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore
from eros.validate import ValidationContext, validate

runner = CliRunner()
WEEK = date(2025, 11, 3)


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["run", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_run_all_gives_the_seed_shape_gates_red_and_writes_valid_csv(
    small_store_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, summary = run_json(
        "--all",
        "--week",
        "2025-11-03",
        "--export",
        "csv,xlsx",
        "--out",
        str(out),
        "--store",
        str(small_store_path),
    )
    assert code == 0, summary["errors"]
    pages = len(SMALL_PAGES)
    overall = summary["orchestration_summary"]
    assert overall["total_pages"] == pages
    assert overall["successful"] == pages
    assert overall["failed"] == 0
    assert sum(overall["saturation_breakdown"].values()) == pages
    results = summary["page_results"]
    assert sorted(results) == sorted(SMALL_PAGES)
    red = [
        page for page, result in results.items() if result["schedule"]["saturation_zone"] == "RED"
    ]
    assert red  # carmenrose, over-messaged for the last four weeks, is RED as in the demo
    for page in red:
        assert results[page]["export"] == {
            "status": "skipped",
            "schedule_id": results[page]["schedule"]["schedule_id"],
            "reason": "red_zone",
        }
    exported = [
        page for page, result in results.items() if result["export"]["status"] == "exported"
    ]
    assert overall["exported"] == len(exported) == pages - len(red)
    assert all(results[page]["export"]["destinations"] == ["csv", "xlsx"] for page in exported)
    sample = results[exported[0]]
    assert set(sample) == {"status", "performance", "caption_selection", "schedule", "export"}
    assert set(sample["performance"]["account_classification"]) == {"size_tier", "audience_size"}
    assert set(sample["caption_selection"]) == {"target_count", "selected_count", "pool_health"}
    assert (out / "schedules.xlsx").is_file()
    assert_csv_schedules_validate(out / "schedules.csv", summary, small_store_path)
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        logged = store.fetchall(
            "SELECT destination, status, count(*) FROM schedule_export_log GROUP BY ALL "
            "ORDER BY ALL"
        )
    # The gate's skips are logged too (eros health tells them from a run that stopped early).
    assert logged == [
        ("csv", "exported", len(exported)),
        ("csv", "skipped", len(red)),
        ("xlsx", "exported", len(exported)),
        ("xlsx", "skipped", len(red)),
    ]


def assert_csv_schedules_validate(path: Path, summary: dict[str, Any], store_path: Path) -> None:
    """Rebuild each schedule from the CSV alone and check it against every rule."""
    from zoneinfo import ZoneInfo

    settings = load_settings()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == CSV_COLUMNS
        rows = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in reader]
    by_schedule: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_schedule[row["schedule_id"]].append(row)
    with open_store(str(store_path)) as store:
        zones = {page.page_name: page.timezone for page in store.pages()}
    results = summary["page_results"]
    for schedule_id, messages in by_schedule.items():
        page = messages[0]["page_name"]
        tier = results[page]["performance"]["account_classification"]["size_tier"]
        risk = results[page]["performance"]["saturation_analysis"]["risk_level"]
        gap = settings.tier(tier).min_ppv_gap_minutes + settings.risk(risk).gap_extension_minutes
        parsed = [
            ScheduledMessage(
                send_at_utc=datetime.fromisoformat(row["send_at_utc"].replace("Z", "+00:00")),
                send_at_local=datetime.fromisoformat(row["send_at_local"]).astimezone(
                    ZoneInfo(zones[page])
                ),
                day=date.fromisoformat(row["date"]),
                message_type=row["message_type"],
                caption_key=row["caption_key"],
                caption_text=row["caption_text"],
                price=float(row["price"]),
                price_tier=row["price_tier"] or None,
                content_category=row["content_category"] or None,
                trigger=row["trigger"] or None,
                parent=row["parent"] or None,
                expected_revenue=float(row["expected_revenue"]),
                holiday=None,
            )
            for row in messages
        ]
        days = sorted({message.day for message in parsed})
        schedule = Schedule(
            schedule_id=schedule_id,
            page_name=page,
            timezone=zones[page],
            week_start=WEEK,
            mode="optimize",
            saturation_zone=results[page]["schedule"]["saturation_zone"],
            min_ppv_gap_minutes=gap,
            max_messages_per_day=settings.tier(tier).max_messages_per_day,
            messages=parsed,
            day_plans=[DayPlan(day, 99, 0, None, False) for day in days],
            placement_method="csv",
            ppv_shortfalls=["PPV counts as exported"],
        )
        ppv_counts = {day.isoformat(): 99 for day in days}
        recent = datetime.combine(WEEK, datetime.min.time(), UTC) - timedelta(days=1)
        context = ValidationContext(ppv_counts, newest_message_at=recent)
        validation = validate(schedule, context, settings)
        assert validation.ok, (schedule_id, [(r.rule, r.detail) for r in validation.failed()])
        assert len(days) == 7


def test_no_auto_export_skips_with_reason_manual(small_store_path: Path, tmp_path: Path) -> None:
    code, summary = run_json(
        "talia",
        "jadebri",
        "--week",
        "2025-11-03",
        "--no-auto-export",
        "--out",
        str(tmp_path),
        "--store",
        str(small_store_path),
    )
    assert code == 0
    reasons = {page: result["export"]["reason"] for page, result in summary["page_results"].items()}
    assert reasons == {"talia": "manual", "jadebri": "manual"}
    assert not (tmp_path / "schedules.csv").exists()


def test_one_failing_page_never_stops_the_others(
    small_store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_plan_week = pipeline.plan_week

    def plan_week(week: Any, *args: Any, **kwargs: Any) -> Any:
        if week.page.page_name == "talia":
            raise RuntimeError("disk on fire")
        return real_plan_week(week, *args, **kwargs)

    monkeypatch.setattr(pipeline, "plan_week", plan_week)
    code, summary = run_json(
        "talia",
        "jadebri",
        "myahill",
        "--week",
        "2025-11-03",
        "--export",
        "csv",
        "--out",
        str(tmp_path),
        "--store",
        str(small_store_path),
    )
    assert code == 1
    statuses = {page: result["status"] for page, result in summary["page_results"].items()}
    assert statuses == {"talia": "failed", "jadebri": "success", "myahill": "success"}
    assert summary["errors"] == [
        {"page_name": "talia", "stage": "build", "error": "disk on fire", "attempts": 1}
    ]
    assert summary["orchestration_summary"]["status"] == "completed_with_errors"


def test_transient_faults_are_retried(
    small_store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = DuckDBStore.save_schedules
    calls: list[str] = []

    def flaky_save(self: DuckDBStore, requests: Any, *args: Any) -> Any:
        calls.extend(request.schedule.page_name for request in requests)
        if calls.count("talia") == 1:
            raise StoreBusyError("the store is in use by another process")
        return real_save(self, requests, *args)

    monkeypatch.setattr(DuckDBStore, "save_schedules", flaky_save)
    code, summary = run_json(
        "talia",
        "--week",
        "2025-11-03",
        "--export",
        "csv",
        "--out",
        str(tmp_path),
        "--store",
        str(small_store_path),
    )
    assert code == 0
    assert calls == ["talia", "talia"]
    assert summary["page_results"]["talia"]["status"] == "success"


def test_an_exporter_failure_fails_that_page_only(
    small_store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.export.fake_sheets import FakeSheetsServer

    from eros.export.sheets import SheetsExporter

    with FakeSheetsServer() as server:
        server.add_spreadsheet("agency")

        def from_settings(settings: Any, **options: Any) -> SheetsExporter:
            return SheetsExporter(server.client(), "agency", sleep=lambda _: None)

        monkeypatch.setattr(SheetsExporter, "from_settings", from_settings)
        server.fail_next(1, 403)  # the first page's tab: permission denied, not retried
        code, summary = run_json(
            "jadebri",
            "talia",
            "--week",
            "2025-11-03",
            "--export",
            "sheets",
            "--sequential",
            "--out",
            str(tmp_path),
            "--store",
            str(small_store_path),
        )
        titles = server.titles("agency")
    assert code == 1
    exports = {page: result["export"]["status"] for page, result in summary["page_results"].items()}
    assert sorted(exports.values()) == ["exported", "failed"]
    exported = next(page for page, status in exports.items() if status == "exported")
    assert any(title.startswith(exported) for title in titles)
    failed = next(page for page, status in exports.items() if status == "failed")
    assert summary["page_results"][failed]["status"] == "partial_success"
    assert [error["stage"] for error in summary["errors"]] == ["export:sheets"]


def test_export_command_re_exports_a_saved_schedule(small_store_path: Path, tmp_path: Path) -> None:
    code, summary = run_json(
        "talia",
        "--week",
        "2025-11-03",
        "--export",
        "csv",
        "--out",
        str(tmp_path / "first"),
        "--store",
        str(small_store_path),
    )
    assert code == 0
    schedule_id = summary["page_results"]["talia"]["schedule"]["schedule_id"]
    result = runner.invoke(
        app,
        [
            "export",
            schedule_id,
            "--to",
            "csv,ics",
            "--out",
            str(tmp_path / "again"),
            "--store",
            str(small_store_path),
        ],
    )
    assert result.exit_code == 0, result.stdout
    first = (tmp_path / "first" / "schedules.csv").read_text()
    assert (tmp_path / "again" / f"{schedule_id}.csv").read_text() == first
    assert (tmp_path / "again" / "ics" / "talia.ics").is_file()
    unknown = runner.invoke(app, ["export", "SCH_NOPE", "--store", str(small_store_path)])
    assert unknown.exit_code == 2
