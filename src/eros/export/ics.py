"""The ICS export (icalendar): one calendar file per page, one 15-minute event per planned message.

DTSTART is the local wall-clock time with the page's TZID, and the calendar carries a VTIMEZONE for
every zone it uses (covering the exported weeks), so calendar apps show the page's own time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eros import clock
from eros.export.csv import atomic_output
from eros.export.rows import ExportRow, ScheduleExport, neutralise_formula

EVENT_DURATION = timedelta(minutes=15)
PRODID = "-//EROS//Scheduler//EN"
_CAPTION_START = 40
_TYPE_LABELS = {"ppv": "PPV", "bump": "Bump", "followup": "Follow-up", "free": "Free"}
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def event_uid(schedule_id: str, index: int) -> str:
    """The stable UID of the `index`-th message (0-based) of a schedule."""
    return f"{schedule_id}-{index}@eros"


def event_summary(row: ExportRow) -> str:
    """E.g. "PPV $25.00 — Caption start…"."""
    label = _TYPE_LABELS.get(row.message_type.lower(), row.message_type.title())
    if row.note:  # a rule the chatter must see at a glance, e.g. "only if unopened"
        label = f"{label} ({row.note})"
    if row.price > 0:
        label = f"{label} ${row.price:,.2f}"
    caption = " ".join(row.caption_text.split())
    if len(caption) > _CAPTION_START:
        cut = caption[: _CAPTION_START + 1].rsplit(" ", 1)[0]  # end at a word if one fits
        caption = (cut if len(cut) > _CAPTION_START // 2 else caption[:_CAPTION_START]).rstrip()
        caption += "…"
    return neutralise_formula(f"{label} — {caption}" if caption else label)


def event_description(row: ExportRow) -> str:
    """The full caption, then the facts a chatter needs (a follow-up: its instruction, and the
    local time and caption of the PPV it follows)."""
    parent_at = row.parent_send_at_local
    facts = [
        ("Instruction", row.instruction),
        ("Type", row.message_type),
        ("Price", f"${row.price:,.2f}"),
        ("Price tier", row.price_tier),
        ("Category", row.content_category),
        ("Trigger", row.trigger),
        ("Follow-up of", f"the PPV of {parent_at:%A %Y-%m-%d %H:%M}" if parent_at else None),
        ("Parent caption", row.parent_caption_text),
        ("Expected revenue", f"${row.expected_revenue:,.2f}"),
        ("Caption key", row.caption_key),
        ("Schedule", row.schedule_id),
    ]
    lines = [f"{name}: {value}" for name, value in facts if value]
    return neutralise_formula(row.caption_text + "\n\n" + "\n".join(lines))


def _file_stem(page_name: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", page_name).strip("._") or "page"


def export_ics(
    schedules: Sequence[ScheduleExport], folder: Path, *, stamp: datetime | None = None
) -> list[Path]:
    """Write `{page}.ics` per page into `folder` (every given page-week of that page in one
    calendar); return the files written, in order of first appearance. `stamp` is the DTSTAMP of
    every event (default: now)."""
    from icalendar import Calendar, Event, Timezone

    dtstamp = clock.as_utc(stamp) if stamp is not None else clock.now()
    by_page: dict[str, list[ScheduleExport]] = {}
    for schedule in schedules:
        by_page.setdefault(schedule.page_name, []).append(schedule)

    files: dict[str, Path] = {}
    for page_name in by_page:
        stem = _file_stem(page_name)
        candidate, counter = stem, 2
        while candidate.casefold() in {path.stem.casefold() for path in files.values()}:
            candidate, counter = f"{stem}-{counter}", counter + 1
        files[page_name] = Path(folder) / f"{candidate}.ics"

    for page_name, page_schedules in by_page.items():
        calendar: Any = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("x-wr-calname", f"EROS — {page_name}")

        first = min(schedule.week_start for schedule in page_schedules) - timedelta(days=7)
        last = max(schedule.week_start for schedule in page_schedules) + timedelta(days=14)
        zones = sorted(
            {
                key
                for schedule in page_schedules
                for row in schedule.rows
                if (key := getattr(row.send_at_local.tzinfo, "key", None)) not in (None, "UTC")
            }
        )
        for zone in zones:  # VTIMEZONEs first, before the events that use them
            calendar.add_component(Timezone.from_tzid(zone, first_date=first, last_date=last))

        for schedule in page_schedules:
            for index, row in enumerate(schedule.rows):
                event: Any = Event()
                event.add("uid", event_uid(schedule.schedule_id, index))
                event.add("dtstamp", dtstamp)
                event.add("dtstart", row.send_at_local)
                event.add("duration", EVENT_DURATION)
                event.add("summary", event_summary(row))
                event.add("description", event_description(row))
                event.add("categories", [row.message_type])
                calendar.add_component(event)

        with atomic_output(files[page_name]) as temporary:
            temporary.write_bytes(calendar.to_ical())
    return list(files.values())
