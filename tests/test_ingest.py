"""Import rules: a bad row is reported as FILE:LINE: reason and leaves the store as it was."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from eros.errors import ImportRejected, InputError
from eros.identity import caption_key
from eros.ingest import import_file
from eros.settings import Settings
from eros.store.base import ImportKind, Store

MESSAGES_HEADER = (
    "page_name,sent_at,message_type,caption_text,price,"
    "sent_count,viewed_count,purchased_count,revenue"
)
GOOD_MESSAGE = "jadebri,2025-10-01T19:00:00-07:00,ppv,New set 🌊 just dropped,25,1000,200,20,500"
CAPTIONS_HEADER = "caption_text,message_type,page_name,content_category,price_tier,trigger,active"
GOOD_CAPTION = "Beach day set,ppv,jadebri,Photo set,standard,Curiosity,true"
FANS_HEADER = "page_name,date,active_fans,new_fans,expired_fans"
GOOD_FANS = "jadebri,2025-10-01,12000,40,12"
PAGES_HEADER = "page_name,page_type,timezone"
GOOD_PAGE = "talia,standard,America/New_York"

HEADERS: dict[ImportKind, str] = {
    "messages": MESSAGES_HEADER,
    "captions": CAPTIONS_HEADER,
    "fans": FANS_HEADER,
    "pages": PAGES_HEADER,
}
GOOD: dict[ImportKind, str] = {
    "messages": GOOD_MESSAGE,
    "captions": GOOD_CAPTION,
    "fans": GOOD_FANS,
    "pages": GOOD_PAGE,
}


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def snapshot(store: Store) -> dict[str, object]:
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store, DuckDBStore)
    return {
        table: store.fetchall(f'SELECT * FROM "{table}" ORDER BY ALL')
        for table in ("pages", "messages", "captions", "fans_daily")
    }


BAD_ROWS: list[tuple[ImportKind, str, str]] = [
    ("messages", "jadebri,2025-10-01T19:00:00,ppv,x,25,10,5,1,25", "has no offset"),
    ("messages", "jadebri,yesterday,ppv,x,25,10,5,1,25", "sent_at"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,video,x,25,10,5,1,25", "message_type is 'video'"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,,25,10,5,1,25", "caption_text is empty"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,0,10,5,1,0", "price must be > 0 for a ppv"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,bump,x,5,10,5,0,0", "price must be 0 for a bump"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,abc,10,5,1,25", "price 'abc' is not a number"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,11,1,25", "viewed_count 11 is above"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,5,6,25", "purchased_count 6 is above"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,-1,0,0,0", "sent_count -1 is negative"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,1.5,0,0,0", "not a whole number"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,5,1,-3", "revenue -3.0 must be"),
    ("messages", "nobody,2025-10-01T19:00:00Z,ppv,x,25,10,5,1,25", "unknown page 'nobody'"),
    ("captions", "x,ppv,jadebri,Photo set,,Curiosity,true", "price_tier is empty"),
    ("captions", "x,ppv,jadebri,Photo set,cheap,Curiosity,true", "price_tier is 'cheap'"),
    ("captions", "x,followup,jadebri,Photo set,budget,,true", "message_type is 'followup'"),
    ("captions", "x,ppv,jadebri,Photo set,budget,Greed,true", "trigger 'Greed' is unknown"),
    ("captions", "x,ppv,jadebri,Photo set,budget,,maybe", "active 'maybe' is not true or false"),
    ("captions", "x,ppv,nobody,Photo set,budget,,true", "unknown page 'nobody'"),
    ("fans", "jadebri,2025-13-01,100,,", "date '2025-13-01' is not a date"),
    ("fans", "jadebri,2025-10-02,,,", "active_fans is empty"),
    ("fans", "nobody,2025-10-02,100,,", "unknown page 'nobody'"),
    ("pages", "x,vip,UTC", "page_type is 'vip'"),
    ("pages", "x,free,Mars/Olympus", "timezone 'Mars/Olympus' is not"),
    ("pages", ",free,UTC", "page_name is empty"),
]


@pytest.mark.parametrize(("kind", "bad_row", "reason"), BAD_ROWS)
def test_a_bad_row_rejects_the_whole_file(
    store_with_pages: Store,
    settings: Settings,
    tmp_path: Path,
    kind: ImportKind,
    bad_row: str,
    reason: str,
) -> None:
    before = snapshot(store_with_pages)
    file = write(tmp_path / f"{kind}.csv", HEADERS[kind], GOOD[kind], bad_row)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, kind, file, settings)
    problem = rejected.value.problems[0]
    assert (problem.file, problem.line) == (str(file), 3)
    assert reason in problem.reason
    assert str(problem).startswith(f"{file}:3: ")
    assert snapshot(store_with_pages) == before


def test_many_bad_rows_show_twenty_then_a_count(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    bad = [f"jadebri,2025-10-{day:02d},-{day},," for day in range(1, 31)]
    file = write(tmp_path / "fans.csv", FANS_HEADER, *bad)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "fans", file, settings)
    details = rejected.value.details()
    assert len(details) == 21
    assert details[0] == f"{file}:2: active_fans -1 is negative"
    assert details[-1] == "... and 10 more bad row(s)"
    assert rejected.value.total_bad_rows == 30


def test_a_missing_column_is_reported_on_line_one(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = write(tmp_path / "m.csv", "page_name,sent_at,caption_text", "jadebri,x,y")
    with pytest.raises(ImportRejected, match="1 bad row") as rejected:
        import_file(store_with_pages, "messages", file, settings)
    assert "missing column(s): message_type, price" in rejected.value.details()[0]


def test_a_repeated_natural_key_names_both_lines(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(store_with_pages)
    file = write(tmp_path / "fans.csv", FANS_HEADER, GOOD_FANS, "jadebri,2025-10-02,1,,", GOOD_FANS)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "fans", file, settings)
    assert rejected.value.details() == [f"{file}:4: same page_name, date as line 2"]
    assert snapshot(store_with_pages) == before


def test_reimport_changes_nothing_and_updates_are_counted(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    second = "jadebri,2025-10-02T09:30:00Z,bump,Good morning ☀️,0,1000,150,0,0"
    file = write(tmp_path / "m.csv", MESSAGES_HEADER, GOOD_MESSAGE, second)
    first = import_file(store_with_pages, "messages", file, settings)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    after_first = snapshot(store_with_pages)
    again = import_file(store_with_pages, "messages", file, settings)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(store_with_pages) == after_first
    # Views keep arriving after a send: a later export with higher counts updates the row.
    later = GOOD_MESSAGE.replace(",200,20,500", ",300,25,625")
    updated = import_file(
        store_with_pages, "messages", write(file, MESSAGES_HEADER, later), settings
    )
    assert (updated.inserted, updated.updated, updated.unchanged) == (0, 1, 0)
    assert store_with_pages.table_counts()["messages"] == 2


def test_messages_are_stored_in_utc_with_their_caption_key(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store_with_pages, DuckDBStore)
    import_file(
        store_with_pages,
        "messages",
        write(tmp_path / "m.csv", MESSAGES_HEADER, GOOD_MESSAGE),
        settings,
    )
    sent_at, key, revenue = store_with_pages.fetchall(
        "SELECT sent_at, caption_key, revenue FROM messages"
    )[0]
    assert sent_at.replace(tzinfo=UTC) == datetime(2025, 10, 2, 2, tzinfo=UTC)
    assert key == caption_key("new set 🌊 just dropped")
    assert revenue == 500


def test_seed_column_names_and_message_types_are_accepted(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = write(
        tmp_path / "mass_messages.csv",
        "page_name,sending_time,message_type,message,price,sent_count,viewed_count,"
        "purchased_count,earnings",
        "jadebri,2025-10-01 19:00:00 UTC,Unlock,Hi there,25,100,50,5,125",
        "jadebri,2025-10-01 21:00:00 UTC,Photo bump,Hello,0,100,40,0,0",
        "jadebri,2025-10-02 01:00:00 UTC,Follow up,Hi there,25,100,20,1,25",
    )
    report = import_file(store_with_pages, "messages", file, settings)
    assert report.inserted == 3
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store_with_pages, DuckDBStore)
    kinds = store_with_pages.fetchall("SELECT message_type FROM messages ORDER BY sent_at")
    assert [kind for (kind,) in kinds] == ["ppv", "bump", "followup"]
    caption_bank = write(
        tmp_path / "caption_bank.csv",
        "caption_text,message_type,page_name,content_category,price_tier,psychological_trigger",
        "Last chance,ppv,,Bundle,premium,urgency",
    )
    assert import_file(store_with_pages, "captions", caption_bank, settings).inserted == 1
    trigger = store_with_pages.fetchall("SELECT page_name, trigger FROM captions")
    assert trigger == [("", "Urgency")]


def test_create_pages_adds_unknown_pages(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = write(tmp_path / "fans.csv", FANS_HEADER, "newpage,2025-10-01,10,,")
    with pytest.raises(ImportRejected):
        import_file(store_with_pages, "fans", file, settings)
    report = import_file(store_with_pages, "fans", file, settings, create_pages=True)
    assert report.pages_created == ("newpage",)
    created = [page for page in store_with_pages.pages() if page.page_name == "newpage"]
    assert created[0].page_type == "standard"
    assert created[0].timezone == settings.timezone


def test_xlsx_has_the_same_rules(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(MESSAGES_HEADER.upper().split(","))
    sheet.append(["jadebri", "2025-10-01T19:00:00Z", "ppv", "Hi", 25, 100, 50, 5, 125.0])
    sheet.append(["jadebri", datetime(2025, 10, 2, 19), "ppv", "Hi 2", 25, 100, 50, 5, 125.0])
    path = tmp_path / "history.xlsx"
    workbook.save(path)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "messages", path, settings)
    assert rejected.value.details() == [
        f"{path}:3: sent_at 2025-10-02T19:00:00 has no offset: write it as text like "
        "2025-11-03T19:00:00-08:00 or ...Z"
    ]
    sheet.delete_rows(3)
    workbook.save(path)
    assert import_file(store_with_pages, "messages", path, settings).inserted == 1


def test_unreadable_inputs_are_input_errors(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="file not found"):
        import_file(store_with_pages, "fans", tmp_path / "missing.csv", settings)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        import_file(store_with_pages, "fans", empty, settings)
    binary = tmp_path / "fans.csv"
    binary.write_bytes(b"page_name,date,active_fans\n\xff\xfe\x00bad\n")
    with pytest.raises(InputError, match="cannot read"):
        import_file(store_with_pages, "fans", binary, settings)
    with pytest.raises(InputError, match="unsupported file type"):
        import_file(store_with_pages, "fans", write(tmp_path / "f.json", "{}"), settings)


def test_quoted_multiline_captions_report_their_first_line(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = write(
        tmp_path / "captions.csv",
        CAPTIONS_HEADER,
        '"Two\nline caption",ppv,jadebri,Photo set,budget,,true',
        "x,ppv,jadebri,Photo set,nope,,true",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "captions", file, settings)
    assert rejected.value.problems[0].line == 4
