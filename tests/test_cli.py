"""The CLI through typer's runner: help that teaches, one-line errors with the right exit codes."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eros.cli import app
from eros.errors import ImportRejected

runner = CliRunner()

COMMANDS = [
    "import",
    "pages",
    "analyze",
    "select",
    "build",
    "run",
    "export",
    "jobs",
    "demo",
    "settings",
    "daemon",
    "health",
    "verify",
]


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_top_level_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_teaches_with_an_example(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "Example: eros " in out


def test_every_command_is_documented_in_the_user_guide() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "user-guide.md").read_text()
    for command in COMMANDS:
        assert f"eros {command}" in guide


def write_pages(folder: Path) -> Path:
    file = folder / "pages.csv"
    file.write_text("page_name,page_type,timezone\njadebri,standard,\nlondon,free,Europe/London\n")
    return file


def test_import_then_pages(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    code, out, _ = invoke("import", "pages", str(write_pages(tmp_path)), "--store", store)
    assert code == 0
    assert "2 new, 0 updated, 0 unchanged" in out
    code, out, _ = invoke("pages", "--store", store, "--json")
    assert code == 0
    pages = json.loads(out)
    assert [(page["page_name"], page["timezone"]) for page in pages] == [
        ("jadebri", "America/Los_Angeles"),
        ("london", "Europe/London"),
    ]


def test_a_bad_file_exits_2_with_file_line_reasons(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    bad = tmp_path / "pages.csv"
    bad.write_text("page_name,page_type\nok,free\nbad,vip\n")
    code, out, err = invoke("import", "pages", str(bad), "--store", store)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0] == f"error: {bad}: 1 bad row(s); nothing was imported"
    assert lines[1].startswith(f"{bad}:3: page_type: 'vip' is not one of")
    assert json.loads(invoke("pages", "--store", store, "--json")[1]) == []


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    bad = tmp_path / "pages.csv"
    bad.write_text("page_name,page_type\nbad,vip\n")
    result = runner.invoke(
        app, ["--debug", "import", "pages", str(bad), "--store", str(tmp_path / "s.duckdb")]
    )
    assert isinstance(result.exception, ImportRejected)


def test_a_failed_run_exits_1_with_one_line(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(b"this is not a database" * 100)
    code, _, err = invoke("pages", "--store", str(corrupt))
    assert code == 1
    assert err.startswith(f"error: {corrupt}: ")
    assert len(err.strip().splitlines()) == 1


def test_bad_usage_exits_2() -> None:
    code, _, _ = invoke("import", "nonsense", "file.csv")
    assert code == 2


def test_bad_week_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke("demo", "--week", "2025-11-05", "--store", str(tmp_path / "d.duckdb"))
    assert code == 2
    assert "2025-11-03 or 2025-11-10" in err


def test_settings_json_shows_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_TIMEZONE", "Europe/London")
    code, out, _ = invoke("settings", "--json")
    assert code == 0
    assert json.loads(out)["timezone"] == "Europe/London"


def test_a_bad_setting_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_HALF_LIFE_DAYS", "-3")
    code, _, err = invoke("settings")
    assert code == 2
    assert "half_life_days" in err


def test_demo_builds_the_seed_agency(tmp_path: Path) -> None:
    store = tmp_path / "demo.duckdb"
    data = tmp_path / "data"
    code, out, _ = invoke(
        "demo", "--store", str(store), "--week", "2025-11-03", "--data-dir", str(data), "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["week_start"] == "2025-11-03"
    overall = result["run"]["orchestration_summary"]
    assert (overall["total_pages"], overall["failed"]) == (38, 0)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "schedules.csv",
        "schedules.xlsx",
    ]
    imported = {report["kind"]: report for report in result["imports"]}
    assert imported["pages"]["inserted"] == 38
    assert imported["messages"]["inserted"] > 50_000
    assert all(report["rows"] == report["inserted"] for report in result["imports"])
    assert sorted(path.name for path in data.iterdir()) == [
        "captions.csv",
        "fans.csv",
        "messages.csv",
        "pages.csv",
    ]
    pages = json.loads(invoke("pages", "--store", str(store), "--json")[1])
    types = [page["page_type"] for page in pages]
    assert (types.count("free"), types.count("paid"), types.count("standard")) == (4, 6, 28)
    assert all(page["messages"] > 0 and page["captions"] > 0 for page in pages)
    # History ends before the planned week starts, in every page's own time zone.
    assert max(page["last_sent_at"] for page in pages) < "2025-11-03T08:00:00+00:00"


@pytest.mark.parametrize("kind", ["pages", "captions", "messages", "fans"])
def test_demo_files_import_again_changing_nothing(
    kind: str, small_template: Path, small_store_path: Path
) -> None:
    """The demo's generated files are valid import files that match what it stored (the small
    world's: the same writer and import as `eros demo --data-dir`)."""
    file = small_template.parent / "data" / f"{kind}.csv"
    code, out, err = invoke("import", kind, str(file), "--store", str(small_store_path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rows"] > 0
    assert (report["inserted"], report["updated"], report["unchanged"]) == (0, 0, report["rows"])


# -- a store is never created by accident ----------------------------------------------------------

NO_STORE_COMMANDS = [
    ["pages"],
    ["analyze", "--all"],
    ["select", "jadebri"],
    ["build", "jadebri"],
    ["run", "--all"],
    ["export", "SCH_2025W45_JADEBRI_ABC123"],
    ["jobs", "update-stats"],
    ["jobs", "sweep-locks"],
    ["jobs", "daily"],
    ["health"],
    ["verify"],
]


@pytest.mark.parametrize("command", NO_STORE_COMMANDS, ids=" ".join)
def test_a_command_never_creates_a_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(*command, "--store", "typo.duckdb")
    assert code == 2, out + err
    assert err == "error: no store at typo.duckdb (create one with eros demo or eros import)\n"
    assert sorted(tmp_path.iterdir()) == []


def test_the_default_store_is_not_created_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("health")
    assert code == 2
    assert err == "error: no store at eros.duckdb (create one with eros demo or eros import)\n"
    assert not (tmp_path / "eros.duckdb").exists()


def test_the_daemon_refuses_a_missing_store_before_it_starts(tmp_path: Path) -> None:
    import subprocess
    import sys

    # A subprocess with a timeout: a daemon that starts anyway would otherwise block the test.
    done = subprocess.run(
        [sys.executable, "-m", "eros", "daemon", "--store", "typo.duckdb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "no store at typo.duckdb" in done.stderr
    assert not (tmp_path / "typo.duckdb").exists()


def test_a_missing_store_is_a_json_error_with_json(tmp_path: Path) -> None:
    missing = tmp_path / "typo.duckdb"
    code, out, err = invoke("pages", "--store", str(missing), "--json")
    assert code == 2
    assert json.loads(out) == {
        "error": f"no store at {missing} (create one with eros demo or eros import)",
        "exit_code": 2,
    }
    assert err == ""


# -- every option is validated ---------------------------------------------------------------------


@pytest.fixture
def pages_store(tmp_path: Path) -> str:
    """A store with two pages and no history, made the way a user makes one."""
    store = str(tmp_path / "pages.duckdb")
    code, _, err = invoke("import", "pages", str(write_pages(tmp_path)), "--store", store)
    assert code == 0, err
    return store


def one_line_error(err: str) -> str:
    """The error line, checked to be the only line (no traceback, no usage box)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "--all", "--lookback", "0"], "--lookback"),
        (["analyze", "--all", "--lookback", "13"], "--lookback"),
        (["select", "jadebri", "--count", "-3"], "--count"),
        (["select", "jadebri", "--count", "0"], "--count"),
        (["demo", "--seed", "-1"], "--seed"),
        (["backtest", "--seed", "-1"], "--seed"),
        (["backtest", "--weeks", "0"], "--weeks"),
        (["run", "--all", "--export", ""], "--export"),
        (["run", "--all", "--export", "csv,csv"], "csv"),
        (["export", "SCH_X", "--to", ""], "--to"),
        (["analyze", "jadebri", "jadebri"], "jadebri"),
        (["run", "jadebri", "london", "jadebri"], "jadebri"),
        (["backtest", "--pages", "jadebri,jadebri"], "jadebri"),
        (["analyze", "jadebri", "--all"], "--all"),
        (["run", "jadebri", "--all"], "--all"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_bad_option_exits_2_before_any_work(
    args: list[str], message: str, pages_store: str
) -> None:
    code, out, err = (
        invoke(*args, "--store", pages_store)
        if args[0]
        not in (
            "demo",
            "backtest",
        )
        else invoke(*args)
    )
    assert code == 2, out + err
    assert message in err


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "jadebrii"],
        ["select", "jadebrii"],
        ["build", "jadebrii"],
        ["run", "jadebrii", "--week", "2025-11-03"],
    ],
    ids=" ".join,
)
def test_an_unknown_page_suggests_the_close_one(args: list[str], pages_store: str) -> None:
    code, _, err = invoke(*args, "--store", pages_store)
    assert code == 2
    assert one_line_error(err) == (
        "error: unknown page 'jadebrii'; did you mean 'jadebri'? (see `eros pages`)"
    )


def test_analyze_all_on_an_empty_store_is_one_line(tmp_path: Path) -> None:
    from eros.store import open_store

    store = tmp_path / "empty.duckdb"
    with open_store(str(store), create=True):
        pass
    code, _, err = invoke("analyze", "--all", "--store", str(store))
    assert code == 2
    assert one_line_error(err) == (
        f"error: no pages in {store}: import them with eros import pages FILE, or run eros demo"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["select", "jadebri", "--count", "-3"],
        ["analyze", "jadebri", "jadebri"],
        ["analyze", "jadebrii"],
        ["analyze", "--all", "--as-of", "yesterday"],
        ["jobs", "daily", "--date", "soon"],
    ],
    ids=" ".join,
)
def test_with_json_every_error_is_json(args: list[str], pages_store: str) -> None:
    code, out, err = invoke(*args, "--store", pages_store, "--json")
    assert code == 2
    error = json.loads(out)
    assert set(error) == {"error", "exit_code"}
    assert error["exit_code"] == 2
    assert error["error"]
    assert err == ""


def test_with_json_a_rejected_import_lists_its_rows(tmp_path: Path) -> None:
    bad = tmp_path / "pages.csv"
    bad.write_text("page_name,page_type\nok,free\nbad,vip\n")
    code, out, _ = invoke(
        "import", "pages", str(bad), "--store", str(tmp_path / "s.duckdb"), "--json"
    )
    assert code == 2
    error = json.loads(out)
    assert error["error"] == f"{bad}: 1 bad row(s); nothing was imported"
    assert error["details"][0].startswith(f"{bad}:3: page_type: 'vip' is not one of")
