"""Export: a persisted schedule to where chatters work — CSV (the stable contract), xlsx, ICS and
Google Sheets. Every exporter takes `ScheduleExport`s (read from the store) and writes them;
`export_schedules` runs the chosen destinations and reports one attempt per schedule and
destination, which the orchestrator records in schedule_export_log. A destination's failure never
stops the others."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eros.errors import InputError, SettingsError

if TYPE_CHECKING:
    from eros.export.rows import ScheduleExport
    from eros.settings import Settings
    from eros.store import Store

DESTINATIONS = ("xlsx", "csv", "ics", "sheets")
AGENCY_FILE_STEM = "schedules"  # a run's files: schedules.csv and schedules.xlsx


@dataclass(frozen=True)
class ExportAttempt:
    destination: str
    status: str  # exported | failed
    rows: int
    duration_ms: float
    error: str | None = None
    tries: int = 1


@dataclass
class ExportOutcome:
    attempts: dict[str, list[ExportAttempt]] = field(default_factory=dict)  # by schedule_id
    files: dict[str, list[str]] = field(default_factory=dict)  # by destination

    def add(self, schedule_id: str, attempt: ExportAttempt) -> None:
        self.attempts.setdefault(schedule_id, []).append(attempt)


def record_attempts(store: Store, attempts: dict[str, list[ExportAttempt]]) -> None:
    """Write every schedule's attempts to schedule_export_log (one statement)."""
    from eros import clock
    from eros.export.rows import ExportLogEntry

    store.record_exports(
        [
            ExportLogEntry(
                schedule_id,
                attempt.destination,
                attempt.status,
                attempt.rows,
                attempt.duration_ms,
                attempt.error,
            )
            for schedule_id, tried in attempts.items()
            for attempt in tried
        ],
        clock.now(),
    )


class StreamedXlsx:
    """Writes the run's workbook in a forked process while pages are still being planned, so the
    slowest exporter overlaps the planning instead of following it. `send` each exportable
    page-week in order, then `finish`."""

    def __init__(self, path: Path) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.path = path
        self.sent: list[ScheduleExport] = []
        self._queue: Any = context.Queue()
        self._result: Any = context.Queue()
        self._process = context.Process(
            target=_write_streamed_xlsx, args=(path, self._queue, self._result), daemon=True
        )
        self._process.start()

    def send(self, schedule: ScheduleExport) -> None:
        self.sent.append(schedule)
        self._queue.put(schedule)

    def finish(self, outcome: ExportOutcome) -> None:
        """Wait for the workbook and record one attempt per schedule sent."""
        import queue

        self._queue.put(None)
        error: str | None = "the xlsx writer process died"
        elapsed_ms = 0.0
        while True:
            try:
                error, elapsed_ms = self._result.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._process.is_alive():
                    break
        self._process.join()
        outcome.files["xlsx"] = [] if error or not self.sent else [str(self.path)]
        share = elapsed_ms / max(len(self.sent), 1)
        for schedule in self.sent:
            outcome.add(
                schedule.schedule_id,
                ExportAttempt(
                    "xlsx",
                    "failed" if error else "exported",
                    0 if error else len(schedule.rows),
                    share,
                    error,
                ),
            )


def _write_streamed_xlsx(path: Path, schedules: Any, result: Any) -> None:
    from eros.export.xlsx import export_xlsx
    from eros.workers import die_with_parent

    die_with_parent()
    started = time.perf_counter()
    first = schedules.get()
    if first is None:  # nothing to export: no workbook
        result.put((None, 0.0))
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        export_xlsx(chain([first], iter(schedules.get, None)), path)
        error = None
    except Exception as failure:  # reported to the parent, never raised
        error = f"{type(failure).__name__}: {failure}"
        for _ in iter(schedules.get, None):  # drain, so the parent's puts never block
            pass
    result.put((error, (time.perf_counter() - started) * 1000))


def parse_destinations(text: str) -> list[str]:
    """`xlsx,csv` -> ["xlsx", "csv"], or an InputError naming the unknown one."""
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    for name in chosen:
        if name not in DESTINATIONS:
            raise InputError(f"--export {name!r}: choose from {', '.join(DESTINATIONS)}")
    return chosen


def check_destinations(destinations: Sequence[str], settings: Settings) -> None:
    """Refuse, before anything is planned, a destination these settings cannot reach: Sheets
    without its settings or with a key file that cannot be read. Raises SettingsError (exit 2)
    naming the setting to set; checks offline (no request is sent)."""
    if "sheets" not in destinations:
        return
    from eros.export.sheets import SheetsExporter

    try:
        SheetsExporter.from_settings(settings)
    except SettingsError:
        raise
    except InputError as error:  # the key file named by sheets_credentials
        raise SettingsError(f"sheets_credentials: {error}") from error


def export_schedules(
    schedules: Sequence[ScheduleExport],
    destinations: Sequence[str],
    out_dir: Path,
    settings: Settings,
    *,
    streamed: StreamedXlsx | None = None,
    file_stem: str = AGENCY_FILE_STEM,
) -> ExportOutcome:
    """Write every destination; an xlsx already streamed during the run is only collected.

    The csv and xlsx files are `{file_stem}.csv` and `.xlsx`: `schedules` for a run's agency-wide
    files, a schedule's id when one schedule is exported on its own (never over the agency's)."""
    outcome = ExportOutcome()
    for destination in destinations:
        if destination == "xlsx" and streamed is not None:
            streamed.finish(outcome)
            continue
        if destination == "sheets":
            _export_sheets(schedules, settings, outcome)
        else:
            _export_files(schedules, destination, out_dir / file_stem, outcome)
    return outcome


def _export_files(
    schedules: Sequence[ScheduleExport], destination: str, stem: Path, outcome: ExportOutcome
) -> None:
    """One file (or folder) for all schedules: it is written whole or not at all. `stem` is the
    csv and xlsx path without its suffix; ICS calendars go to an `ics` folder beside it."""
    started = time.perf_counter()
    out_dir = stem.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if destination == "csv":
            from eros.export.csv import export_csv

            path = stem.with_name(f"{stem.name}.csv")
            export_csv(schedules, path)
            written = [str(path)]
        elif destination == "xlsx":
            from eros.export.xlsx import export_xlsx

            path = stem.with_name(f"{stem.name}.xlsx")
            export_xlsx(schedules, path)
            written = [str(path)]
        else:
            from eros.export.ics import export_ics

            written = [str(path) for path in export_ics(schedules, out_dir / "ics")]
        error = None
    except Exception as failure:  # a destination's failure is recorded, never raised
        written, error = [], f"{type(failure).__name__}: {failure}"
    elapsed = (time.perf_counter() - started) * 1000 / max(len(schedules), 1)
    outcome.files[destination] = written
    for schedule in schedules:
        outcome.add(
            schedule.schedule_id,
            ExportAttempt(
                destination,
                "failed" if error else "exported",
                0 if error else len(schedule.rows),
                elapsed,
                error,
            ),
        )


def _export_sheets(
    schedules: Sequence[ScheduleExport], settings: Settings, outcome: ExportOutcome
) -> None:
    """One tab per page-week; each page's export stands alone."""
    from eros.export.sheets import SheetsExporter

    try:
        exporter = SheetsExporter.from_settings(settings)
    except Exception as failure:
        for schedule in schedules:
            outcome.add(
                schedule.schedule_id,
                ExportAttempt("sheets", "failed", 0, 0.0, f"{type(failure).__name__}: {failure}"),
            )
        return
    written = []
    for schedule in schedules:
        started = time.perf_counter()
        try:
            rows = exporter.export(schedule)
            attempt = ExportAttempt(
                "sheets", "exported", rows, (time.perf_counter() - started) * 1000
            )
            written.append(schedule.tab_name)
        except Exception as failure:
            attempt = ExportAttempt(
                "sheets",
                "failed",
                0,
                (time.perf_counter() - started) * 1000,
                f"{type(failure).__name__}: {failure}",
                getattr(failure, "attempts", 1),
            )
        outcome.add(schedule.schedule_id, attempt)
    outcome.files["sheets"] = written
