"""The schedule CSV contract, read back with the csv module."""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eros.errors import TerminalError
from eros.export.csv import atomic_output, export_csv
from eros.export.rows import CSV_COLUMNS, ScheduleExport, neutralise_formula

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# DESIGN.md §5: the contract's columns, in this order, for ever.
CONTRACT_COLUMNS = (
    "schedule_id",
    "page_name",
    "date",
    "day_of_week",
    "send_at_local",
    "send_at_utc",
    "message_type",
    "caption_key",
    "caption_text",
    "price",
    "price_tier",
    "content_category",
    "trigger",
    "parent",
    "expected_revenue",
)


def read_back(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_header_and_cells_follow_the_contract(
    tmp_path: Path, schedules: list[ScheduleExport]
) -> None:
    path = tmp_path / "schedule.csv"
    assert export_csv(schedules, path) == 7
    lines = read_back(path)
    assert lines[0] == list(CSV_COLUMNS)
    assert CSV_COLUMNS[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS  # only ever added at the end
    assert CSV_COLUMNS[len(CONTRACT_COLUMNS) :] == (
        "instruction",
        "parent_send_at_local",
        "parent_caption_text",
    )
    assert len(lines) == 8
    sid = "sch-jadebri-2025W44"
    assert lines[1] == [
        sid,
        "jadebri",
        "2025-10-27",
        "Monday",
        "2025-10-27T09:30:00-07:00",
        "2025-10-27T16:30:00Z",
        "ppv",
        "cap-ppv-1",
        'New set, "just for you", babe 💋 — café edition',
        "25.00",
        "standard",
        "lingerie",
        "urgency",
        "",
        "112.50",
        "",
        "",
        "",
    ]
    followup = lines[2]
    assert followup[8] == "Did you see it?\nStill unlocked for 2 more hours"
    assert followup[13] == "cap-ppv-1"
    assert followup[9] == "0.00"
    assert followup[14] == "18.25"
    # The follow-up's instruction and its parent PPV's local time and text, not only its key.
    assert followup[15:] == [
        "send to all",
        "2025-10-27T09:30:00-07:00",
        'New set, "just for you", babe 💋 — café edition',
    ]
    assert lines[3][15:] == ["", "", ""]  # a bump
    # US DST ends on Sunday 2025-11-02: same wall-clock time, different offsets and UTC instants.
    assert lines[3][2:6] == [
        "2025-11-01",
        "Saturday",
        "2025-11-01T20:00:00-07:00",
        "2025-11-02T03:00:00Z",
    ]
    assert lines[4][2:6] == [
        "2025-11-02",
        "Sunday",
        "2025-11-02T20:00:00-08:00",
        "2025-11-03T04:00:00Z",
    ]
    assert lines[3][8] == "'=1+1 hey you"  # neutralised: a spreadsheet shows it as text
    # London: BST on Saturday 25 Oct, GMT from Sunday 26 Oct.
    assert lines[5][:6] == [
        "sch-missalexa-2025W43",
        "missalexa_free",
        "2025-10-25",
        "Saturday",
        "2025-10-25T21:00:00+01:00",
        "2025-10-25T20:00:00Z",
    ]
    assert lines[6][4:6] == ["2025-10-26T21:00:00+00:00", "2025-10-26T21:00:00Z"]
    assert lines[6][9:12] == ["9.99", "budget", ""]
    assert [line[0] for line in lines[1:]] == [sid] * 4 + ["sch-missalexa-2025W43"] * 2 + [
        "sch-missalexa-2025W44"
    ]


def test_bytes_are_utf8_with_lf_line_ends(tmp_path: Path, la_week: ScheduleExport) -> None:
    path = tmp_path / "schedule.csv"
    export_csv([la_week], path)
    raw = path.read_bytes()
    assert b"\r" not in raw
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8").startswith(",".join(CSV_COLUMNS) + "\n")
    assert "💋".encode() in raw


def test_no_schedules_write_the_header_only(tmp_path: Path) -> None:
    path = tmp_path / "out" / "empty.csv"
    assert export_csv([], path) == 0
    assert read_back(path) == [list(CSV_COLUMNS)]


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text("old\n")

    def crash_while_writing() -> None:
        with atomic_output(path) as temporary:
            temporary.write_text("half a fi")
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        crash_while_writing()
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["schedule.csv"]


def test_an_unwritable_folder_is_a_terminal_error(tmp_path: Path, la_week: ScheduleExport) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TerminalError, match="cannot write"):
        export_csv([la_week], blocker / "schedule.csv")


def restore(cell: str) -> str:
    """What a reader of the CSV does (docs/data-formats.md): drop the one quote that was added."""
    return cell[1:] if re.match(r"'+[=+\-@\t\r]", cell) else cell


def test_text_cells_are_neutralised_and_numbers_stay_numbers(
    tmp_path: Path, la_week: ScheduleExport
) -> None:
    captions = [
        '=HYPERLINK("http://evil.example","click")',
        "+1 bonus video",
        "-50% tonight only",
        "@SUM(A1:A9)",
        "\tindented",
        "\rcarriage",
        "'=already quoted",
        "plain, with = and a bare\rCR inside",
    ]
    template = la_week.rows[0]
    hostile = replace(
        la_week,
        page_name="=cmd|' /C calc'!A0",
        rows=[
            replace(
                template,
                page_name="=cmd|' /C calc'!A0",
                caption_text=caption,
                content_category="-lingerie",
                trigger="@urgency",
                price=-1.0,
                expected_revenue=-2.5,
            )
            for caption in captions
        ],
    )
    path = tmp_path / "schedule.csv"
    export_csv([hostile], path)
    lines = read_back(path)[1:]
    column = {name: index for index, name in enumerate(CSV_COLUMNS)}
    assert [line[column["caption_text"]] for line in lines] == [
        "'" + caption for caption in captions[:7]
    ] + ["plain, with = and a bare\rCR inside"]
    assert [restore(line[column["caption_text"]]) for line in lines] == captions
    numbers = {column["price"], column["expected_revenue"]}
    for line in lines:
        assert not any(
            cell.startswith(FORMULA_STARTS)
            for index, cell in enumerate(line)
            if index not in numbers
        )
        assert line[column["page_name"]] == "'=cmd|' /C calc'!A0"
        assert line[column["content_category"]] == "'-lingerie"
        assert line[column["trigger"]] == "'@urgency"
        # Numbers are numbers: a negative price is not text to neutralise.
        assert (line[column["price"]], line[column["expected_revenue"]]) == ("-1.00", "-2.50")


@given(st.text())
def test_neutralising_is_safe_and_reversible(text: str) -> None:
    cell = neutralise_formula(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert restore(cell) == text
    assert cell == text or cell == "'" + text
