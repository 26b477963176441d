"""Persisting a schedule: one transaction with its messages and locks; idempotent; all or nothing
even when the process is killed in the middle."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

from eros.pipeline import build_page_week
from eros.settings import load_settings
from eros.store import open_store
from eros.store.duckdb import DuckDBStore

WEEK = date(2025, 11, 3)


def counts(path: Path) -> dict[str, int]:
    with open_store(str(path)) as store:
        return {
            table: count
            for table, count in store.table_counts().items()
            if table in ("schedules", "schedule_messages", "caption_locks")
        }


def test_building_again_is_a_no_op_and_new_inputs_supersede(small_store_path: Path) -> None:
    settings = load_settings()
    first = build_page_week(str(small_store_path), "talia", WEEK, "optimize", settings)
    assert first.validation.ok
    assert first.persisted == "created"
    after_first = counts(small_store_path)
    assert after_first["schedule_messages"] == len(first.schedule.messages)
    again = build_page_week(str(small_store_path), "talia", WEEK, "optimize", settings)
    assert again.persisted == "unchanged"
    assert again.schedule.schedule_id == first.schedule.schedule_id
    assert counts(small_store_path) == after_first
    safer = build_page_week(str(small_store_path), "talia", WEEK, "conservative", settings)
    assert safer.schedule.schedule_id != first.schedule.schedule_id
    with open_store(str(small_store_path)) as store:
        assert isinstance(store, DuckDBStore)
        statuses = dict(store.fetchall("SELECT schedule_id, status FROM schedules"))
        lock_owners = {
            owner for (owner,) in store.fetchall("SELECT schedule_id FROM caption_locks")
        }
    assert statuses == {
        first.schedule.schedule_id: "superseded",
        safer.schedule.schedule_id: "active",
    }
    assert lock_owners == {safer.schedule.schedule_id}


def test_two_pages_never_hold_one_caption(small_store_path: Path) -> None:
    settings = load_settings()
    keys = {}
    for page in ("jadebri", "talia", "myahill"):
        built = build_page_week(str(small_store_path), page, WEEK, "optimize", settings)
        keys[page] = {
            m.caption_key for m in built.schedule.messages if m.message_type != "followup"
        }
    assert not keys["jadebri"] & keys["talia"]
    assert not keys["talia"] & keys["myahill"]


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from eros.pipeline import build_page_week
    from eros.settings import load_settings
    from eros.store.duckdb import DuckDBStore

    original = DuckDBStore.insert_columns

    def insert_then_stall(self, table, columns):
        original(self, table, columns)
        if table == "schedule_messages":
            print("inside", flush=True)
            time.sleep(60)  # killed here, after the schedule and its messages, before the locks

    DuckDBStore.insert_columns = insert_then_stall
    build_page_week(sys.argv[1], "talia", date(2025, 11, 3), "optimize", load_settings())
    """
)


def test_a_writer_killed_mid_transaction_leaves_the_whole_schedule_or_nothing(
    small_store_path: Path,
) -> None:
    before = counts(small_store_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(small_store_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "inside"
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    assert counts(small_store_path) == before
    # The store is usable afterwards and the same build now lands whole.
    built = build_page_week(str(small_store_path), "talia", WEEK, "optimize", load_settings())
    assert built.persisted == "created"
    assert counts(small_store_path)["schedule_messages"] == len(built.schedule.messages)


def test_a_built_schedule_exports_as_its_saved_copy(small_store_path: Path) -> None:
    from eros.export.rows import schedule_export

    built = build_page_week(str(small_store_path), "talia", WEEK, "optimize", load_settings())
    with open_store(str(small_store_path)) as store:
        saved = store.schedule_export(built.schedule.schedule_id)
    assert saved == schedule_export(built.schedule)


def test_the_run_snapshot_gives_each_page_what_the_store_verbs_give(small_template: Path) -> None:
    from datetime import UTC, datetime

    import numpy as np

    as_of = datetime(2025, 11, 3, 8, tzinfo=UTC)
    with open_store(str(small_template)) as store:
        snapshot = store.caption_snapshot(as_of, 365)
        for page in ("talia", "poutyselena", "del"):
            candidates, evidence, last_sent = snapshot.for_page(page, as_of)
            assert sorted(candidates, key=repr) == sorted(store.caption_candidates(page), key=repr)
            assert last_sent == store.last_sent(page, as_of)
            direct = store.caption_evidence(page, as_of, 365)
            columns = (evidence.caption_key, evidence.sent_at, evidence.on_this_page)
            direct_columns = (direct.caption_key, direct.sent_at, direct.on_this_page)
            assert sorted(zip(*columns, strict=True)) == sorted(zip(*direct_columns, strict=True))
            assert np.isclose(evidence.purchased.sum(), direct.purchased.sum())


def test_locks_conflict_by_window_overlap_whatever_the_clock(db_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from eros import clock

    week = datetime(2025, 11, 3, 8, tzinfo=UTC)
    days = timedelta(days=1)
    with (
        clock.frozen(datetime(2026, 11, 30, tzinfo=UTC)),
        open_store(str(db_path), create=True) as store,
    ):
        now = clock.now()
        assert store.lock_captions("SCH_A", "a", {"x": (week, week + 28 * days)}, now) == []
        # A window that starts as A's ends does not meet it; one inside it does, though both
        # "expired" by the wall clock long ago.
        later = (week + 28 * days, week + 56 * days)
        assert store.lock_captions("SCH_B", "b", {"x": later}, now) == []
        inside = (week + 7 * days, week + 35 * days)
        assert store.lock_captions("SCH_C", "c", {"x": inside, "y": inside}, now) == ["x"]
        assert store.lock_captions("SCH_A2", "a", {"x": inside}, now) == ["x"]  # B holds it
        held = {
            (lock.page_name, lock.caption_key)
            for lock in store.locks_overlapping(week, week + 60 * days)
        }
    assert held == {("a", "x"), ("b", "x")}
