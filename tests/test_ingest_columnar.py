"""The columnar messages reader against the row reader: same stored rows, same FILE:LINE reports."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_ingest import BAD_ROWS, GOOD_MESSAGE, HOSTILE_ROWS, MESSAGES_HEADER, snapshot
from tests.test_ingest_fuzz import almost_valid_csv

from eros import clock
from eros.errors import ErosError, ImportRejected
from eros.ingest import import_file
from eros.ingest_columnar import PYTHON_WHITE_SPACE, import_messages_columnar
from eros.settings import Settings
from eros.store import open_store
from eros.store.base import Page, Store

NOW = datetime(2025, 11, 3, 12, tzinfo=UTC)
PAGES = [Page("jadebri", "standard", "America/Los_Angeles"), Page("missalexa_free", "free", "UTC")]


def outcome(
    folder: Path, data: bytes, settings: Settings, *, columnar: bool, create_pages: bool = False
) -> tuple[object, ...]:
    """(exit code, report or error lines, tables) of importing `data` into a fresh store."""
    folder.mkdir(parents=True, exist_ok=True)
    file = folder.parent / "messages.csv"  # the same name in both reports
    file.write_bytes(data)
    with clock.frozen(NOW), open_store(str(folder / "store.duckdb"), create=True) as store:
        store.upsert_pages(PAGES)
        try:
            report = import_file(
                store, "messages", file, settings, create_pages=create_pages, columnar=columnar
            )
        except ErosError as error:
            details = error.details() if isinstance(error, ImportRejected) else []
            result: tuple[object, ...] = (error.exit_code, str(error), details)
        else:
            result = (0, report)
        tables = snapshot(store)
    assert sorted(folder.glob("*.staging-*")) == []
    return (*result, tables)


def assert_same(
    tmp_path: Path, data: bytes, settings: Settings, *, create_pages: bool = False
) -> tuple[object, ...]:
    rows = outcome(tmp_path / "rows", data, settings, columnar=False, create_pages=create_pages)
    columns = outcome(tmp_path / "cols", data, settings, columnar=True, create_pages=create_pages)
    assert columns == rows
    return columns


GOOD_ROWS = [
    GOOD_MESSAGE,
    "jadebri,2025-10-02T09:30:00Z,bump,Good morning ☀️,0,1000,150,0,0",
    'jadebri,2025-10-02 10:30:00 UTC,Photo bump,"Hey, you ""there""",0,10,5,0,0',
    "missalexa_free,2025-10-03T01:02:03.5+14:00,followup,x,0,10,5,1,2.25",
    "missalexa_free,2025-10-03T01:02:03.123456-12:00,free,x ,0,10,5,0,0",
    'jadebri,2025-10-04T19:00:00-07:00,PPV,"$12.50",12.5,"1,000",5,1,"1,234.5"',
    "jadebri,1970-01-01T00:00:00Z,ppv,first,0.1,9223372036854775807,0,0,0.3",
    "jadebri,2099-12-31T23:59:59.999999Z,ppv,last,99.99,10,10,10,999.9",
    "jadebri,2025-10-05T19:00:00+05:30,unlock, padded ,25,10,5,1,25",
    "Jadebri,2025-10-05T19:00:00Z,ppv,unknown page,25,10,5,1,25",
]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_good_rows_are_stored_alike(tmp_path: Path, settings: Settings, line_end: str) -> None:
    data = line_end.join([MESSAGES_HEADER, *GOOD_ROWS[:-1]]) + line_end
    code, *_ = assert_same(tmp_path, data.encode(), settings)
    assert code == 0
    with_unknown = line_end.join([MESSAGES_HEADER, *GOOD_ROWS]).encode()
    assert assert_same(tmp_path / "refused", with_unknown, settings)[0] == 2
    code, report, _ = assert_same(tmp_path / "created", with_unknown, settings, create_pages=True)
    assert code == 0
    assert report.pages_created == ("Jadebri",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bad_row", "column"),
    [(row, column) for kind, row, column, _ in BAD_ROWS + HOSTILE_ROWS if kind == "messages"],
)
def test_bad_rows_are_reported_alike(
    tmp_path: Path, settings: Settings, bad_row: str, column: str
) -> None:
    data = "\n".join([MESSAGES_HEADER, GOOD_MESSAGE, bad_row, *GOOD_ROWS[1:3]]) + "\n"
    code, _, details, _ = assert_same(tmp_path, data.encode(), settings)
    assert code == 2
    assert f":3: {column}: " in str(details)


def test_a_plain_file_takes_the_columnar_reader(
    store_with_pages: Store, settings: Settings, tmp_path: Path
) -> None:
    """Quoted captions, CR LF, odd formats in a few rows: still read column by column."""
    file = tmp_path / "m.csv"
    file.write_bytes(("\r\n".join([MESSAGES_HEADER, *GOOD_ROWS[:4]]) + "\r\n").encode())
    report = import_messages_columnar(store_with_pages, file, settings, False, None)
    assert report is not None, "the columnar reader gave the file to the row reader"
    assert report.inserted == 4


@pytest.mark.parametrize(
    "data",
    [
        b"",
        (MESSAGES_HEADER + "\n" + GOOD_MESSAGE + "\n\n").encode(),
        (MESSAGES_HEADER + "\r\n" + GOOD_MESSAGE + "\n").encode(),
        (MESSAGES_HEADER + "\n" + GOOD_MESSAGE.replace("New set", '"New\nset"')).encode(),
        (MESSAGES_HEADER + "\n" + GOOD_MESSAGE + "\n").encode().replace(b"New", b"N\xe9w"),
    ],
)
def test_files_the_columnar_reader_leaves_to_the_row_reader(
    store_with_pages: Store, settings: Settings, tmp_path: Path, data: bytes
) -> None:
    file = tmp_path / "m.csv"
    file.write_bytes(data)
    assert import_messages_columnar(store_with_pages, file, settings, False, None) is None
    assert_same(tmp_path / "same", data, settings)


def test_the_white_space_python_strips_is_known() -> None:
    everything = (chr(code) for code in range(sys.maxunicode + 1))
    assert "".join(char for char in everything if char.isspace()) == PYTHON_WHITE_SPACE


NUMBERS = st.sampled_from(
    [
        "0",
        "1",
        "25",
        "25.5",
        "0.1",
        "007",
        "1e3",
        "12.",
        ".5",
        "1,000",
        "$5",
        "-0",
        "99999999999999",
    ]
)
INSTANTS = st.sampled_from(
    [
        "2025-10-01T19:00:00Z",
        "2025-10-01T19:00:00.5Z",
        "2025-10-01T19:00:00.000001+14:00",
        "2025-10-01T19:00:00-12:00",
        "2025-10-01T19:00:00+14:01",
        "2025-10-01T19:00:00-12:30",
        "2025-10-01T24:00:00Z",
        "2025-10-01T19:00:60Z",
        "2025-02-29T19:00:00Z",
        "2024-02-29T19:00:00Z",
        "2025-10-01 19:00:00 UTC",
        "2025-10-01T19:00:00+05:60",
        "1970-01-01T00:30:00+01:00",
        "2099-12-31T23:30:00-01:00",
    ]
)


@st.composite
def number_rows(draw: st.DrawFn) -> bytes:
    """Rows whose numbers, instants and types vary over the formats on both sides of the line."""
    rows = [MESSAGES_HEADER]
    for number in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["ppv", "bump", "followup", "free", "Follow up"]))
        cells = [
            "jadebri",
            draw(INSTANTS).replace("19:", f"{10 + number}:"),
            kind,
            f"caption {number % 2}",
            *(draw(NUMBERS) for _ in range(5)),
        ]
        rows.append(",".join(f'"{cell}"' if "," in cell else cell for cell in cells))
    return ("\n".join(rows) + "\n").encode()


DIFFERENTIAL = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@DIFFERENTIAL
@given(data=st.one_of(number_rows(), almost_valid_csv("messages")), create=st.booleans())
def test_any_file_is_read_alike(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, data: bytes, create: bool
) -> None:
    assert_same(tmp_path_factory.mktemp("example"), data, settings, create_pages=create)
