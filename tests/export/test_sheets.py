"""The Google Sheets export: the real gspread client over HTTP against the local fake Sheets API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import gspread
import pytest

from eros.errors import InputError, SettingsError, TerminalError, TransientError
from eros.export import check_destinations
from eros.export.rows import ScheduleExport
from eros.export.sheets import SheetsExporter
from eros.export.xlsx import SHEET_COLUMNS
from eros.settings import load_settings

from .fake_sheets import FakeSheetsServer

BOOK = "agency-1"
TAB = "jadebri 2025-W44"


@pytest.fixture
def server() -> Iterator[FakeSheetsServer]:
    with FakeSheetsServer() as fake:
        fake.add_spreadsheet(BOOK)
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def exporter(server: FakeSheetsServer, sleeps: list[float]) -> SheetsExporter:
    return SheetsExporter(server.client(), BOOK, backoff=0.5, backoff_max=4, sleep=sleeps.append)


def expected_values(schedule: ScheduleExport) -> list[list[object]]:
    """What the tab must hold: typed values (date serials, day fractions, False for Sent)."""
    header: list[object] = list(SHEET_COLUMNS)
    return [header] + [
        [
            row.day_of_week,
            (row.date.toordinal() - 693594),  # 693594 = date(1899, 12, 30).toordinal()
            (row.send_at_local.hour * 60 + row.send_at_local.minute) / 1440,
            row.message_type,
            row.instruction or None,
            row.caption_text,
            row.price,
            row.price_tier,
            row.content_category,
            row.trigger,
            row.parent_send_at_local and f"{row.parent_send_at_local:%a %Y-%m-%d %H:%M}",
            row.parent_caption_text,
            row.expected_revenue,
            row.schedule_id,
            False,
        ]
        for row in schedule.rows
    ]


def test_the_fake_listens_on_loopback_only(server: FakeSheetsServer) -> None:
    assert server.address[0] == "127.0.0.1"
    assert server.address[1] > 0


def test_export_writes_the_tab(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    assert exporter.export(la_week) == 4
    assert server.titles(BOOK) == ["Sheet1", TAB]
    values = server.values(BOOK, TAB)
    assert values == expected_values(la_week)
    assert values[1][:3] == ["Monday", 45957, 9.5 / 24]
    assert values[3][1:3] == [45962, 20 / 24]  # Saturday 20:00 local (PDT)
    assert values[4][2] == 20 / 24  # Sunday 20:00 local (PST)
    assert values[3][5] == "=1+1 hey you"  # a string value, never a formula
    assert values[2][4] == "send to all"  # the follow-up's instruction and parent
    assert values[2][10:12] == ["Mon 2025-10-27 09:30", la_week.rows[0].caption_text]
    tab = server.tab(BOOK, TAB)
    assert tab.cells[(3, 5)]["userEnteredValue"] == {"stringValue": "=1+1 hey you"}
    assert tab.grid == {"rowCount": 5, "columnCount": 15, "frozenRowCount": 1}

    # Bold header in the zone's colour (GREEN).
    for column in range(15):
        header = tab.cells[(0, column)]["userEnteredFormat"]
        assert header["textFormat"] == {"bold": True}
        assert header["backgroundColor"] == {"red": 0.7176, "green": 0.8824, "blue": 0.8039}
    # Number formats and checkboxes on every data row.
    for row in range(1, 5):
        assert tab.cells[(row, 1)]["userEnteredFormat"]["numberFormat"]["type"] == "DATE"
        assert tab.cells[(row, 2)]["userEnteredFormat"]["numberFormat"] == {
            "type": "TIME",
            "pattern": "hh:mm",
        }
        for money in (6, 12):
            assert tab.cells[(row, money)]["userEnteredFormat"]["numberFormat"]["type"] == (
                "CURRENCY"
            )
        assert tab.cells[(row, 14)]["dataValidation"] == {
            "condition": {"type": "BOOLEAN"},
            "strict": True,
        }
    assert "dataValidation" not in tab.cells[(0, 14)]
    assert tab.column_pixels[5] > tab.column_pixels[0]

    # Two HTTP calls: the tab list, then one batchUpdate.
    assert [(entry.method, entry.path) for entry in server.log] == [
        ("GET", f"/v4/spreadsheets/{BOOK}"),
        ("POST", f"/v4/spreadsheets/{BOOK}:batchUpdate"),
    ]
    kinds = [next(iter(r)) for r in server.log[1].body["requests"]]
    assert kinds[:3] == ["addSheet", "updateCells", "repeatCell"]
    assert kinds.count("repeatCell") == 5
    assert kinds.count("setDataValidation") == 1


def test_gspread_reads_the_tab_back(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    exporter.export(la_week)
    worksheet = server.client().open_by_key(BOOK).worksheet(TAB)
    rows = worksheet.get_values(value_render_option=gspread.utils.ValueRenderOption.unformatted)
    assert rows[0] == list(SHEET_COLUMNS)
    assert rows[1][5] == la_week.rows[0].caption_text
    assert rows[2][10] == "Mon 2025-10-27 09:30"
    assert len(rows) == 5


def test_formula_like_text_is_sent_as_text_never_a_formula(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    """A stringValue is the API's form of text typed with a leading quote: the caption is shown
    exactly as written and is never evaluated (no USER_ENTERED parsing, no formulaValue)."""
    captions = ["=1+1", "+1 bonus", "-50% tonight", "@SUM(A1)", "\ttab", "\rcr"]
    rows = [replace(la_week.rows[2], caption_text=caption) for caption in captions]
    exporter.export(replace(la_week, rows=rows))
    tab = server.tab(BOOK, TAB)
    caption = SHEET_COLUMNS.index("Caption")
    assert [tab.cells[(row, caption)]["userEnteredValue"] for row in range(1, 7)] == [
        {"stringValue": text} for text in captions
    ]
    assert "formulaValue" not in json.dumps([entry.body for entry in server.log])


def test_re_export_replaces_the_tab(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    exporter.export(la_week)
    sheet_id = server.tab(BOOK, TAB).sheet_id
    # A chatter ticks a box and scribbles below the table.
    server.tab(BOOK, TAB).cells[(1, 14)]["userEnteredValue"] = {"boolValue": True}
    server.tab(BOOK, TAB).cells[(4, 0)] = {"userEnteredValue": {"stringValue": "note"}}
    shorter = replace(la_week, rows=la_week.rows[:2], saturation_zone="RED")

    assert exporter.export(shorter) == 2
    assert server.titles(BOOK) == ["Sheet1", TAB]
    assert server.tab(BOOK, TAB).sheet_id == sheet_id  # same tab, links keep working
    assert server.values(BOOK, TAB) == expected_values(shorter)
    tab = server.tab(BOOK, TAB)
    assert tab.grid["rowCount"] == 3
    assert tab.cells[(0, 0)]["userEnteredFormat"]["backgroundColor"]["red"] == 0.9569  # RED
    kinds = [next(iter(r)) for r in server.log[-1].body["requests"]]
    assert kinds[:3] == ["updateCells", "updateSheetProperties", "updateCells"]

    assert exporter.export(la_week) == 4
    assert server.values(BOOK, TAB) == expected_values(la_week)


def test_several_page_weeks_get_their_own_tabs(
    server: FakeSheetsServer, exporter: SheetsExporter, schedules: list[ScheduleExport]
) -> None:
    assert exporter.export_all(schedules) == 7
    assert server.titles(BOOK) == [
        "Sheet1",
        TAB,
        "missalexa_free 2025-W43",
        "missalexa_free 2025-W44",
    ]
    assert server.values(BOOK, "missalexa_free 2025-W44") == expected_values(schedules[2])
    # A page-week with one message still keeps a data row under the frozen header.
    assert server.tab(BOOK, "missalexa_free 2025-W44").grid["rowCount"] == 2


def test_pages_differing_only_by_case_get_their_own_tabs(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    upper = replace(la_week, page_name="CaseTest", schedule_id="sch-upper")
    lower = replace(la_week, page_name="casetest", schedule_id="sch-lower", rows=la_week.rows[:2])
    assert upper.tab_name.casefold() != lower.tab_name.casefold()
    assert exporter.export_all([upper, lower]) == 6
    assert exporter.export_all([lower, upper]) == 6  # and again, in the other order
    assert server.titles(BOOK) == ["Sheet1", upper.tab_name, lower.tab_name]
    assert server.values(BOOK, upper.tab_name) == expected_values(upper)
    assert server.values(BOOK, lower.tab_name) == expected_values(lower)


def test_a_tab_named_with_other_case_is_renamed_and_replaced(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    """A tab that differs only by case (renamed by hand) is this page-week's: it is rewritten and
    given the exact name."""
    server.add_spreadsheet("by-hand", ("Sheet1", TAB.upper()))
    hand = SheetsExporter(server.client(), "by-hand", sleep=lambda _: None)
    assert hand.export(la_week) == 4
    assert server.titles("by-hand") == ["Sheet1", TAB]
    assert server.values("by-hand", TAB) == expected_values(la_week)


def test_long_and_odd_page_names_fit_the_tab_rules(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    names = ["a/b", "a:b", "a" * 150, "a" * 149 + "b", "[x]*?\\", "'quoted'"]
    weeks = [
        replace(la_week, page_name=name, schedule_id=f"sch-{index}")
        for index, name in enumerate(names)
    ]
    assert exporter.export_all(weeks) == 4 * len(names)
    titles = [week.tab_name for week in weeks]
    assert server.titles(BOOK) == ["Sheet1", *titles]
    assert len({title.casefold() for title in titles}) == len(names)
    for title in titles:
        assert len(title) <= 100
        assert not set(title) & set("[]*?/\\:")
        assert not title.startswith("'")
        assert title.endswith(" 2025-W44")


def test_an_empty_page_week_writes_the_header(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    assert exporter.export(replace(la_week, rows=[])) == 0
    assert server.values(BOOK, TAB) == [list(SHEET_COLUMNS)]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_answers_are_retried(
    server: FakeSheetsServer,
    exporter: SheetsExporter,
    sleeps: list[float],
    la_week: ScheduleExport,
    status: int,
) -> None:
    server.fail_next(2, status)
    assert exporter.export(la_week) == 4
    assert [entry.status for entry in server.log] == [status, status, 200, 200]
    assert len(sleeps) == 2
    # Exponential backoff (0.5 s, then 1 s) plus up to 0.5 s of jitter.
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 1.5
    assert server.titles(BOOK) == ["Sheet1", TAB]
    assert server.values(BOOK, TAB) == expected_values(la_week)


def test_a_lost_answer_is_retried_without_duplicates(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    # The first batchUpdate is applied but its answer is a 500: the retry must rewrite, not add.
    server.fail_next(1, 500, after_apply=True, path=":batchUpdate")
    assert exporter.export(la_week) == 4
    assert server.titles(BOOK) == ["Sheet1", TAB]
    assert server.values(BOOK, TAB) == expected_values(la_week)
    batch = server.requests_of("POST", ":batchUpdate")
    assert [entry.status for entry in batch] == [500, 200]
    assert next(iter(batch[1].body["requests"][0])) == "updateCells"  # the existing tab, cleared


def test_a_dropped_connection_is_retried(
    server: FakeSheetsServer, exporter: SheetsExporter, la_week: ScheduleExport
) -> None:
    server.fail_next(1, None, path=":batchUpdate")
    assert exporter.export(la_week) == 4
    assert server.values(BOOK, TAB) == expected_values(la_week)


def test_three_transient_failures_give_up(
    server: FakeSheetsServer,
    exporter: SheetsExporter,
    sleeps: list[float],
    la_week: ScheduleExport,
) -> None:
    server.fail_next(3, 503)
    with pytest.raises(TransientError, match=r"not written after 3 attempt\(s\).*HTTP 503"):
        exporter.export(la_week)
    assert len(server.log) == 3
    assert len(sleeps) == 2
    assert server.titles(BOOK) == ["Sheet1"]


@pytest.mark.parametrize(("status", "words"), [(400, "refused"), (403, "share it")])
def test_client_errors_are_terminal_and_not_retried(
    server: FakeSheetsServer,
    exporter: SheetsExporter,
    sleeps: list[float],
    la_week: ScheduleExport,
    status: int,
    words: str,
) -> None:
    server.fail_next(1, status)
    with pytest.raises(TerminalError, match=words) as caught:
        exporter.export(la_week)
    assert not isinstance(caught.value, TransientError)
    assert len(server.log) == 1
    assert sleeps == []


def test_an_unknown_spreadsheet_is_terminal(
    server: FakeSheetsServer, sleeps: list[float], la_week: ScheduleExport
) -> None:
    exporter = SheetsExporter(server.client(), "nope", sleep=sleeps.append)
    with pytest.raises(TerminalError, match="'nope' not found"):
        exporter.export(la_week)
    assert sleeps == []


def test_construction_from_settings_and_key_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sheets_credentials"):
        SheetsExporter.from_settings(load_settings())
    with pytest.raises(InputError, match="not found"):
        SheetsExporter.from_service_account(tmp_path / "missing.json", BOOK)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a Google service-account key file"):
        SheetsExporter.from_service_account(bad, BOOK)

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    good = tmp_path / "sa.json"
    good.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k",
                "private_key": pem,
                "client_email": "eros@p.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    url = f"https://docs.google.com/spreadsheets/d/{BOOK}/edit#gid=0"
    configured = load_settings(sheets_credentials=str(good), sheets_spreadsheet_id=url)
    # What `eros run` and `eros export` check before planning: passes offline, no request sent.
    check_destinations(["xlsx", "sheets"], configured)
    check_destinations(["xlsx", "csv", "ics"], load_settings())
    with pytest.raises(SettingsError, match="sheets_spreadsheet_id"):
        check_destinations(["sheets"], load_settings(sheets_credentials=str(good)))
    exporter = SheetsExporter.from_settings(configured)
    assert isinstance(exporter.client, gspread.Client)
    assert exporter.spreadsheet_id == BOOK
    assert exporter.attempts == 3


def test_stopping_the_fake_frees_its_port() -> None:
    import socket
    import threading

    before = threading.active_count()
    fake = FakeSheetsServer().start()
    host, port = fake.address
    fake.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=1):
        pass
    assert threading.active_count() == before
