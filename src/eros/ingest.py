"""Ingest: CSV or xlsx history, caption bank, pages and fan counts -> validated rows in the store.

The formats are the stable contracts of DESIGN.md §5 (docs/data-formats.md). A file is read as a
stream: each row is validated and written to a staged file, then the store merges the staged file in
one transaction. Any bad row means nothing of the file is imported; each is reported as
FILE:LINE: reason.
Re-importing a file changes nothing (rows are merged on their natural key).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from eros import clock
from eros.errors import ImportRejected, InputError, RowProblem
from eros.identity import caption_key
from eros.settings import PRICE_TIERS, TRIGGERS, Settings, setting_key
from eros.store.base import STAGED, DuplicateKey, ImportKind, Page, Store

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


NULL = "\\N"  # how a missing value is written in a staged file
PROGRESS_EVERY = 50_000


class RowError(ValueError):
    """One reason a row is bad."""


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
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}:1: the file is empty (a header row is required)") from None
        except (UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{path}:1: cannot read the header: {error}") from error

        def rows() -> Iterator[tuple[int, Sequence[Any]]]:
            line_end = reader.line_num
            try:
                for cells in reader:
                    start, line_end = line_end + 1, reader.line_num
                    if cells and any(cell.strip() for cell in cells):
                        yield start, cells
            except (UnicodeDecodeError, csv.Error) as error:
                raise InputError(f"{path}:{line_end + 1}: cannot read the file: {error}") from error

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


def _required_text(name: str, value: Any) -> str:
    text = _text(value)
    if not text:
        raise RowError(f"{name} is empty")
    return text


def _choice(name: str, value: Any, choices: Sequence[str], *, optional: bool = False) -> str | None:
    text = _text(value).lower()
    if not text and optional:
        return None
    if text not in choices:
        shown = repr(_text(value)) if text else "empty"
        raise RowError(f"{name} is {shown}; expected one of {', '.join(choices)}")
    return text


def _count(name: str, value: Any, *, optional: bool = False) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value).replace(",", "")
        if not text:
            if optional:
                return None
            raise RowError(f"{name} is empty")
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise RowError(f"{name} {text!r} is not a whole number") from None
            if not as_float.is_integer():
                raise RowError(f"{name} {text!r} is not a whole number") from None
            number = int(as_float)
    if number < 0:
        raise RowError(f"{name} {number} is negative")
    return number


def _money(name: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = _text(value).removeprefix("$").replace(",", "")
        if not text:
            raise RowError(f"{name} is empty")
        try:
            number = float(text)
        except ValueError:
            raise RowError(f"{name} {_text(value)!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise RowError(f"{name} {number} must be a number >= 0")
    return number


def _instant(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise RowError(
                f"{name} {value.isoformat()} has no offset: write it as text like "
                "2025-11-03T19:00:00-08:00 or ...Z"
            )
        return clock.as_utc(value)
    text = _text(value)
    if not text:
        raise RowError(f"{name} is empty")
    try:
        return clock.parse_instant(text)
    except ValueError as error:
        raise RowError(f"{name}: {error}") from None


def _day(name: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a date like 2025-11-03") from None


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
    raise RowError(f"{name} {_text(value)!r} is not true or false")


def _message_type(value: Any, allowed: Sequence[str]) -> str:
    text = " ".join(_text(value).lower().split())
    kind = MESSAGE_TYPE_ALIASES.get(text)
    if kind is None or kind not in allowed:
        shown = repr(_text(value)) if text else "empty"
        raise RowError(f"message_type is {shown}; expected one of {', '.join(allowed)}")
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
            raise RowError("page_name is empty")
        if name not in self.known_pages:
            if not self.create_pages:
                raise RowError(
                    f"unknown page {name!r} (import it with `eros import pages`, "
                    "or pass --create-pages)"
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
                f"trigger {text!r} is unknown; expected one of {', '.join(self.triggers.values())}"
            )
        return display


Getter = Callable[[str], Any]


def _pages_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    name = _required_text("page_name", get("page_name"))
    page_type = _choice("page_type", get("page_type"), PAGE_TYPES)
    timezone = _text(get("timezone")) or context.settings.timezone
    if not clock.is_zone(timezone):
        raise RowError(f"timezone {timezone!r} is not an IANA time zone such as America/New_York")
    return name, page_type, timezone


def _messages_row(get: Getter, line: int, context: _Context) -> tuple[Any, ...]:
    page = context.page(get("page_name"), line)
    sent_at = _instant("sent_at", get("sent_at"))
    kind = _message_type(get("message_type"), ("ppv", "bump", "followup", "free"))
    text = _required_text("caption_text", get("caption_text"))
    price = _money("price", get("price"))
    if kind == "ppv" and price <= 0:
        raise RowError("price must be > 0 for a ppv")
    if kind in ("bump", "free") and price != 0:
        raise RowError(f"price must be 0 for a {kind} (got {price:g})")
    sent = _count("sent_count", get("sent_count"))
    viewed = _count("viewed_count", get("viewed_count"))
    purchased = _count("purchased_count", get("purchased_count"))
    assert sent is not None
    assert viewed is not None
    assert purchased is not None
    if viewed > sent:
        raise RowError(f"viewed_count {viewed} is above sent_count {sent}")
    if purchased > viewed:
        raise RowError(f"purchased_count {purchased} is above viewed_count {viewed}")
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
) -> ImportReport:
    """Validate every row of `path` and merge the file into the store, all or nothing."""
    file_label = str(path)
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
    missing = [name for name in REQUIRED_COLUMNS[kind] if name not in header]
    if missing:
        raise ImportRejected(
            file_label,
            [RowProblem(file_label, 1, f"missing column(s): {', '.join(missing)}")],
            total_bad_rows=1,
        )
    wanted = import_columns(kind)
    index = {name: header.index(name) for name in wanted if name in header}
    context = _Context(
        settings=settings,
        known_pages={page.page_name for page in store.pages()},
        create_pages=create_pages,
        triggers=_trigger_names(settings),
        new_pages={},
    )
    validate = VALIDATORS[kind]
    problems: list[RowProblem] = []
    bad_rows = 0
    row_count = 0
    staged_columns = ("line", *STAGED[kind].columns)

    handle, staged_name = tempfile.mkstemp(prefix=f"eros-{kind}-", suffix=".csv")
    staged_file = Path(staged_name)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as staged:
            writer = csv.writer(staged)
            writer.writerow(staged_columns)
            for line, cells in rows:
                row_count += 1

                def get(name: str, cells: Sequence[Any] = cells) -> Any:
                    position = index.get(name)
                    return (
                        cells[position] if position is not None and position < len(cells) else None
                    )

                try:
                    values = validate(get, line, context)
                except RowError as error:
                    bad_rows += 1
                    if len(problems) < ImportRejected.max_shown:
                        problems.append(RowProblem(file_label, line, str(error)))
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
    finally:
        staged_file.unlink(missing_ok=True)
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
        RowProblem(file, duplicate.line, f"same {key} as line {duplicate.first_line}")
        for duplicate in duplicates[: ImportRejected.max_shown]
    ]
    return ImportRejected(file, problems, len(duplicates))
