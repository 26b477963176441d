"""Ingest: CSV or xlsx history, caption bank, pages and fan counts -> validated rows in the store.

The formats are the stable contracts of DESIGN.md §5 (docs/data-formats.md). A file is read as a
stream: each row is validated and written to a staged file the store provides, then the store merges
the staged file in one transaction. Any bad row means nothing of the file is imported; each is
reported as FILE:LINE: column: reason. Validation is complete: every staged value fits its column,
so the merge never meets a value the database refuses.
Re-importing a file changes nothing (rows are merged on their natural key).
"""

from __future__ import annotations

import csv
import math
import re
import reprlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, DecimalException
from pathlib import Path
from typing import Any

from eros import clock
from eros.errors import ImportRejected, InputError, RowProblem
from eros.identity import caption_key
from eros.settings import PRICE_TIERS, TRIGGERS, Settings, setting_key
from eros.store.base import IMPORT_KINDS, STAGED, DuplicateKey, ImportKind, Page, Store

PAGE_TYPES = ("free", "paid", "standard")

# Column names of the seed system's BigQuery exports, accepted so its users can move over.
COLUMN_ALIASES = {
    "sending_time": "sent_at",
    "earnings": "revenue",
    "message": "caption_text",
    "psychological_trigger": "trigger",
}

MESSAGE_TYPE_ALIASES = {
    "ppv": "ppv",
    "unlock": "ppv",
    "bump": "bump",
    "photo bump": "bump",
    "followup": "followup",
    "follow up": "followup",
    "follow-up": "followup",
    "free": "free",
}

TRUE_WORDS = {"true", "yes", "1", "y", "t"}
FALSE_WORDS = {"false", "no", "0", "n", "f"}

# Columns a file must have (values may still be optional, as the validators say).
REQUIRED_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    "pages": ("page_name", "page_type"),
    "messages": (
        "page_name",
        "sent_at",
        "message_type",
        "caption_text",
        "price",
        "sent_count",
        "viewed_count",
        "purchased_count",
        "revenue",
    ),
    "captions": ("caption_text", "message_type", "page_name", "content_category", "price_tier"),
    "fans": ("page_name", "date", "active_fans"),
}
OPTIONAL_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    "pages": ("timezone",),
    "messages": ("message_id", "content_category", "price_tier", "trigger"),
    "captions": ("trigger", "active"),
    "fans": ("new_fans", "expired_fans"),
}


def import_columns(kind: ImportKind) -> tuple[str, ...]:
    """Every column of an import format, required ones first (the order of docs/data-formats.md)."""
    return REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]


NULL = "\\N"  # how a missing value is written in a staged file; refused as a value
PROGRESS_EVERY = 50_000

# Dates and instants outside these days are typos or placeholders (0001-01-01, 9999-12-31), and
# near the ends of the calendar a local time no longer converts.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2099, 12, 31)
MAX_COUNT = 2**63 - 1  # counts are BIGINT
LONGEST_INSTANT = 40  # characters; 2025-11-03T19:00:00.123456-08:00 has 32

# Read with errors="surrogateescape", a byte that is not UTF-8 becomes one of these characters, so
# it is reported on its own line and column instead of failing the block of lines it was read with.
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")
# A comma in a number is accepted only between groups of three digits: 12,500.50 but not 5,00.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_SHORT_REPR = reprlib.Repr()  # a cell quoted in a message, a long one shortened
_SHORT_REPR.maxstring = 60
_shown = _SHORT_REPR.repr


class RowError(ValueError):
    """One reason a row is bad, and the column it is about (None for the whole row)."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class ImportReport:
    kind: ImportKind
    file: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    pages_created: tuple[str, ...]


# -- reading files ---------------------------------------------------------------------------------


def _canonical(header: Sequence[Any]) -> list[str]:
    names = [str(cell or "").strip().lower().lstrip("\ufeff") for cell in header]
    present = set(names)
    return [
        COLUMN_ALIASES[name]
        if name in COLUMN_ALIASES and COLUMN_ALIASES[name] not in present
        else name
        for name in names
    ]


@contextmanager
def open_table(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, Sequence[Any]]]]]:
    """The canonical header and a stream of (line number, cells) of a CSV or xlsx file."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        with _open_xlsx(path) as table:
            yield table
    elif suffix in {".csv", ".txt", ""}:
        with _open_csv(path) as table:
            yield table
    else:
        raise InputError(f"{path}: unsupported file type {suffix!r} (use .csv or .xlsx)")


@contextmanager
def _open_csv(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, Sequence[Any]]]]]:
    # Bad bytes are kept as surrogates and reported per cell (_row_fault); strict quoting refuses a
    # stray quote instead of reading every later line into one cell.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}:1: the file is empty (a header row is required)") from None
        except csv.Error as error:
            raise InputError(f"{path}:1: cannot read the header: {error}") from error

        def rows() -> Iterator[tuple[int, Sequence[Any]]]:
            line_end = reader.line_num
            try:
                for cells in reader:
                    start, line_end = line_end + 1, reader.line_num
                    if cells and any(cell.strip() for cell in cells):
                        yield start, cells
            except csv.Error as error:
                raise InputError(
                    f"{path}:{line_end + 1}: cannot read the file: {error} (check the quotes)"
                ) from error

        yield _canonical(header), rows()


@contextmanager
def _open_xlsx(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, Sequence[Any]]]]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError(f"{path}: not a readable xlsx workbook: {error}") from error
    try:
        stream = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(stream, None)
        if header is None:
            raise InputError(f"{path}:1: the first sheet is empty (a header row is required)")

        def rows() -> Iterator[tuple[int, Sequence[Any]]]:
            for line, cells in enumerate(stream, start=2):
                if any(cell not in (None, "") for cell in cells):
                    yield line, cells

        yield _canonical(header), rows()
    finally:
        workbook.close()


# -- value parsers: each returns the clean value or raises RowError with the reason ----------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _undecodable(text: str) -> str | None:
    """Where `text` holds a byte that was not UTF-8, or None."""
    found = _NOT_UTF8.search(text)
    if found is None:
        return None
    return (
        f"byte 0x{ord(found.group()) - 0xDC00:02x} at character {found.start() + 1} "
        "is not UTF-8 (save the file as UTF-8)"
    )


def _not_a_value(text: str) -> str | None:
    """Why a cell's text is no value at all (NUL, a dump's \\N), or None."""
    if "\x00" in text:
        return f"contains a NUL byte at character {text.index(chr(0)) + 1}"
    if text.strip() == NULL:
        return "is \\N, a database NULL marker: leave the cell empty for no value"
    return None


def _row_fault(header: Sequence[str], cells: Sequence[Any], read: set[int]) -> RowError | None:
    """The first cell with a bad byte (any column) or no value (NUL or \\N in a column read)."""
    try:
        joined = "".join(cells)  # a CSV row; xlsx rows hold numbers and dates too
    except TypeError:
        joined = "".join(cell for cell in cells if isinstance(cell, str))
    clean = joined.isascii() or not _NOT_UTF8.search(joined)
    if clean and "\x00" not in joined and NULL not in joined:
        return None
    for position, cell in enumerate(cells):
        if not isinstance(cell, str):
            continue
        fault = _undecodable(cell) or (_not_a_value(cell) if position in read else None)
        if fault:
            name = header[position] if position < len(header) else ""
            return RowError(name or f"column {position + 1}", fault)
    return None


def _required_text(name: str, value: Any) -> str:
    text = _text(value)
    if not text:
        raise RowError(name, "is empty")
    return text


def _choice(name: str, value: Any, choices: Sequence[str], *, optional: bool = False) -> str | None:
    text = _text(value).lower()
    if not text and optional:
        return None
    if text not in choices:
        if not text:
            raise RowError(name, f"is empty; expected one of {', '.join(choices)}")
        raise RowError(name, f"{_shown(_text(value))} is not one of {', '.join(choices)}")
    return text


def _plain_number(name: str, text: str) -> str:
    """`text` without thousands separators; a comma anywhere else is refused (5,00 is not 500)."""
    if "," not in text:
        return text
    if _THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    raise RowError(
        name,
        f"{_shown(text)} has a comma that does not separate thousands: "
        "write decimals with a point (5.00)",
    )


def _count(name: str, value: Any, *, optional: bool = False) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value)
        if not text:
            if optional:
                return None
            raise RowError(name, "is empty")
        number = _whole_number(name, text)
    if 0 <= number <= MAX_COUNT:
        return number
    shown = str(number) if abs(number) <= MAX_COUNT else _shown(_text(value))
    if number < 0:
        raise RowError(name, f"{shown} is negative")
    raise RowError(name, f"{shown} is too large (at most {MAX_COUNT})")


def _whole_number(name: str, text: str) -> int:
    plain = _plain_number(name, text)
    try:
        return int(plain)
    except ValueError:  # 1e3 or 100.0 as spreadsheets write them, or not a number at all
        pass
    try:
        exact = Decimal(plain)  # exact where float is not: 1e19 stays 10**19
    except DecimalException:
        exact = Decimal("NaN")
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise RowError(name, f"{_shown(text)} is not a whole number")
    # Out of range is decided by comparing (exact, no context): 1e999999999 must not be rounded
    # by abs() (decimal.Overflow) nor turned into its billion digits by int().
    if exact > MAX_COUNT:
        return MAX_COUNT + 1
    if exact < -MAX_COUNT:
        return -MAX_COUNT - 1
    return int(exact)


def _money(name: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = _text(value).removeprefix("$")
        if not text:
            raise RowError(name, "is empty")
        plain = _plain_number(name, text)
        try:
            number = float(plain)
        except ValueError:
            raise RowError(name, f"{_shown(_text(value))} is not a number") from None
    if not math.isfinite(number):
        raise RowError(name, f"{_shown(_text(value))} is not a finite number")
    if number < 0:
        raise RowError(name, f"{number:g} is negative")
    return number


def _in_calendar(name: str, value: date) -> None:
    """Refuse a date or an instant (in UTC) outside EARLIEST_DAY .. LATEST_DAY."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        shown = value.isoformat().replace("+00:00", "Z")
        raise RowError(
            name, f"{shown} is outside {EARLIEST_DAY.isoformat()} .. {LATEST_DAY.isoformat()}"
        )


def _instant(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise RowError(
                name,
                f"{value.isoformat()} has no offset: write it as text like "
                "2025-11-03T19:00:00-08:00 or ...Z",
            )
        instant = clock.as_utc(value)
    else:
        text = _text(value)
        if not text:
            raise RowError(name, "is empty")
        if len(text) > LONGEST_INSTANT:
            raise RowError(name, f"{_shown(text)} is not an ISO 8601 instant")
        try:
            instant = clock.parse_instant(text)
        except ValueError as error:
            raise RowError(name, str(error)) from None
    _in_calendar(name, instant)
    return instant


def _day(name: str, value: Any) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = _text(value)
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise RowError(name, f"{_shown(text)} is not a date like 2025-11-03") from None
    _in_calendar(name, day)
    return day


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if not text:
        return True
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise RowError(name, f"{_shown(_text(value))} is not true or false")


def _message_type(value: Any, allowed: Sequence[str]) -> str:
    text = " ".join(_text(value).lower().split())
    kind = MESSAGE_TYPE_ALIASES.get(text)
    if kind is None or kind not in allowed:
        if not text:
            raise RowError("message_type", f"is empty; expected one of {', '.join(allowed)}")
        raise RowError("message_type", f"{_shown(_text(value))} is not one of {', '.join(allowed)}")
    return kind


# -- row validators -------------------------------------------------------------------------------


@dataclass
class _Context:
    settings: Settings
    known_pages: set[str]
    create_pages: bool
    triggers: dict[str, str]  # setting key -> display name
    new_pages: dict[str, int]  # unknown page -> first line (with --create-pages)

    def page(self, value: Any, line: int, *, shared_allowed: bool = False) -> str:
        name = _text(value)
        if not name:
            if shared_allowed:
                return ""
            raise RowError("page_name", "is empty")
        if name not in self.known_pages:
            if not self.create_pages:
                raise RowError(
                    "page_name",
                    f"unknown page {_shown(name)} (import it with `eros import pages`, "
                    "or pass --create-pages)",
                )
            self.new_pages.setdefault(name, line)
        return name

    def trigger(self, value: Any) -> str | None:
        text = _text(value)
        if not text:
            return None
        display = self.triggers.get(setting_key(text))
        if display is None:
            raise RowError(
                "trigger",
                f"{_shown(text)} is unknown; expected one of {', '.join(self.triggers.values())}",
            )
        return display


Getter = Callable[[str], Any]


def _pages_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    name = _required_text("page_name", get("page_name"))
    page_type = _choice("page_type", get("page_type"), PAGE_TYPES)
    timezone = _text(get("timezone")) or context.settings.timezone
    if not clock.is_zone(timezone):
        raise RowError(
            "timezone", f"{_shown(timezone)} is not an IANA time zone such as America/New_York"
        )
    return name, page_type, timezone


def _messages_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    page = context.page(get("page_name"), line)
    sent_at = _instant("sent_at", get("sent_at"))
    kind = _message_type(get("message_type"), ("ppv", "bump", "followup", "free"))
    text = _required_text("caption_text", get("caption_text"))
    price = _money("price", get("price"))
    if kind == "ppv" and price <= 0:
        raise RowError("price", "must be > 0 for a ppv")
    if kind in ("bump", "free") and price != 0:
        raise RowError("price", f"must be 0 for a {kind} (got {price:g})")
    sent = _count("sent_count", get("sent_count"))
    viewed = _count("viewed_count", get("viewed_count"))
    purchased = _count("purchased_count", get("purchased_count"))
    assert sent is not None
    assert viewed is not None
    assert purchased is not None
    if viewed > sent:
        raise RowError("viewed_count", f"{viewed} is above sent_count {sent}")
    if purchased > viewed:
        raise RowError("purchased_count", f"{purchased} is above viewed_count {viewed}")
    revenue = _money("revenue", get("revenue"))
    price_tier = _choice("price_tier", get("price_tier"), PRICE_TIERS, optional=True)
    return (
        page,
        sent_at.replace(tzinfo=None),
        caption_key(text),
        kind,
        text,
        price,
        sent,
        viewed,
        purchased,
        revenue,
        _text(get("message_id")) or None,
        _text(get("content_category")) or None,
        price_tier,
        context.trigger(get("trigger")),
    )


def _captions_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    text = _required_text("caption_text", get("caption_text"))
    kind = _message_type(get("message_type"), ("ppv", "bump"))
    page = context.page(get("page_name"), line, shared_allowed=True)
    price_tier = _choice("price_tier", get("price_tier"), PRICE_TIERS, optional=kind != "ppv")
    return (
        page,
        caption_key(text),
        text,
        kind,
        _text(get("content_category")) or None,
        price_tier,
        context.trigger(get("trigger")),
        _boolean("active", get("active")),
    )


def _fans_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    return (
        context.page(get("page_name"), line),
        _day("date", get("date")),
        _count("active_fans", get("active_fans")),
        _count("new_fans", get("new_fans"), optional=True),
        _count("expired_fans", get("expired_fans"), optional=True),
    )


VALIDATORS: dict[ImportKind, Callable[[Getter, int, _Context], tuple[Any, ...]]] = {
    "pages": _pages_row,
    "messages": _messages_row,
    "captions": _captions_row,
    "fans": _fans_row,
}


def _staged_cell(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# -- the import -----------------------------------------------------------------------------------


def import_file(
    store: Store,
    kind: ImportKind,
    path: Path,
    settings: Settings,
    *,
    create_pages: bool = False,
    on_progress: Callable[[int], None] | None = None,
    columnar: bool = True,
) -> ImportReport:
    """Validate every row of `path` and merge the file into the store, all or nothing.

    A messages CSV is read by the columnar reader when its bytes allow (`columnar`=False: always
    row by row); both give the same rows and the same FILE:LINE reports.
    """
    file_label = str(path)
    if columnar and kind == "messages":
        from eros.ingest_columnar import import_messages_columnar

        report = import_messages_columnar(store, path, settings, create_pages, on_progress)
        if report is not None:
            return report
    with open_table(path) as (header, rows):
        return _import_rows(
            store, kind, file_label, header, rows, settings, create_pages, on_progress
        )


def _import_rows(
    store: Store,
    kind: ImportKind,
    file_label: str,
    header: list[str],
    rows: Iterator[tuple[int, Sequence[Any]]],
    settings: Settings,
    create_pages: bool,
    on_progress: Callable[[int], None] | None,
) -> ImportReport:
    index, read, context = _reading(kind, file_label, header, store, settings, create_pages)
    validate = VALIDATORS[kind]
    problems: list[RowProblem] = []
    bad_rows = 0
    row_count = 0
    staged_columns = ("line", *STAGED[kind].columns)

    with store.staging_file(kind) as staged_file:
        with staged_file.open("w", newline="", encoding="utf-8") as staged:
            writer = csv.writer(staged)
            writer.writerow(staged_columns)
            for line, cells in rows:
                row_count += 1
                try:
                    values = _checked_row(header, index, read, cells, line, context, validate)
                except RowError as error:
                    bad_rows += 1
                    if len(problems) < ImportRejected.max_shown:
                        problems.append(RowProblem(file_label, line, error.reason, error.column))
                    continue
                if not bad_rows:
                    writer.writerow([line, *(_staged_cell(value) for value in values)])
                if on_progress and row_count % PROGRESS_EVERY == 0:
                    on_progress(row_count)
        if bad_rows:
            raise ImportRejected(file_label, problems, bad_rows)
        new_pages = [
            Page(page_name=name, page_type="standard", timezone=settings.timezone)
            for name in sorted(context.new_pages)
        ]
        result = store.load_staged(kind, staged_file, create_pages=new_pages)
    if isinstance(result, list):
        raise _duplicates_rejected(file_label, kind, result)
    return ImportReport(
        kind=kind,
        file=file_label,
        rows=row_count,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        pages_created=result.pages_created,
    )


def _checked_row(
    header: Sequence[str],
    index: dict[str, int],
    read: set[int],
    cells: Sequence[Any],
    line: int,
    context: _Context,
    validate: Callable[[Getter, int, _Context], tuple[Any, ...]],
) -> tuple[Any, ...]:
    """The staged values of one row, or RowError with its first problem."""

    def get(name: str) -> Any:
        position = index.get(name)
        return cells[position] if position is not None and position < len(cells) else None

    fault = _row_fault(header, cells, read)
    if fault:
        raise fault
    return validate(get, line, context)


def _reading(
    kind: ImportKind,
    file_label: str,
    header: list[str],
    store: Store,
    settings: Settings,
    create_pages: bool,
) -> tuple[dict[str, int], set[int], _Context]:
    """What reading a file of `kind` needs, once its header is checked: the position of each
    column read, the positions read, and the row validator's context."""
    _check_header(kind, file_label, header)
    index = {name: header.index(name) for name in import_columns(kind) if name in header}
    context = _Context(
        settings=settings,
        known_pages={page.page_name for page in store.pages()},
        create_pages=create_pages,
        triggers=_trigger_names(settings),
        new_pages={},
    )
    return index, set(index.values()), context


def _check_header(kind: ImportKind, file: str, header: list[str]) -> None:
    """Refuse a header that cannot be this kind's: bad bytes, missing columns, another kind's."""
    for position, name in enumerate(header):
        undecodable = _undecodable(name)
        if undecodable:
            raise InputError(f"{file}:1: column {position + 1}: {undecodable}")
    own = set(import_columns(kind))
    for other in IMPORT_KINDS:
        # Another kind's required columns that this kind lacks: two or more of them all present
        # means a file of that kind (a messages export also has the caption columns). One alone
        # (page_type) may be an extra column, which the formats allow.
        foreign = [name for name in REQUIRED_COLUMNS[other] if name not in own]
        if len(foreign) >= 2 and all(name in header for name in foreign):
            problem = RowProblem(
                file,
                1,
                f"the columns {', '.join(foreign)} are those of a {other} file: "
                f"import it with `eros import {other}`",
            )
            raise ImportRejected(file, [problem], total_bad_rows=1)
    missing = [name for name in REQUIRED_COLUMNS[kind] if name not in header]
    if missing:
        problem = RowProblem(file, 1, f"missing column(s): {', '.join(missing)}")
        raise ImportRejected(file, [problem], total_bad_rows=1)


def _trigger_names(settings: Settings) -> dict[str, str]:
    """Known triggers by setting key: the DESIGN.md names, plus any budgeted in settings."""
    names = {setting_key(name): name for name in TRIGGERS}
    for key in settings.trigger_budgets:
        names.setdefault(key, key.replace("_", " ").title())
    return names


def _duplicates_rejected(
    file: str, kind: ImportKind, duplicates: list[DuplicateKey]
) -> ImportRejected:
    key = ", ".join(STAGED[kind].key)
    problems = [
        RowProblem(file, duplicate.line, f"same as line {duplicate.first_line}", key)
        for duplicate in duplicates[: ImportRejected.max_shown]
    ]
    return ImportRejected(file, problems, len(duplicates))
