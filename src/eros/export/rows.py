"""The rows every exporter writes: one per planned message, in the schedule-CSV contract's order.

Also the one rule against spreadsheet formula injection (OWASP "CSV injection") that every exporter
applies to the text it writes: `formula_like` and `neutralise_formula`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eros.schedule import Schedule

# The schedule CSV export contract of DESIGN.md §5 (docs/data-formats.md): never reorder or rename.
CSV_COLUMNS: tuple[str, ...] = (
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
    # Added columns (the contract only ever grows at the end): a follow-up's instruction and its
    # parent PPV's local send time and caption text.
    "instruction",
    "parent_send_at_local",
    "parent_caption_text",
)
FOLLOW_UP_TO_ALL = "send to all"  # the instruction of a follow-up without a narrower rule

# OWASP CSV-injection guidance: a cell starting with one of these is read as a formula.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# Quotes already in front of such a character get one more, so the added quote is always removable.
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")

TAB_NAME_MAX = 100  # characters in a Google Sheets tab name
# Excel's forbidden sheet-name characters (the xlsx uses the same names) and control characters.
_TAB_UNSAFE = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_TAB_DIGEST_CHARS = 6


def tab_page_label(page_name: str, room: int) -> str:
    """The page's part of its tab names, at most `room` characters, unique ignoring case (Sheets
    tab names are case-insensitive) whatever other pages exist: a lower-case name that needs no
    cleaning is itself; any other name is cleaned, cut to fit and followed by 6 hex characters of
    the SHA-256 of the exact name, so `CaseTest` and `casetest` never share a tab."""
    cleaned = _TAB_UNSAFE.sub("-", page_name).strip().strip("'").strip()
    if cleaned and cleaned == page_name == page_name.casefold() and len(cleaned) <= room:
        return cleaned
    digest = hashlib.sha256(page_name.encode("utf-8")).hexdigest()[:_TAB_DIGEST_CHARS]
    return f"{cleaned[: room - _TAB_DIGEST_CHARS - 1].rstrip()} {digest}".lstrip()


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read `text`, typed into a cell, as a formula."""
    return text.startswith(FORMULA_STARTS)


def neutralise_formula(text: str) -> str:
    """`text` as a cell of a text export (CSV, ICS): a single quote in front when a spreadsheet
    would read it as a formula, else unchanged. Reversible: remove one leading quote from a cell
    that starts with quotes followed by = + - @ tab or CR. Typed exports (xlsx, Sheets) mark such
    cells as quoted text instead, so the caption there stays exactly as written."""
    return "'" + text if _NEEDS_QUOTE.match(text) else text


@dataclass(frozen=True)
class ExportRow:
    schedule_id: str
    page_name: str
    date: date  # local
    day_of_week: str
    send_at_local: datetime  # aware, in the page's time zone
    send_at_utc: datetime  # aware, UTC
    message_type: str
    caption_key: str
    caption_text: str
    price: float
    price_tier: str | None
    content_category: str | None
    trigger: str | None
    parent: str | None
    expected_revenue: float
    note: str | None = None  # e.g. "only if unopened" (DESIGN §3, premium follow-ups)
    # A follow-up's parent PPV, filled in by ScheduleExport (see `link_follow_ups`).
    parent_send_at_local: datetime | None = None
    parent_caption_text: str | None = None

    @property
    def instruction(self) -> str:
        """How to send it: a follow-up's rule ("only if unopened", else "send to all"); else the
        message's note, if any."""
        return self.note or (FOLLOW_UP_TO_ALL if self.message_type == "followup" else "")

    def csv_values(self) -> list[str]:
        """The row in CSV_COLUMNS order, as the CSV contract writes it: numbers with two decimals,
        every text cell neutralised against formulas."""
        cells: list[str | float] = [
            self.schedule_id,
            self.page_name,
            self.date.isoformat(),
            self.day_of_week,
            self.send_at_local.isoformat(),
            self.send_at_utc.isoformat().replace("+00:00", "Z"),
            self.message_type,
            self.caption_key,
            self.caption_text,
            self.price,
            self.price_tier or "",
            self.content_category or "",
            self.trigger or "",
            self.parent or "",
            self.expected_revenue,
            self.instruction,
            self.parent_send_at_local.isoformat() if self.parent_send_at_local else "",
            self.parent_caption_text or "",
        ]
        return [
            f"{cell:.2f}" if isinstance(cell, float) else neutralise_formula(cell) for cell in cells
        ]

    @classmethod
    def at(
        cls, schedule_id: str, page_name: str, send_at_local: datetime, **message: Any
    ) -> ExportRow:
        """A row whose local date, weekday and UTC instant follow from its local send time."""
        return cls(
            schedule_id=schedule_id,
            page_name=page_name,
            date=send_at_local.date(),
            day_of_week=send_at_local.strftime("%A"),
            send_at_local=send_at_local,
            send_at_utc=send_at_local.astimezone(UTC),
            **message,
        )


@dataclass(frozen=True)
class ExportLogEntry:
    """One export attempt of one schedule, as schedule_export_log records it."""

    schedule_id: str
    destination: str
    status: str  # exported | failed
    rows: int
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True)
class ScheduleExport:
    """One persisted page-week, ready to export."""

    schedule_id: str
    page_name: str
    timezone: str
    week_start: date
    saturation_zone: str  # GREEN | YELLOW | RED
    rows: list[ExportRow]

    def __post_init__(self) -> None:
        # Every way to make one (the store's saved copy, a just-built schedule) links follow-ups.
        object.__setattr__(self, "rows", link_follow_ups(self.rows))

    @property
    def tab_name(self) -> str:
        """`{page} {ISO year}-W{week}`: the Sheets tab (and xlsx sheet) of this page-week; the page
        part as `tab_page_label` makes it (a hash after names that are not plain lower case)."""
        year, week, _ = self.week_start.isocalendar()
        week_part = f" {year}-W{week:02d}"
        return tab_page_label(self.page_name, TAB_NAME_MAX - len(week_part)) + week_part


def link_follow_ups(rows: Sequence[ExportRow]) -> list[ExportRow]:
    """The rows, each follow-up with its parent PPV's local send time and caption text: the most
    recent PPV of its `parent` caption sent before it in the same schedule (None when there is
    none)."""
    ppvs_by_caption: dict[str, list[ExportRow]] = {}
    for row in rows:
        if row.message_type == "ppv":
            ppvs_by_caption.setdefault(row.caption_key, []).append(row)
    linked = []
    for row in rows:
        if row.parent is not None:
            earlier = [
                ppv
                for ppv in ppvs_by_caption.get(row.parent, [])
                if ppv.send_at_utc < row.send_at_utc
            ]
            parent = max(earlier, key=lambda ppv: ppv.send_at_utc, default=None)
            row = replace(
                row,
                parent_send_at_local=parent.send_at_local if parent else None,
                parent_caption_text=parent.caption_text if parent else None,
            )
        linked.append(row)
    return linked


def schedule_export(schedule: Schedule) -> ScheduleExport:
    """A just-built schedule as exporters take it, without reading it back from the store (the
    store's `schedule_export` gives the same for a saved one: a test holds them equal)."""
    rows = [
        ExportRow.at(
            schedule.schedule_id,
            schedule.page_name,
            message.send_at_local,
            message_type=message.message_type,
            caption_key=message.caption_key,
            caption_text=message.caption_text,
            price=message.price,
            price_tier=message.price_tier,
            content_category=message.content_category,
            trigger=message.trigger,
            parent=message.parent,
            expected_revenue=message.expected_revenue,
            note=message.note,
        )
        for message in schedule.messages
    ]
    return ScheduleExport(
        schedule_id=schedule.schedule_id,
        page_name=schedule.page_name,
        timezone=schedule.timezone,
        week_start=schedule.week_start,
        saturation_zone=schedule.saturation_zone,
        rows=rows,
    )
