"""The ICS export, parsed back with icalendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icalendar import Calendar

from eros.export.ics import export_ics
from eros.export.rows import ScheduleExport

STAMP = datetime(2025, 10, 20, 12, 0, tzinfo=UTC)


def parse(path: Path) -> Calendar:
    calendar = Calendar.from_ical(path.read_bytes())
    assert isinstance(calendar, Calendar)
    return calendar


def test_one_calendar_per_page(tmp_path: Path, schedules: list[ScheduleExport]) -> None:
    files = export_ics(schedules, tmp_path / "ics", stamp=STAMP)
    assert files == [tmp_path / "ics" / "jadebri.ics", tmp_path / "ics" / "missalexa_free.ics"]
    la, london = (parse(path) for path in files)
    assert len(la.events) == 4
    assert len(london.events) == 3  # both page-weeks of the page
    assert [str(event["UID"]) for event in london.events] == [
        "sch-missalexa-2025W43-0@eros",
        "sch-missalexa-2025W43-1@eros",
        "sch-missalexa-2025W44-0@eros",
    ]
    assert [tz.tz_name for tz in la.timezones] == ["America/Los_Angeles"]
    assert [tz.tz_name for tz in london.timezones] == ["Europe/London"]


def test_events_carry_local_time_zone_and_details(tmp_path: Path, la_week: ScheduleExport) -> None:
    (path,) = export_ics([la_week], tmp_path, stamp=STAMP)
    calendar = parse(path)
    events = calendar.events
    assert [str(event["UID"]) for event in events] == [
        f"sch-jadebri-2025W44-{index}@eros" for index in range(4)
    ]
    for event, row in zip(events, la_week.rows, strict=True):
        assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
        start = event.decoded("DTSTART")
        assert start == row.send_at_local
        assert start.replace(tzinfo=None) == row.send_at_local.replace(tzinfo=None)
        assert event.decoded("DURATION") == timedelta(minutes=15)
        assert event.decoded("DTSTAMP") == STAMP
    # Same wall-clock time on both sides of the DST change, different UTC instants.
    saturday, sunday = events[2].decoded("DTSTART"), events[3].decoded("DTSTART")
    assert (saturday.hour, sunday.hour) == (20, 20)
    assert saturday.utcoffset() == timedelta(hours=-7)
    assert sunday.utcoffset() == timedelta(hours=-8)
    assert sunday.astimezone(UTC) == datetime(2025, 11, 3, 4, 0, tzinfo=UTC)
    text = path.read_text(encoding="utf-8")
    assert "DTSTART;TZID=America/Los_Angeles:20251102T200000" in text
    assert text.index("BEGIN:VTIMEZONE") < text.index("BEGIN:VEVENT")

    ppv = events[0]
    assert str(ppv["SUMMARY"]) == 'PPV $25.00 — New set, "just for you", babe 💋 — café…'
    description = str(ppv["DESCRIPTION"])
    assert description.startswith('New set, "just for you", babe 💋 — café edition\n\n')
    for fact in ("Price tier: standard", "Category: lingerie", "Trigger: urgency"):
        assert fact in description
    assert "Expected revenue: $112.50" in description
    assert b"\r\nCATEGORIES:ppv\r\n" in ppv.to_ical()
    assert str(events[1]["SUMMARY"]).startswith("Follow-up — Did you see it? Still")
    follow_up = str(events[1]["DESCRIPTION"])
    assert "Instruction: send to all\n" in follow_up
    assert "Follow-up of: the PPV of Monday 2025-10-27 09:30\n" in follow_up
    assert 'Parent caption: New set, "just for you", babe 💋 — café edition\n' in follow_up
    assert "cap-ppv-1" not in follow_up
    assert str(events[2]["SUMMARY"]) == "Bump — =1+1 hey you"
    # A text export: the caption that opens the description is neutralised against formulas.
    assert str(events[2]["DESCRIPTION"]).startswith("'=1+1 hey you\n\n")


def test_re_export_is_identical(tmp_path: Path, schedules: list[ScheduleExport]) -> None:
    first = [path.read_bytes() for path in export_ics(schedules, tmp_path, stamp=STAMP)]
    second = [path.read_bytes() for path in export_ics(schedules, tmp_path, stamp=STAMP)]
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jadebri.ics", "missalexa_free.ics"]


def test_an_only_if_unopened_follow_up_says_so_in_its_title(
    tmp_path: Path, la_week: ScheduleExport
) -> None:
    rows = [*la_week.rows[:1], replace(la_week.rows[1], note="only if unopened")]
    (path,) = export_ics([replace(la_week, rows=rows)], tmp_path, stamp=STAMP)
    follow_up = parse(path).events[1]
    assert str(follow_up["SUMMARY"]).startswith("Follow-up (only if unopened) — Did you see it?")
    assert "Instruction: only if unopened\n" in str(follow_up["DESCRIPTION"])
