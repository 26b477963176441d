"""The DuckDB store: one embedded file shared by the CLI, the daemon and the web server.

DuckDB lets one process hold a file read-write and refuses a second at once (no busy timeout), so
a connection is held only for a unit of work and opening retries the lock error with exponential
backoff and jitter. Inside a process, threads use cursors of the one connection. Every value is a
parameter; the only SQL text built here joins identifiers from the project's own constants.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from eros import clock
from eros.analyze import PageHistory
from eros.errors import LockConflictError, StoreBusyError, StoreError
from eros.models import (
    CaptionCandidate,
    CaptionEvidence,
    CaptionLock,
    CaptionSnapshot,
    CaptionStats,
    JobRun,
    group_bounds,
)
from eros.store.base import (
    STAGED,
    Alert,
    AnalysisSnapshot,
    DuplicateKey,
    HealthFacts,
    ImportKind,
    LoadCounts,
    Page,
    PageOverview,
    SaveRequest,
    StagedTable,
)

if TYPE_CHECKING:
    import duckdb as duckdb_module

    from eros.export.rows import ExportLogEntry, ScheduleExport
    from eros.schedule import Schedule

MIGRATIONS_PACKAGE = "eros.store.migrations"

# An import stages its rows in a file beside the store named <store>.staging-<kind>-<random>.csv.
# Only one process at a time holds the store, and a staged file lives only while its import holds
# it, so on opening the store every such file is a leftover of a killed import, except those of
# imports running in this very process (threads of the daemon or the web server), listed here.
STAGING_INFIX = ".staging-"
_live_staged_files: set[Path] = set()
_staging_guard = threading.Lock()

# A staged row holds a few free-text cells of at most 131,072 characters (the csv module's field
# limit), up to 4 bytes each in UTF-8: more than DuckDB's default line limit of 2 MB.
STAGED_MAX_LINE_BYTES = 8 * 2**20
STAGED_TABLE = "import_staged"  # a temporary table: the staged file of the import under way


def _is_lock_error(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Turn driver errors into the project's: a held lock is transient, the rest terminal."""
    import duckdb

    try:
        yield
    except duckdb.Error as error:
        if _is_lock_error(error):
            raise StoreBusyError(f"{where}: the store is in use by another process") from error
        raise StoreError(f"{where}: {error}") from error


def to_db_instant(instant: datetime) -> datetime:
    """An aware instant as the naive UTC value stored in TIMESTAMP columns."""
    return clock.as_utc(instant).replace(tzinfo=None)


def from_db_instant(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, SQL) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found)


class DuckDBStore:
    """A unit of work on one DuckDB file. Use as a context manager; `close()` releases the file."""

    def __init__(
        self,
        path: Path,
        *,
        url: str | None = None,
        busy_timeout_s: float = 30.0,
        memory_limit: str = "512MB",
    ) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.url = url or f"duckdb:///{path}"
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connection = self._connect(busy_timeout_s)
        self._remove_stale_staged_files()
        self.migrate()

    def _connect(self, busy_timeout_s: float) -> duckdb_module.DuckDBPyConnection:
        import duckdb

        if not self.path.parent.exists():
            raise StoreError(f"{self.path}: folder {self.path.parent} does not exist")

        def attempt() -> duckdb_module.DuckDBPyConnection:
            with translate_errors(str(self.path)):
                return duckdb.connect(str(self.path), config={"memory_limit": self.memory_limit})

        retrying = Retrying(
            retry=retry_if_exception_type(StoreBusyError),
            wait=wait_random_exponential(multiplier=0.02, max=0.5),
            stop=stop_after_delay(busy_timeout_s),
            reraise=True,
        )
        return retrying(attempt)

    # -- plumbing ---------------------------------------------------------------------------------

    def _cursor(self) -> duckdb_module.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            if threading.current_thread() is threading.main_thread():
                cursor = self._connection
            else:
                cursor = self._connection.cursor()
            self._local.cursor = cursor
            self._local.depth = 0
        return cursor

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with translate_errors(str(self.path)):
            return self._cursor().execute(sql, parameters)

    def fetchall(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with translate_errors(str(self.path)):
            return self._cursor().execute(sql, parameters).fetchall()

    def scalar(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self.fetchall(sql, parameters)
        return row[0][0] if row else None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested blocks join the outer one; one at a time per process."""
        cursor = self._cursor()
        if self._local.depth > 0:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        # One writing transaction at a time in this process: threads on cursors of one
        # connection would otherwise meet DuckDB's write-write conflicts on shared rows (locks).
        with self._write_lock:
            with translate_errors(str(self.path)):
                cursor.execute("BEGIN TRANSACTION")
            self._local.depth = 1
            try:
                yield
            except BaseException:
                self._local.depth = 0
                with translate_errors(str(self.path)):
                    cursor.execute("ROLLBACK")
                raise
            self._local.depth = 0
            with translate_errors(str(self.path)):
                cursor.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply the shipped migrations the file lacks; returns the schema version."""
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        current = self.schema_version()
        shipped = migrations()
        newest = shipped[-1][0] if shipped else 0
        if current > newest:
            raise StoreError(
                f"{self.path}: schema version {current} is newer than this eros knows ({newest}); "
                "upgrade eros"
            )
        for number, name, sql in shipped:
            if number <= current:
                continue
            with self.atomic():
                self.execute(sql)
                self.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [number, name, to_db_instant(clock.now())],
                )
        return self.schema_version()

    def schema_version(self) -> int:
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))

    def tables(self) -> list[str]:
        rows = self.fetchall(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY 1"
        )
        return [row[0] for row in rows]

    def table_counts(self) -> dict[str, int]:
        # Table names come from the catalogue, not from users; counts cannot be parameters.
        return {
            table: int(self.scalar(f'SELECT count(*) FROM "{table}"')) for table in self.tables()
        }

    # -- pages ------------------------------------------------------------------------------------

    def pages(self) -> list[Page]:
        rows = self.fetchall("SELECT page_name, page_type, timezone FROM pages ORDER BY page_name")
        return [Page(*row) for row in rows]

    def upsert_pages(self, pages: Sequence[Page]) -> None:
        stamp = to_db_instant(clock.now())
        with self.atomic():
            for page in pages:
                self.execute(
                    "INSERT INTO pages (page_name, page_type, timezone, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (page_name) DO UPDATE SET "
                    "page_type = excluded.page_type, timezone = excluded.timezone",
                    [page.page_name, page.page_type, page.timezone, stamp],
                )

    def page_overview(self) -> list[PageOverview]:
        rows = self.fetchall(
            """
            SELECT p.page_name, p.page_type, p.timezone,
                   coalesce(m.sent, 0), coalesce(c.own, 0) + (SELECT count(*) FROM captions
                       WHERE page_name = '' AND active),
                   m.first_sent_at, m.last_sent_at
            FROM pages p
            LEFT JOIN (SELECT page_name, count(*) AS sent, min(sent_at) AS first_sent_at,
                              max(sent_at) AS last_sent_at
                       FROM messages GROUP BY page_name) m USING (page_name)
            LEFT JOIN (SELECT page_name, count(*) AS own FROM captions WHERE active
                       GROUP BY page_name) c USING (page_name)
            ORDER BY p.page_name
            """
        )
        return [
            PageOverview(
                page_name=name,
                page_type=page_type,
                timezone=timezone,
                messages=int(messages),
                captions=int(captions),
                first_sent_at=from_db_instant(first),
                last_sent_at=from_db_instant(last),
            )
            for name, page_type, timezone, messages, captions, first, last in rows
        ]

    # -- history ----------------------------------------------------------------------------------

    def page_histories(
        self, as_of: datetime, lookback_days: int, pages: Sequence[str] | None = None
    ) -> list[PageHistory]:
        """Each page's messages in [as_of - lookback, as_of) as arrays, plus what the NEW rule and
        the audience need: the first message ever, the message count and the latest fan count."""
        import numpy as np

        until = to_db_instant(as_of)
        since = until - timedelta(days=lookback_days)
        known = self.pages()
        wanted = None if pages is None else set(pages)
        chosen = [page for page in known if wanted is None or page.page_name in wanted]
        columns = (
            self._cursor()
            .execute(
                "SELECT page_name, epoch(sent_at) AS sent_at, message_type, sent_count, "
                "viewed_count, purchased_count, revenue FROM messages "
                "WHERE sent_at >= ? AND sent_at < ? ORDER BY page_name, sent_at",
                [since, until],
            )
            .fetchnumpy()
        )
        bounds = {
            name: (from_db_instant(first), int(count))
            for name, first, count in self.fetchall(
                "SELECT page_name, min(sent_at), count(*) FROM messages WHERE sent_at < ? "
                "GROUP BY page_name",
                [until],
            )
        }
        fans = {
            name: (day, int(active))
            for name, day, active in self.fetchall(
                "SELECT page_name, max_by(date, date), max_by(active_fans, date) FROM fans_daily "
                "WHERE date < ? GROUP BY page_name",
                [until.date()],
            )
        }
        names = np.asarray(columns["page_name"], dtype=object)
        kinds_all = np.asarray(columns["message_type"], dtype=object)
        row_bounds = group_bounds(names)  # rows come grouped by page: slice, never scan
        histories = []
        for page in chosen:
            start, stop = row_bounds.get(page.page_name, (0, 0))
            rows = slice(start, stop)
            kinds = kinds_all[rows]
            first, total = bounds.get(page.page_name, (None, 0))
            histories.append(
                PageHistory(
                    page_name=page.page_name,
                    timezone=page.timezone,
                    sent_at=np.asarray(columns["sent_at"][rows], dtype=np.float64),
                    is_ppv=kinds == "ppv",
                    is_followup=kinds == "followup",
                    sent=np.asarray(columns["sent_count"][rows], dtype=np.float64),
                    viewed=np.asarray(columns["viewed_count"][rows], dtype=np.float64),
                    purchased=np.asarray(columns["purchased_count"][rows], dtype=np.float64),
                    revenue=np.asarray(columns["revenue"][rows], dtype=np.float64),
                    first_sent_at=first,
                    total_messages=total,
                    latest_fans=fans.get(page.page_name),
                )
            )
        return histories

    # -- captions ---------------------------------------------------------------------------------

    def caption_candidates(self, page_name: str) -> list[CaptionCandidate]:
        rows = self.fetchall(
            "SELECT caption_key, caption_text, message_type, page_name, content_category, "
            "price_tier, trigger, active FROM captions WHERE page_name IN (?, '') "
            "ORDER BY caption_key, page_name",
            [page_name],
        )
        return [CaptionCandidate(*row) for row in rows]

    def caption_evidence(
        self, page_name: str, as_of: datetime, lookback_days: int
    ) -> CaptionEvidence:
        """This page's sends in the lookback, plus other pages' sends of shared captions."""
        import numpy as np

        until = to_db_instant(as_of)
        since = until - timedelta(days=lookback_days)
        columns = (
            self._cursor()
            .execute(
                "SELECT m.caption_key, m.page_name = ? AS on_this_page, "
                "m.message_type IN ('ppv', 'followup') AS is_ppv, epoch(m.sent_at) AS sent_at, "
                "m.sent_count, m.viewed_count, m.purchased_count, m.price FROM messages m "
                "WHERE m.sent_at >= ? AND m.sent_at < ? AND (m.page_name = ? OR m.caption_key IN "
                "(SELECT caption_key FROM captions WHERE page_name = '')) "
                "ORDER BY m.page_name, m.sent_at",
                [page_name, since, until, page_name],
            )
            .fetchnumpy()
        )
        return CaptionEvidence(
            caption_key=np.asarray(columns["caption_key"], dtype=object),
            on_this_page=np.asarray(columns["on_this_page"], dtype=bool),
            is_ppv=np.asarray(columns["is_ppv"], dtype=bool),
            sent_at=np.asarray(columns["sent_at"], dtype=np.float64),
            sent=np.asarray(columns["sent_count"], dtype=np.float64),
            viewed=np.asarray(columns["viewed_count"], dtype=np.float64),
            purchased=np.asarray(columns["purchased_count"], dtype=np.float64),
            price=np.asarray(columns["price"], dtype=np.float64),
        )

    def caption_snapshot(self, as_of: datetime, lookback_days: int) -> CaptionSnapshot:
        """Every page's caption bank, sends and last sends in one read, for runs of many pages."""
        import numpy as np

        until = to_db_instant(as_of)
        since = until - timedelta(days=lookback_days)
        bank = (
            self._cursor()
            .execute(
                "SELECT caption_key, caption_text, message_type, page_name, content_category, "
                "price_tier, trigger, active FROM captions ORDER BY caption_key, page_name"
            )
            .fetchnumpy()
        )
        columns = (
            self._cursor()
            .execute(
                "SELECT page_name, caption_key, message_type IN ('ppv', 'followup') AS is_ppv, "
                "epoch(sent_at) AS sent_at, sent_count, viewed_count, purchased_count, price "
                "FROM messages WHERE sent_at >= ? AND sent_at < ? ORDER BY page_name, sent_at",
                [since, until],
            )
            .fetchnumpy()
        )
        last = (
            self._cursor()
            .execute(
                "SELECT page_name, caption_key, epoch(max(sent_at)) AS sent_at FROM messages "
                "WHERE sent_at < ? GROUP BY page_name, caption_key ORDER BY page_name, caption_key",
                [until],
            )
            .fetchnumpy()
        )
        return CaptionSnapshot(
            bank_columns={name: np.asarray(values, dtype=object) for name, values in bank.items()},
            page_name=np.asarray(columns["page_name"], dtype=object),
            evidence=CaptionEvidence(
                caption_key=np.asarray(columns["caption_key"], dtype=object),
                on_this_page=np.zeros(len(columns["caption_key"]), dtype=bool),
                is_ppv=np.asarray(columns["is_ppv"], dtype=bool),
                sent_at=np.asarray(columns["sent_at"], dtype=np.float64),
                sent=np.asarray(columns["sent_count"], dtype=np.float64),
                viewed=np.asarray(columns["viewed_count"], dtype=np.float64),
                purchased=np.asarray(columns["purchased_count"], dtype=np.float64),
                price=np.asarray(columns["price"], dtype=np.float64),
            ),
            last_sent_columns={
                "page_name": np.asarray(last["page_name"], dtype=object),
                "caption_key": np.asarray(last["caption_key"], dtype=object),
                "sent_at": np.asarray(last["sent_at"], dtype=np.float64),
            },
        )

    def last_sent(self, page_name: str, as_of: datetime) -> dict[str, datetime]:
        rows = self.fetchall(
            "SELECT caption_key, max(sent_at) FROM messages WHERE page_name = ? AND sent_at < ? "
            "GROUP BY caption_key",
            [page_name, to_db_instant(as_of)],
        )
        return {key: instant.replace(tzinfo=UTC) for key, instant in rows}

    def live_locks(self, at: datetime) -> list[CaptionLock]:
        """Locks in force at `at`: not expired, and not of a superseded schedule."""
        return self._locks("l.expires_at > ?", [to_db_instant(at)])

    def locks_overlapping(self, start: datetime, end: datetime) -> list[CaptionLock]:
        """Locks of live schedules (or selections) whose window meets [start, end), whatever the
        real clock says: the constraints of planning any week in that span."""
        return self._locks(
            "l.expires_at > ? AND l.starts_at < ?", [to_db_instant(start), to_db_instant(end)]
        )

    def _locks(self, where: str, parameters: list[Any]) -> list[CaptionLock]:
        # `where` is the project's own text; every value is a parameter.
        rows = self.fetchall(
            "SELECT l.caption_key, l.page_name, l.schedule_id, l.expires_at, l.starts_at "
            "FROM caption_locks l LEFT JOIN schedules s USING (schedule_id) "
            f"WHERE {where} AND coalesce(s.status, 'active') = 'active' "
            "ORDER BY l.caption_key, l.page_name, l.schedule_id",
            parameters,
        )
        return [
            CaptionLock(key, page, schedule, expires.replace(tzinfo=UTC), from_db_instant(starts))
            for key, page, schedule, expires, starts in rows
        ]

    def newest_messages(self, until: dict[str, datetime]) -> dict[str, datetime]:
        """Each named page's newest message before its own instant (pages with none left out)."""
        names = sorted(until)
        rows = self.fetchall(
            "SELECT w.page, max(m.sent_at) FROM (SELECT unnest(?::VARCHAR[]) AS page, "
            "unnest(?::TIMESTAMP[]) AS until) w JOIN messages m ON m.page_name = w.page "
            "AND m.sent_at < w.until GROUP BY w.page ORDER BY 1",
            [names, [to_db_instant(until[name]) for name in names]],
        )
        return {page: newest.replace(tzinfo=UTC) for page, newest in rows}

    def active_schedules(self, week_start: date) -> dict[str, str]:
        """Each page's active schedule_id for the week starting `week_start` (local Monday)."""
        rows = self.fetchall(
            "SELECT page_name, schedule_id FROM schedules WHERE week_start = ? "
            "AND status = 'active' ORDER BY page_name",
            [week_start],
        )
        return {page: schedule_id for page, schedule_id in rows}

    def planned_sends(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The PPVs and bumps of live schedules planned in [start, end), as columns: page_name,
        schedule_id, caption_key, message_type, send_at (epoch seconds). A saved plan counts as
        sent at its planned time for every cooldown."""
        import numpy as np

        columns = (
            self._cursor()
            .execute(
                "SELECT s.page_name, m.schedule_id, m.caption_key, m.message_type, "
                "epoch(m.send_at) AS send_at FROM schedule_messages m "
                "JOIN schedules s USING (schedule_id) "
                "WHERE s.status = 'active' AND m.message_type IN ('ppv', 'bump') "
                "AND m.caption_key IS NOT NULL AND m.send_at >= ? AND m.send_at < ? "
                "ORDER BY s.page_name, m.send_at, m.caption_key",
                [to_db_instant(start), to_db_instant(end)],
            )
            .fetchnumpy()
        )
        return {
            name: np.asarray(values, dtype=np.float64 if name == "send_at" else object)
            for name, values in columns.items()
        }

    def lock_captions(
        self,
        schedule_id: str,
        page_name: str,
        windows: dict[str, tuple[datetime, datetime]],
        now: datetime,
    ) -> list[str]:
        """Take the locks (caption -> (start, expiry)) in one transaction; returns the captions
        another page holds in an overlapping window (and takes nothing) when there is a conflict.
        The earlier locks of `schedule_id` are replaced."""
        with self.atomic():
            rows = [(schedule_id, page_name, key, *windows[key]) for key in sorted(windows)]
            held = self._conflicts(rows, set())
            if held:
                return sorted({text.split(" ", 1)[0] for text in held.get(schedule_id, [])})
            self.execute("DELETE FROM caption_locks WHERE schedule_id = ?", [schedule_id])
            self._insert_locks(rows, to_db_instant(now))
        return []

    def _insert_locks(
        self, rows: Sequence[tuple[str, str, str, datetime, datetime]], stamp: datetime
    ) -> None:
        """Insert locks given as (schedule_id, page, caption, start, expiry), one statement."""
        if not rows:
            return
        self.insert_columns(
            "caption_locks (schedule_id, page_name, caption_key, locked_at, starts_at, expires_at)",
            [
                [row[0] for row in rows],
                [row[1] for row in rows],
                [row[2] for row in rows],
                [stamp] * len(rows),
                [to_db_instant(row[3]) for row in rows],
                [to_db_instant(row[4]) for row in rows],
            ],
        )

    def sweep_locks(self, now: datetime) -> int:
        """Housekeeping: free locks expired by `now` and those of superseded schedules. Conflict
        checks never depend on it (they compare windows, not the clock)."""
        with self.atomic():
            freed = self.fetchall(
                "DELETE FROM caption_locks WHERE expires_at <= ? OR schedule_id IN "
                "(SELECT schedule_id FROM schedules WHERE status = 'superseded') "
                "RETURNING caption_key",
                [to_db_instant(now)],
            )
        return len(freed)

    # -- schedules --------------------------------------------------------------------------------

    def save_schedule(
        self,
        schedule: Schedule,
        validation_ok: bool,
        report_json: str,
        lock_windows: dict[str, tuple[datetime, datetime]],
        now: datetime,
    ) -> str:
        """Persist one schedule with its messages and caption locks in one transaction; see
        `save_schedules`. Raises LockConflictError, writing nothing, on a conflict."""
        (outcome,) = self.save_schedules(
            [SaveRequest(schedule, validation_ok, report_json, lock_windows)], now
        )
        if isinstance(outcome, LockConflictError):
            raise outcome
        return outcome

    def save_schedules(
        self, requests: Sequence[SaveRequest], now: datetime
    ) -> list[str | LockConflictError]:
        """Persist a batch of schedules with their messages and caption locks in one transaction,
        in a constant number of statements whatever the batch's size.

        Per request: "unchanged" when its schedule_id is already the page-week's active schedule;
        "created" otherwise (the page-week's previous schedule is superseded and its locks freed);
        a LockConflictError, writing nothing of that schedule, when another page holds one of its
        captions in an overlapping window (a saved lock, or an earlier request of the batch). The
        previous schedules of the batch's own page-weeks never conflict: they are being replaced.
        """
        stamp = to_db_instant(now)
        outcomes: list[str | LockConflictError] = []
        with self.atomic():
            ids = [request.schedule.schedule_id for request in requests]
            status = dict(
                self.fetchall(
                    "SELECT schedule_id, status FROM schedules "
                    "WHERE list_contains(?::VARCHAR[], schedule_id)",
                    [ids],
                )
            )
            pages = [request.schedule.page_name for request in requests]
            weeks = [request.schedule.week_start for request in requests]
            current = self.fetchall(
                "SELECT s.schedule_id, s.page_name, s.week_start FROM schedules s JOIN "
                "(SELECT unnest(?::VARCHAR[]) AS page_name, unnest(?::DATE[]) AS week_start) w "
                "USING (page_name, week_start) WHERE s.status = 'active'",
                [pages, weeks],
            )
            replacing = {schedule_id for schedule_id, _, _ in current}
            held = self._conflicts(
                [
                    (request.schedule.schedule_id, request.schedule.page_name, key, start, end)
                    for request in requests
                    for key, (start, end) in sorted(request.lock_windows.items())
                ],
                replacing,
            )
            saving: list[SaveRequest] = []
            taken: dict[str, list[tuple[str, datetime, datetime]]] = {}
            for request in requests:
                schedule = request.schedule
                if status.get(schedule.schedule_id) == "active":
                    outcomes.append("unchanged")
                    continue
                conflicts = set(held.get(schedule.schedule_id, ()))
                for key, (start, end) in request.lock_windows.items():
                    for page, other_start, other_end in taken.get(key, ()):
                        if page != schedule.page_name and other_start < end and start < other_end:
                            conflicts.add(f"{key} ({page})")
                if conflicts:
                    outcomes.append(LockConflictError(schedule.page_name, sorted(conflicts)))
                    continue
                for key, (start, end) in request.lock_windows.items():
                    taken.setdefault(key, []).append((schedule.page_name, start, end))
                saving.append(request)
                outcomes.append("created")
            self._write_schedules(saving, status, stamp)
        return outcomes

    def _conflicts(
        self, rows: Sequence[tuple[str, str, str, datetime, datetime]], replacing: set[str]
    ) -> dict[str, list[str]]:
        """Per schedule_id, "caption (page)" of other pages' saved live locks whose windows meet
        the wanted ones — rows of (schedule_id, page, caption, start, expiry) — in one query. Locks
        of the schedules in `replacing` (about to be superseded) do not count."""
        if not rows:
            return {}
        found = self.fetchall(
            "SELECT DISTINCT w.schedule_id, w.caption_key, l.page_name FROM "
            "(SELECT unnest(?::VARCHAR[]) AS schedule_id, unnest(?::VARCHAR[]) AS page_name, "
            "unnest(?::VARCHAR[]) AS caption_key, unnest(?::TIMESTAMP[]) AS starts_at, "
            "unnest(?::TIMESTAMP[]) AS expires_at) w "
            "JOIN caption_locks l ON l.caption_key = w.caption_key "
            "AND l.starts_at < w.expires_at AND l.expires_at > w.starts_at "
            "LEFT JOIN schedules s ON s.schedule_id = l.schedule_id "
            "WHERE l.page_name <> w.page_name AND coalesce(s.status, 'active') = 'active' "
            "AND l.schedule_id <> w.schedule_id "
            "AND NOT list_contains(?::VARCHAR[], l.schedule_id) ORDER BY 1, 2, 3",
            [
                [row[0] for row in rows],
                [row[1] for row in rows],
                [row[2] for row in rows],
                [to_db_instant(row[3]) for row in rows],
                [to_db_instant(row[4]) for row in rows],
                sorted(replacing),
            ],
        )
        conflicts: dict[str, list[str]] = {}
        for schedule_id, key, page in found:
            conflicts.setdefault(schedule_id, []).append(f"{key} ({page})")
        return conflicts

    def _write_schedules(
        self, saving: Sequence[SaveRequest], status: dict[str, str], stamp: datetime
    ) -> None:
        """Supersede the page-weeks' previous schedules and write the new ones, their messages and
        locks: a constant number of statements."""
        if not saving:
            return
        ids = [request.schedule.schedule_id for request in saving]
        superseded = self.fetchall(
            "UPDATE schedules SET status = 'superseded', superseded_at = ? FROM "
            "(SELECT unnest(?::VARCHAR[]) AS page_name, unnest(?::DATE[]) AS week_start) w "
            "WHERE schedules.page_name = w.page_name AND schedules.week_start = w.week_start "
            "AND schedules.status = 'active' AND NOT list_contains(?::VARCHAR[], "
            "schedules.schedule_id) RETURNING schedules.schedule_id",
            [
                stamp,
                [request.schedule.page_name for request in saving],
                [request.schedule.week_start for request in saving],
                ids,
            ],
        )
        back = [schedule_id for schedule_id in ids if schedule_id in status]
        self.execute(
            "DELETE FROM caption_locks WHERE list_contains(?::VARCHAR[], schedule_id)",
            [[schedule_id for (schedule_id,) in superseded] + back],
        )
        if back:  # the same inputs came back: those schedules are their page-weeks' plan again
            self.execute(
                "UPDATE schedules SET status = 'active', superseded_at = NULL "
                "WHERE list_contains(?::VARCHAR[], schedule_id)",
                [back],
            )
        new = [request for request in saving if request.schedule.schedule_id not in status]
        if new:
            schedules = [request.schedule for request in new]
            self.insert_columns(
                "schedules (schedule_id, page_name, week_start, mode, saturation_zone, status, "
                "validation_ok, total_messages, expected_revenue, created_at, timezone, "
                "warnings, report)",
                [
                    [s.schedule_id for s in schedules],
                    [s.page_name for s in schedules],
                    [s.week_start for s in schedules],
                    [s.mode for s in schedules],
                    [s.saturation_zone for s in schedules],
                    ["active"] * len(schedules),
                    [request.validation_ok for request in new],
                    [len(s.messages) for s in schedules],
                    [s.expected_revenue for s in schedules],
                    [stamp] * len(schedules),
                    [s.timezone for s in schedules],
                    [json.dumps(s.warnings) for s in schedules],
                    [request.report_json for request in new],
                ],
            )
            messages = [
                (s.schedule_id, seq, m) for s in schedules for seq, m in enumerate(s.messages)
            ]
            if messages:
                self.insert_columns(
                    "schedule_messages",
                    [
                        [schedule_id for schedule_id, _, _ in messages],
                        [seq for _, seq, _ in messages],
                        [to_db_instant(m.send_at_utc) for _, _, m in messages],
                        [m.message_type for _, _, m in messages],
                        [m.caption_key for _, _, m in messages],
                        [m.caption_text for _, _, m in messages],
                        [m.price for _, _, m in messages],
                        [m.price_tier for _, _, m in messages],
                        [m.content_category for _, _, m in messages],
                        [m.trigger for _, _, m in messages],
                        [m.parent for _, _, m in messages],
                        [m.expected_revenue for _, _, m in messages],
                        [m.holiday for _, _, m in messages],
                        [m.note for _, _, m in messages],
                    ],
                )
        self._insert_locks(
            [
                (request.schedule.schedule_id, request.schedule.page_name, key, start, end)
                for request in saving
                for key, (start, end) in sorted(request.lock_windows.items())
            ],
            stamp,
        )

    def schedule_export(self, schedule_id: str) -> ScheduleExport | None:
        """A persisted schedule with its messages, as exporters take it (None if unknown)."""
        from eros.export.rows import ExportRow, ScheduleExport

        head = self.fetchall(
            "SELECT page_name, timezone, week_start, saturation_zone FROM schedules "
            "WHERE schedule_id = ?",
            [schedule_id],
        )
        if not head:
            return None
        page_name, timezone, week_start, zone = head[0]
        tz = clock.zone(timezone)
        rows = []
        for (
            send_at,
            kind,
            key,
            text,
            price,
            tier,
            category,
            trigger,
            parent,
            expected,
            note,
        ) in self.fetchall(
            "SELECT send_at, message_type, caption_key, caption_text, price, price_tier, "
            "content_category, trigger, parent, expected_revenue, note FROM schedule_messages "
            "WHERE schedule_id = ? ORDER BY seq",
            [schedule_id],
        ):
            rows.append(
                ExportRow.at(
                    schedule_id,
                    page_name,
                    send_at.replace(tzinfo=UTC).astimezone(tz),
                    message_type=kind,
                    caption_key=key or "",
                    caption_text=text or "",
                    price=float(price),
                    price_tier=tier,
                    content_category=category,
                    trigger=trigger,
                    parent=parent,
                    expected_revenue=float(expected),
                    note=note,
                )
            )
        return ScheduleExport(schedule_id, page_name, timezone, week_start, zone, rows)

    def record_exports(self, attempts: Sequence[ExportLogEntry], at: datetime) -> None:
        """Append export attempts to schedule_export_log in one statement."""
        if not attempts:
            return
        self.insert_columns(
            "schedule_export_log (schedule_id, destination, status, row_count, duration_ms, "
            "error, attempted_at)",
            [
                [entry.schedule_id for entry in attempts],
                [entry.destination for entry in attempts],
                [entry.status for entry in attempts],
                [entry.rows for entry in attempts],
                [entry.duration_ms for entry in attempts],
                [entry.error for entry in attempts],
                [to_db_instant(at)] * len(attempts),
            ],
        )

    def active_schedule_id(self, page_name: str, week_start: date) -> str | None:
        value = self.scalar(
            "SELECT schedule_id FROM schedules WHERE page_name = ? AND week_start = ? "
            "AND status = 'active'",
            [page_name, week_start],
        )
        return None if value is None else str(value)

    # -- caption stats and jobs -------------------------------------------------------------------

    def pages_needing_stats(self) -> list[str]:
        """Pages with messages loaded (or changed) after their caption stats were made."""
        rows = self.fetchall(
            "SELECT m.page_name FROM messages m "
            "LEFT JOIN caption_stats_refresh r USING (page_name) "
            "GROUP BY m.page_name, r.source_loaded_at "
            "HAVING r.source_loaded_at IS NULL OR max(m.imported_at) > r.source_loaded_at "
            "ORDER BY 1"
        )
        return [name for (name,) in rows]

    def newest_load(self, page_name: str) -> datetime | None:
        value = self.scalar(
            "SELECT max(imported_at) FROM messages WHERE page_name = ?", [page_name]
        )
        return from_db_instant(value)

    def replace_caption_stats(
        self,
        page_name: str,
        rows: Sequence[CaptionStats],
        source_loaded_at: datetime,
        now: datetime,
    ) -> None:
        with self.atomic():
            self.execute("DELETE FROM caption_bandit_stats WHERE page_name = ?", [page_name])
            self.execute(
                "INSERT INTO caption_stats_refresh VALUES (?, ?, ?) ON CONFLICT (page_name) "
                "DO UPDATE SET source_loaded_at = excluded.source_loaded_at, "
                "refreshed_at = excluded.refreshed_at",
                [page_name, to_db_instant(source_loaded_at), to_db_instant(now)],
            )
            if not rows:
                return
            columns: list[list[Any]] = [
                [page_name] * len(rows),
                [row.caption_key for row in rows],
                [row.successes for row in rows],
                [row.failures for row in rows],
                [row.sends for row in rows],
                [row.views for row in rows],
                [row.purchases for row in rows],
                [to_db_instant(row.last_sent_at) for row in rows],
                [to_db_instant(row.reference_at) for row in rows],
                [to_db_instant(row.source_loaded_at) for row in rows],
                [to_db_instant(row.updated_at) for row in rows],
            ]
            self.insert_columns("caption_bandit_stats", columns)

    def insert_columns(self, table: str, columns: Sequence[Sequence[Any]]) -> None:
        """Insert rows given column by column, as list parameters (one statement, not one a row).
        `table` (with a column list if needed) is the project's own text, never user input."""
        selected = ", ".join(f"unnest(${position + 1})" for position in range(len(columns)))
        self.execute(f"INSERT INTO {table} SELECT {selected}", [list(column) for column in columns])

    def record_job_run(self, run: JobRun) -> None:
        self.execute(
            "INSERT INTO job_runs (job, started_at, finished_at, status, pages_processed, "
            "pages_failed, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                run.job,
                to_db_instant(run.started_at),
                to_db_instant(run.finished_at),
                run.status,
                run.pages_processed,
                run.pages_failed,
                run.error,
            ],
        )

    # -- daemon, daily job and health --------------------------------------------------------------

    def acquire_lease(self, job: str, holder: str, now: datetime, seconds: float) -> str:
        """One statement (so one transaction): insert the lease, or take it over when it expired
        or is already ours; returns whoever holds it afterwards."""
        stamp = to_db_instant(now)
        with self.atomic():
            self.execute(
                "INSERT INTO job_leases VALUES (?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET "
                "holder = excluded.holder, acquired_at = excluded.acquired_at, "
                "expires_at = excluded.expires_at "
                "WHERE job_leases.expires_at <= ? OR job_leases.holder = excluded.holder",
                [job, holder, stamp, stamp + timedelta(seconds=seconds), stamp],
            )
            return str(self.scalar("SELECT holder FROM job_leases WHERE job = ?", [job]))

    def release_lease(self, job: str, holder: str) -> None:
        self.execute("DELETE FROM job_leases WHERE job = ? AND holder = ?", [job, holder])

    def save_snapshots(self, rows: Sequence[AnalysisSnapshot], now: datetime) -> int:
        if not rows:
            return 0
        with self.atomic():
            inserted = self.fetchall(
                "INSERT INTO analysis_snapshots SELECT unnest($1), unnest($2), unnest($3), "
                "unnest($4), unnest($5), unnest($6), unnest($7)::JSON, $8 "
                "ON CONFLICT (date, page_name) DO NOTHING RETURNING page_name",
                [
                    [row.date for row in rows],
                    [row.page_name for row in rows],
                    [row.tier for row in rows],
                    [row.risk for row in rows],
                    [row.zone for row in rows],
                    [row.score for row in rows],
                    [row.report_json for row in rows],
                    to_db_instant(now),
                ],
            )
        return len(inserted)

    def snapshot_zones_before(self, day: date) -> dict[str, str]:
        rows = self.fetchall(
            "SELECT page_name, max_by(zone, date) FROM analysis_snapshots WHERE date < ? "
            "GROUP BY page_name",
            [day],
        )
        return {page: zone for page, zone in rows}

    def raise_alerts(self, alerts: Sequence[Alert]) -> int:
        added = 0
        with self.atomic():
            for alert in alerts:
                if self.scalar("SELECT 1 FROM alerts WHERE alert_key = ?", [alert.alert_key]):
                    continue
                self.execute(
                    "INSERT INTO alerts (created_at, page_name, kind, message, alert_key) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        to_db_instant(alert.created_at),
                        alert.page_name,
                        alert.kind,
                        alert.message,
                        alert.alert_key,
                    ],
                )
                added += 1
        return added

    def alerts(self, kind: str | None = None) -> list[Alert]:
        rows = self.fetchall(
            "SELECT alert_key, created_at, page_name, kind, message FROM alerts "
            "WHERE ? IS NULL OR kind = ? ORDER BY alert_id",
            [kind, kind],
        )
        return [
            Alert(key or "", created.replace(tzinfo=UTC), page, kind_, message)
            for key, created, page, kind_, message in rows
        ]

    def health_facts(
        self,
        now: datetime,
        since: datetime,
        weeks: dict[str, date],
        ppv_cooldown_days: int,
        saved_before: datetime,
    ) -> HealthFacts:
        stamp = to_db_instant(now)
        pages = [page.page_name for page in self.pages()]
        newest, with_messages = self.fetchall(
            "SELECT max(sent_at), count(DISTINCT page_name) FROM messages"
        )[0]
        sweepable = self.scalar(
            "SELECT count(*) FROM caption_locks WHERE expires_at <= ? OR schedule_id IN "
            "(SELECT schedule_id FROM schedules WHERE status = 'superseded')",
            [stamp],
        )
        failed = self.scalar(
            "SELECT count(*) FROM schedule_export_log WHERE status = 'failed' "
            "AND attempted_at >= ?",
            [to_db_instant(since)],
        )
        names = sorted(weeks)
        missing = self.fetchall(
            "SELECT w.page FROM (SELECT unnest(?::VARCHAR[]) AS page, unnest(?::DATE[]) AS week) w "
            "WHERE NOT EXISTS (SELECT 1 FROM schedules s WHERE s.page_name = w.page "
            "AND s.week_start = w.week AND s.status = 'active') ORDER BY 1",
            [names, [weeks[name] for name in names]],
        )
        eligible = dict.fromkeys(pages, 0)
        for page, count in self.fetchall(
            """
            WITH offered AS (
                SELECT p.page_name AS page, c.caption_key FROM pages p
                JOIN captions c ON c.page_name IN (p.page_name, '')
                WHERE c.active AND c.message_type = 'ppv'),
            recent AS (SELECT DISTINCT page_name, caption_key FROM messages WHERE sent_at > ?),
            held AS (
                SELECT l.caption_key, l.page_name FROM caption_locks l
                LEFT JOIN schedules s USING (schedule_id)
                WHERE l.expires_at > ? AND coalesce(s.status, 'active') = 'active')
            SELECT page, count(DISTINCT caption_key) FROM offered o
            WHERE NOT EXISTS (SELECT 1 FROM recent r
                              WHERE r.page_name = o.page AND r.caption_key = o.caption_key)
              AND NOT EXISTS (SELECT 1 FROM held h
                              WHERE h.caption_key = o.caption_key AND h.page_name <> o.page)
            GROUP BY page
            """,
            [stamp - timedelta(days=ppv_cooldown_days), stamp],
        ):
            eligible[page] = int(count)
        # A gated-out schedule has a 'skipped' row (reason invalid, red_zone or manual), so only a
        # schedule whose run stopped between save and export has no row at all; a schedule whose
        # every attempt failed never reached anyone either. Weeks already over no longer matter.
        unexported = self.fetchall(
            "SELECT s.schedule_id FROM schedules s WHERE s.status = 'active' AND s.validation_ok "
            "AND s.week_start >= ? AND s.created_at <= ? AND NOT EXISTS ("
            "SELECT 1 FROM schedule_export_log e WHERE e.schedule_id = s.schedule_id "
            "AND e.status IN ('exported', 'skipped')) ORDER BY s.schedule_id",
            [clock.as_utc(now).date() - timedelta(days=7), to_db_instant(saved_before)],
        )
        return HealthFacts(
            pages=len(pages),
            newest_message_at=from_db_instant(newest),
            pages_with_messages=int(with_messages),
            pages_with_stale_stats=len(self.pages_needing_stats()),
            sweepable_locks=int(sweepable),
            failed_exports=int(failed),
            pages_without_schedule=[page for (page,) in missing],
            eligible_ppv=eligible,
            unexported_schedules=[schedule_id for (schedule_id,) in unexported],
        )

    # -- imports ----------------------------------------------------------------------------------

    def _staging_folder(self) -> Path:
        return self.path.absolute().parent

    def _remove_stale_staged_files(self) -> None:
        """Remove staged files left by killed imports (called once this process holds the store)."""
        pattern = f"{glob.escape(self.path.name)}{STAGING_INFIX}*"
        with _staging_guard:
            for leftover in self._staging_folder().glob(pattern):
                if leftover not in _live_staged_files:
                    leftover.unlink(missing_ok=True)

    @contextmanager
    def staging_file(self, kind: ImportKind, suffix: str = ".csv") -> Iterator[Path]:
        with _staging_guard:
            handle, name = tempfile.mkstemp(
                dir=self._staging_folder(),
                prefix=f"{self.path.name}{STAGING_INFIX}{kind}-",
                suffix=suffix,
            )
            os.close(handle)
            staged = Path(name)
            _live_staged_files.add(staged)
        try:
            yield staged
        finally:
            with _staging_guard:
                _live_staged_files.discard(staged)
            staged.unlink(missing_ok=True)

    def load_staged(
        self,
        kind: ImportKind,
        staged_file: Path,
        *,
        create_pages: Sequence[Page] = (),
    ) -> LoadCounts | list[DuplicateKey]:
        # The staged file is parsed once, into a temporary table that spills to disk under the
        # connection's memory limit; the checks and the merge read that table.
        spec = STAGED[kind]
        with self.atomic():
            self.execute(
                f"CREATE OR REPLACE TEMP TABLE {STAGED_TABLE} AS "
                f"SELECT * FROM {self._staged(spec, staged_file)}",
                [str(staged_file)],
            )
            try:
                duplicates = self._duplicates(spec)
                if duplicates:
                    return duplicates
                if create_pages:
                    self.upsert_pages(create_pages)
                counts = self._merge(spec)
            finally:
                self.execute(f"DROP TABLE IF EXISTS {STAGED_TABLE}")
        return LoadCounts(
            inserted=counts[0],
            updated=counts[1],
            unchanged=counts[2],
            pages_created=tuple(page.page_name for page in create_pages),
        )

    @staticmethod
    def _staged(spec: StagedTable, staged_file: Path) -> str:
        """A read of a staged file (its path is the query's first parameter)."""
        names = ("line", *spec.columns)
        if staged_file.suffix == ".parquet":
            return f"(SELECT {', '.join(names)} FROM read_parquet(?))"
        columns = ", ".join(
            f"'{name}': '{kind}'" for name, kind in zip(names, ("BIGINT", *spec.types), strict=True)
        )
        return (
            "read_csv(?, header = true, auto_detect = false, "
            f"columns = {{{columns}}}, quote = '\"', escape = '\"', nullstr = '\\N', "
            f"max_line_size = {STAGED_MAX_LINE_BYTES}, "
            "timestampformat = '%Y-%m-%d %H:%M:%S.%f', dateformat = '%Y-%m-%d')"
        )

    def _duplicates(self, spec: StagedTable) -> list[DuplicateKey]:
        key = ", ".join(spec.key)
        rows = self.fetchall(
            f"SELECT line, first_line FROM (SELECT line, min(line) OVER (PARTITION BY {key}) "
            f"AS first_line FROM {STAGED_TABLE}) WHERE line <> first_line ORDER BY line"
        )
        return [DuplicateKey(line=int(line), first_line=int(first)) for line, first in rows]

    def _merge(self, spec: StagedTable) -> tuple[int, int, int]:
        table, staged = spec.table, STAGED_TABLE
        matches = " AND ".join(f"t.{name} = s.{name}" for name in spec.key)
        differs = " OR ".join(f"t.{name} IS DISTINCT FROM s.{name}" for name, _ in spec.values)
        staged_total, inserted = self.fetchall(
            f"SELECT count(*), count(*) FILTER (WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE {matches})) FROM {staged} s"
        )[0]
        updated = int(
            self.scalar(
                f"SELECT count(*) FROM {staged} s JOIN {table} t ON {matches} WHERE {differs}"
            )
        )
        if updated:
            assignments = ", ".join(f"{name} = s.{name}" for name, _ in spec.values)
            update_parameters: list[Any] = []
            if spec.stamp_column and spec.stamp_column != "created_at":
                assignments += f", {spec.stamp_column} = ?"
                update_parameters.append(to_db_instant(clock.now()))
            target_matches = " AND ".join(f"{table}.{name} = s.{name}" for name in spec.key)
            differs_target = " OR ".join(
                f"{table}.{name} IS DISTINCT FROM s.{name}" for name, _ in spec.values
            )
            self.execute(
                f"UPDATE {table} SET {assignments} FROM {staged} s "
                f"WHERE {target_matches} AND ({differs_target})",
                update_parameters,
            )
        if inserted:
            columns = list(spec.columns)
            selected = [f"s.{name}" for name in columns]
            parameters: list[Any] = []
            if spec.stamp_column:
                columns.append(spec.stamp_column)
                selected.append("?")
                parameters.append(to_db_instant(clock.now()))
            self.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selected)} "
                f"FROM {staged} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {matches})",
                parameters,
            )
        return int(inserted), updated, int(staged_total) - int(inserted) - updated
