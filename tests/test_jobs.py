"""Jobs are repeat-safe: a second run changes nothing and no message is counted twice."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.worlds import SMALL_PAGES

from eros import clock
from eros.jobs import sweep_locks, update_stats
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore, to_db_instant

NOW = datetime(2025, 11, 3, 8, tzinfo=UTC)


def stats_snapshot(store: DuckDBStore) -> list[tuple[object, ...]]:
    return store.fetchall("SELECT * FROM caption_bandit_stats ORDER BY ALL")


def test_update_stats_twice_changes_nothing(small_store_path: Path) -> None:
    settings = load_settings()
    with clock.frozen(NOW), open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        first = update_stats(store, settings)
        assert first.pages_processed == len(SMALL_PAGES)
        snapshot = stats_snapshot(store)
        second = update_stats(store, settings)
        assert (second.pages_processed, second.changed) == (0, 0)
        assert stats_snapshot(store) == snapshot
        # Raw totals equal the messages': nothing counted twice.
        stats_views, message_views = store.fetchall(
            "SELECT (SELECT sum(views) FROM caption_bandit_stats), (SELECT sum(viewed_count) "
            "FROM messages WHERE message_type IN ('ppv', 'followup'))"
        )[0]
        assert stats_views == message_views
        runs = store.fetchall("SELECT job, status FROM job_runs ORDER BY run_id")
        assert runs == [("update-stats", "ok"), ("update-stats", "ok")]


def test_update_stats_refreshes_only_pages_whose_messages_changed(
    small_store_path: Path, tmp_path: Path
) -> None:
    from eros.ingest import import_file

    settings = load_settings()
    # The real clock throughout: the demo's rows were loaded at real time, and the refresh mark
    # compares load times.
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        update_stats(store, settings)
        page, sent_at, text = store.fetchall(
            "SELECT page_name, sent_at, caption_text FROM messages WHERE page_name = 'jadebri' "
            "AND message_type = 'ppv' ORDER BY sent_at DESC LIMIT 1"
        )[0]
        file = tmp_path / "late.csv"
        file.write_text(
            "page_name,sent_at,message_type,caption_text,price,sent_count,viewed_count,"
            "purchased_count,revenue\n"
            f'{page},{sent_at.isoformat()}Z,ppv,"{text}",25,100000,90000,9000,225000\n'
        )
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        assert import_file(store, "messages", file, settings).updated == 1
        again = update_stats(store, settings)
        assert again.pages_processed == 1
        (views,) = store.fetchall(
            "SELECT sum(views) FROM caption_bandit_stats WHERE page_name = 'jadebri'"
        )[0]
        (expected,) = store.fetchall(
            "SELECT sum(viewed_count) FROM messages WHERE page_name = 'jadebri' "
            "AND message_type IN ('ppv', 'followup')"
        )[0]
        assert views == expected


def test_sweep_frees_expired_and_superseded_locks(db_path: Path) -> None:
    with open_store(str(db_path), create=True) as store:
        assert isinstance(store, DuckDBStore)
        store.execute(
            "INSERT INTO schedules (schedule_id, page_name, week_start, mode, saturation_zone, "
            "status, validation_ok, total_messages, expected_revenue, created_at, superseded_at, "
            "timezone) VALUES ('SCH_OLD', 'p', '2025-11-03', 'optimize', 'GREEN', 'superseded', "
            "true, 1, 0, ?, ?, 'UTC')",
            [to_db_instant(NOW), to_db_instant(NOW)],
        )
        live, past = to_db_instant(NOW + timedelta(days=9)), to_db_instant(NOW - timedelta(days=1))
        store.insert_columns(
            "caption_locks",
            [
                ["expired", "superseded", "live"],
                ["p", "p", "q"],
                ["SCH_A", "SCH_OLD", "SCH_B"],
                [to_db_instant(NOW)] * 3,
                [to_db_instant(NOW - timedelta(days=28))] * 3,
                [past, live, live],
            ],
        )
        with clock.frozen(NOW):
            assert sweep_locks(store).changed == 2
            assert sweep_locks(store).changed == 0
        assert [lock.caption_key for lock in store.live_locks(NOW)] == ["live"]


@pytest.mark.parametrize("workers", [8])
def test_selecting_and_locking_every_page_concurrently_locks_no_caption_twice(
    small_store_path: Path, workers: int
) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date

    from eros.pipeline import select_and_lock

    settings = load_settings()
    with open_store(str(small_store_path)) as store:
        pages = [page.page_name for page in store.pages()]

    def run(page: str) -> tuple[str, set[str]]:
        selection = select_and_lock(
            str(small_store_path), page, date(2025, 11, 3), "optimize", settings
        )
        pool = selection.caption_pool
        return page, {item.caption_key for item in pool.ppv_captions + pool.bump_captions}

    with clock.frozen(NOW), ThreadPoolExecutor(workers) as executor:
        chosen = dict(executor.map(run, pages))
    assert sorted(chosen) == sorted(SMALL_PAGES)
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        locks = store.fetchall("SELECT caption_key, page_name FROM caption_locks")
        shared = {
            key
            for (key,) in store.fetchall("SELECT caption_key FROM captions WHERE page_name = ''")
        }
    # The pages competed: several of them hold captions of the agency's shared bank.
    assert len([page for page, keys in chosen.items() if keys & shared]) >= 3
    holder = dict(locks)
    assert len(holder) == len(locks)  # one lock per caption
    for page, keys in chosen.items():
        assert all(holder[key] == page for key in keys), page
    everything = [key for keys in chosen.values() for key in keys]
    assert len(everything) == len(set(everything))


def test_daily_twice_is_a_no_op_the_second_time(small_store_path: Path) -> None:
    from datetime import date

    from eros.jobs import daily

    settings = load_settings()
    url = str(small_store_path)
    thursday = date(2025, 10, 30)
    with clock.frozen(datetime(2025, 10, 31, 10, tzinfo=UTC)):
        first = daily(url, settings, thursday)
        assert first.status == "ok"
        assert first.pages_processed > len(SMALL_PAGES)  # stats, snapshots and schedules
        with open_store(url) as store:
            assert isinstance(store, DuckDBStore)
            before = store.table_counts()
            snapshots = store.fetchall("SELECT * FROM analysis_snapshots ORDER BY ALL")
        second = daily(url, settings, thursday)
    assert second.changed == 0, second.detail
    with open_store(url) as store:
        assert isinstance(store, DuckDBStore)
        after = store.table_counts()
        assert store.fetchall("SELECT * FROM analysis_snapshots ORDER BY ALL") == snapshots
        runs = store.fetchall("SELECT job, status FROM job_runs ORDER BY run_id")
        weeks = store.fetchall("SELECT DISTINCT week_start FROM schedules")
    assert {name: count for name, count in after.items() if name != "job_runs"} == {
        name: count for name, count in before.items() if name != "job_runs"
    }
    assert runs == [("daily", "ok"), ("daily", "ok")]
    assert before["analysis_snapshots"] == len(SMALL_PAGES)
    assert before["schedules"] == len(SMALL_PAGES)
    assert weeks == [(date(2025, 11, 3),)]


def test_daily_alerts_once_for_pages_that_entered_red(small_store_path: Path) -> None:
    from datetime import date

    from eros.jobs import daily

    settings = load_settings()
    url = str(small_store_path)
    with clock.frozen(NOW):
        first = daily(url, settings, date(2025, 11, 2))  # a Sunday: nothing is built
        with open_store(url) as store:
            red = store.alerts("entered_red")
        again = daily(url, settings, date(2025, 11, 2))
        with open_store(url) as store:
            assert store.alerts("entered_red") == red
            assert store.table_counts()["schedules"] == 0
    assert red, first.detail
    assert all("entered RED on 2025-11-02" in alert.message for alert in red)
    assert again.changed == 0


def test_five_consecutive_page_failures_stop_the_job_with_an_alert(
    small_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eros import jobs
    from eros.jobs import JobStopped

    def broken(*args: object) -> list[object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs, "caption_stats_for_page", broken)
    settings = load_settings()
    with clock.frozen(NOW), open_store(str(small_store_path)) as store:
        with pytest.raises(JobStopped, match="5 consecutive"):
            update_stats(store, settings)
        assert isinstance(store, DuckDBStore)
        (run,) = store.fetchall("SELECT status, pages_failed, error FROM job_runs")
        assert run[:2] == ("failed", 5)
        assert "disk on fire" in run[2]
        (alert,) = store.alerts("job_stopped")
        assert "update-stats" in alert.message
