from datetime import UTC, date, datetime, timedelta

import pytest

from eros import clock
from eros.errors import InputError


def test_week_bounds_across_fall_back_have_169_hours() -> None:
    start, end = clock.week_bounds_utc(date(2025, 10, 27), clock.zone("America/Los_Angeles"))
    assert start == datetime(2025, 10, 27, 7, tzinfo=UTC)  # PDT, UTC-7
    assert end == datetime(2025, 11, 3, 8, tzinfo=UTC)  # PST, UTC-8
    assert end - start == timedelta(hours=169)


def test_week_bounds_across_spring_forward_have_167_hours() -> None:
    start, end = clock.week_bounds_utc(date(2026, 3, 2), clock.zone("America/Los_Angeles"))
    assert end - start == timedelta(hours=167)


def test_not_a_monday_names_the_mondays_around_it() -> None:
    with pytest.raises(InputError, match=r"2025-11-05 is a Wednesday.*2025-11-03 or 2025-11-10"):
        clock.week_start(date(2025, 11, 5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-03T19:00:00-08:00", datetime(2025, 11, 4, 3, tzinfo=UTC)),
        ("2025-11-03T19:00:00Z", datetime(2025, 11, 3, 19, tzinfo=UTC)),
        ("2025-11-03 19:00:00 UTC", datetime(2025, 11, 3, 19, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert clock.parse_instant(text) == expected


def test_parse_instant_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="no offset"):
        clock.parse_instant("2025-11-03T19:00:00")


def test_coming_monday_is_after_today_in_the_page_zone() -> None:
    tz = clock.zone("Australia/Sydney")
    # Sunday 2025-11-02 20:00 UTC is already Monday morning in Sydney.
    assert clock.coming_monday(tz, datetime(2025, 11, 2, 20, tzinfo=UTC)) == date(2025, 11, 10)
    assert clock.coming_monday(clock.zone("UTC"), datetime(2025, 11, 2, 20, tzinfo=UTC)) == date(
        2025, 11, 3
    )


def test_frozen_clock() -> None:
    instant = datetime(2025, 11, 1, 12, tzinfo=UTC)
    with clock.frozen(instant):
        assert clock.now() == instant
    assert clock.now() != instant


def test_unknown_zone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="Mars/Olympus"):
        clock.zone("Mars/Olympus")
