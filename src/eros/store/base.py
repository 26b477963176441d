"""The store interface: the verbs every backend (DuckDB now, BigQuery later) implements.

Stages never see SQL; they call these verbs. Instants cross this boundary as aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from eros.analyze import PageHistory
    from eros.errors import LockConflictError
    from eros.export.rows import ExportLogEntry, ScheduleExport
    from eros.models import (
        CaptionCandidate,
        CaptionEvidence,
        CaptionLock,
        CaptionSnapshot,
        CaptionStats,
        JobRun,
    )
    from eros.schedule import Schedule

ImportKind = Literal["pages", "messages", "captions", "fans"]
IMPORT_KINDS: tuple[ImportKind, ...] = ("pages", "messages", "captions", "fans")


@dataclass(frozen=True)
class StagedTable:
    """How validated rows of one import kind land in their table: the natural key and the values."""

    table: str
    key: tuple[str, ...]
    values: tuple[tuple[str, str], ...]  # (column, SQL type) in staged-file order after the key
    key_types: tuple[str, ...]
    stamp_column: str | None = None  # set to the import instant on insert

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key, *(name for name, _ in self.values))

    @property
    def types(self) -> tuple[str, ...]:
        return (*self.key_types, *(kind for _, kind in self.values))


# The staged file of an import has the columns `line` then `columns`, in this order.
STAGED: dict[ImportKind, StagedTable] = {
    "pages": StagedTable(
        table="pages",
        stamp_column="created_at",
        key=("page_name",),
        key_types=("VARCHAR",),
        values=(("page_type", "VARCHAR"), ("timezone", "VARCHAR")),
    ),
    "messages": StagedTable(
        table="messages",
        stamp_column="imported_at",
        key=("page_name", "sent_at", "caption_key"),
        key_types=("VARCHAR", "TIMESTAMP", "VARCHAR"),
        values=(
            ("message_type", "VARCHAR"),
            ("caption_text", "VARCHAR"),
            ("price", "DOUBLE"),
            ("sent_count", "BIGINT"),
            ("viewed_count", "BIGINT"),
            ("purchased_count", "BIGINT"),
            ("revenue", "DOUBLE"),
            ("message_id", "VARCHAR"),
            ("content_category", "VARCHAR"),
            ("price_tier", "VARCHAR"),
            ("trigger", "VARCHAR"),
        ),
    ),
    "captions": StagedTable(
        table="captions",
        stamp_column="imported_at",
        key=("page_name", "caption_key"),
        key_types=("VARCHAR", "VARCHAR"),
        values=(
            ("caption_text", "VARCHAR"),
            ("message_type", "VARCHAR"),
            ("content_category", "VARCHAR"),
            ("price_tier", "VARCHAR"),
            ("trigger", "VARCHAR"),
            ("active", "BOOLEAN"),
        ),
    ),
    "fans": StagedTable(
        table="fans_daily",
        key=("page_name", "date"),
        key_types=("VARCHAR", "DATE"),
        values=(("active_fans", "BIGINT"), ("new_fans", "BIGINT"), ("expired_fans", "BIGINT")),
    ),
}


@dataclass(frozen=True)
class LoadCounts:
    """What an import did: rows that were new, changed, or already there exactly."""

    inserted: int
    updated: int
    unchanged: int
    pages_created: tuple[str, ...] = ()


@dataclass(frozen=True)
class DuplicateKey:
    """Two lines of one staged file with the same natural key."""

    line: int
    first_line: int


@dataclass(frozen=True)
class SaveRequest:
    """One schedule to persist, with the window (start, expiry) of each caption it locks."""

    schedule: Schedule
    validation_ok: bool
    report_json: str
    lock_windows: dict[str, tuple[datetime, datetime]]


@dataclass(frozen=True)
class Page:
    page_name: str
    page_type: str
    timezone: str


@dataclass(frozen=True)
class PageOverview:
    page_name: str
    page_type: str
    timezone: str
    messages: int
    captions: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class FanCount:
    page_name: str
    date: date
    active_fans: int


@dataclass(frozen=True)
class AnalysisSnapshot:
    """One page's analysis kept by `eros jobs daily` for a day."""

    date: date
    page_name: str
    tier: str
    risk: str
    zone: str
    score: float
    report_json: str


@dataclass(frozen=True)
class Alert:
    """Something a person should look at; `alert_key` makes raising it twice add nothing."""

    alert_key: str
    created_at: datetime
    page_name: str | None
    kind: str
    message: str


@dataclass(frozen=True)
class HealthFacts:
    """What `eros health` reads of the store, in one unit of work."""

    pages: int
    newest_message_at: datetime | None
    pages_with_messages: int
    pages_with_stale_stats: int
    sweepable_locks: int
    failed_exports: int
    pages_without_schedule: list[str]
    eligible_ppv: dict[str, int]
    # Live schedules (week not over, saved before `saved_before`) with neither an export nor a
    # gate's skip in schedule_export_log: the run that saved them stopped before its export.
    unexported_schedules: list[str]


class Store(Protocol):
    """The verbs the engine uses. Open one with `eros.store.open_store(url)` for a unit of work."""

    url: str

    def atomic(self) -> AbstractContextManager[None]:
        """A transaction: everything inside commits together or not at all."""
        ...

    def schema_version(self) -> int: ...

    def tables(self) -> list[str]: ...

    def table_counts(self) -> dict[str, int]: ...

    def pages(self) -> list[Page]: ...

    def page_overview(self) -> list[PageOverview]: ...

    def upsert_pages(self, pages: Sequence[Page]) -> None: ...

    def page_histories(
        self, as_of: datetime, lookback_days: int, pages: Sequence[str] | None = None
    ) -> list[PageHistory]:
        """Each page's messages of the lookback before `as_of`, as arrays for the analysis."""
        ...

    def caption_candidates(self, page_name: str) -> list[CaptionCandidate]: ...

    def caption_evidence(
        self, page_name: str, as_of: datetime, lookback_days: int
    ) -> CaptionEvidence: ...

    def caption_snapshot(self, as_of: datetime, lookback_days: int) -> CaptionSnapshot:
        """Every page's bank, sends and last sends in one read (runs of many pages)."""
        ...

    def last_sent(self, page_name: str, as_of: datetime) -> dict[str, datetime]: ...

    def live_locks(self, at: datetime) -> list[CaptionLock]: ...

    def locks_overlapping(self, start: datetime, end: datetime) -> list[CaptionLock]:
        """Live locks whose window meets [start, end), whatever the real clock says."""
        ...

    def newest_messages(self, until: dict[str, datetime]) -> dict[str, datetime]:
        """Each named page's newest message before its own instant."""
        ...

    def active_schedules(self, week_start: date) -> dict[str, str]:
        """Each page's active schedule_id for the week starting `week_start`."""
        ...

    def planned_sends(self, start: datetime, end: datetime) -> dict[str, Any]:
        """PPVs and bumps of live schedules planned in [start, end), as columns."""
        ...

    def lock_captions(
        self,
        schedule_id: str,
        page_name: str,
        windows: dict[str, tuple[datetime, datetime]],
        now: datetime,
    ) -> list[str]:
        """Take the locks atomically; returns the captions another page holds in an overlapping
        window (taking nothing)."""
        ...

    def sweep_locks(self, now: datetime) -> int: ...

    def save_schedule(
        self,
        schedule: Schedule,
        validation_ok: bool,
        report_json: str,
        lock_windows: dict[str, tuple[datetime, datetime]],
        now: datetime,
    ) -> str:
        """Schedule, messages and caption locks in one transaction; "created" or "unchanged"."""
        ...

    def save_schedules(
        self, requests: Sequence[SaveRequest], now: datetime
    ) -> list[str | LockConflictError]:
        """A batch of schedules in one transaction; per request "created", "unchanged" or the
        LockConflictError that kept it from being saved."""
        ...

    def active_schedule_id(self, page_name: str, week_start: date) -> str | None: ...

    def schedule_export(self, schedule_id: str) -> ScheduleExport | None: ...

    def record_exports(self, attempts: Sequence[ExportLogEntry], at: datetime) -> None:
        """Append export attempts to schedule_export_log."""
        ...

    def pages_needing_stats(self) -> list[str]: ...

    def newest_load(self, page_name: str) -> datetime | None: ...

    def replace_caption_stats(
        self,
        page_name: str,
        rows: Sequence[CaptionStats],
        source_loaded_at: datetime,
        now: datetime,
    ) -> None:
        """Replace a page's caption stats and record the message load they were made from."""
        ...

    def record_job_run(self, run: JobRun) -> None: ...

    def acquire_lease(self, job: str, holder: str, now: datetime, seconds: float) -> str:
        """Take the job's lease if it is free or expired (one transaction); returns its holder."""
        ...

    def release_lease(self, job: str, holder: str) -> None: ...

    def save_snapshots(self, rows: Sequence[AnalysisSnapshot], now: datetime) -> int:
        """Insert the day's snapshots that are missing; returns how many were new."""
        ...

    def snapshot_zones_before(self, day: date) -> dict[str, str]:
        """Each page's zone in its newest snapshot before `day`."""
        ...

    def raise_alerts(self, alerts: Sequence[Alert]) -> int:
        """Record the alerts whose key is new; returns how many were."""
        ...

    def alerts(self, kind: str | None = None) -> list[Alert]: ...

    def health_facts(
        self,
        now: datetime,
        since: datetime,
        weeks: dict[str, date],
        ppv_cooldown_days: int,
        saved_before: datetime,
    ) -> HealthFacts:
        """The health metrics' raw values; `weeks` is the coming Monday of each page; schedules
        saved after `saved_before` may still be exporting and count as exported."""
        ...

    def staging_file(self, kind: ImportKind, suffix: str = ".csv") -> AbstractContextManager[Path]:
        """A new empty file for an import's validated rows, removed when the block ends.

        `suffix` says its format: .csv (as the row reader writes it) or .parquet (typed columns).

        A file left by a killed import is removed the next time the store is opened.
        """
        ...

    def load_staged(
        self,
        kind: ImportKind,
        staged_file: Path,
        *,
        create_pages: Sequence[Page] = (),
    ) -> LoadCounts | list[DuplicateKey]:
        """Merge a validated staged file into its table in one transaction.

        Returns the duplicate keys instead (changing nothing) when the file repeats a natural key.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc_info: object) -> None: ...
