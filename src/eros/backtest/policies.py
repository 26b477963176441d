"""The backtest's policies: each turns one page-week into schedule rows for `World.simulate_week`.

A row has page_name, send_at_utc (aware), message_type (ppv | bump | followup), caption_key,
caption_text, price and parent (the caption_key of a follow-up's PPV). Every policy reads its own
store's history through the Store verbs (`read_week`); only `oracle_rows` reads the simulator's
ground truth.

- eros: the engine's schedule as built by `run_pages` (`eros_rows` only converts it).
- seed: the seed system's plain heuristics (see `seed_rows`).
- random: the eros volume per day and type, random eligible captions, random times.
- oracle: the ground truth's best captions, hours, prices and volume under the hard rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

from eros import clock
from eros.analyze import PerformanceReport
from eros.models import CaptionCandidate, CaptionEvidence
from eros.pipeline import PageWeek, read_agency_week
from eros.schedule import Schedule, best_slots, day_plans
from eros.settings import Settings
from eros.store import Store
from eros.store.base import Page

if TYPE_CHECKING:
    import numpy as np

    from eros.simulate import World

SLOT_MINUTES = 15
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
MESSAGE_GAP_SLOTS = 2  # 15-minute slots: two slots (30 min) keep the 20-minute gap

# The seed's fixed send hours (local): weekdays and weekends.
SEED_PEAK_HOURS_WEEKDAY = (9, 13, 19, 20)
SEED_PEAK_HOURS_WEEKEND = (11, 14, 18, 21)
# The seed's bumps go out at half past these hours, in this order (every other hour first).
SEED_BUMP_HOURS = (8, 10, 12, 14, 16, 18, 20, 22, 9, 11, 13, 15, 17, 19, 21, 23, 0, 1)
SEED_BUMP_MINUTE = 30
SEED_COOLDOWN_DAYS = 7
FOLLOWUP_MIN_DELAY = timedelta(hours=2)  # random and oracle follow-ups come this long after the PPV
ORACLE_PRICE_STEPS = 9  # prices tried per caption inside its tier's price band


class PlanRow(TypedDict):
    """One planned send, in the shape `World.simulate_week` takes."""

    page_name: str
    send_at_utc: datetime
    message_type: str  # ppv | bump | followup
    caption_key: str
    caption_text: str
    price: float
    parent: str | None


@dataclass(frozen=True)
class PageWeekView:
    """What a policy reads of its own store for one page-week (history before the week)."""

    page: Page
    week: PageWeek
    report: PerformanceReport
    candidates: list[CaptionCandidate]  # the page's own bank plus the shared one
    evidence: CaptionEvidence  # this page's sends, plus other pages' sends of shared captions
    last_sent: dict[str, datetime]  # caption_key -> the page's last send of it

    @property
    def name(self) -> str:
        return self.page.page_name

    @property
    def tz(self) -> ZoneInfo:
        return clock.zone(self.page.timezone)

    def days(self) -> list[date]:
        return [self.week.week_start + timedelta(days=offset) for offset in range(7)]


@dataclass(frozen=True)
class DayCounts:
    """Messages of one local day by type."""

    ppv: int = 0
    bump: int = 0
    followup: int = 0


def read_week(
    store: Store, page_names: Sequence[str], week_start: date, settings: Settings
) -> dict[str, PageWeekView]:
    """Every named page's view of the week starting `week_start`, from the one reader of
    page-week inputs (`read_agency_week`, as `eros run` reads them)."""
    agency = read_agency_week(store, week_start, settings, page_names)
    views = {}
    for name in page_names:
        week = agency.weeks[name]
        inputs = agency.inputs(name, allocated=False)
        views[name] = PageWeekView(
            week.page,
            week,
            agency.reports[name],
            inputs.candidates,
            inputs.evidence,
            inputs.last_sent,
        )
    return views


# -- shared helpers --------------------------------------------------------------------------------


def local_slot(day: date, slot: int, tz: ZoneInfo) -> datetime | None:
    """The local datetime of a 15-minute slot, or None when the wall time is skipped or repeated
    (DST changes)."""
    minute = slot * SLOT_MINUTES
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    local = wall.replace(tzinfo=tz)
    back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != wall or wall.replace(tzinfo=tz, fold=1).astimezone(UTC) != local.astimezone(UTC):
        return None
    return local


def ppv_window_slot(slot: int, settings: Settings) -> bool:
    minute = slot * SLOT_MINUTES
    start, end = settings.windows.ppv_start, settings.windows.ppv_end
    return start.hour * 60 + start.minute <= minute <= end.hour * 60 + end.minute


def quiet_slot(slot: int, settings: Settings) -> bool:
    minute = slot * SLOT_MINUTES
    start, end = settings.windows.quiet_start, settings.windows.quiet_end
    return start.hour * 60 + start.minute <= minute < end.hour * 60 + end.minute


def unique_bank(candidates: Sequence[CaptionCandidate], kind: str) -> list[CaptionCandidate]:
    """Active captions of one kind, one per caption_key (the page's own row before the shared)."""
    chosen: dict[str, CaptionCandidate] = {}
    for candidate in sorted(candidates, key=lambda item: (item.caption_key, item.owner == "")):
        if candidate.active and candidate.message_type == kind:
            chosen.setdefault(candidate.caption_key, candidate)
    return [chosen[key] for key in sorted(chosen)]


def rested(
    captions: Sequence[CaptionCandidate],
    last_sent: Mapping[str, datetime],
    week_start_utc: datetime,
    cooldown_days: int,
) -> list[CaptionCandidate]:
    """The captions not sent on the page within `cooldown_days` before the week starts."""
    cutoff = week_start_utc - timedelta(days=cooldown_days)
    return [c for c in captions if last_sent.get(c.caption_key, cutoff) <= cutoff]


def tier_price(caption: CaptionCandidate, settings: Settings) -> float:
    return float(settings.prices.get(caption.price_tier or "standard", 25.0))  # type: ignore[call-overload]


def row(
    page_name: str,
    local: datetime,
    kind: str,
    caption: CaptionCandidate,
    price: float,
    parent: str | None = None,
) -> PlanRow:
    return PlanRow(
        page_name=page_name,
        send_at_utc=local.astimezone(UTC),
        message_type=kind,
        caption_key=caption.caption_key,
        caption_text=caption.caption_text,
        price=round(price, 2) if kind != "bump" else 0.0,
        parent=parent,
    )


def day_counts(rows: Sequence[Mapping[str, object]], tz: ZoneInfo) -> dict[date, DayCounts]:
    """Messages per local day and type of a page's rows."""
    counts: dict[date, dict[str, int]] = {}
    for item in rows:
        instant = item["send_at_utc"]
        assert isinstance(instant, datetime)
        day = instant.astimezone(tz).date()
        kinds = counts.setdefault(day, {"ppv": 0, "bump": 0, "followup": 0})
        kinds[str(item["message_type"])] += 1
    return {day: DayCounts(**kinds) for day, kinds in counts.items()}


# -- eros ------------------------------------------------------------------------------------------


def eros_rows(schedule: Schedule) -> list[PlanRow]:
    """The engine's built schedule as rows (a RED page's cooling plan included)."""
    return [
        PlanRow(
            page_name=schedule.page_name,
            send_at_utc=message.send_at_utc,
            message_type=message.message_type,
            caption_key=message.caption_key,
            caption_text=message.caption_text,
            price=message.price,
            parent=message.parent,
        )
        for message in schedule.messages
    ]


# -- seed ------------------------------------------------------------------------------------------


def seed_hours(count: int, weekend: bool) -> list[int]:
    """The seed's PPV hours of a day: its four peaks, then the hours next to them (±1, ±2, …, +
    before −), inside 08:00–23:00."""
    peaks = SEED_PEAK_HOURS_WEEKEND if weekend else SEED_PEAK_HOURS_WEEKDAY
    hours = list(peaks[:count])
    distance = 1
    while len(hours) < min(count, 16):
        for sign in (1, -1):
            for peak in peaks:
                hour = peak + sign * distance
                if len(hours) < count and 8 <= hour <= 23 and hour not in hours:
                    hours.append(hour)
        distance += 1
    return sorted(hours)


def seed_scores(
    view: PageWeekView, captions: Sequence[CaptionCandidate], rng: np.random.Generator
) -> np.ndarray:
    """A uniform draw inside the 95 % Wilson interval of each caption's undecayed counts on the page
    with pseudo-counts 1/1: purchased/viewed for PPVs, viewed/sent for bumps."""
    import numpy as np

    from eros.bandit import wilson_bounds

    evidence = view.evidence
    position = {caption.caption_key: i for i, caption in enumerate(captions)}
    successes = np.ones(len(captions))
    failures = np.ones(len(captions))
    is_ppv = bool(captions) and captions[0].message_type == "ppv"
    wanted = evidence.on_this_page & (evidence.is_ppv if is_ppv else ~evidence.is_ppv)
    hits = np.array([position.get(str(key), -1) for key in evidence.caption_key[wanted]], dtype=int)
    found = hits >= 0
    if is_ppv:
        wins, trials = evidence.purchased[wanted], evidence.viewed[wanted]
    else:
        wins, trials = evidence.viewed[wanted], evidence.sent[wanted]
    np.add.at(successes, hits[found], wins[found])
    np.add.at(failures, hits[found], (trials - wins)[found])
    low, high = wilson_bounds(successes, successes + failures)
    scores: np.ndarray = rng.uniform(low, high)
    return scores


def seed_rows(view: PageWeekView, settings: Settings, rng: np.random.Generator) -> list[PlanRow]:
    """The seed system's week for one page, as its specification gives it.

    - Volume: the analyzer's daily PPV target = round-half-up(tier midpoint × the risk's volume
      factor), every day alike (no day-of-week or holiday factor, no RED cooling days); bumps =
      the tier's bumps/day × the risk's bump factor; capped by the tier's messages/day.
    - Times: PPVs on the hour at the fixed peaks (weekdays 9, 13, 19, 20; weekends 11, 14, 18, 21
      local), more PPVs at the hours next to the peaks; bumps at half past 8, 10, …, 22, then the
      odd hours, then 00:30 and 01:30. No minimum PPV gap beyond the fixed hours.
    - Captions: active, not sent on the page in 7 days; ranked by a uniform draw inside the Wilson
      interval of undecayed counts + 1/1 (no decay, no price); the best go to the week's slots in
      time order, none twice in the week.
    - Price: the caption's price tier's price (settings.prices). No follow-ups.
    """
    import numpy as np

    parameters = view.report.optimization_parameters
    cap = parameters.max_messages_per_day
    ppv_per_day = min(parameters.daily_ppv_target, cap, 16)
    bumps_per_day = min(parameters.daily_bump_target, cap - ppv_per_day, len(SEED_BUMP_HOURS))
    tz = view.tz
    start_utc = view.week.week_start_utc
    ppv_times: list[datetime] = []
    bump_times: list[datetime] = []
    for day in view.days():
        weekend = day.weekday() >= 5
        for hour in seed_hours(ppv_per_day, weekend):
            ppv_times.append(datetime.combine(day, time(hour), tzinfo=tz))
        for hour in SEED_BUMP_HOURS[:bumps_per_day]:
            local = local_slot(day, (hour * 60 + SEED_BUMP_MINUTE) // SLOT_MINUTES, tz)
            if local is not None:
                bump_times.append(local)
    rows: list[PlanRow] = []
    for kind, times in (("ppv", ppv_times), ("bump", bump_times)):
        pool = rested(unique_bank(view.candidates, kind), view.last_sent, start_utc, 7)
        if not pool or not times:
            continue
        order = np.argsort(-seed_scores(view, pool, rng), kind="stable")
        for local, index in zip(sorted(times), order.tolist(), strict=False):
            caption = pool[index]
            price = tier_price(caption, settings) if kind == "ppv" else 0.0
            rows.append(row(view.name, local, kind, caption, price))
    return rows


# -- random ----------------------------------------------------------------------------------------


def random_rows(
    view: PageWeekView,
    settings: Settings,
    rng: np.random.Generator,
    counts: Mapping[date, DayCounts] | None = None,
) -> list[PlanRow]:
    """The same messages per day and type as `counts` (the eros schedule of the page-week; by
    default the engine's day plans from this store's analysis, without follow-ups), with random
    eligible captions (PPV cooldown 21 days, bump 7) at random 15-minute slots: PPVs inside the
    PPV window, bumps and follow-ups outside the quiet hours, any two messages 20 minutes apart.
    A follow-up repeats a random PPV of the week sent at least 2 hours before it."""
    if counts is None:
        counts = {
            plan.day: DayCounts(ppv=plan.ppv_target, bump=plan.bump_target)
            for plan in day_plans(view.report, view.week.week_start, "optimize", settings)
        }
    tz = view.tz
    days = view.days()
    start_utc = view.week.week_start_utc
    cooldown = settings.cooldown_days
    ppv_pool = rested(unique_bank(view.candidates, "ppv"), view.last_sent, start_utc, cooldown.ppv)
    bump_pool = rested(
        unique_bank(view.candidates, "bump"), view.last_sent, start_utc, cooldown.bump
    )
    ppv_order = rng.permutation(len(ppv_pool)).tolist()
    bump_order = rng.permutation(len(bump_pool)).tolist()
    taken: set[int] = set()  # week slot indexes (day × 96 + slot)

    def free(index: int) -> bool:
        return all(index + step not in taken for step in range(-1, MESSAGE_GAP_SLOTS))

    def pick(day_index: int, count: int, allowed: list[int]) -> list[int]:
        chosen: list[int] = []
        for slot in rng.permutation(allowed).tolist():
            index = day_index * SLOTS_PER_DAY + int(slot)
            if len(chosen) < count and free(index):
                taken.add(index)
                chosen.append(index)
        return chosen

    locals_ = {
        (d, slot): local_slot(day, slot, tz)
        for d, day in enumerate(days)
        for slot in range(SLOTS_PER_DAY)
    }
    rows: list[PlanRow] = []
    ppvs: list[tuple[int, CaptionCandidate, float]] = []
    for d, day in enumerate(days):
        wanted = counts.get(day, DayCounts())
        allowed = [
            s for s in range(SLOTS_PER_DAY) if ppv_window_slot(s, settings) and locals_[(d, s)]
        ]
        for index in sorted(pick(d, wanted.ppv, allowed)):
            if not ppv_order:
                break
            caption = ppv_pool[ppv_order.pop()]
            price = tier_price(caption, settings)
            ppvs.append((index, caption, price))
            rows.append(row(view.name, _at(locals_, index), "ppv", caption, price))
    delay = int(FOLLOWUP_MIN_DELAY / timedelta(minutes=SLOT_MINUTES))
    for d, day in enumerate(days):
        wanted = counts.get(day, DayCounts())
        awake = [s for s in range(SLOTS_PER_DAY) if not quiet_slot(s, settings) and locals_[(d, s)]]
        for _ in range(wanted.followup):
            first_ppv = min((index for index, _, _ in ppvs), default=None)
            if first_ppv is None:
                break
            later = [s for s in awake if d * SLOTS_PER_DAY + s >= first_ppv + delay]
            chosen = pick(d, 1, later)
            if not chosen:
                break
            parents = [item for item in ppvs if item[0] <= chosen[0] - delay]
            _, caption, price = parents[int(rng.integers(len(parents)))]
            follow = row(view.name, _at(locals_, chosen[0]), "followup", caption, price)
            follow["parent"] = caption.caption_key
            rows.append(follow)
        for index in sorted(pick(d, wanted.bump, awake)):
            if not bump_order:
                break
            caption = bump_pool[bump_order.pop()]
            rows.append(row(view.name, _at(locals_, index), "bump", caption, 0.0))
    return sorted(rows, key=lambda item: item["send_at_utc"])


def _at(locals_: Mapping[tuple[int, int], datetime | None], index: int) -> datetime:
    local = locals_[divmod(index, SLOTS_PER_DAY)]
    assert local is not None
    return local


# -- oracle ----------------------------------------------------------------------------------------


def oracle_rows(view: PageWeekView, world: World, settings: Settings) -> list[PlanRow]:
    """The best week the ground truth allows under the engine's hard rules (an upper bound).

    Reads the truth (only this policy does): hour, weekday and holiday response, audience, fatigue,
    each caption's appeal and the page's price elasticity. Rules kept: the truth's size tier's most
    PPVs a day, messages a day and minimum PPV gap; PPVs inside the PPV window; nothing in the quiet
    hours; 20 minutes between any two messages; the cooldowns (PPV 21 days, bump 7); prices inside
    the caption's price band; follow-ups per PPV by price tier. Volume: every day up to the tier's
    messages a day but never above the page's comfortable volume (above it each message costs more
    in fatigue than it earns). Bumps earn nothing in the simulator, so the oracle sends none.

    Greedy: each caption's best price (a grid over its band) gives its value per viewer; each day's
    PPV times are the exact best under the gap (dynamic programme over 15-minute slots of the true
    view rate); the best captions go to the best slots (the revenue of a send is slot value ×
    caption value); then follow-ups fill the day's remaining messages at the best free slots, each
    repeating the most valuable PPV sent at least 2 hours before that still has a follow-up left.
    """
    import numpy as np

    from eros.simulate.truth import unlock_probability, view_probability

    truth = world.truth.pages[view.name]
    tier = settings.tier(truth.size_tier)
    tz = view.tz
    days = view.days()
    daily_total = max(
        1, min(tier.max_messages_per_day, math.floor(truth.comfortable_messages_per_day))
    )
    ppv_per_day = min(tier.ppv_max, daily_total)
    gap_slots = math.ceil(tier.min_ppv_gap_minutes / SLOT_MINUTES)
    start_utc = view.week.week_start_utc

    # Captions: each one's best price inside its band and its value per viewer there.
    pool = rested(
        unique_bank(view.candidates, "ppv"), view.last_sent, start_utc, settings.cooldown_days.ppv
    )
    if not pool:
        return []
    appeal = np.array([truth.appeal_of(c.caption_key) for c in pool])
    bands = np.array([settings.price_band(c.price_tier or "standard") for c in pool])
    steps = np.linspace(0.0, 1.0, ORACLE_PRICE_STEPS)
    prices = np.round(bands[:, :1] + (bands[:, 1:] - bands[:, :1]) * steps, 2)
    ones = np.ones(prices.size)
    unlock = unlock_probability(
        truth,
        appeal=np.repeat(appeal, ORACLE_PRICE_STEPS),
        price=prices.ravel(),
        holiday_lift=ones,
        fatigue=0 * ones,
        platform_factor=ones,
        followup=np.zeros(prices.size, dtype=bool),
    ).reshape(prices.shape)
    best = np.argmax(unlock * prices, axis=1)
    price = prices[np.arange(len(pool)), best]
    caption_value = (unlock * prices)[np.arange(len(pool)), best]

    # Slots: expected viewers of a send per day and local hour (audience, hour, weekday, holiday,
    # fatigue) × the day's unlock-side factor (holiday lift, fatigue).
    fatigue = world.current_fatigue(view.name)
    decay = math.exp(-1.0 / truth.fatigue_time_constant_days)
    hours = np.arange(24)
    day_value: list[np.ndarray] = []
    for day in days:
        probe = world.expected_outcome(
            {
                "page_name": view.name,
                "send_at_utc": datetime.combine(day, time(12), tzinfo=tz),
                "message_type": "ppv",
                "caption_key": pool[0].caption_key,
                "price": float(price[0]),
            }
        )
        lift = world.truth.holiday_lift(day)
        view_rate = view_probability(
            truth,
            local_hour=hours,
            weekday=np.full(24, day.weekday()),
            holiday_lift=np.full(24, lift),
            fatigue=np.full(24, fatigue),
            platform_factor=np.ones(24),
            view_appeal=np.zeros(24),
            followup=np.zeros(24, dtype=bool),
        )
        unlock_side = lift * math.exp(-truth.fatigue_unlock_sensitivity * fatigue)
        day_value.append(probe["sent_count"] * view_rate * unlock_side)
        fatigue *= decay  # at or below the comfortable volume fatigue only decays

    # PPV times per day, then the best captions in the best slots.
    locals_ = {(d, s): local_slot(day, s, tz) for d, day in enumerate(days) for s in range(96)}
    slots: list[tuple[float, int]] = []  # (value, week slot index)
    for d in range(7):
        values = [float(day_value[d][s * SLOT_MINUTES // 60]) for s in range(SLOTS_PER_DAY)]
        allowed = [
            ppv_window_slot(s, settings) and locals_[(d, s)] is not None
            for s in range(SLOTS_PER_DAY)
        ]
        for s in best_slots(values, allowed, ppv_per_day, gap_slots):
            slots.append((values[s], d * SLOTS_PER_DAY + s))
    slots.sort(key=lambda item: (-item[0], item[1]))
    ranked = np.argsort(-caption_value, kind="stable")[: len(slots)].tolist()
    rows: list[PlanRow] = []
    taken: set[int] = set()
    per_day = [0] * 7
    parents: list[tuple[int, float, int, int]] = []  # (slot, follow-up weight, caption, left)
    for (_, index), caption in zip(slots, ranked, strict=False):
        item = pool[caption]
        rows.append(row(view.name, _at(locals_, index), "ppv", item, float(price[caption])))
        taken.add(index)
        per_day[index // SLOTS_PER_DAY] += 1
        rule = settings.follow_ups.get(item.price_tier or "")  # type: ignore[arg-type]
        allowance = len(rule.delays_hours) if rule else 0
        # A follow-up reaches its PPV's non-buyers (about its whole audience): weigh by caption.
        parents.append((index, float(caption_value[caption]), caption, allowance))

    # Follow-ups: the best free slots of each day, each to the best parent still allowed one.
    delay = int(FOLLOWUP_MIN_DELAY / timedelta(minutes=SLOT_MINUTES))
    followup_factor = world.truth.followup_view_factor * world.truth.followup_unlock_factor
    candidates = sorted(
        (
            (-float(day_value[d][s * SLOT_MINUTES // 60]), d * SLOTS_PER_DAY + s)
            for d in range(7)
            for s in range(SLOTS_PER_DAY)
            if not quiet_slot(s, settings) and locals_[(d, s)] is not None
        ),
    )
    left = {position: entry[3] for position, entry in enumerate(parents)}
    for _, index in candidates:
        d = index // SLOTS_PER_DAY
        if per_day[d] >= daily_total:
            continue
        if any(index + step in taken for step in range(-1, MESSAGE_GAP_SLOTS)):
            continue
        allowed_parents = [
            position
            for position, (at, _, _, _) in enumerate(parents)
            if left[position] > 0 and at <= index - delay
        ]
        if not allowed_parents:
            continue
        position = max(allowed_parents, key=lambda p: (parents[p][1] * followup_factor, -p))
        left[position] -= 1
        item = pool[parents[position][2]]
        follow = row(
            view.name, _at(locals_, index), "followup", item, float(price[parents[position][2]])
        )
        follow["parent"] = item.caption_key
        rows.append(follow)
        taken.add(index)
        per_day[d] += 1
    return sorted(rows, key=lambda item: item["send_at_utc"])
