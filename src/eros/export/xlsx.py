"""The xlsx export (openpyxl): one workbook per run, a "Summary" sheet, then a sheet per page-week.

Also the table that the xlsx and the Google Sheets exports share: SHEET_COLUMNS, `sheet_row`,
ZONE_COLOURS and `summary_row`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from eros.export.csv import atomic_output
from eros.export.rows import ExportRow, ScheduleExport

SHEET_COLUMNS: tuple[str, ...] = (
    "Day",
    "Date",
    "Time (local)",
    "Type",
    "Caption",
    "Price",
    "Price tier",
    "Category",
    "Trigger",
    "Follow-up of",
    "Expected revenue",
    "Schedule ID",
    "Sent",
)
DATE_COLUMN = SHEET_COLUMNS.index("Date")
TIME_COLUMN = SHEET_COLUMNS.index("Time (local)")
MONEY_COLUMNS = (SHEET_COLUMNS.index("Price"), SHEET_COLUMNS.index("Expected revenue"))
SENT_COLUMN = SHEET_COLUMNS.index("Sent")
# Widths in characters (xlsx); Sheets converts them to pixels.
COLUMN_WIDTHS: tuple[int, ...] = (11, 12, 12, 10, 60, 10, 11, 16, 16, 22, 17, 30, 7)

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
    for Sent, None for an empty cell."""
    return [
        row.day_of_week,
        row.date,
        row.send_at_local.time().replace(tzinfo=None),
        row.message_type,
        row.caption_text,
        row.price,
        row.price_tier,
        row.content_category,
        row.trigger,
        row.parent,
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
    names: list[str] = []
    for tab_name in tab_names:
        base = _SHEET_NAME_FORBIDDEN.sub("-", tab_name).strip().strip("'").strip() or "Sheet"
        name = base[:_SHEET_NAME_MAX].rstrip()
        counter = 2
        while name.casefold() in taken:
            suffix = f" ({counter})"
            name = base[: _SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
            counter += 1
        taken.add(name.casefold())
        names.append(name)
    return names


def export_xlsx(schedules: Sequence[ScheduleExport], path: Path) -> int:
    """One workbook: "Summary", then a sheet per page-week; return the message rows written."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    bold = Font(bold=True)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("", value)
        return value

    def write_row(sheet: Any, row_index: int, values: Sequence[Any]) -> list[Any]:
        cells = []
        for column_index, value in enumerate(values, start=1):
            cell = sheet.cell(row=row_index, column=column_index, value=clean(value))
            if isinstance(value, str):
                cell.data_type = "s"  # a caption starting with "=" stays text, never a formula
            cells.append(cell)
        return cells

    def header(sheet: Any, columns: Sequence[str], widths: Sequence[int], colour: str) -> None:
        fill = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
        for cell in write_row(sheet, 1, columns):
            cell.font = bold
            cell.fill = fill
        sheet.freeze_panes = "A2"
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width

    workbook = Workbook()
    summary_sheet = workbook.active
    summary_sheet.title = SUMMARY_SHEET
    header(summary_sheet, SUMMARY_COLUMNS, SUMMARY_WIDTHS, DEFAULT_COLOUR)

    names = sheet_names([schedule.tab_name for schedule in schedules])
    count = 0
    for line, (schedule, name) in enumerate(zip(schedules, names, strict=True), start=2):
        summary = summarise(schedule)
        cells = write_row(
            summary_sheet,
            line,
            [
                summary.page,
                summary.week,
                summary.week_start,
                summary.zone,
                summary.messages,
                summary.ppvs,
                summary.bumps,
                summary.followups,
                summary.expected_revenue,
                summary.schedule_id,
                name,
            ],
        )
        cells[2].number_format = DATE_FORMAT
        colour = zone_colour(schedule.saturation_zone)
        cells[3].fill = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
        cells[8].number_format = MONEY_FORMAT
        quoted = name.replace("'", "''")
        cells[10].hyperlink = Hyperlink(ref=cells[10].coordinate, location=f"'{quoted}'!A1")

        sheet = workbook.create_sheet(name)
        header(sheet, SHEET_COLUMNS, COLUMN_WIDTHS, colour)
        for row_index, row in enumerate(schedule.rows, start=2):
            cells = write_row(sheet, row_index, sheet_row(row))
            cells[DATE_COLUMN].number_format = DATE_FORMAT
            cells[TIME_COLUMN].number_format = TIME_FORMAT
            for column in MONEY_COLUMNS:
                cells[column].number_format = MONEY_FORMAT
            count += 1
        if schedule.rows:
            sheet.auto_filter.ref = (
                f"A1:{get_column_letter(len(SHEET_COLUMNS))}{len(schedule.rows) + 1}"
            )

    with atomic_output(path) as temporary:
        workbook.save(temporary)
    return count
