"""`eros health` and `eros verify` pass on a fresh demo store and fail with a clear message when a
fault is injected (their speed is measured in bench/, not asserted here)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eros import clock
from eros.cli import app
from eros.health import WEIGHTS, HealthInputs, metrics_from, score
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore

NOW = datetime(2025, 11, 2, 20, tzinfo=UTC)  # Sunday noon in Los Angeles; history ends tonight
runner = CliRunner()


@pytest.fixture(scope="module")
def planned_demo(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store as `eros demo` leaves it: next week planned for every page.

    The whole agency: the score weighs shares of pages (RED, without a schedule), which the small
    world's 8 pages do not have in the demo's proportions."""
    import shutil

    from eros.pipeline import run_pages

    copy = tmp_path_factory.mktemp("planned") / "demo.duckdb"
    shutil.copyfile(demo_template, copy)
    with clock.frozen(NOW):
        run_pages(
            str(copy), None, date(2025, 11, 3), "optimize", load_settings(), auto_export=False
        )
    return copy


@pytest.fixture
def demo(planned_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    copy = tmp_path / "demo.duckdb"
    shutil.copyfile(planned_demo, copy)
    monkeypatch.setenv("EROS_NOW", NOW.isoformat())
    return copy


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_weights_sum_to_100_and_a_clean_store_scores_100() -> None:
    assert sum(WEIGHTS.values()) == 100
    inputs = HealthInputs(1.0, 0, 3, 0, 0, 3, [], [], True, "thursday", {"a": (50, 40)}, [])
    metrics = metrics_from(inputs)
    assert len(metrics) == len(WEIGHTS) == 8
    assert score(metrics) == 100
    stale = metrics_from(HealthInputs(500.0, 0, 3, 0, 0, 3, [], [], True, "thursday", {}, []))
    assert next(m for m in stale if m.name == "data_freshness").status == "fail"
    assert score(stale) == 80


def test_health_passes_on_a_fresh_demo_store(demo: Path) -> None:
    code, out, err = invoke("health", "--store", str(demo), "--json")
    assert code == 0, err
    assert '"ok": true' in out
    for name in WEIGHTS:
        assert f'"name": "{name}"' in out


def test_health_fails_on_stale_data(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_NOW", "2026-03-01T12:00:00Z")
    code, _, err = invoke("health", "--store", str(demo))
    assert code == 1
    assert "data_freshness" in err


def test_health_fails_on_a_dropped_table(demo: Path) -> None:
    with open_store(str(demo)) as store:
        assert isinstance(store, DuckDBStore)
        store.execute("DROP TABLE schedule_export_log")
    code, _, err = invoke("health", "--store", str(demo))
    assert code == 1
    assert "table(s) missing: schedule_export_log" in err


def test_health_refuses_a_corrupt_setting(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_DAILY_BUILD_WEEKDAY", "funday")
    code, _, err = invoke("health", "--store", str(demo))
    assert code == 2
    assert "daily_build_weekday" in err


def test_verify_passes_on_a_fresh_demo_store(demo: Path) -> None:
    code, out, err = invoke("verify", "--store", str(demo))
    assert code == 0, out + err
    assert out.count("PASS") >= 21
    assert "FAIL" not in out


def test_verify_fails_on_a_dropped_table(demo: Path) -> None:
    with open_store(str(demo)) as store:
        assert isinstance(store, DuckDBStore)
        store.execute("DROP TABLE alerts")
    code, out, err = invoke("verify", "--store", str(demo))
    assert code == 1
    assert "FAIL every table: missing: alerts" in out
    assert "every table" in err


def test_verify_fails_on_a_corrupt_setting(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_WORKERS", "-3")
    code, out, _ = invoke("verify", "--store", str(demo))
    assert code == 1
    assert "FAIL settings valid: invalid settings" in out
    assert "workers" in out


def test_verify_reads_sheets_credentials_only_when_configured(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere.json"
    monkeypatch.setenv("EROS_SHEETS_CREDENTIALS", str(missing))
    code, out, _ = invoke("verify", "--store", str(demo))
    assert code == 1
    assert "FAIL Sheets credentials" in out


# -- schedules saved but never exported ------------------------------------------------------------

NEXT_WEEK = date(2025, 11, 10)
SAVED_AT = NOW - timedelta(hours=1)  # older than the grace a run in progress gets to export
CRASHED_PAGES = ["carmenrose", "jadebri", "lolarivers", "miafoster", "myahill"]


def unexported_metric(report: dict[str, Any]) -> dict[str, Any]:
    (metric,) = [m for m in report["metrics"] if m["name"] == "schedules_not_exported"]
    return metric


def test_health_fails_when_a_run_stopped_between_save_and_export(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after saving and before exporting leaves schedules nobody received."""
    from eros import pipeline

    def killed(*args: object, **kwargs: object) -> dict[str, list[str]]:
        raise KeyboardInterrupt  # the process dies here: no export, no attempt logged

    monkeypatch.setattr(pipeline, "export_runs", killed)
    with clock.frozen(SAVED_AT), pytest.raises(KeyboardInterrupt):
        pipeline.run_pages(
            str(demo),
            CRASHED_PAGES,
            NEXT_WEEK,
            "optimize",
            load_settings(),
            parallel=False,
            destinations=["csv"],
        )
    with open_store(str(demo)) as store:
        assert isinstance(store, DuckDBStore)
        saved = dict(
            store.fetchall(
                "SELECT page_name, saturation_zone FROM schedules WHERE week_start = ? "
                "AND status = 'active'",
                [NEXT_WEEK],
            )
        )
    assert sorted(saved) == CRASHED_PAGES
    red = sorted(page for page, zone in saved.items() if zone == "RED")
    assert red, "the crashed run should include a RED page, whose export the gate skips anyway"

    code, out, err = invoke("health", "--store", str(demo), "--json")
    assert code == 1
    assert "schedules_not_exported" in err
    report = json.loads(out)
    metric = unexported_metric(report)
    assert metric["status"] == "fail"
    assert metric["value"] == len(CRASHED_PAGES) - len(red)
    for page in CRASHED_PAGES:
        assert (page.upper() in metric["detail"]) == (page not in red)
    assert "eros export" in metric["detail"]
    assert report["score"] < 80


def test_schedules_the_gate_or_the_user_kept_back_are_not_missing_exports(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--no-auto-export (the daily job's way), RED, eros build and finished exports are fine."""
    from eros import pipeline

    settings = load_settings()
    with clock.frozen(SAVED_AT):
        kept_back = pipeline.run_pages(
            str(demo), CRASHED_PAGES[:2], NEXT_WEEK, "optimize", settings, auto_export=False
        )
        exported = pipeline.run_pages(
            str(demo),
            CRASHED_PAGES[2:],
            NEXT_WEEK,
            "optimize",
            settings,
            destinations=["csv"],
            out_dir=tmp_path / "out",
        )
    assert {run.export_status for run in kept_back.pages} == {"skipped"}
    assert {run.export_reason for run in exported.pages} == {None, "red_zone"}
    monkeypatch.setenv("EROS_NOW", SAVED_AT.isoformat())
    code, _, err = invoke(
        "build", "taylorwild_paid", "--week", NEXT_WEEK.isoformat(), "--store", str(demo)
    )
    assert code == 0, err
    monkeypatch.setenv("EROS_NOW", NOW.isoformat())

    code, out, err = invoke("health", "--store", str(demo), "--json")
    metric = unexported_metric(json.loads(out))
    assert (metric["status"], metric["value"]) == ("ok", 0), metric["detail"]
    assert code == 0, err
