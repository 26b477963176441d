"""The Google Sheets export (gspread): one spreadsheet per agency, one tab per page-week.

A tab is written by one `spreadsheets.batchUpdate`, which the Sheets API applies all or nothing: it
creates the tab (or clears and resizes the existing one, keeping its id so links stay valid), writes
the typed cells, formats the bold frozen header in the zone's colour, the money/date/time columns
and the "Sent" checkboxes. Each attempt first re-reads the tab list, so a retry after a lost answer
rewrites the tab instead of adding rows: a re-export always replaces. Two HTTP calls per tab.

Transient faults (HTTP 408/429/5xx, connection errors, timeouts) are retried with exponential
backoff and jitter; anything else fails at once with a TerminalError.
"""

from __future__ import annotations

import time as time_module
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from eros.errors import InputError, SettingsError, TerminalError, TransientError
from eros.export.rows import ScheduleExport
from eros.export.xlsx import (
    COLUMN_WIDTHS,
    DATE_COLUMN,
    MONEY_COLUMNS,
    SENT_COLUMN,
    SHEET_COLUMNS,
    TIME_COLUMN,
    sheet_row,
    zone_colour,
)

if TYPE_CHECKING:
    from gspread import Client

    from eros.settings import Settings

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
SHEETS_EPOCH = date(1899, 12, 30)  # day 0 of spreadsheet date serials
DATE_PATTERN = "yyyy-mm-dd"
TIME_PATTERN = "hh:mm"
MONEY_PATTERN = '"$"#,##0.00'
_CELL_FIELDS = "userEnteredValue,userEnteredFormat,dataValidation,note"


def cell_data(value: Any) -> dict[str, Any]:
    """A Sheets CellData with the typed value: dates and times as serial numbers (formatted by the
    column), booleans as booleans. Text is a stringValue, which the API documents as text typed
    with a leading quote: never read as a formula (OWASP), yet shown exactly as written."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, int | float):
        return {"userEnteredValue": {"numberValue": value}}
    if isinstance(value, datetime):
        raise TypeError("give a date or a wall-clock time, not a datetime")
    if isinstance(value, date):
        return {"userEnteredValue": {"numberValue": (value - SHEETS_EPOCH).days}}
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return {"userEnteredValue": {"numberValue": seconds / 86400}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _rgb(hex_colour: str) -> dict[str, float]:
    red, green, blue = (int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": round(red, 4), "green": round(green, 4), "blue": round(blue, 4)}


def tab_requests(
    schedule: ScheduleExport, sheet_id: int, *, existing: bool
) -> list[dict[str, Any]]:
    """The batchUpdate requests that make tab `sheet_id` hold exactly this page-week."""
    rows = [list(SHEET_COLUMNS), *(sheet_row(row) for row in schedule.rows)]
    data_rows = len(schedule.rows)
    grid = {
        "rowCount": max(len(rows), 2),  # Sheets refuses to freeze every row of a tab
        "columnCount": len(SHEET_COLUMNS),
        "frozenRowCount": 1,
    }
    requests: list[dict[str, Any]] = []
    if existing:
        requests.append({"updateCells": {"range": {"sheetId": sheet_id}, "fields": _CELL_FIELDS}})
        requests.append(
            {
                "updateSheetProperties": {
                    # The exact title too: a tab found ignoring case gets this page-week's name.
                    "properties": {
                        "sheetId": sheet_id,
                        "title": schedule.tab_name,
                        "gridProperties": grid,
                    },
                    "fields": "title,gridProperties(rowCount,columnCount,frozenRowCount)",
                }
            }
        )
    else:
        requests.append(
            {
                "addSheet": {
                    "properties": {
                        "sheetId": sheet_id,
                        "title": schedule.tab_name,
                        "gridProperties": grid,
                    }
                }
            }
        )
    requests.append(
        {
            "updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                "rows": [{"values": [cell_data(value) for value in row]} for row in rows],
                "fields": "userEnteredValue",
            }
        }
    )

    def column_range(column: int, start_row: int = 1) -> dict[str, int]:
        return {
            "sheetId": sheet_id,
            "startRowIndex": start_row,
            "endRowIndex": data_rows + 1,
            "startColumnIndex": column,
            "endColumnIndex": column + 1,
        }

    requests.append(
        {
            "repeatCell": {
                "range": {
                    "sheetId": sheet_id,
                    "startRowIndex": 0,
                    "endRowIndex": 1,
                    "startColumnIndex": 0,
                    "endColumnIndex": len(SHEET_COLUMNS),
                },
                "cell": {
                    "userEnteredFormat": {
                        "textFormat": {"bold": True},
                        "backgroundColor": _rgb(zone_colour(schedule.saturation_zone)),
                    }
                },
                "fields": "userEnteredFormat(textFormat,backgroundColor)",
            }
        }
    )
    if data_rows:
        number_formats = [
            (DATE_COLUMN, {"type": "DATE", "pattern": DATE_PATTERN}),
            (TIME_COLUMN, {"type": "TIME", "pattern": TIME_PATTERN}),
            *((column, {"type": "CURRENCY", "pattern": MONEY_PATTERN}) for column in MONEY_COLUMNS),
        ]
        for column, number_format in number_formats:
            requests.append(
                {
                    "repeatCell": {
                        "range": column_range(column),
                        "cell": {"userEnteredFormat": {"numberFormat": number_format}},
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            )
        requests.append(
            {
                "setDataValidation": {
                    "range": column_range(SENT_COLUMN),
                    "rule": {"condition": {"type": "BOOLEAN"}, "strict": True},
                }
            }
        )
    for column, width in enumerate(COLUMN_WIDTHS):
        requests.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": column,
                        "endIndex": column + 1,
                    },
                    "properties": {"pixelSize": width * 7 + 12},
                    "fields": "pixelSize",
                }
            }
        )
    return requests


def _new_sheet_id(title: str, taken: set[int]) -> int:
    """A stable id for a new tab (so a retried addSheet is recognisable), unique in the file."""
    candidate = zlib.crc32(title.encode("utf-8")) & 0x7FFFFFFF
    while candidate in taken:
        candidate = (candidate + 1) & 0x7FFFFFFF
    return candidate


class SheetsExporter:
    """Writes page-weeks into one agency spreadsheet through a gspread `Client`.

    `attempts`, `backoff` (first wait, seconds), `backoff_max` and `sleep` tune the retries of
    transient faults; tests pass tiny waits or a recording `sleep`.
    """

    def __init__(
        self,
        client: Client,
        spreadsheet_id: str,
        *,
        attempts: int = 3,
        backoff: float = 1.0,
        backoff_max: float = 16.0,
        sleep: Callable[[float], None] = time_module.sleep,
        timeout: float | None = 60.0,
    ) -> None:
        if not spreadsheet_id:
            raise InputError("no spreadsheet id for the Google Sheets export")
        self.client = client
        self.spreadsheet_id = spreadsheet_id
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.sleep = sleep
        if timeout is not None:
            client.set_timeout(timeout)

    @classmethod
    def from_service_account(
        cls, credentials_path: str | Path, spreadsheet_id: str, **options: Any
    ) -> SheetsExporter:
        """An exporter authenticated by a service-account JSON key file. `spreadsheet_id` may also
        be the spreadsheet's URL. Share the spreadsheet with the service account's e-mail."""
        import gspread

        path = Path(credentials_path).expanduser()
        if not path.is_file():
            raise InputError(f"Google credentials file not found: {path}")
        try:
            client = gspread.service_account(filename=path)
        except (ValueError, KeyError, OSError) as exc:
            raise InputError(
                f"{path}: not a Google service-account key file ({type(exc).__name__}: {exc})"
            ) from exc
        spreadsheet_id = spreadsheet_id.strip()
        if spreadsheet_id.startswith(("https://", "http://")):
            try:
                spreadsheet_id = gspread.utils.extract_id_from_url(spreadsheet_id)
            except gspread.exceptions.NoValidUrlKeyFound as exc:
                raise InputError(f"not a spreadsheet URL: {spreadsheet_id}") from exc
        return cls(client, spreadsheet_id, **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SheetsExporter:
        """From `sheets_credentials` and `sheets_spreadsheet_id`; SettingsError naming the unset
        ones (InputError if the key file cannot be read)."""
        credentials, spreadsheet_id = settings.sheets_credentials, settings.sheets_spreadsheet_id
        if not credentials or not spreadsheet_id:
            needed = [
                ("sheets_credentials", credentials, "the service-account JSON key file"),
                ("sheets_spreadsheet_id", spreadsheet_id, "the agency's spreadsheet id or URL"),
            ]
            raise SettingsError(
                "the Sheets export needs "
                + " and ".join(
                    f"the setting {name} ({meaning}; env EROS_{name.upper()} or eros.toml)"
                    for name, value, meaning in needed
                    if not value
                )
            )
        options.setdefault("attempts", settings.retry_attempts)
        return cls.from_service_account(credentials, spreadsheet_id, **options)

    def export(self, schedule: ScheduleExport) -> int:
        """Replace the tab `schedule.tab_name` with this page-week; return the message rows written.

        Raises TransientError after `attempts` transient failures, TerminalError at once otherwise.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_exponential(multiplier=self.backoff, max=self.backoff_max)
            + wait_random(0, self.backoff),  # jitter
            stop=stop_after_attempt(self.attempts),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._export_once, schedule)
        except TransientError as exc:
            raise TransientError(
                f"Google Sheets: tab {schedule.tab_name!r} not written after {self.attempts} "
                f"attempt(s); last error: {exc}"
            ) from exc

    def export_all(self, schedules: Sequence[ScheduleExport]) -> int:
        """Export each page-week in turn; return the message rows written."""
        return sum(self.export(schedule) for schedule in schedules)

    def _export_once(self, schedule: ScheduleExport) -> int:
        http = self.client.http_client
        with _translated_errors(self.spreadsheet_id):
            metadata = http.fetch_sheet_metadata(
                self.spreadsheet_id,
                params={"includeGridData": "false", "fields": "sheets.properties(sheetId,title)"},
            )
            sheet_id = _find_tab(metadata, schedule.tab_name)
            if sheet_id is None:
                taken = {
                    int(sheet["properties"]["sheetId"]) for sheet in metadata.get("sheets", [])
                }
                sheet_id = _new_sheet_id(schedule.tab_name, taken)
                requests = tab_requests(schedule, sheet_id, existing=False)
            else:
                requests = tab_requests(schedule, sheet_id, existing=True)
            http.batch_update(self.spreadsheet_id, {"requests": requests})
        return len(schedule.rows)


def _find_tab(metadata: Mapping[str, Any], title: str) -> int | None:
    """The sheetId of the tab called `title` (exactly, else ignoring case as Sheets does)."""
    tabs = {
        str(sheet["properties"].get("title", "")): int(sheet["properties"]["sheetId"])
        for sheet in metadata.get("sheets", [])
    }
    if title in tabs:
        return tabs[title]
    folded = {name.casefold(): sheet_id for name, sheet_id in tabs.items()}
    return folded.get(title.casefold())


@contextmanager
def _translated_errors(spreadsheet_id: str) -> Iterator[None]:
    """Turn gspread/requests/google-auth failures into TransientError or TerminalError."""
    try:
        yield
    except Exception as exc:
        error = _translate(exc, spreadsheet_id)
        if error is None:
            raise
        raise error from exc


def _translate(exc: Exception, spreadsheet_id: str) -> TransientError | TerminalError | None:
    import requests
    from google.auth import exceptions as auth_exceptions
    from gspread.exceptions import APIError

    if isinstance(exc, APIError):
        status = exc.response.status_code
        message = str(exc.error.get("message", "")).strip() or exc.response.reason or ""
        detail = f"HTTP {status}" + (f": {message}" if message else "")
        if status in TRANSIENT_STATUS:
            return TransientError(f"Google Sheets: {detail}")
        if status == 404:
            return TerminalError(
                f"Google Sheets: spreadsheet {spreadsheet_id!r} not found ({detail})"
            )
        if status == 403:
            return TerminalError(
                f"Google Sheets: no access to spreadsheet {spreadsheet_id!r} — share it with the "
                f"service account's e-mail as editor ({detail})"
            )
        return TerminalError(f"Google Sheets: request refused ({detail})")
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError,
    ):
        return TransientError(f"Google Sheets: network error ({type(exc).__name__}: {exc})")
    if isinstance(exc, auth_exceptions.RefreshError):
        if exc.retryable:
            return TransientError(f"Google Sheets: token refresh failed, will retry ({exc})")
        return TerminalError(f"Google Sheets: service-account authentication failed ({exc})")
    if isinstance(exc, auth_exceptions.TransportError):
        return TransientError(f"Google Sheets: network error while authenticating ({exc})")
    return None
