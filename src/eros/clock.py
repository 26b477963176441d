"""Time: the only module that asks the system clock, plus week bounds and time-zone helpers.

Instants are stored in UTC; a page's schedule is built from local wall-clock times. Local times are
always made with zoneinfo (never by adding fixed hours to a UTC instant), so DST weeks work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eros.errors import InputError

_frozen_now: datetime | None = None

_ISO_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)\Z")
LOWEST_OFFSET, HIGHEST_OFFSET = timedelta(hours=-12), timedelta(hours=14)  # the real world's


def now() -> datetime:
    """The current instant in UTC. Tests freeze it with `frozen()`; EROS_NOW (ISO 8601) pins it."""
    if _frozen_now is not None:
        return _frozen_now
    pinned = os.environ.get("EROS_NOW")
    if pinned:
        return parse_instant(pinned)
    return datetime.now(UTC)


@contextmanager
def frozen(instant: datetime) -> Iterator[None]:
    """Make `now()` return `instant` inside the block."""
    global _frozen_now
    previous = _frozen_now
    _frozen_now = as_utc(instant)
    try:
        yield
    finally:
        _frozen_now = previous


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`, or an InputError naming it."""
    try:
        return ZoneInfo(name)
    # OSError: a key the file system refuses (longer than a file name, a folder such as "America").
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise InputError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/London)"
        ) from error


def is_zone(name: str) -> bool:
    try:
        zone(name)
    except InputError:
        return False
    return True


def as_utc(instant: datetime) -> datetime:
    """`instant` in UTC; a naive datetime is refused because its meaning is ambiguous."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: give an offset or a time zone")
    return instant.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an offset or Z (also BigQuery's "... UTC" form), returned in UTC.

    The offset must be ISO's Z, ±HH, ±HHMM or ±HH:MM within UTC-12..UTC+14 (Python alone also takes
    seconds and ignores junk such as "+05:00:00:00"); ValueError says what is wrong.
    """
    cleaned = text.strip()
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[: -len(" UTC")] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    offset = parsed.utcoffset()
    if offset is None:
        raise ValueError(f"{text!r} has no offset: write it like 2025-11-03T19:00:00-08:00 or ...Z")
    offset_at = max(len(cleaned) - len("+00:00"), 0)  # search only where an offset can start
    if not _ISO_OFFSET.search(cleaned, offset_at) or not LOWEST_OFFSET <= offset <= HIGHEST_OFFSET:
        raise ValueError(f"{text!r}: the offset must be Z or ±HH:MM between -12:00 and +14:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def local_datetime(day: date, wall_time: time, tz: tzinfo) -> datetime:
    """The aware local datetime for a wall-clock time on `day` in `tz`."""
    return datetime.combine(day, wall_time, tzinfo=tz)


def week_start(monday: date) -> date:
    """`monday` itself, or an InputError naming the Mondays around it."""
    if monday.weekday() != 0:
        before = monday - timedelta(days=monday.weekday())
        raise InputError(
            f"{monday.isoformat()} is a {monday.strftime('%A')}, not a Monday: "
            f"use {before.isoformat()} or {(before + timedelta(days=7)).isoformat()}"
        )
    return monday


def week_bounds_utc(monday: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Monday 00:00 local to the next Monday 00:00 local, as UTC instants (167-169 hours)."""
    start = local_datetime(week_start(monday), time(0), tz)
    end = local_datetime(monday + timedelta(days=7), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def coming_monday(tz: tzinfo, instant: datetime | None = None) -> date:
    """The first Monday after today in `tz`: a week being planned must not have begun yet."""
    today = (instant or now()).astimezone(tz).date()
    return today + timedelta(days=7 - today.weekday())


def parse_week(text: str, tz: tzinfo) -> date:
    """A --week value: "next" or an ISO Monday."""
    if text.strip().lower() == "next":
        return coming_monday(tz)
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as error:
        raise InputError(f"--week {text!r}: give a Monday as YYYY-MM-DD, or 'next'") from error
    return week_start(day)


@lru_cache(maxsize=64)
def holiday_dates(
    country: str, categories: tuple[str, ...], years: range
) -> dict[date, tuple[str, ...]]:
    """Holidays (local dates -> names) of `country` from the `holidays` package, e.g. US public
    holidays plus its unofficial ones (Valentine's Day, Halloween, New Year's Eve...)."""
    import holidays

    try:
        calendar = holidays.country_holidays(country, years=list(years), categories=categories)
    except NotImplementedError as error:
        raise InputError(f"holidays: no calendar for country {country!r}") from error
    except (ValueError, KeyError) as error:
        raise InputError(f"holidays: {error}") from error
    return {day: tuple(calendar.get_list(day)) for day in sorted(calendar)}
