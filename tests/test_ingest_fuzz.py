"""Fuzzing the import: any file as any kind is imported (exit 0) or refused with FILE:LINE (exit 2).

Never a traceback, never a driver error, and a refused file leaves the store as it was. The outcome
is mapped to an exit code the way the CLI's one error handler maps it (ErosError.exit_code).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eros.errors import ErosError, ImportRejected
from eros.ingest import import_columns, import_file
from eros.settings import Settings
from eros.store.base import IMPORT_KINDS, ImportKind, Store

# Examples per test run; a long hunt: IMPORT_FUZZ_EXAMPLES=5000 pytest tests/test_ingest_fuzz.py
EXAMPLES = int(os.environ.get("IMPORT_FUZZ_EXAMPLES", "120"))


@st.composite
def valid_row(draw: st.DrawFn, kind: ImportKind, number: int) -> dict[str, str]:
    """A row the import accepts (distinct keys for distinct `number`s)."""
    day = f"2025-10-{number % 28 + 1:02d}"
    page = draw(st.sampled_from(["jadebri", "missalexa_free"]))
    if kind == "pages":
        return {
            "page_name": f"page{number}",
            "page_type": draw(st.sampled_from(["free", "paid", "standard"])),
            "timezone": draw(st.sampled_from(["", "UTC", "Europe/London"])),
        }
    if kind == "fans":
        return {
            "page_name": page,
            "date": day,
            "active_fans": "12000",
            "new_fans": draw(st.sampled_from(["", "40"])),
            "expired_fans": "",
        }
    ppv = draw(st.booleans())
    caption = {"caption_text": f"New set {number} 🌊", "page_name": page, "trigger": "Curiosity"}
    if kind == "captions":
        return {
            **caption,
            "message_type": "ppv" if ppv else "bump",
            "content_category": "Photo set",
            "price_tier": "budget" if ppv else "",
            "active": draw(st.sampled_from(["", "true", "no"])),
        }
    return {
        **caption,
        "sent_at": f"{day}T19:00:00-07:00",
        "message_type": "ppv" if ppv else "bump",
        "price": "25" if ppv else "0",
        "sent_count": "1,000",
        "viewed_count": "100",
        "purchased_count": "5" if ppv else "0",
        "revenue": "125.50" if ppv else "0",
        "message_id": "",
        "content_category": "",
        "price_tier": "premium" if ppv else "",
    }


# Values that broke imports before (see HOSTILE_ROWS in test_ingest.py) and their neighbours, by
# the kind of column they attack, so that one mutated cell often reaches the load.
NOT_A_VALUE = ["\\N", " \\N ", "a\x00b", "\x00", "", " "]
HOSTILE_TEXT = [*NOT_A_VALUE, "A" * 300, "=1+1", 'a "quoted" word', "line\nbreak", "x\ry"]
HOSTILE_COUNT = [
    *NOT_A_VALUE,
    str(2**63),
    str(2**63 - 1),
    str(-(2**63)),
    "1e19",
    "1E400",
    "1e999999999",
    "1e-400",
    "9" * 5000,
    "-1",
    "-0",
    "1.5",
    "nan",
    "Infinity",
    "1_000",
    "5,00",
    "1,000",
    "１２",
]
HOSTILE_MONEY = [*HOSTILE_COUNT, "$1,234.5", "1e308", "$", "0x10"]
HOSTILE_INSTANT = [
    *NOT_A_VALUE,
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2025-10-01T19:00:00+05:00:00:00",
    "2025-10-01T19:00:00+05:00:30",
    "2025-10-01T19:00:00+23:59",
    "2025-10-01T19:00:00",
    "2025-W40-3T19:00:00Z",
    "2025-10-01T19:00:00.1234567Z",
    "2025-10-01 19:00:00 UTC UTC",
]
HOSTILE_DAY = [*NOT_A_VALUE, "0001-01-01", "9999-12-31", "0000-01-01", "2025-02-30", "2025-W40-3"]
HOSTILE_ZONE = [*NOT_A_VALUE, "A" * 300, "America", "../../etc/passwd", "/etc/passwd", ".", "UTC/"]
HOSTILE_WORD = [*NOT_A_VALUE, "PPV", "Photo bump", "followup", "free", "vip", "maybe", "greed"]
HOSTILE_BY_COLUMN = {
    "sent_at": HOSTILE_INSTANT,
    "date": HOSTILE_DAY,
    "timezone": HOSTILE_ZONE,
    "price": HOSTILE_MONEY,
    "revenue": HOSTILE_MONEY,
    **dict.fromkeys(
        ["sent_count", "viewed_count", "purchased_count", "active_fans", "new_fans"], HOSTILE_COUNT
    ),
    "expired_fans": HOSTILE_COUNT,
    **dict.fromkeys(["page_type", "message_type", "price_tier", "trigger", "active"], HOSTILE_WORD),
}
EVERY_HOSTILE = sorted({value for values in HOSTILE_BY_COLUMN.values() for value in values})


def hostile_cell(column: str) -> st.SearchStrategy[str]:
    """Mostly a value aimed at this column's parser; sometimes any hostile value or random text."""
    aimed = st.sampled_from(HOSTILE_BY_COLUMN.get(column, HOSTILE_TEXT))
    return st.one_of(
        aimed,
        aimed,
        aimed,
        st.sampled_from(EVERY_HOSTILE),
        st.text(max_size=12),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
    )


@st.composite
def almost_valid_csv(draw: st.DrawFn, kind: ImportKind) -> bytes:
    """Valid rows of the kind with a cell or two replaced, under a header that may be shuffled,
    upper-cased or short of a column; written by csv or joined raw; maybe with bad bytes."""
    columns = list(draw(st.permutations(import_columns(kind))))
    if draw(st.integers(0, 9)) == 0:
        del columns[draw(st.integers(0, len(columns) - 1))]
    rows = []
    for number in range(draw(st.sampled_from([1, 1, 2]))):
        row = draw(valid_row(kind, draw(st.integers(0, 3)) if number else number))
        cells = [row[column] for column in columns]
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            position = draw(st.integers(0, len(cells) - 1))
            cells[position] = draw(hostile_cell(columns[position]))
        rows.append(cells)
    header = [column.upper() if draw(st.booleans()) else column for column in columns]
    buffer = io.StringIO()
    if draw(st.booleans()):
        csv.writer(buffer).writerows([header, *rows])
    else:  # joined by hand: stray quotes and separators stay as they are
        buffer.write("\n".join(",".join(row) for row in [header, *rows]))
    data = buffer.getvalue().encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


STORED = ("pages", "messages", "captions", "fans_daily")


def fingerprint(store: Store) -> tuple[object, ...]:
    """Row count and a sum of row hashes of each imported table, in one query."""
    from eros.store.duckdb import DuckDBStore

    assert isinstance(store, DuckDBStore)
    parts = ", ".join(f"(SELECT [count(*), sum(hash(t))] FROM {table} t)" for table in STORED)
    return tuple(store.fetchall(f"SELECT {parts}")[0])


def import_outcome(
    store: Store, kind: ImportKind, file: Path, settings: Settings, *, create_pages: bool
) -> tuple[int, str]:
    """(exit code, error text) as `eros import` gives them; other exceptions propagate."""
    try:
        import_file(store, kind, file, settings, create_pages=create_pages)
    except ErosError as error:
        lines = [str(error), *(error.details() if isinstance(error, ImportRejected) else [])]
        return error.exit_code, "\n".join(lines)
    return 0, ""


@dataclass
class Fuzzed:
    """The store all examples of a test share, and its fingerprint after the last exit 0."""

    store: Store
    settings: Settings
    folder: Path
    state: tuple[object, ...]

    def check(self, kind: ImportKind, data: bytes, *, create_pages: bool = False) -> None:
        file = self.folder / f"{kind}.csv"
        file.write_bytes(data)
        code, message = import_outcome(
            self.store, kind, file, self.settings, create_pages=create_pages
        )
        assert code in (0, 2), message
        if code == 2:
            assert re.search(rf"^{re.escape(str(file))}:\d+: ", message, re.MULTILINE), message
            assert fingerprint(self.store) == self.state, message
        else:
            self.state = fingerprint(self.store)
        assert sorted(self.folder.glob("*.staging-*")) == []


@pytest.fixture
def fuzzed(store_with_pages: Store, settings: Settings, tmp_path: Path) -> Fuzzed:
    return Fuzzed(store_with_pages, settings, tmp_path, fingerprint(store_with_pages))


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
kinds = st.sampled_from(IMPORT_KINDS)


@FUZZ
@given(kind=kinds, data=st.binary(max_size=300))
def test_any_bytes_are_imported_or_refused_with_file_and_line(
    fuzzed: Fuzzed, kind: ImportKind, data: bytes
) -> None:
    fuzzed.check(kind, data)


@FUZZ
@given(kind=kinds, draw=st.data())
def test_almost_valid_files_are_imported_or_refused_with_file_and_line(
    fuzzed: Fuzzed, kind: ImportKind, draw: st.DataObject
) -> None:
    data = draw.draw(almost_valid_csv(kind), label="file")
    fuzzed.check(kind, data, create_pages=draw.draw(st.booleans(), label="create_pages"))


@settings(
    max_examples=max(EXAMPLES // 10, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kind=kinds, draw=st.data())
def test_eros_import_exits_0_or_2_with_one_line_per_problem(
    store_with_pages: Store, db_path: Path, tmp_path: Path, kind: ImportKind, draw: st.DataObject
) -> None:
    """The same through `eros import` itself: its one error handler, no traceback."""
    from typer.testing import CliRunner

    from eros.cli import app

    store_with_pages.close()  # the command opens the store itself
    file = tmp_path / f"{kind}.csv"
    file.write_bytes(draw.draw(almost_valid_csv(kind), label="file"))
    result = CliRunner().invoke(app, ["import", kind, str(file), "--store", str(db_path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 2:
        assert result.stderr.startswith(f"error: {file}"), result.stderr
        assert re.search(rf"^(error: )?{re.escape(str(file))}:\d+: ", result.stderr, re.M)
