"""The xlsx export (openpyxl): one workbook per run, a "Summary" sheet, then a sheet per page-week.

Also the table that the xlsx and the Google Sheets exports share: SHEET_COLUMNS, `sheet_row`,
ZONE_COLOURS and `summary_row`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from eros.export.csv import atomic_output
from eros.export.rows import ExportRow, ScheduleExport, formula_like

SHEET_COLUMNS: tuple[str, ...] = (
    "Day",
    "Date",
    "Time (local)",
    "Type",
    "Instruction",
    "Caption",
    "Price",
    "Price tier",
    "Category",
    "Trigger",
    "Follow-up of",  # the parent PPV's local send time
    "Parent caption",
    "Expected revenue",
    "Schedule ID",
    "Sent",
)
DATE_COLUMN = SHEET_COLUMNS.index("Date")
TIME_COLUMN = SHEET_COLUMNS.index("Time (local)")
MONEY_COLUMNS = (SHEET_COLUMNS.index("Price"), SHEET_COLUMNS.index("Expected revenue"))
SENT_COLUMN = SHEET_COLUMNS.index("Sent")
# Widths in characters (xlsx); Sheets converts them to pixels.
COLUMN_WIDTHS: tuple[int, ...] = (11, 12, 12, 10, 16, 60, 10, 11, 16, 16, 20, 40, 17, 30, 7)

SUMMARY_SHEET = "Summary"
SUMMARY_COLUMNS: tuple[str, ...] = (
    "Page",
    "Week",
    "Week start",
    "Zone",
    "Messages",
    "PPVs",
    "Bumps",
    "Follow-ups",
    "Expected revenue",
    "Schedule ID",
    "Sheet",
)
SUMMARY_WIDTHS: tuple[int, ...] = (20, 10, 12, 9, 10, 7, 7, 11, 17, 30, 28)

# Header background by saturation zone (RRGGBB); other zones get grey.
ZONE_COLOURS: dict[str, str] = {"GREEN": "B7E1CD", "YELLOW": "FFE599", "RED": "F4CCCC"}
DEFAULT_COLOUR = "D9D9D9"

DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "hh:mm"
MONEY_FORMAT = '"$"#,##0.00'

# Excel's limits on sheet names.
_SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def zone_colour(zone: str) -> str:
    """The header colour (RRGGBB) of a saturation zone."""
    return ZONE_COLOURS.get(zone.upper(), DEFAULT_COLOUR)


def sheet_row(row: ExportRow) -> list[Any]:
    """One message as typed cells in SHEET_COLUMNS order: date, local wall-clock time, floats, False
    for Sent, None for an empty cell; a follow-up's parent PPV as its local time and text."""
    parent_at = row.parent_send_at_local
    return [
        row.day_of_week,
        row.date,
        row.send_at_local.time().replace(tzinfo=None),
        row.message_type,
        row.instruction or None,
        row.caption_text,
        row.price,
        row.price_tier,
        row.content_category,
        row.trigger,
        f"{parent_at:%a %Y-%m-%d %H:%M}" if parent_at else None,
        row.parent_caption_text,
        row.expected_revenue,
        row.schedule_id,
        False,
    ]


@dataclass(frozen=True)
class Summary:
    page: str
    week: str
    week_start: date
    zone: str
    messages: int
    ppvs: int
    bumps: int
    followups: int
    expected_revenue: float
    schedule_id: str


def summarise(schedule: ScheduleExport) -> Summary:
    """The Summary line of a page-week."""
    year, week, _ = schedule.week_start.isocalendar()
    types = [row.message_type.lower() for row in schedule.rows]
    return Summary(
        page=schedule.page_name,
        week=f"{year}-W{week:02d}",
        week_start=schedule.week_start,
        zone=schedule.saturation_zone,
        messages=len(schedule.rows),
        ppvs=types.count("ppv"),
        bumps=types.count("bump"),
        followups=types.count("followup"),
        expected_revenue=round(sum(row.expected_revenue for row in schedule.rows), 2),
        schedule_id=schedule.schedule_id,
    )


def sheet_names(tab_names: Sequence[str], reserved: Sequence[str] = (SUMMARY_SHEET,)) -> list[str]:
    """Excel-safe, unique (case-insensitively, also against `reserved`) names for the tabs."""
    taken = {name.casefold() for name in reserved}
    return [sheet_name(tab_name, taken) for tab_name in tab_names]


def sheet_name(tab_name: str, taken: set[str]) -> str:
    """An Excel-safe name for `tab_name`, unique against `taken` (case-folded; updated)."""
    base = _SHEET_NAME_FORBIDDEN.sub("-", tab_name).strip().strip("'").strip() or "Sheet"
    name = base[:_SHEET_NAME_MAX].rstrip()
    counter = 2
    while name.casefold() in taken:
        suffix = f" ({counter})"
        name = base[: _SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
        counter += 1
    taken.add(name.casefold())
    return name


def export_xlsx(schedules: Iterable[ScheduleExport], path: Path) -> int:
    """One workbook: "Summary", then a sheet per page-week; return the message rows written.

    `schedules` may be a stream (a generator): each page-week is written as it comes."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    bold = Font(bold=True)
    fills: dict[str, Any] = {}

    def fill(colour: str) -> Any:
        if colour not in fills:
            fills[colour] = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
        return fills[colour]

    def cell(sheet: Any, value: Any, number_format: str | None = None) -> Any:
        written = WriteOnlyCell(
            sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
        )
        if isinstance(value, str):
            written.data_type = "s"  # a caption starting with "=" stays text, never a formula
            # Excel's form of a typed leading quote (OWASP): shown as written, and still text
            # after a chatter edits the cell.
            written.quotePrefix = formula_like(value)
        if number_format is not None:
            written.number_format = number_format
        return written

    def header(sheet: Any, columns: Sequence[str], widths: Sequence[int], colour: str) -> None:
        sheet.freeze_panes = "A2"
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        cells = []
        for name in columns:
            written = cell(sheet, name)
            written.font = bold
            written.fill = fill(colour)
            cells.append(written)
        sheet.append(cells)

    # Write-only mode streams rows to the file: several times faster than building cells.
    workbook = Workbook(write_only=True)
    summary_sheet = workbook.create_sheet(SUMMARY_SHEET)
    header(summary_sheet, SUMMARY_COLUMNS, SUMMARY_WIDTHS, DEFAULT_COLOUR)
    taken = {SUMMARY_SHEET.casefold()}
    formats = {DATE_COLUMN: DATE_FORMAT, TIME_COLUMN: TIME_FORMAT} | {
        column: MONEY_FORMAT for column in MONEY_COLUMNS
    }
    count = 0
    for schedule in schedules:
        name = sheet_name(schedule.tab_name, taken)
        summary = summarise(schedule)
        colour = zone_colour(schedule.saturation_zone)
        zone_cell = cell(summary_sheet, summary.zone)
        zone_cell.fill = fill(colour)
        quoted = name.replace("'", "''")
        link = cell(summary_sheet, name)
        link.hyperlink = Hyperlink(ref="A1", location=f"'{quoted}'!A1")
        summary_sheet.append(
            [
                cell(summary_sheet, summary.page),
                cell(summary_sheet, summary.week),
                cell(summary_sheet, summary.week_start, DATE_FORMAT),
                zone_cell,
                summary.messages,
                summary.ppvs,
                summary.bumps,
                summary.followups,
                cell(summary_sheet, summary.expected_revenue, MONEY_FORMAT),
                cell(summary_sheet, summary.schedule_id),
                link,
            ]
        )
        sheet = workbook.create_sheet(name)
        header(sheet, SHEET_COLUMNS, COLUMN_WIDTHS, colour)
        if schedule.rows:
            sheet.auto_filter.ref = (
                f"A1:{get_column_letter(len(SHEET_COLUMNS))}{len(schedule.rows) + 1}"
            )
        for row in schedule.rows:
            values = sheet_row(row)
            sheet.append(
                [
                    # Plain values stream as they are; only formatted cells, and text that a
                    # spreadsheet would read as a formula, need a cell object.
                    cell(sheet, value, formats.get(column))
                    if column in formats or (isinstance(value, str) and formula_like(value))
                    else ILLEGAL_CHARACTERS_RE.sub("", value)
                    if isinstance(value, str)
                    else value
                    for column, value in enumerate(values)
                ]
            )
            count += 1

    with atomic_output(path) as temporary:
        workbook.save(temporary)
    return count
