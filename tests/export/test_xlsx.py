"""The xlsx export, read back with openpyxl."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from eros.export.rows import ScheduleExport
from eros.export.xlsx import (
    MONEY_FORMAT,
    SHEET_COLUMNS,
    SUMMARY_COLUMNS,
    export_xlsx,
    sheet_names,
)


@pytest.fixture
def workbook(tmp_path: Path, schedules: list[ScheduleExport]) -> openpyxl.Workbook:
    path = tmp_path / "schedules.xlsx"
    assert export_xlsx(schedules, path) == 7
    return openpyxl.load_workbook(path)


def test_sheets_are_summary_then_one_per_page_week(workbook: openpyxl.Workbook) -> None:
    assert workbook.sheetnames == [
        "Summary",
        "jadebri 2025-W44",
        "missalexa_free 2025-W43",
        "missalexa_free 2025-W44",
    ]


def test_page_sheet_header_rows_and_types(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["jadebri 2025-W44"]
    assert [cell.value for cell in sheet[1]] == list(SHEET_COLUMNS)
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].fill.fgColor.rgb == "00B7E1CD"  # GREEN
    assert sheet.max_row == 5
    first = [cell.value for cell in sheet[2]]
    assert first == [
        "Monday",
        datetime(2025, 10, 27),  # a real date cell (openpyxl reads dates as datetimes)
        time(9, 30),
        "ppv",
        None,
        'New set, "just for you", babe 💋 — café edition',
        25.0,
        "standard",
        "lingerie",
        "urgency",
        None,
        None,
        112.5,
        "sch-jadebri-2025W44",
        False,
    ]
    assert sheet["B2"].is_date
    assert sheet["B2"].number_format == "yyyy-mm-dd"
    assert sheet["C2"].number_format == "hh:mm"
    assert sheet["G2"].number_format == MONEY_FORMAT
    assert sheet["M2"].number_format == MONEY_FORMAT
    assert sheet["O2"].data_type == "b"
    # Local wall-clock time on both sides of the DST change.
    assert (sheet["B4"].value, sheet["C4"].value) == (datetime(2025, 11, 1), time(20, 0))
    assert (sheet["B5"].value, sheet["C5"].value) == (datetime(2025, 11, 2), time(20, 0))
    # A caption starting with "=" is text, not a formula.
    assert sheet["F4"].value == "=1+1 hey you"
    assert sheet["F4"].data_type == "s"
    assert sheet["F4"].quotePrefix
    # A follow-up: its instruction, then its parent PPV's local time and text (not its key).
    assert [sheet["E3"].value, sheet["K3"].value, sheet["L3"].value] == [
        "send to all",
        "Mon 2025-10-27 09:30",
        'New set, "just for you", babe 💋 — café edition',
    ]
    assert sheet.column_dimensions["F"].width > sheet.column_dimensions["A"].width


def test_header_colour_follows_the_zone(workbook: openpyxl.Workbook) -> None:
    assert workbook["missalexa_free 2025-W43"]["A1"].fill.fgColor.rgb == "00FFE599"  # YELLOW
    assert workbook["missalexa_free 2025-W44"]["A1"].fill.fgColor.rgb == "00F4CCCC"  # RED


def test_summary_values(workbook: openpyxl.Workbook) -> None:
    sheet = workbook["Summary"]
    assert [cell.value for cell in sheet[1]] == list(SUMMARY_COLUMNS)
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[2]] == [
        "jadebri",
        "2025-W44",
        datetime(2025, 10, 27),
        "GREEN",
        4,
        2,
        1,
        1,
        330.75,
        "sch-jadebri-2025W44",
        "jadebri 2025-W44",
    ]
    assert sheet["I2"].number_format == MONEY_FORMAT
    assert [cell.value for cell in sheet[3]][:9] == [
        "missalexa_free",
        "2025-W43",
        datetime(2025, 10, 20),
        "YELLOW",
        2,
        1,
        0,
        0,
        35.0,
    ]
    assert sheet["D4"].value == "RED"
    assert sheet["K4"].hyperlink.location == "'missalexa_free 2025-W44'!A1"


def test_sheet_names_are_excel_safe_and_unique() -> None:
    names = sheet_names(
        [
            "a/b:c [x]*? 2025-W44",
            "a very long page name that overflows 2025-W44",
            "a very long page name that overflows 2025-W45",
            "summary",
        ]
    )
    assert names[0] == "a-b-c -x--- 2025-W44"
    assert names[1] == "a very long page name that over"
    assert names[2] == "a very long page name that (2)"
    assert names[3] == "summary (2)"
    assert all(len(name) <= 31 for name in names)


def test_unsafe_tab_names_export(tmp_path: Path, la_week: ScheduleExport) -> None:
    long = ScheduleExport(
        schedule_id="s2",
        page_name="page/with:odd*chars and a very long name",
        timezone=la_week.timezone,
        week_start=date(2025, 10, 27),
        saturation_zone="PURPLE",
        rows=[],
    )
    path = tmp_path / "x.xlsx"
    assert export_xlsx([la_week, long, long], path) == 4
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[2:] == [
        "page-with-odd-chars and a very",
        "page-with-odd-chars and a v (2)",
    ]
    assert book.worksheets[2]["A1"].fill.fgColor.rgb == "00D9D9D9"  # unknown zone: grey
    assert book.worksheets[2].max_row == 1


def test_formula_like_text_is_quoted_text_kept_exactly(
    tmp_path: Path, la_week: ScheduleExport
) -> None:
    """Excel's own form of a typed leading quote (quotePrefix): shown and copied as written, and
    still text after a chatter edits the cell."""
    captions = ["=1+1", "+1 bonus", "-50% tonight", "@SUM(A1)", "\ttab", "\rcr", "plain"]
    rows = [replace(la_week.rows[2], caption_text=caption) for caption in captions]
    hostile = replace(la_week, page_name="=page", rows=rows)
    path = tmp_path / "x.xlsx"
    export_xlsx([hostile], path)
    book = openpyxl.load_workbook(path)
    sheet = book[book.sheetnames[1]]
    caption = SHEET_COLUMNS.index("Caption") + 1
    cells = [sheet.cell(row, caption) for row in range(2, 2 + len(captions))]
    assert [cell.value for cell in cells] == captions
    assert [cell.data_type for cell in cells] == ["s"] * len(captions)
    assert [cell.quotePrefix for cell in cells] == [True] * 6 + [False]
    page = book["Summary"]["A2"]
    assert (page.value, page.data_type, page.quotePrefix) == ("=page", "s", True)
