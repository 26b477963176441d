import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from eros.errors import InputError, StoreBusyError, StoreError
from eros.store import open_store, store_path
from eros.store.base import Page, Store
from eros.store.duckdb import migrations

DESIGN_TABLES = {
    "pages",
    "fans_daily",
    "messages",
    "captions",
    "caption_bandit_stats",
    "caption_stats_refresh",
    "caption_locks",
    "schedules",
    "schedule_messages",
    "schedule_export_log",
    "job_runs",
    "alerts",
    "analysis_snapshots",
    "job_leases",
    "schema_version",
}


def test_migrations_from_empty_create_every_table(fresh_store: Store) -> None:
    assert set(fresh_store.tables()) == DESIGN_TABLES
    assert fresh_store.schema_version() == migrations()[-1][0]


def test_reopening_applies_nothing_twice(db_path: Path) -> None:
    with open_store(str(db_path), create=True) as store:
        version = store.schema_version()
    with open_store(str(db_path)) as store:
        assert store.schema_version() == version
        assert store.table_counts()["schema_version"] == len(migrations())


def test_a_store_from_a_newer_eros_is_refused(db_path: Path) -> None:
    with open_store(str(db_path), create=True):
        pass
    connection = duckdb.connect(str(db_path))
    connection.execute("INSERT INTO schema_version VALUES (999, 'future', now())")
    connection.close()
    with pytest.raises(StoreError, match="schema version 999 is newer"):
        open_store(str(db_path))


def test_atomic_rolls_back_everything_on_error(fresh_store: Store) -> None:
    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with fresh_store.atomic():
            fresh_store.upsert_pages([Page("a", "standard", "UTC")])
            fresh_store.upsert_pages([Page("b", "free", "UTC")])
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert fresh_store.pages() == []


def test_upsert_pages_updates_in_place(fresh_store: Store) -> None:
    fresh_store.upsert_pages([Page("a", "standard", "UTC")])
    fresh_store.upsert_pages([Page("a", "paid", "Europe/London")])
    assert fresh_store.pages() == [Page("a", "paid", "Europe/London")]


def test_a_held_store_is_busy_after_the_timeout(db_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('held', flush=True);"
            " time.sleep(5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusyError, match="in use by another process"):
            open_store(str(db_path), busy_timeout_s=0.3)
    finally:
        holder.kill()
        holder.communicate()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from eros.ingest import import_file
    from eros.settings import load_settings
    from eros.store import open_store

    db, tag, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = load_settings(store=db)
    folder = Path(sys.argv[4])
    for unit in range(units):
        file = folder / f"{tag}-{unit}.csv"
        rows = [f"{tag},2025-0{1 + unit % 9}-{day + 1:02d},{unit * 10 + day}" for day in range(5)]
        file.write_text("page_name,date,active_fans\\n" + "\\n".join(rows) + "\\n")
        with open_store(settings.store) as store:
            report = import_file(store, "fans", file, settings)
        assert report.inserted + report.updated + report.unchanged == 5
    """
)


def test_two_processes_write_concurrently_without_errors_or_lost_rows(
    db_path: Path, tmp_path: Path
) -> None:
    with open_store(str(db_path), create=True) as store:
        store.upsert_pages([Page("p1", "standard", "UTC"), Page("p2", "standard", "UTC")])
    units = 30
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), tag, str(units), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p1", "p2")
    ]
    outcomes = [writer.communicate(timeout=120) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], outcomes
    assert all(stderr == "" for _, stderr in outcomes)
    with open_store(str(db_path)) as store:
        rows = store.table_counts()["fans_daily"]
    # Units 0..29 write months 1..9 with days 1..5: 9 distinct months x 5 days per page survive.
    assert rows == 2 * 9 * 5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("duckdb:///./eros.duckdb", Path("eros.duckdb")),
        ("duckdb:////srv/eros.duckdb", Path("/srv/eros.duckdb")),
        ("plain/file.duckdb", Path("plain/file.duckdb")),
    ],
)
def test_store_urls(url: str, expected: Path) -> None:
    assert store_path(url) == expected


@pytest.mark.parametrize("url", ["postgres://x/y", "duckdb://relative.duckdb", "bigquery://p/d"])
def test_bad_store_urls_are_input_errors(url: str) -> None:
    with pytest.raises(InputError):
        store_path(url)


def test_opening_a_missing_store_creates_nothing_unless_asked(tmp_path: Path) -> None:
    from eros.errors import StoreNotFoundError

    missing = tmp_path / "typo.duckdb"
    with pytest.raises(StoreNotFoundError, match=r"^no store at .*typo\.duckdb "):
        open_store(str(missing))
    assert not missing.exists()
    with pytest.raises(StoreNotFoundError):
        open_store(f"duckdb:///{missing}")
    with open_store(str(missing), create=True):
        pass
    assert missing.is_file()
