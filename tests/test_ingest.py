"""Import rules: a bad row is reported as FILE:LINE: reason and leaves the store as it was."""

import re
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eros.errors import ImportRejected, InputError
from eros.identity import caption_key
from eros.ingest import import_file
from eros.settings import Settings
from eros.store import open_store
from eros.store.base import ImportKind, Page, Store

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


def staging_files(folder: Path) -> list[Path]:
    """Staged files of imports into stores in `folder` (named after their store)."""
    return sorted(folder.glob("*.staging-*"))


def snapshot(store: Store) -> dict[str, object]:
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store, DuckDBStore)
    return {
        table: store.fetchall(f'SELECT * FROM "{table}" ORDER BY ALL')
        for table in ("pages", "messages", "captions", "fans_daily")
    }


BAD_ROWS: list[tuple[ImportKind, str, str, str]] = [
    ("messages", "jadebri,2025-10-01T19:00:00,ppv,x,25,10,5,1,25", "sent_at", "has no offset"),
    ("messages", "jadebri,yesterday,ppv,x,25,10,5,1,25", "sent_at", "'yesterday'"),
    (
        "messages",
        "jadebri,2025-10-01T19:00:00Z,video,x,25,10,5,1,25",
        "message_type",
        "'video' is not one of ppv, bump, followup, free",
    ),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,,25,10,5,1,25", "caption_text", "is empty"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,0,10,5,1,0", "price", "must be > 0 for a ppv"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,bump,x,5,10,5,0,0", "price", "must be 0 for a bump"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,abc,10,5,1,25", "price", "'abc' is not a"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,11,1,25", "viewed_count", "11 is above"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,5,6,25", "purchased_count", "6 is"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,-1,0,0,0", "sent_count", "-1 is negative"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,1.5,0,0,0", "sent_count", "not a whole"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,5,1,-3", "revenue", "-3 is negative"),
    ("messages", "nobody,2025-10-01T19:00:00Z,ppv,x,25,10,5,1,25", "page_name", "unknown page"),
    ("captions", "x,ppv,jadebri,Photo set,,Curiosity,true", "price_tier", "is empty"),
    ("captions", "x,ppv,jadebri,Photo set,cheap,Curiosity,true", "price_tier", "'cheap' is not"),
    ("captions", "x,followup,jadebri,Photo set,budget,,true", "message_type", "'followup' is not"),
    ("captions", "x,ppv,jadebri,Photo set,budget,Greed,true", "trigger", "'Greed' is unknown"),
    ("captions", "x,ppv,jadebri,Photo set,budget,,maybe", "active", "'maybe' is not true or false"),
    ("captions", "x,ppv,nobody,Photo set,budget,,true", "page_name", "unknown page 'nobody'"),
    ("fans", "jadebri,2025-13-01,100,,", "date", "'2025-13-01' is not a date"),
    ("fans", "jadebri,2025-10-02,,,", "active_fans", "is empty"),
    ("fans", "nobody,2025-10-02,100,,", "page_name", "unknown page 'nobody'"),
    ("pages", "x,vip,UTC", "page_type", "'vip' is not one of free, paid, standard"),
    ("pages", "x,free,Mars/Olympus", "timezone", "'Mars/Olympus' is not an IANA time zone"),
    ("pages", ",free,UTC", "page_name", "is empty"),
]

# Malformed values found by fuzzing imports: each crashed the import (a traceback or a DuckDB error
# naming the staged file) or was silently accepted.
HOSTILE_ROWS: list[tuple[ImportKind, str, str, str]] = [
    ("pages", "x,free," + "A" * 300, "timezone", "is not an IANA time zone"),
    ("pages", "x,free,America", "timezone", "is not an IANA time zone"),
    ("messages", "jadebri,0001-01-01T00:00:00+05:00,ppv,x,25,10,5,1,25", "sent_at", "range"),
    ("messages", "jadebri,9999-12-31T23:59:59-05:00,ppv,x,25,10,5,1,25", "sent_at", "range"),
    ("messages", "jadebri,9999-12-31T23:59:59Z,ppv,x,25,10,5,1,25", "sent_at", "is outside"),
    ("messages", "jadebri,1969-12-31T23:59:59Z,ppv,x,25,10,5,1,25", "sent_at", "is outside"),
    ("fans", "jadebri,0001-01-01,5,,", "date", "0001-01-01 is outside"),
    ("fans", "jadebri,9999-12-31,5,,", "date", "9999-12-31 is outside"),
    ("messages", f"jadebri,2025-10-01T19:00:00Z,ppv,x,25,{2**63},5,1,25", "sent_count", "large"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,x,25,1e19,5,1,25", "sent_count", "too large"),
    ("fans", f"jadebri,2025-10-02,{2**63},,", "active_fans", "too large"),
    ("fans", f"jadebri,2025-10-02,5,{2**64},", "new_fans", "too large"),
    ("fans", "jadebri,2025-10-02,1e999999999,,", "active_fans", "too large"),
    ("fans", "jadebri,2025-10-02,-1e999999999,,", "active_fans", "negative"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,\\N,25,10,5,1,25", "caption_text", "NULL"),
    ("captions", "x,ppv,jadebri,\\N,budget,,true", "content_category", "NULL"),
    ("pages", "\\N,free,UTC", "page_name", "NULL"),
    ("messages", "jadebri,2025-10-01T19:00:00Z,ppv,a\x00b,25,10,5,1,25", "caption_text", "NUL"),
    ("pages", "a\x00b,free,UTC", "page_name", "NUL byte at character 2"),
    ("messages", "jadebri,2025-10-01T19:00:00+05:00:00:00,ppv,x,25,10,5,1,25", "sent_at", "offset"),
    ("messages", "jadebri,2025-10-01T19:00:00+05:00:30,ppv,x,25,10,5,1,25", "sent_at", "offset"),
    ("messages", "jadebri,2025-10-01T19:00:00+23:00,ppv,x,25,10,5,1,25", "sent_at", "offset"),
    ("messages", 'jadebri,2025-10-01T19:00:00Z,ppv,x,"5,00",10,5,1,25', "price", "'5,00'"),
    ("messages", 'jadebri,2025-10-01T19:00:00Z,ppv,x,25,"1,0",0,0,25', "sent_count", "'1,0'"),
    ("messages", 'jadebri,2025-10-01T19:00:00Z,ppv,x,25,10,5,1,"12,5"', "revenue", "comma"),
]


@pytest.mark.parametrize(("kind", "bad_row", "column", "reason"), BAD_ROWS + HOSTILE_ROWS)
def test_a_bad_row_rejects_the_whole_file(
    store_with_pages: Store,
    settings: Settings,
    tmp_path: Path,
    kind: ImportKind,
    bad_row: str,
    column: str,
    reason: str,
) -> None:
    before = snapshot(store_with_pages)
    file = write(tmp_path / f"{kind}.csv", HEADERS[kind], GOOD[kind], bad_row)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, kind, file, settings)
    assert rejected.value.total_bad_rows == 1
    problem = rejected.value.problems[0]
    assert (problem.file, problem.line, problem.column) == (str(file), 3, column)
    assert reason in problem.reason
    assert str(problem) == f"{file}:3: {column}: {problem.reason}"
    assert snapshot(store_with_pages) == before
    assert staging_files(tmp_path) == []


def test_numbers_with_thousands_separators_are_read(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    row = 'jadebri,2025-10-01T19:00:00Z,ppv,x,"$1,250.50","12,000",5,1,"1,250.50"'
    file = write(tmp_path / "m.csv", MESSAGES_HEADER, row)
    assert import_file(store_with_pages, "messages", file, settings).inserted == 1
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store_with_pages, DuckDBStore)
    assert store_with_pages.fetchall("SELECT price, sent_count, revenue FROM messages") == [
        (1250.5, 12000, 1250.5)
    ]


def test_the_largest_counts_and_widest_dates_are_accepted(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = write(
        tmp_path / "fans.csv",
        FANS_HEADER,
        f"jadebri,1970-01-01,{2**63 - 1},1e3,",
        "jadebri,2099-12-31,0,,",
    )
    assert import_file(store_with_pages, "fans", file, settings).inserted == 2


def test_a_messages_file_is_not_taken_for_captions(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    header = MESSAGES_HEADER + ",message_id,content_category,price_tier,trigger"
    file = write(tmp_path / "history.csv", header, GOOD_MESSAGE + ",m1,Photo set,standard,")
    before = snapshot(store_with_pages)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "captions", file, settings)
    assert rejected.value.details() == [
        f"{file}:1: the columns sent_at, price, sent_count, viewed_count, purchased_count, "
        "revenue are those of a messages file: import it with `eros import messages`"
    ]
    assert snapshot(store_with_pages) == before


def test_a_bad_byte_is_reported_on_its_line_and_column(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "m.csv"
    good = (MESSAGES_HEADER + "\n" + GOOD_MESSAGE + "\n").encode()
    file.write_bytes(good + b"jadebri,2025-10-01T21:00:00Z,ppv,caf\xe9,25,10,5,1,25\n")
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "messages", file, settings)
    assert rejected.value.details() == [
        f"{file}:3: caption_text: byte 0xe9 at character 4 is not UTF-8 (save the file as UTF-8)"
    ]
    # In a longer file too (the reader decodes blocks of many lines at once).
    rows = [f"jadebri,2025-10-{day:02d}T19:00:00Z,bump,hi,0,10,5,0,0\n" for day in range(1, 29)]
    body = "".join(rows).encode()
    file.write_bytes(MESSAGES_HEADER.encode() + b"\n" + body + b"jadebri,\xff\n" + body)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "messages", file, settings)
    assert rejected.value.problems[0].line == 30
    assert rejected.value.problems[0].column == "sent_at"


def test_a_bad_byte_in_the_header_is_reported_on_line_one(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "fans.csv"
    file.write_bytes(b"page_name,d\xe4te,active_fans\njadebri,2025-10-01,5\n")
    with pytest.raises(InputError) as rejected:
        import_file(store_with_pages, "fans", file, settings)
    assert str(rejected.value) == (
        f"{file}:1: column 2: byte 0xe4 at character 2 is not UTF-8 (save the file as UTF-8)"
    )


def test_an_unclosed_quote_is_refused_not_swallowed(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    """A stray quote would otherwise take every later line into one caption."""
    file = write(
        tmp_path / "captions.csv",
        CAPTIONS_HEADER,
        GOOD_CAPTION,
        '"Beach, day,ppv,jadebri,Photo set,standard,,true',
        "Another,ppv,jadebri,Photo set,standard,,true",
    )
    with pytest.raises(InputError, match=rf"^{re.escape(str(file))}:3: "):
        import_file(store_with_pages, "captions", file, settings)
    assert store_with_pages.table_counts()["captions"] == 0


def test_the_longest_cells_fit_the_staged_file(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    """Python's csv reader allows 131,072 characters a cell; four such cells of 4-byte emoji."""
    wide = "😀" * 131_072
    row = f"{wide},2025-10-01T19:00:00Z,ppv,{wide},25,10,5,1,25,{wide},{wide}"
    file = write(tmp_path / "m.csv", MESSAGES_HEADER + ",message_id,content_category", row)
    report = import_file(store_with_pages, "messages", file, settings, create_pages=True)
    assert report.inserted == 1


def test_many_bad_rows_show_twenty_then_a_count(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    bad = [f"jadebri,2025-10-{day:02d},-{day},," for day in range(1, 31)]
    file = write(tmp_path / "fans.csv", FANS_HEADER, *bad)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "fans", file, settings)
    details = rejected.value.details()
    assert len(details) == 21
    assert details[0] == f"{file}:2: active_fans: -1 is negative"
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
    assert rejected.value.details() == [f"{file}:4: page_name, date: same as line 2"]
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
        f"{path}:3: sent_at: 2025-10-02T19:00:00 has no offset: write it as text like "
        "2025-11-03T19:00:00-08:00 or ...Z"
    ]
    sheet.delete_rows(3)
    workbook.save(path)
    assert import_file(store_with_pages, "messages", path, settings).inserted == 1


def test_xlsx_numbers_and_dates_have_the_same_limits(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    """Typed cells skip the text parsers: a huge int or float and year 1 meet the same rules."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["page_name", "date", "active_fans", "new_fans"])
    sheet.append(["jadebri", datetime(2025, 10, 1), 2**63, None])
    sheet.append(["jadebri", datetime(2025, 10, 2), 10, 1e19])
    sheet.append(["jadebri", datetime(1, 1, 1), 10, None])
    path = tmp_path / "fans.xlsx"
    workbook.save(path)
    with pytest.raises(ImportRejected) as rejected:
        import_file(store_with_pages, "fans", path, settings)
    assert rejected.value.details() == [
        f"{path}:2: active_fans: '{2**63}' is too large (at most {2**63 - 1})",
        f"{path}:3: new_fans: '{10**19}' is too large (at most {2**63 - 1})",
        f"{path}:4: date: 0001-01-01 is outside 1970-01-01 .. 2099-12-31",
    ]
    assert store_with_pages.table_counts()["fans_daily"] == 0


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
    with pytest.raises(InputError, match="bad row"):
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


KILLED_IMPORT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import eros.ingest
    from eros.settings import load_settings
    from eros.store import open_store

    eros.ingest.PROGRESS_EVERY = 1
    store_file, file = sys.argv[1], Path(sys.argv[2])


    def wait_to_be_killed(rows: int) -> None:
        print(rows, flush=True)
        sys.stdin.readline()


    with open_store(store_file) as store:
        eros.ingest.import_file(
            store, "fans", file, load_settings(store=store_file), on_progress=wait_to_be_killed
        )
    """
)


def test_a_killed_import_leaves_no_staged_file_after_the_next_command(
    db_path: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from eros.cli import app

    with open_store(str(db_path), create=True) as store:
        store.upsert_pages([Page("jadebri", "standard", "UTC")])
    file = write(tmp_path / "fans.csv", FANS_HEADER, GOOD_FANS, "jadebri,2025-10-02,5,,")
    importer = subprocess.Popen(
        [sys.executable, "-c", KILLED_IMPORT, str(db_path), str(file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert importer.stdout is not None
        assert importer.stdout.readline().strip() == "1"  # mid-import: one row staged
        left_behind = staging_files(tmp_path)
        assert len(left_behind) == 1
        importer.send_signal(signal.SIGKILL)
    finally:
        importer.kill()
        importer.communicate()
    assert importer.returncode == -signal.SIGKILL
    assert staging_files(tmp_path) == left_behind  # a kill skips every `finally`
    result = CliRunner().invoke(app, ["pages", "--store", str(db_path)])
    assert result.exit_code == 0
    assert staging_files(tmp_path) == []


def test_a_live_import_keeps_its_staged_file_when_the_store_is_opened_again(
    store_with_pages: Store, db_path: Path, tmp_path: Path
) -> None:
    """Threads of one process (the daemon, the web server) open the store beside an import."""
    with store_with_pages.staging_file("fans") as staged:
        assert staged.parent == db_path.parent
        assert staged.name.startswith(f"{db_path.name}.staging-fans-")
        with open_store(str(db_path)):
            assert staged.exists()
    assert staging_files(tmp_path) == []
