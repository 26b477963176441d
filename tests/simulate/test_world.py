"""The demo world's history: determinism, layout, realism bounds, tiers, fatigue, timing, fans."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from eros.clock import zone
from eros.identity import caption_key
from eros.ingest import import_columns
from eros.simulate import PAGE_SPECS, MessageRow, World, build_world
from eros.simulate.pages import (
    BUMP_COOLDOWN_DAYS,
    PLAN_BUMPS_PER_DAY,
    PLAN_PPV_PER_DAY_MAX,
    PPV_COOLDOWN_DAYS,
)
from eros.simulate.truth import unlock_probability, view_probability

HISTORY_END = date(2025, 11, 3)  # same as conftest: the seed's example week

SEED_FREE = {"gracebennett_free", "itskassielee_free", "missalexa_free", "oliviahansley_free"}
SEED_PAID = {
    "gracebennett_paid",
    "itskassielee_paid",
    "missalexa_paid",
    "oliviahansley_paid",
    "taylorwild_paid",
    "tessathomas_paid",
}
SEED_STANDARD = {
    "adriannarodriguez",
    "alexlove",
    "anngrayson",
    "ashlyroux",
    "aspynhayes",
    "calilove",
    "carmenrose",
    "chloewildd",
    "corvettemikayla",
    "del",
    "dianagrace",
    "isabellelayla",
    "jadebri",
    "jadevalentine",
    "jadewilkinson",
    "kayleighashford",
    "lolarivers",
    "madisonsummers",
    "miafoster",
    "miaharper",
    "myahill",
    "neenah",
    "norarhodes",
    "poutyselena",
    "scarlettgraceee",
    "talia",
    "tessadove",
    "tessatan",
}
RECENT_DAYS = 14


def by_page(messages: Iterable[MessageRow]) -> dict[str, list[MessageRow]]:
    pages: dict[str, list[MessageRow]] = defaultdict(list)
    for message in messages:
        pages[message["page_name"]].append(message)
    return pages


def local_date(world: World, message: MessageRow) -> date:
    timezone = world.truth.pages[message["page_name"]].timezone
    return message["sent_at"].astimezone(zone(timezone)).date()


def rates(messages: list[MessageRow]) -> tuple[float, float, float]:
    """(view_rate, unlock_rate, revenue_per_send) as ratios of sums."""
    sent = sum(message["sent_count"] for message in messages)
    viewed = sum(message["viewed_count"] for message in messages)
    purchased = sum(message["purchased_count"] for message in messages)
    revenue = sum(message["revenue"] for message in messages)
    return viewed / sent, purchased / viewed, revenue / sent


def split_recent(
    world: World, messages: list[MessageRow]
) -> tuple[list[MessageRow], list[MessageRow]]:
    """(baseline, recent 14 days) PPVs of one page."""
    cut = HISTORY_END - timedelta(days=RECENT_DAYS)
    ppvs = [message for message in messages if message["message_type"] == "ppv"]
    baseline = [message for message in ppvs if local_date(world, message) < cut]
    recent = [message for message in ppvs if local_date(world, message) >= cut]
    return baseline, recent


def tier_by_rule(world: World, messages: list[MessageRow]) -> str:
    days = {local_date(world, message) for message in messages}
    if (HISTORY_END - min(days)).days < 30:
        return "NEW"
    last_30 = HISTORY_END - timedelta(days=30)
    sent = [m["sent_count"] for m in messages if local_date(world, m) >= last_30]
    audience = float(np.percentile(sent, 95))
    if audience < 5_000:
        return "SMALL"
    if audience < 25_000:
        return "MEDIUM"
    return "LARGE" if audience < 100_000 else "XL"


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_the_same_world_and_another_seed_does_not() -> None:
    first = build_world(HISTORY_END, seed=3, history_days=35)
    again = build_world(HISTORY_END, seed=3, history_days=35)
    other = build_world(HISTORY_END, seed=4, history_days=35)
    assert first.messages == again.messages
    assert first.captions == again.captions
    assert first.fans == again.fans
    assert first.truth == again.truth
    assert first.messages != other.messages
    assert first.captions != other.captions


def test_build_world_rejects_a_history_end_that_is_not_a_monday() -> None:
    with pytest.raises(ValueError, match="Monday"):
        build_world(date(2025, 11, 4))


def test_a_subset_of_pages_is_the_same_pages_as_in_the_whole_agency(world: World) -> None:
    """`build_world(pages=...)`, the tests' small world, cuts the agency down without changing a
    page: truth, history, fans, captions (own and shared) and the closed loop are the same."""
    names = ["del", "poutyselena"]  # a NEW page; a Sydney page
    subset = build_world(HISTORY_END, pages=reversed(names))
    assert [page["page_name"] for page in subset.pages] == names  # the layout's order
    assert set(subset.truth.pages) == set(names)
    assert all(subset.truth.pages[name] == world.truth.pages[name] for name in names)
    assert subset.messages == [m for m in world.messages if m["page_name"] in names]
    assert subset.fans == [row for row in world.fans if row["page_name"] in names]
    assert subset.captions == [c for c in world.captions if c["page_name"] in ("", *names)]
    assert {c["page_name"] for c in subset.captions} == {"", *names}
    whole, cut = world.copy(), subset.copy()
    outcomes = whole.simulate_week([], HISTORY_END), cut.simulate_week([], HISTORY_END)
    assert outcomes == ([], [])
    assert cut.week_fans == [row for row in whole.week_fans if row["page_name"] in names]


def test_build_world_refuses_unknown_or_no_pages() -> None:
    with pytest.raises(ValueError, match="unknown page"):
        build_world(HISTORY_END, pages=["talia", "nobody"])
    with pytest.raises(ValueError, match="at least one page"):
        build_world(HISTORY_END, pages=[])


# ---------------------------------------------------------------- pages


def test_pages_are_the_seeds_38_with_their_types(world: World) -> None:
    types: dict[str, set[str]] = defaultdict(set)
    for page in world.pages:
        types[page["page_type"]].add(page["page_name"])
    assert types == {"free": SEED_FREE, "paid": SEED_PAID, "standard": SEED_STANDARD}
    assert set(world.truth.pages) == SEED_FREE | SEED_PAID | SEED_STANDARD


def test_about_a_quarter_of_pages_live_outside_los_angeles(world: World) -> None:
    zones = [page["timezone"] for page in world.pages]
    elsewhere = [name for name in zones if name != "America/Los_Angeles"]
    assert 7 <= len(elsewhere) <= 12
    assert {"Europe/London", "Australia/Sydney", "America/New_York"} <= set(elsewhere)
    for name in zones:
        zone(name)  # a valid IANA name


# ---------------------------------------------------------------- messages


def test_message_rows_are_consistent(world: World) -> None:
    columns = set(import_columns("messages"))
    ids = set()
    for message in world.messages:
        assert set(message) == columns
        assert message["sent_at"].utcoffset() == timedelta(0)
        assert 0 <= message["purchased_count"] <= message["viewed_count"] <= message["sent_count"]
        assert message["revenue"] == pytest.approx(message["purchased_count"] * message["price"])
        if message["message_type"] == "bump":
            assert message["price"] == 0
            assert message["purchased_count"] == 0
        else:
            assert message["price"] > 0
            assert message["price_tier"]
        ids.add(message["message_id"])
    assert len(ids) == len(world.messages)
    order = [(message["page_name"], message["sent_at"]) for message in world.messages]
    assert order == sorted(order)
    assert {message["message_type"] for message in world.messages} == {"ppv", "bump", "followup"}


def test_every_page_stays_inside_realistic_bounds(world: World) -> None:
    for page_name, messages in by_page(world.messages).items():
        view_rate, _, _ = rates(messages)
        _, unlock_rate, _ = rates([m for m in messages if m["message_type"] != "bump"])
        prices = [m["price"] for m in messages if m["message_type"] == "ppv"]
        assert 0.05 <= view_rate <= 0.40, page_name
        assert 0.02 <= unlock_rate <= 0.25, page_name
        assert min(prices) >= 5.0, page_name
        assert max(prices) <= 100.0, page_name


def test_free_pages_reach_more_and_sell_less_than_paid_pages(world: World) -> None:
    pages = by_page(world.messages)
    free = [rates(pages[name])[1] for name in SEED_FREE]
    paid = [rates(pages[name])[1] for name in SEED_PAID]
    assert max(free) < min(paid)


def test_history_spans_26_weeks_of_local_days(world: World) -> None:
    first_day = HISTORY_END - timedelta(days=182)
    for page_name, messages in by_page(world.messages).items():
        days = {local_date(world, message) for message in messages}
        assert min(days) >= first_day, page_name
        assert max(days) == HISTORY_END - timedelta(days=1), page_name
        if world.truth.pages[page_name].size_tier != "NEW":
            assert min(days) == first_day, page_name


# ---------------------------------------------------------------- tiers


def test_tiers_by_the_95th_percentile_rule_span_new_to_xl(world: World) -> None:
    pages = by_page(world.messages)
    tiers = {name: tier_by_rule(world, messages) for name, messages in pages.items()}
    assert set(tiers.values()) == {"NEW", "SMALL", "MEDIUM", "LARGE", "XL"}
    assert {name: page.size_tier for name, page in world.truth.pages.items()} == tiers
    counts = {tier: list(tiers.values()).count(tier) for tier in set(tiers.values())}
    assert counts["NEW"] == 2
    assert 3 <= counts["XL"] <= 4
    assert counts["SMALL"] >= 3
    assert counts["MEDIUM"] + counts["LARGE"] >= 20


def test_new_pages_started_10_to_25_days_ago(world: World) -> None:
    new_pages = [page for page in world.truth.pages.values() if page.size_tier == "NEW"]
    assert len(new_pages) == 2
    for page in new_pages:
        assert 10 <= (HISTORY_END - page.start_date).days <= 25


# ---------------------------------------------------------------- fatigue


def test_fatigued_pages_lose_revenue_per_send_in_the_last_14_days(world: World) -> None:
    pages = by_page(world.messages)
    assert 5 <= len(world.truth.fatigued_pages) <= 7
    for page_name in world.truth.fatigued_pages:
        baseline, recent = split_recent(world, pages[page_name])
        assert rates(recent)[2] <= 0.8 * rates(baseline)[2], page_name
        assert rates(recent)[0] < rates(baseline)[0], page_name
        assert len(recent) / RECENT_DAYS > 1.3 * len(baseline) / 168  # volume ramped up
        assert world.truth.pages[page_name].fatigue_at_history_end > 1.0


def expected_revenue(world: World, messages: list[MessageRow]) -> float:
    """Revenue the response model expects of these PPVs without any fatigue (their hours, weekdays,
    holidays, captions and prices as sent)."""
    page = world.truth.pages[messages[0]["page_name"]]
    timezone = zone(page.timezone)
    local = [message["sent_at"].astimezone(timezone) for message in messages]
    count = len(messages)
    lift = np.array([world.truth.holiday_lift(instant.date()) for instant in local])
    price = np.array([message["price"] for message in messages])
    no_fatigue, no_drop, original = np.zeros(count), np.ones(count), np.zeros(count, dtype=bool)
    view = view_probability(
        page,
        local_hour=np.array([instant.hour for instant in local]),
        weekday=np.array([instant.weekday() for instant in local]),
        holiday_lift=lift,
        fatigue=no_fatigue,
        platform_factor=no_drop,
        view_appeal=no_fatigue,
        followup=original,
    )
    unlock = unlock_probability(
        page,
        appeal=np.array([page.appeal_of(caption_key(m["caption_text"])) for m in messages]),
        price=price,
        holiday_lift=lift,
        fatigue=no_fatigue,
        platform_factor=no_drop,
        followup=original,
    )
    sent = np.array([message["sent_count"] for message in messages])
    return float(np.sum(sent * view * unlock * price))


def test_stable_pages_keep_their_rates_within_noise(world: World) -> None:
    """Raw revenue per send of a small page's last 14 days (~50 PPVs) moves by ±15 % with the hours
    and captions that happened to be sent; against what the model expects of those very sends, a
    stable page holds its level (no hidden fatigue), and raw it never drops like a fatigued page."""
    pages = by_page(world.messages)
    assert world.truth.stable_pages == set(world.truth.pages) - world.truth.fatigued_pages
    for page_name in world.truth.stable_pages:
        if world.truth.pages[page_name].size_tier == "NEW":
            continue  # too little baseline to compare
        baseline, recent = split_recent(world, pages[page_name])
        assert rates(recent)[2] >= 0.75 * rates(baseline)[2], page_name
        realised = [
            sum(message["revenue"] for message in part) / expected_revenue(world, part)
            for part in (baseline, recent)
        ]
        assert realised[1] >= 0.9 * realised[0], page_name
        assert world.truth.pages[page_name].fatigue_at_history_end < 0.5, page_name


def test_platform_drop_lowers_every_pages_recent_rates() -> None:
    plain = by_page(build_world(HISTORY_END, history_days=42).messages)
    dropped_world = build_world(HISTORY_END, history_days=42, platform_drop=0.4)
    dropped = by_page(dropped_world.messages)
    for page_name, messages in dropped.items():
        _, recent = split_recent(dropped_world, messages)
        _, recent_plain = split_recent(dropped_world, plain[page_name])
        view_rate, unlock_rate, _ = rates(recent)
        plain_view_rate, plain_unlock_rate, _ = rates(recent_plain)
        assert view_rate < 0.8 * plain_view_rate, page_name
        assert unlock_rate < 0.8 * plain_unlock_rate, page_name
        baseline, _ = split_recent(dropped_world, messages)
        if baseline:
            assert rates(baseline)[0] == rates(split_recent(dropped_world, plain[page_name])[0])[0]


# ---------------------------------------------------------------- timing


def test_no_sends_in_local_quiet_hours_and_20_minutes_between_messages(world: World) -> None:
    for page_name, messages in by_page(world.messages).items():
        timezone = zone(world.truth.pages[page_name].timezone)
        for message in messages:
            assert not 2 <= message["sent_at"].astimezone(timezone).hour <= 7, message
        instants = np.array([m["sent_at"].timestamp() for m in messages])
        assert np.diff(instants).min() >= 20 * 60, page_name
        ppv_hours = {
            m["sent_at"].astimezone(timezone).hour for m in messages if m["message_type"] == "ppv"
        }
        assert len(ppv_hours) == 16  # every hour 08–23 used: hour effects are learnable


def test_timing_rules_hold_across_spring_dst_changes() -> None:
    """March 2026: US (Mar 8) and London (Mar 29) spring forward, Sydney falls back (Apr 5)."""
    one_page_per_zone = {spec.timezone: spec.page_name for spec in PAGE_SPECS}
    assert len(one_page_per_zone) == 6
    spring = build_world(date(2026, 4, 6), history_days=42, pages=one_page_per_zone.values())
    assert {page["timezone"] for page in spring.pages} == set(one_page_per_zone)
    for page_name, messages in by_page(spring.messages).items():
        timezone = zone(spring.truth.pages[page_name].timezone)
        for message in messages:
            local = message["sent_at"].astimezone(timezone)
            assert not 2 <= local.hour <= 7, message
        instants = np.array([m["sent_at"].timestamp() for m in messages])
        assert np.diff(instants).min() >= 20 * 60, page_name


def test_followups_come_at_least_two_hours_after_a_ppv_of_their_caption(world: World) -> None:
    for messages in by_page(world.messages).values():
        last_ppv_at: dict[str, datetime] = {}
        for message in messages:
            if message["message_type"] == "ppv":
                last_ppv_at[message["caption_text"]] = message["sent_at"]
            elif message["message_type"] == "followup":
                parent_at = last_ppv_at[message["caption_text"]]
                assert message["sent_at"] - parent_at >= timedelta(hours=2)
                assert message["price_tier"] in {"budget", "standard", "premium"}


# ---------------------------------------------------------------- captions over history


def last_sent(world: World) -> tuple[dict[tuple[str, str, str], date], dict[str, list[int]]]:
    """(local day a caption was last sent on a page, by (page, ppv|bump, text); the days since
    the previous send of the same caption on the page, for every PPV and bump re-send, by type)."""
    last: dict[tuple[str, str, str], date] = {}
    gaps: dict[str, list[int]] = {"ppv": [], "bump": []}
    for message in world.messages:
        kind = message["message_type"]
        if kind == "followup":
            continue  # re-offers its PPV's caption the same day
        key = (message["page_name"], kind, message["caption_text"])
        day = local_date(world, message)
        if key in last:
            gaps[kind].append((day - last[key]).days)
        last[key] = day
    return last, gaps


def test_every_page_ends_history_with_a_full_week_of_captions_outside_cooldown(
    world: World,
) -> None:
    """The engine plans up to the tier's most PPVs a day (and a RED page doubles its bumps): at the
    end of history each page has 1.5 such weeks + 20 PPV captions and 2.5 weeks of bumps that were
    not sent on it within the cooldown."""
    last, _ = last_sent(world)
    for page_name, page in world.truth.pages.items():
        bank = [
            row for row in world.captions if row["active"] and row["page_name"] in ("", page_name)
        ]
        for kind, cooldown, floor in (
            ("ppv", PPV_COOLDOWN_DAYS, 1.5 * 7 * PLAN_PPV_PER_DAY_MAX[page.size_tier] + 20),
            ("bump", BUMP_COOLDOWN_DAYS, 2.5 * 7 * PLAN_BUMPS_PER_DAY[page.size_tier]),
        ):
            cutoff = HISTORY_END - timedelta(days=cooldown)
            free = [
                row
                for row in bank
                if row["message_type"] == kind
                and last.get((page_name, kind, row["caption_text"]), date.min) < cutoff
            ]
            assert len(free) >= floor, (page_name, kind, len(free))


def test_history_mostly_keeps_the_cooldowns(world: World) -> None:
    """The agency ran a 21-day PPV and a 7-day bump cooldown, breaking it now and then."""
    _, gaps = last_sent(world)
    for kind, cooldown in (("ppv", PPV_COOLDOWN_DAYS), ("bump", BUMP_COOLDOWN_DAYS)):
        sends = sum(message["message_type"] == kind for message in world.messages)
        broken = [gap for gap in gaps[kind] if gap < cooldown]
        assert 0 < len(broken) <= 0.05 * sends, kind
        assert min(broken) >= cooldown // 3, kind  # a re-send after weeks, never the same day
        assert float(np.median(gaps[kind])) >= cooldown  # a caption every few weeks, not daily
    for page_name, messages in by_page(world.messages).items():
        ppv_days: dict[str, list[date]] = defaultdict(list)
        for message in messages:
            if message["message_type"] == "ppv":
                ppv_days[message["caption_text"]].append(local_date(world, message))
        broken_on_page = sum(
            later - earlier < timedelta(days=PPV_COOLDOWN_DAYS)
            for days in ppv_days.values()
            for earlier, later in itertools.pairwise(days)
        )
        assert broken_on_page <= 0.1 * sum(map(len, ppv_days.values())), page_name


# ---------------------------------------------------------------- truth


def test_truth_has_page_specific_hour_and_weekday_responses(world: World) -> None:
    peaks = set()
    for page in world.truth.pages.values():
        assert len(page.hour_response) == 24
        assert len(page.weekday_response) == 7
        sending_hours = [page.hour_response[hour] for hour in (0, 1, *range(8, 24))]
        assert np.mean(sending_hours) == pytest.approx(1.0, abs=1e-3)
        assert max(sending_hours) > 1.2
        peaks.add(int(np.argmax(page.hour_response)))
        assert page.caption_appeal
    assert len(peaks) >= 4  # some pages peak at lunch, others in the evening...


def test_holiday_lift_on_known_days(world: World) -> None:
    assert 1.1 <= world.truth.holiday_lift(date(2025, 10, 31)) <= 1.3  # Halloween (unofficial)
    assert 1.1 <= world.truth.holiday_lift(date(2025, 7, 4)) <= 1.3
    assert world.truth.holiday_lift(date(2025, 10, 29)) == 1.0


# ---------------------------------------------------------------- fans


def test_fans_have_one_consistent_row_per_page_day(world: World) -> None:
    rows: dict[str, list[tuple[date, int, int, int]]] = defaultdict(list)
    for row in world.fans:
        assert set(row) == {"page_name", "date", "active_fans", "new_fans", "expired_fans"}
        rows[row["page_name"]].append(
            (row["date"], row["active_fans"], row["new_fans"], row["expired_fans"])
        )
    assert set(rows) == set(world.truth.pages)
    for page_name, days in rows.items():
        start = world.truth.pages[page_name].start_date
        assert [day for day, *_ in days] == [
            start + timedelta(days=offset) for offset in range((HISTORY_END - start).days)
        ]
        for (_, previous, _, _), (_, active, new, expired) in itertools.pairwise(days):
            assert active == previous + new - expired
            assert new >= 0
            assert expired >= 0


def test_a_mass_message_reaches_about_the_whole_active_audience(world: World) -> None:
    active = {(row["page_name"], row["date"]): row["active_fans"] for row in world.fans}
    for message in world.messages[::97]:
        if message["message_type"] == "followup":
            continue
        fans = active[(message["page_name"], local_date(world, message))]
        assert 0.95 * fans <= message["sent_count"] <= fans


def test_sent_at_is_aware_utc(world: World) -> None:
    assert all(message["sent_at"].tzinfo is UTC for message in world.messages[:1000])
