"""World.simulate_week and World.expected_outcome: the closed loop used by backtests."""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eros.clock import zone
from eros.identity import caption_key
from eros.simulate import OutcomeRow, World, build_world

WEEK = date(2025, 11, 3)
PAGES = ("jadebri", "anngrayson", "neenah", "gracebennett_free")


def planned_week(
    world: World, page_name: str, week_start: date, messages_per_day: int
) -> list[dict[str, object]]:
    """A plain plan: messages spread evenly over 08:00–23:40 local, alternating PPV and bump."""
    timezone = zone(world.truth.pages[page_name].timezone)
    ppvs = [
        c
        for c in world.captions
        if c["message_type"] == "ppv" and c["active"] and c["page_name"] in ("", page_name)
    ]
    bumps = [
        c
        for c in world.captions
        if c["message_type"] == "bump" and c["active"] and c["page_name"] in ("", page_name)
    ]
    rows: list[dict[str, object]] = []
    step = (16 * 60 - 20) // messages_per_day
    for day_offset in range(7):
        day = week_start + timedelta(days=day_offset)
        for slot in range(messages_per_day):
            minute = 8 * 60 + slot * step
            local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=timezone)
            number = day_offset * messages_per_day + slot
            if slot % 2 == 0:
                caption = ppvs[number % len(ppvs)]
                rows.append(
                    {
                        "page_name": page_name,
                        "send_at_utc": local,
                        "message_type": "ppv",
                        "caption_text": caption["caption_text"],
                        "price": 25.0,
                    }
                )
            else:
                caption = bumps[number % len(bumps)]
                rows.append(
                    {
                        "page_name": page_name,
                        "send_at_utc": local,
                        "message_type": "bump",
                        "caption_key": caption_key(caption["caption_text"]),
                        "price": 0.0,
                    }
                )
    return rows


def view_rate(outcomes: list[OutcomeRow], page_name: str) -> float:
    rows = [row for row in outcomes if row["page_name"] == page_name]
    return sum(row["viewed_count"] for row in rows) / sum(row["sent_count"] for row in rows)


def check_bounds(outcomes: list[OutcomeRow]) -> None:
    for row in outcomes:
        assert 0 <= row["purchased_count"] <= row["viewed_count"] <= row["sent_count"]
        assert row["revenue"] == pytest.approx(row["purchased_count"] * row["price"])
        if row["message_type"] == "bump":
            assert row["price"] == 0
            assert row["purchased_count"] == 0
        assert len(row["caption_key"]) == 64


def test_outcomes_follow_the_messages_format_and_bounds(world: World) -> None:
    twin = world.copy()
    rows = [row for page in PAGES for row in planned_week(twin, page, WEEK, 12)]
    outcomes = twin.simulate_week(rows)
    assert len(outcomes) == len(rows)
    check_bounds(outcomes)
    order = [(row["page_name"], row["sent_at"]) for row in outcomes]
    assert order == sorted(order)
    assert len({row["message_id"] for row in outcomes}) == len(outcomes)
    assert {row["content_category"] for row in outcomes} != {""}  # labels come from the bank
    assert twin.next_day == WEEK + timedelta(days=7)
    assert len(twin.week_fans) == 7 * len(world.pages)


def usual_messages_per_day(world: World, page_name: str) -> int:
    """The page's historical volume over the 8 weeks before the last 4 (before any ramp-up)."""
    start, stop = WEEK - timedelta(days=12 * 7), WEEK - timedelta(days=4 * 7)
    sent_at = [
        m["sent_at"].date() for m in world.messages if m["page_name"] == page_name
    ]  # UTC dates are fine for a volume
    return round(sum(start <= day < stop for day in sent_at) / (stop - start).days)


def test_tripled_volume_tires_the_audience_in_closed_loop(world: World) -> None:
    normal, heavy = world.copy(), world.copy()
    usual = {page: usual_messages_per_day(world, page) for page in PAGES}
    for week in range(2):
        week_start = WEEK + timedelta(days=7 * week)
        normal_rows = [
            row for page in PAGES for row in planned_week(normal, page, week_start, usual[page])
        ]
        heavy_rows = [
            row for page in PAGES for row in planned_week(heavy, page, week_start, 3 * usual[page])
        ]
        normal_outcomes = normal.simulate_week(normal_rows)
        heavy_outcomes = heavy.simulate_week(heavy_rows)
    for page in PAGES:
        assert view_rate(heavy_outcomes, page) < 0.9 * view_rate(normal_outcomes, page), page
        assert heavy.current_fatigue(page) > normal.current_fatigue(page) + 1.0


def test_a_fatigued_page_recovers_when_volume_drops(world: World) -> None:
    twin = world.copy()
    before = twin.current_fatigue("jadebri")
    assert before > 1.0
    twin.simulate_week(planned_week(twin, "jadebri", WEEK, 8))
    assert twin.current_fatigue("jadebri") < 0.5 * before


def test_copies_are_independent_and_the_loop_is_deterministic(world: World) -> None:
    first, second = world.copy(), world.copy()
    rows = planned_week(world, "anngrayson", WEEK, 12)
    assert first.simulate_week(rows) == second.simulate_week(rows)
    assert world.next_day == WEEK  # the original did not move
    assert first.simulate_week([], WEEK + timedelta(days=7)) == []
    assert first.next_day == WEEK + timedelta(days=14)


def test_a_week_before_the_simulated_end_is_rejected(world: World) -> None:
    twin = world.copy()
    with pytest.raises(ValueError, match="before the end"):
        twin.simulate_week(planned_week(twin, "neenah", WEEK - timedelta(days=7), 5))
    twin.simulate_week(planned_week(twin, "neenah", WEEK, 5))
    with pytest.raises(ValueError, match="before the end"):
        twin.simulate_week(planned_week(twin, "neenah", WEEK, 5))


def test_rows_outside_the_week_are_rejected(world: World) -> None:
    twin = world.copy()
    rows = planned_week(twin, "neenah", WEEK, 5)
    with pytest.raises(ValueError, match="outside the week"):
        twin.simulate_week(rows, WEEK + timedelta(days=1))


def test_unknown_captions_are_simulated_with_neutral_appeal(world: World) -> None:
    twin = world.copy()
    send_at = datetime.combine(WEEK, time(20), tzinfo=zone("America/Los_Angeles"))
    row = {
        "page_name": "jadebri",
        "send_at_utc": send_at,
        "message_type": "ppv",
        "caption_text": "A caption the bank has never seen ✨",
        "price": 30.0,
    }
    [outcome] = twin.simulate_week([row])
    assert outcome["caption_text"] == row["caption_text"]
    assert outcome["sent_count"] > 1_000
    assert twin.truth.pages["jadebri"].appeal_of(outcome["caption_key"]) == 0.0


def test_expected_outcome_matches_the_simulated_average(world: World) -> None:
    twin = world.copy()
    rows = planned_week(twin, "alexlove", WEEK, 2)  # light volume: fatigue stays where it is
    expected = [twin.expected_outcome(row) for row in rows]
    assert expected == [world.expected_outcome(row) for row in rows]  # no randomness
    outcomes = twin.simulate_week(rows)
    expected_viewed = sum(item["viewed_count"] for item in expected)
    viewed = sum(row["viewed_count"] for row in outcomes)
    assert viewed == pytest.approx(expected_viewed, rel=0.15)
    ppv = [(e, row) for e, row in zip(expected, rows, strict=True) if row["message_type"] == "ppv"]
    for item, _ in ppv:
        assert 0 < item["revenue"] == pytest.approx(item["purchased_count"] * 25.0)


@functools.cache
def four_page_world() -> World:
    """Four weeks of history of the pages the property test sends on (the only ones it needs)."""
    return build_world(WEEK, history_days=28, pages=PAGES)


@settings(max_examples=25, deadline=None)
@given(
    sends=st.lists(
        st.tuples(
            st.sampled_from(PAGES),
            st.integers(0, 7 * 24 * 60 - 1),
            st.sampled_from(["ppv", "bump", "followup", "free"]),
            st.integers(0, 40),
            st.floats(5.0, 100.0),
        ),
        max_size=40,
    )
)
def test_any_week_of_sends_gives_outcomes_inside_bounds(
    sends: list[tuple[str, int, str, int, float]],
) -> None:
    world = four_page_world()
    twin = world.copy()
    ppvs = [c["caption_text"] for c in world.captions if c["message_type"] == "ppv"]
    rows = [
        {
            "page_name": page,
            "send_at_utc": datetime.combine(
                WEEK, time(), tzinfo=zone(twin.truth.pages[page].timezone)
            )
            + timedelta(minutes=minute),
            "message_type": message_type,
            "caption_text": ppvs[caption],
            "price": price,
        }
        for page, minute, message_type, caption, price in sends
    ]
    outcomes = twin.simulate_week(rows, WEEK)
    assert len(outcomes) == len(rows)
    check_bounds(outcomes)
    assert {row["message_type"] for row in outcomes} <= {"ppv", "bump", "followup"}
