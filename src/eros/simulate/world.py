"""The demo world: 26 weeks of agency history drawn from the ground truth, then week-by-week runs.

`build_world` draws the truth, writes the caption bank, replays the agency's past sending habit
through the response model (see `eros.simulate.truth`) and returns a `World` whose lists use the
import-format columns. The habit keeps the cooldowns (a PPV caption is not re-sent on a page within
21 days, a bump within 7) but for about 3 % of sends, so a caption goes out every few weeks.
`World.simulate_week` turns a planned week into outcomes and carries audience and fatigue over, so
successive calls form a closed loop; `World.copy` gives independent copies for comparing policies.
"""

from __future__ import annotations

import copy as copy_module
import hashlib
import math
import os
import unicodedata
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal, TypedDict

import numpy as np
from numpy.typing import NDArray

from eros.clock import as_utc, zone
from eros.identity import caption_key
from eros.simulate.copywriting import PRICE_BY_TIER, AgencyCopyWriter, CaptionDraft, CopyWriter
from eros.simulate.pages import (
    BUMP_COOLDOWN_DAYS,
    CAPTION_BANK_SPREAD,
    FATIGUE_RAMP_DAYS,
    FATIGUE_RAMP_PEAK,
    HISTORY_BUMPS_PER_DAY,
    HISTORY_PPV_PER_DAY,
    INACTIVE_SHARE,
    PAGE_SPECS,
    PPV_COOLDOWN_DAYS,
    SHARED_BUMP_CAPTIONS,
    SHARED_PPV_CAPTIONS,
    PageSpec,
    PageType,
    agency_specs,
    own_bank_minimum,
)
from eros.simulate.truth import (
    REACH,
    FloatArray,
    GroundTruth,
    IntArray,
    PageTruth,
    draw_holiday_lifts,
    draw_page_truth,
    draw_rate,
    next_fatigue,
    unlock_probability,
    view_probability,
)

# ---------------------------------------------------------------- rows in the import formats


class PageRow(TypedDict):
    page_name: str
    page_type: PageType
    timezone: str


class CaptionRow(TypedDict):
    caption_text: str
    message_type: Literal["ppv", "bump"]
    page_name: str  # "" = shared by the agency
    content_category: str
    price_tier: str  # "" for bumps
    trigger: str
    active: bool


class MessageRow(TypedDict):
    page_name: str
    sent_at: datetime  # aware, UTC
    message_type: Literal["ppv", "bump", "followup"]
    caption_text: str
    price: float
    sent_count: int
    viewed_count: int
    purchased_count: int
    revenue: float
    message_id: str
    content_category: str
    price_tier: str
    trigger: str


class OutcomeRow(MessageRow):
    caption_key: str


class FansRow(TypedDict):
    page_name: str
    date: date  # local
    active_fans: int
    new_fans: int
    expired_fans: int


# ---------------------------------------------------------------- constants of the sending habit

SHARED_STREAM: Final = 10_000  # rng stream id of the agency-wide (shared) parts
_TRUTH, _CAPTIONS, _SCHEDULE, _OUTCOMES, _FUTURE, _RECENT_OUTCOMES, _APPEAL = range(7)

# A local day's sending axis: 00:10–01:59, then 08:00–23:49 (quiet hours 02:00–07:59 skipped);
# the ends keep 20 minutes clear of the neighbouring days' messages.
NIGHT_FIRST_MINUTE: Final = 10
NIGHT_MINUTES: Final = 110
DAY_FIRST_MINUTE: Final = 8 * 60
DAY_MINUTES: Final = 950
MIN_GAP_MINUTES: Final = 20
MAX_MESSAGES_PER_DAY: Final = 46
PLATFORM_DROP_DAYS: Final = 14
FOLLOWUP_SHARE_OF_PPV: Final = 0.15
FOLLOWUP_DELAY_MINUTES: Final = 120
FOLLOWUP_PRICE_TIERS: Final = frozenset({"budget", "standard", "premium"})
OWN_CAPTION_SHARE: Final = 0.7  # sends using the page's own captions (the rest: shared ones)
# The agency kept the cooldowns (PPV 21 days, bump 7 days) except for this share of sends, which
# re-sent a caption used on the page at least a third of its cooldown ago.
COOLDOWN_BREAK_SHARE: Final = 0.03

KIND_PPV, KIND_BUMP, KIND_FOLLOWUP = 0, 1, 2
KIND_NAMES: Final[tuple[Literal["ppv", "bump", "followup"], ...]] = ("ppv", "bump", "followup")
_KIND_BY_TYPE: Final = {
    "ppv": KIND_PPV,
    "bump": KIND_BUMP,
    "free": KIND_BUMP,
    "followup": KIND_FOLLOWUP,
}


def _rng(seed: int, stream: int, part: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, part]))


def _add_days(day: date, days: int) -> date:
    return day + timedelta(days=days)


# ---------------------------------------------------------------- the response to a batch of sends


@dataclass
class _Batch:
    """Sends of one page, in time order, as parallel arrays."""

    kind: IntArray
    day_index: IntArray  # index into the per-day arrays below
    local_minute: IntArray  # minute of the local day
    appeal: FloatArray
    price: FloatArray
    parent: IntArray  # follow-up: index of its PPV in this batch, or −1
    outside_nonbuyers: IntArray  # follow-up without a parent in the batch: its audience
    active_fans: IntArray  # per day
    weekday: IntArray  # per day
    holiday_lift: FloatArray  # per day
    fatigue: FloatArray  # per day (start of day)
    platform_factor: FloatArray  # per day

    def part(self, start: int, stop: int) -> _Batch:
        """Sends start..stop (a follow-up must be in the same part as its parent)."""
        parent = self.parent[start:stop]
        return replace(
            self,
            kind=self.kind[start:stop],
            day_index=self.day_index[start:stop],
            local_minute=self.local_minute[start:stop],
            appeal=self.appeal[start:stop],
            price=self.price[start:stop],
            parent=np.where(parent >= start, parent - start, -1),
            outside_nonbuyers=self.outside_nonbuyers[start:stop],
        )


def _respond(
    truth: PageTruth, batch: _Batch, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray]:
    """sent, viewed and purchased counts of each send in the batch."""
    count = len(batch.kind)
    day = batch.day_index
    is_followup = batch.kind == KIND_FOLLOWUP
    is_priced = batch.kind != KIND_BUMP
    view_mean = view_probability(
        truth,
        local_hour=batch.local_minute // 60,
        weekday=batch.weekday[day],
        holiday_lift=batch.holiday_lift[day],
        fatigue=batch.fatigue[day],
        platform_factor=batch.platform_factor[day],
        view_appeal=np.where(is_priced, 0.0, batch.appeal),
        followup=is_followup,
    )
    unlock_mean = unlock_probability(
        truth,
        appeal=np.where(is_priced, batch.appeal, 0.0),
        price=batch.price,
        holiday_lift=batch.holiday_lift[day],
        fatigue=batch.fatigue[day],
        platform_factor=batch.platform_factor[day],
        followup=is_followup,
    )
    view_rate = draw_rate(view_mean, truth.view_concentration, rng)
    unlock_rate = np.where(is_priced, draw_rate(unlock_mean, truth.unlock_concentration, rng), 0.0)
    sent = np.zeros(count, dtype=np.int64)
    viewed = np.zeros(count, dtype=np.int64)
    purchased = np.zeros(count, dtype=np.int64)
    # Original sends first, then follow-ups, which go to their parent's non-buyers.
    original = ~is_followup
    sent[original] = rng.binomial(batch.active_fans[day[original]], REACH)
    viewed[original] = rng.binomial(sent[original], view_rate[original])
    purchased[original] = rng.binomial(viewed[original], unlock_rate[original])
    has_parent = batch.parent >= 0
    parent = np.where(has_parent, batch.parent, 0)
    audience = np.where(has_parent, sent[parent] - purchased[parent], batch.outside_nonbuyers)
    sent[is_followup] = audience[is_followup]
    viewed[is_followup] = rng.binomial(sent[is_followup], view_rate[is_followup])
    purchased[is_followup] = rng.binomial(viewed[is_followup], unlock_rate[is_followup])
    return sent, viewed, purchased


# ---------------------------------------------------------------- per-page mutable state


@dataclass
class _PageState:
    """What carries over from one simulated day to the next for one page."""

    fatigue: float  # at the start of the world's next day
    audience_wobble: float  # AR(1) log deviation of active fans from the trend
    active_fans: int
    nonbuyers_by_caption: dict[str, int]  # last PPV of each caption: sent − purchased
    rng: np.random.Generator


AUDIENCE_WOBBLE_PERSISTENCE: Final = 0.8
AUDIENCE_WOBBLE_SD: Final = 0.004


def _fans_days(
    truth: PageTruth,
    days: list[date],
    state: _PageState,
    rng: np.random.Generator,
) -> list[FansRow]:
    """Advance the audience over `days` (updating state) and return their fans rows.

    The active fans of a day depend only on the trend and the wobble, so the day's expiries (drawn
    from the day before's audience) come from one binomial call over all days: the same draws, in
    the same order, as one call per day.
    """
    shocks = rng.normal(0.0, AUDIENCE_WOBBLE_SD, size=len(days))
    actives: list[int] = []
    wobble = state.audience_wobble
    for day, shock in zip(days, shocks.tolist(), strict=True):
        wobble = AUDIENCE_WOBBLE_PERSISTENCE * wobble + shock
        actives.append(max(1, round(truth.audience_trend(day) * math.exp(wobble))))
    if not days:
        return []
    previous = [state.active_fans if state.active_fans > 0 else actives[0], *actives[:-1]]
    expired_draws = rng.binomial(previous, truth.churn_per_day).tolist()
    state.audience_wobble = wobble
    state.active_fans = actives[-1]
    rows: list[FansRow] = []
    for day, active, before, expired in zip(days, actives, previous, expired_draws, strict=True):
        new = active - before + expired
        if new < 0:
            expired, new = expired - new, 0
        rows.append(
            FansRow(
                page_name=truth.page_name,
                date=day,
                active_fans=active,
                new_fans=new,
                expired_fans=expired,
            )
        )
    return rows


@lru_cache(maxsize=65_536)  # pages share a handful of time zones and the same days
def _day_axis(timezone_name: str, day: date) -> tuple[bool, int]:
    """(night segment usable, UTC offset in minutes of the day's sending hours) for a local day.

    On a DST change day the night segment is dropped: the change happens between 01:00 and 03:00
    local, and some of those wall times do not exist or exist twice.
    """
    tz = zone(timezone_name)
    offsets = {
        datetime.combine(day, time(hour, minute), tzinfo=tz).utcoffset()
        for hour, minute in ((0, 10), (1, 59), (8, 0), (23, 49))
    }
    noon_offset = datetime.combine(day, time(12), tzinfo=tz).utcoffset() or timedelta(0)
    return len(offsets) == 1, int(noon_offset.total_seconds() // 60)


_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def _message_id(page_name: str, instant: datetime) -> str:
    return f"sim-{page_name}-{instant:%Y%m%dT%H%MZ}"


def _price(base: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Tier price ± noise, as x.99 dollars, clipped to 5–100."""
    noisy = np.round(base * rng.lognormal(0.0, 0.08, size=len(base))) - 0.01
    return np.clip(noisy, 5.0, 100.0)


# ---------------------------------------------------------------- captions


def _caption_row(draft: CaptionDraft, page_name: str) -> CaptionRow:
    return CaptionRow(
        caption_text=draft.caption_text,
        message_type=draft.message_type,
        page_name=page_name,
        content_category=draft.content_category,
        price_tier=draft.price_tier or "",
        trigger=draft.trigger,
        active=draft.active,
    )


def _write_captions(
    seed: int,
) -> tuple[list[CaptionRow], list[CaptionRow], dict[str, list[CaptionRow]]]:
    """(all rows, shared rows, own rows by page): the whole bank in a fixed order.

    Each page's own bank scales with its tier's volume (`own_bank_minimum` × 1–1.15), so the
    agency's history can keep its cooldowns and the engine still finds a full week of captions.
    """
    rng = _rng(seed, SHARED_STREAM, _CAPTIONS)
    writer = CopyWriter(rng)

    def drafts(count: int, kind: Literal["ppv", "bump"]) -> list[CaptionDraft]:
        make = writer.ppv if kind == "ppv" else writer.bump
        return [make(active=bool(rng.random() >= INACTIVE_SHARE)) for _ in range(count)]

    shared = [
        _caption_row(draft, "")
        for draft in drafts(SHARED_PPV_CAPTIONS, "ppv") + drafts(SHARED_BUMP_CAPTIONS, "bump")
    ]
    own_by_page: dict[str, list[CaptionRow]] = {}
    for spec in PAGE_SPECS:
        ppv_low, bump_low = own_bank_minimum(spec)
        spread = rng.uniform(1.0, 1.0 + CAPTION_BANK_SPREAD, size=2).tolist()
        ppv_count, bump_count = round(ppv_low * spread[0]), round(bump_low * spread[1])
        own_by_page[spec.page_name] = [
            _caption_row(draft, spec.page_name)
            for draft in drafts(ppv_count, "ppv") + drafts(bump_count, "bump")
        ]
    rows = shared + [row for spec in PAGE_SPECS for row in own_by_page[spec.page_name]]
    return rows, shared, own_by_page


def _draw_appeal(
    rng: np.random.Generator,
    catalog: list[CaptionRow],
    keys: list[str],
    shared_appeal: dict[str, float],
) -> FloatArray:
    """Appeal on this page of each caption of `catalog` (the page's own, then the shared ones):
    PPVs shift the unlock logit, bumps the log view rate.

    One standard normal per caption, in catalog order, scaled by its kind: the same numbers as one
    `rng.normal(0, scale)` call per caption.
    """
    categories = _categories(catalog)
    category_taste = dict(
        zip(categories, rng.normal(0.0, 0.15, size=len(categories)).tolist(), strict=True)
    )
    normals = rng.standard_normal(len(catalog)).tolist()
    appeal: list[float] = []
    for row, key, normal in zip(catalog, keys, normals, strict=True):
        if row["message_type"] == "bump":
            appeal.append(0.0 + 0.12 * normal)
        elif row["page_name"]:
            appeal.append(category_taste[row["content_category"]] + (0.0 + 0.3 * normal))
        else:
            page_part = 0.0 + 0.12 * normal
            appeal.append(category_taste[row["content_category"]] + shared_appeal[key] + page_part)
    return np.array(appeal, dtype=np.float64)


def _categories(rows: Iterable[CaptionRow]) -> list[str]:
    return sorted({row["content_category"] for row in rows})


# ---------------------------------------------------------------- history of one page


def _pick_captions(
    rng: np.random.Generator,
    catalog: list[CaptionRow],
    *,
    message_type: Literal["ppv", "bump"],
    day_index: IntArray,
    first_late_day: int,
    cooldown_days: int,
) -> IntArray:
    """Index into `catalog` of a caption for each send (given in time order by its day).

    The agency's habit: the page's own caption (70 %) or a shared one, drawn uniformly from those
    not sent on the page within `cooldown_days` (from the other pool when one has none left);
    retired (inactive) captions only before `first_late_day`. A share of sends
    (`COOLDOWN_BREAK_SHARE`) breaks the cooldown on purpose: a caption sent at least a third of the
    cooldown ago goes out again. Only when both pools are used up does the oldest caption in
    cooldown go out early as well.
    """
    is_own = [bool(row["page_name"]) for row in catalog]
    active = [row["active"] for row in catalog]
    own_pool: list[int] = []  # eligible captions of each pool
    shared_pool: list[int] = []
    for index, row in enumerate(catalog):
        if row["message_type"] == message_type:
            (own_pool if is_own[index] else shared_pool).append(index)
    last_used = [-(10**6)] * len(catalog)
    used_day: list[int] = []  # the sends so far (day, caption), in time order
    used_caption: list[int] = []
    released = 0  # sends before this one have left the cooldown (or were superseded)
    break_after = max(1, cooldown_days // 3)
    sends = len(day_index)
    use_own = (rng.random(sends) < OWN_CAPTION_SHARE).tolist()
    picks = rng.random(sends).tolist()
    breaks = (rng.random(sends) < COOLDOWN_BREAK_SHARE).tolist()
    break_picks = rng.random(sends).tolist()
    late = False
    for send, day in enumerate(day_index.tolist()):
        if not late and day >= first_late_day:
            late = True
            own_pool[:] = [index for index in own_pool if active[index]]
            shared_pool[:] = [index for index in shared_pool if active[index]]
        released_before = day - cooldown_days
        while released < send and used_day[released] <= released_before:
            caption = used_caption[released]
            if last_used[caption] == used_day[released] and (not late or active[caption]):
                (own_pool if is_own[caption] else shared_pool).append(caption)
            released += 1
        choice = -1
        if breaks[send]:
            stop = bisect_right(used_day, day - break_after, lo=released)
            if stop > released:
                candidate = used_caption[released + int(break_picks[send] * (stop - released))]
                if last_used[candidate] <= day - break_after and (active[candidate] or not late):
                    choice = candidate
        if choice < 0:
            pool = (own_pool or shared_pool) if use_own[send] else (shared_pool or own_pool)
            if pool:
                position = int(picks[send] * len(pool))
                choice = pool[position]
                pool[position] = pool[-1]
                pool.pop()
            else:  # every caption in cooldown: the one used longest ago goes out early
                choice = next(
                    caption
                    for caption, used in zip(
                        used_caption[released:], used_day[released:], strict=True
                    )
                    if last_used[caption] == used and (active[caption] or not late)
                )
        last_used[choice] = day
        used_day.append(day)
        used_caption.append(choice)
    return np.array(used_caption, dtype=np.int64)


@dataclass
class _PageBank:
    """A page's captions (own, then shared), their keys and their appeal on the page."""

    catalog: list[CaptionRow]
    keys: list[str]
    appeal: FloatArray
    new_captions: list[CaptionRow]  # the own captions of a generated page, else empty


@dataclass
class PageHistory:
    """One page's simulated history as columns (one entry per sent message, in time order).

    `catalog` is the page's bank (own captions, then the shared ones) and `caption_index` points
    into it; `new_captions` are the page's own captions when the page is a generated one (the seed
    pages' banks are written up front). `message_rows` gives the rows in the import format.
    """

    page_name: str
    catalog: list[CaptionRow]
    catalog_keys: list[str]
    new_captions: list[CaptionRow]
    utc_minute: IntArray  # minutes since 1970-01-01 00:00 UTC
    kind: IntArray
    caption_index: IntArray
    price: FloatArray
    sent: IntArray
    viewed: IntArray
    purchased: IntArray
    fans: list[FansRow]
    fatigue_at_end: float
    state: _PageState

    def message_rows(self) -> list[MessageRow]:
        naive: list[datetime] = (
            self.utc_minute.astype("datetime64[m]").astype("datetime64[us]").tolist()
        )
        catalog = self.catalog
        return [
            _message_row(self.page_name, instant.replace(tzinfo=UTC), kind, catalog[index], *rest)
            for instant, kind, index, *rest in zip(
                naive,
                self.kind.tolist(),
                self.caption_index.tolist(),
                self.price.tolist(),
                self.sent.tolist(),
                self.viewed.tolist(),
                self.purchased.tolist(),
                strict=True,
            )
        ]


def _history_volume(
    spec: PageSpec, day_count: int, rng: np.random.Generator, *, fatigued: bool
) -> tuple[IntArray, IntArray]:
    """(PPVs, bumps) per day: the agency's habit, ramped up at the end on fatigued pages."""
    ppv_low, ppv_high = HISTORY_PPV_PER_DAY[spec.size_tier]
    bump_low, bump_high = HISTORY_BUMPS_PER_DAY[spec.size_tier]
    ppv = rng.integers(ppv_low, ppv_high + 1, size=day_count).astype(np.float64)
    bumps = rng.integers(bump_low, bump_high + 1, size=day_count).astype(np.float64)
    multiplier = np.ones(day_count)
    if fatigued:
        ramp_days = min(
            int(rng.integers(FATIGUE_RAMP_DAYS[0], FATIGUE_RAMP_DAYS[1] + 1)), day_count // 2
        )
        peak = float(rng.uniform(*FATIGUE_RAMP_PEAK))
        since_ramp = np.arange(day_count) - (day_count - ramp_days)
        multiplier = 1.0 + (peak - 1.0) * np.clip((since_ramp + 1) / ramp_days, 0.0, 1.0)
    return np.round(ppv * multiplier).astype(np.int64), np.round(bumps * multiplier).astype(
        np.int64
    )


def _history_slots(
    rng: np.random.Generator, counts: IntArray, night_ok: NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """(day index, local minute) of every send, in time order, ≥ 20 min apart, outside quiet hours.

    Uniform over the day's sending axis with the spacing trick: n sorted uniforms on a shortened
    axis, the k-th shifted by k × gap, so the gap holds exactly and hours are spread evenly (the
    hour effects stay learnable).
    """
    axis = np.where(night_ok, NIGHT_MINUTES + DAY_MINUTES, DAY_MINUTES)
    day_index = np.repeat(np.arange(len(counts)), counts)
    free_length = (axis - (counts - 1) * MIN_GAP_MINUTES)[day_index]
    draws = rng.uniform(0.0, 1.0, size=len(day_index)) * free_length
    order = np.lexsort((draws, day_index))
    draws = draws[order]
    first_of_day = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.arange(len(day_index)) - first_of_day
    position = np.floor(draws + rank * MIN_GAP_MINUTES).astype(np.int64)
    position = np.where(night_ok[day_index], position, position + NIGHT_MINUTES)
    minute = np.where(
        position < NIGHT_MINUTES,
        NIGHT_FIRST_MINUTE + position,
        DAY_FIRST_MINUTE + position - NIGHT_MINUTES,
    )
    return day_index, minute


def _history_kinds(
    rng: np.random.Generator,
    day_index: IntArray,
    minute: IntArray,
    ppv_counts: IntArray,
    followup_counts: IntArray,
) -> tuple[IntArray, IntArray]:
    """(kind, parent index) per slot: PPVs in 08:00–23:49, follow-ups ≥ 2 h after a PPV that day.

    A day has a few dozen slots, so the day's work is done on Python lists (numpy's per-call cost
    would dominate); the draws are the same as ever: one uniform per slot, up front.
    """
    kind = [KIND_BUMP] * len(day_index)
    parent = [-1] * len(day_index)
    bounds = np.searchsorted(day_index, np.arange(len(ppv_counts) + 1)).tolist()
    uniforms = rng.random(len(day_index)).tolist()
    minutes = minute.tolist()
    for day, (ppv_count, wanted) in enumerate(
        zip(ppv_counts.tolist(), followup_counts.tolist(), strict=True)
    ):
        start, stop = bounds[day], bounds[day + 1]
        daytime = [slot for slot in range(start, stop) if minutes[slot] >= DAY_FIRST_MINUTE]
        if not daytime:
            continue
        # The ppv_count daytime slots with the smallest uniforms become PPVs.
        ppv = sorted(sorted(daytime, key=uniforms.__getitem__)[:ppv_count])
        for slot in ppv:
            kind[slot] = KIND_PPV
        if wanted == 0:
            continue
        for slot in range(stop - 1, start - 1, -1):
            if kind[slot] != KIND_BUMP:
                continue
            latest = minutes[slot] - FOLLOWUP_DELAY_MINUTES
            earlier = [index for index in ppv if minutes[index] <= latest]
            if not earlier:
                continue
            kind[slot] = KIND_FOLLOWUP
            parent[slot] = earlier[int(uniforms[slot] * len(earlier))]
            wanted -= 1
            if wanted == 0:
                break
    return np.array(kind, dtype=np.int64), np.array(parent, dtype=np.int64)


def _history_for_page(
    spec: PageSpec,
    truth: PageTruth,
    ground: GroundTruth,
    bank: _PageBank,
    seed: int,
    stream: int,
) -> PageHistory:
    history_start = _add_days(ground.history_end, -ground.history_days)
    first_day = max(history_start, truth.start_date)
    day_count = (ground.history_end - first_day).days
    days = [_add_days(first_day, offset) for offset in range(day_count)]
    schedule_rng = _rng(seed, stream, _SCHEDULE)
    outcome_rng = _rng(seed, stream, _OUTCOMES)

    # Volume and send times.
    ppv_counts, bump_counts = _history_volume(
        spec, day_count, schedule_rng, fatigued=truth.fatigued
    )
    followup_counts = schedule_rng.binomial(ppv_counts, FOLLOWUP_SHARE_OF_PPV)
    axes = [_day_axis(truth.timezone, day) for day in days]
    night_ok = np.array([night for night, _ in axes], dtype=np.bool_)
    offsets = np.array([offset for _, offset in axes], dtype=np.int64)
    capacity = np.where(night_ok, MAX_MESSAGES_PER_DAY, MAX_MESSAGES_PER_DAY - 4)
    totals = np.minimum(ppv_counts + bump_counts + followup_counts, capacity)
    day_index, minute = _history_slots(schedule_rng, totals, night_ok)
    kind, parent = _history_kinds(schedule_rng, day_index, minute, ppv_counts, followup_counts)

    # Captions and prices: own or shared, inactive captions only in the first 60 % of history.
    catalog = bank.catalog
    first_late_day = int(0.6 * day_count)
    caption_index = np.zeros(len(kind), dtype=np.int64)
    ppv_index = np.flatnonzero(kind == KIND_PPV)
    caption_index[ppv_index] = _pick_captions(
        schedule_rng,
        catalog,
        message_type="ppv",
        day_index=day_index[ppv_index],
        first_late_day=first_late_day,
        cooldown_days=PPV_COOLDOWN_DAYS,
    )
    tier_price = np.array([PRICE_BY_TIER.get(row["price_tier"], 0.0) for row in catalog])
    price = np.zeros(len(kind))
    price[ppv_index] = _price(tier_price[caption_index[ppv_index]], schedule_rng)
    # Follow-ups re-offer their parent's caption at its price; luxury and VIP PPVs get none.
    followup_tier = np.array(
        [row["price_tier"] in FOLLOWUP_PRICE_TIERS for row in catalog], dtype=np.bool_
    )
    followups = np.flatnonzero(kind == KIND_FOLLOWUP)
    allowed = followup_tier[caption_index[parent[followups]]]
    kept, dropped = followups[allowed], followups[~allowed]
    caption_index[kept] = caption_index[parent[kept]]
    price[kept] = price[parent[kept]]
    kind[dropped] = KIND_BUMP
    parent[dropped] = -1
    bump_index = np.flatnonzero(kind == KIND_BUMP)
    caption_index[bump_index] = _pick_captions(
        schedule_rng,
        catalog,
        message_type="bump",
        day_index=day_index[bump_index],
        first_late_day=first_late_day,
        cooldown_days=BUMP_COOLDOWN_DAYS,
    )

    # Fatigue per day (start of day) from the day's volume.
    messages_per_day = np.bincount(day_index, minlength=day_count).tolist()
    fatigue_list = [0.0]
    for day in range(day_count):
        fatigue_list.append(next_fatigue(truth, fatigue_list[day], messages_per_day[day]))
    fatigue = np.array(fatigue_list)

    # Audience per day.
    state = _PageState(
        fatigue=float(fatigue[day_count]),
        audience_wobble=0.0,
        active_fans=0,
        nonbuyers_by_caption={},
        rng=_rng(seed, stream, _FUTURE),
    )
    fans = _fans_days(truth, days, state, outcome_rng)

    # Outcomes.
    drop_start = ground.platform_drop_start
    epoch_day = np.arange(day_count, dtype=np.int64) + (first_day.toordinal() - _EPOCH_ORDINAL)
    batch = _Batch(
        kind=kind,
        day_index=day_index,
        local_minute=minute,
        appeal=bank.appeal[caption_index],
        price=price,
        parent=parent,
        outside_nonbuyers=np.zeros(len(kind), dtype=np.int64),
        active_fans=np.array([row["active_fans"] for row in fans], dtype=np.int64),
        weekday=(epoch_day + 3) % 7,  # 1970-01-01 was a Thursday
        holiday_lift=np.array([ground.holiday_lift(day) for day in days]),
        fatigue=fatigue[:day_count],
        platform_factor=np.array(
            [1.0 - ground.platform_drop if day >= drop_start else 1.0 for day in days]
        ),
    )
    # The last 14 days draw from their own stream: a platform drop leaves earlier outcomes alone.
    recent_start = int(np.searchsorted(day_index, max(0, (drop_start - first_day).days)))
    counts = [
        _respond(truth, batch.part(0, recent_start), outcome_rng),
        _respond(truth, batch.part(recent_start, len(kind)), _rng(seed, stream, _RECENT_OUTCOMES)),
    ]
    sent, viewed, purchased = (np.concatenate(arrays) for arrays in zip(*counts, strict=True))
    keys = bank.keys
    for caption, sent_count, purchased_count in zip(
        caption_index[ppv_index].tolist(),
        sent[ppv_index].tolist(),
        purchased[ppv_index].tolist(),
        strict=True,
    ):
        state.nonbuyers_by_caption[keys[caption]] = sent_count - purchased_count
    return PageHistory(
        page_name=truth.page_name,
        catalog=catalog,
        catalog_keys=keys,
        new_captions=bank.new_captions,
        utc_minute=epoch_day[day_index] * 1440 + minute - offsets[day_index],
        kind=kind,
        caption_index=caption_index,
        price=price,
        sent=sent,
        viewed=viewed,
        purchased=purchased,
        fans=fans,
        fatigue_at_end=float(fatigue[day_count]),
        state=state,
    )


def _message_row(
    page_name: str,
    instant: datetime,
    kind_code: int,
    caption: CaptionRow,
    price: float,
    sent: int,
    viewed: int,
    purchased: int,
) -> MessageRow:
    price = round(price, 2)
    return MessageRow(
        page_name=page_name,
        sent_at=instant,
        message_type=KIND_NAMES[kind_code],
        caption_text=caption["caption_text"],
        price=price,
        sent_count=sent,
        viewed_count=viewed,
        purchased_count=purchased,
        revenue=round(purchased * price, 2),
        message_id=_message_id(page_name, instant),
        content_category=caption["content_category"],
        price_tier=caption["price_tier"],
        trigger=caption["trigger"],
    )


def _outcome_row(
    page_name: str,
    instant: datetime,
    kind_code: int,
    caption: CaptionRow | Mapping[str, object],
    key: str,
    price: float,
    sent: int,
    viewed: int,
    purchased: int,
    message_id: str | None = None,
) -> OutcomeRow:
    price = round(price, 2)
    return OutcomeRow(
        page_name=page_name,
        sent_at=instant,
        message_type=KIND_NAMES[kind_code],
        caption_text=str(caption.get("caption_text", "")),
        price=price,
        sent_count=sent,
        viewed_count=viewed,
        purchased_count=purchased,
        revenue=round(purchased * price, 2),
        message_id=message_id or _message_id(page_name, instant),
        content_category=str(caption.get("content_category", "")),
        price_tier=str(caption.get("price_tier", "")),
        trigger=str(caption.get("trigger", "")),
        caption_key=key,
    )


# ---------------------------------------------------------------- the world


@dataclass
class _PlannedSend:
    page_name: str
    instant: datetime
    local_day: date
    local_minute: int
    kind: int
    key: str
    caption: Mapping[str, object]
    price: float
    parent_key: str


@dataclass(eq=False)
class World:
    """A synthetic agency: import-format history plus the hidden truth and the state to go on from.

    The history lists (`pages`, `captions`, `messages`, `fans`) and `truth` are shared by copies and
    must be treated as read-only; the simulation state is private to each copy.
    """

    pages: list[PageRow]
    captions: list[CaptionRow]
    truth: GroundTruth
    next_day: date  # first local day not simulated yet (same calendar date for every page)
    week_fans: list[FansRow] = field(default_factory=list)  # fans rows of the last simulate_week
    histories: list[PageHistory] = field(default_factory=list, repr=False)
    _states: dict[str, _PageState] = field(default_factory=dict, repr=False)
    _bank: dict[str, dict[str, CaptionRow]] = field(default_factory=dict, repr=False)
    _messages: list[MessageRow] | None = field(default=None, repr=False)

    @property
    def messages(self) -> list[MessageRow]:
        """The history's messages in the import format, page by page (made on first use)."""
        if self._messages is None:
            self._messages = [row for page in self.histories for row in page.message_rows()]
        return self._messages

    @property
    def fans(self) -> list[FansRow]:
        """The history's fans rows, page by page."""
        return [row for page in self.histories for row in page.fans]

    def __repr__(self) -> str:
        return (
            f"World(seed={self.truth.seed}, pages={len(self.pages)}, "
            f"captions={len(self.captions)}, messages={len(self.messages)}, "
            f"next_day={self.next_day})"
        )

    def copy(self) -> World:
        """An independent copy for another policy: shares the read-only history, not the state."""
        twin = copy_module.copy(self)
        twin._states = copy_module.deepcopy(self._states)
        twin.week_fans = list(self.week_fans)
        return twin

    def current_fatigue(self, page_name: str) -> float:
        """The page's fatigue level at the start of `next_day`."""
        return self._state(page_name).fatigue

    def _state(self, page_name: str) -> _PageState:
        try:
            return self._states[page_name]
        except KeyError:
            raise ValueError(f"unknown page {page_name!r}") from None

    # ------------------------------------------------------------ planned rows

    def _plan(self, row: Mapping[str, object]) -> _PlannedSend:
        page_name = str(row.get("page_name", ""))
        self._state(page_name)
        truth = self.truth.pages[page_name]
        instant = row.get("send_at_utc", row.get("sent_at"))
        if not isinstance(instant, datetime):
            raise ValueError(f"{page_name}: send_at_utc must be an aware datetime, got {instant!r}")
        instant = as_utc(instant)
        message_type = str(row.get("message_type", "")).lower()
        if message_type not in _KIND_BY_TYPE:
            raise ValueError(f"{page_name}: unknown message_type {message_type!r}")
        kind = _KIND_BY_TYPE[message_type]
        text = row.get("caption_text")
        key = str(row.get("caption_key") or (caption_key(text) if isinstance(text, str) else ""))
        if not key:
            raise ValueError(f"{page_name}: a row needs caption_text or caption_key")
        known = self._bank[page_name].get(key)
        caption: dict[str, object] = dict(known) if known else {}
        for column in ("caption_text", "content_category", "price_tier", "trigger"):
            value = row.get(column)
            if isinstance(value, str) and value and not caption.get(column):
                caption[column] = value
        raw_price = row.get("price", 0.0)
        price = (
            float(raw_price)
            if isinstance(raw_price, int | float | str) and raw_price != ""
            else 0.0
        )
        if kind == KIND_BUMP:
            price = 0.0
        elif price <= 0.0:
            raise ValueError(f"{page_name}: a {message_type} needs a price > 0")
        local = instant.astimezone(zone(truth.timezone))
        parent_key = str(row.get("parent") or key)
        return _PlannedSend(
            page_name,
            instant,
            local.date(),
            local.hour * 60 + local.minute,
            kind,
            key,
            caption,
            price,
            parent_key,
        )

    # ------------------------------------------------------------ closed loop

    def simulate_week(
        self, rows: Iterable[Mapping[str, object]], week_start: date | None = None
    ) -> list[OutcomeRow]:
        """Outcomes of one planned week; audience and fatigue carry over to the next call.

        `rows` need page_name, send_at_utc (aware), message_type (ppv|bump|followup|free — free is
        simulated as a bump), caption_text or caption_key, price (and optionally parent: the
        caption_key of a follow-up's PPV). The week is the 7 local days from `week_start` (default:
        the local date of the earliest row, or `next_day`); it must not start before `next_day`.
        Every page is advanced through the week, with or without rows. Returns outcome rows in the
        messages format plus caption_key, sorted by (page_name, sent_at); `week_fans` then holds
        the week's fans rows.
        """
        planned = sorted(
            (self._plan(row) for row in rows), key=lambda send: (send.page_name, send.instant)
        )
        if week_start is None:
            week_start = min((send.local_day for send in planned), default=self.next_day)
        if week_start < self.next_day:
            raise ValueError(
                f"week {week_start} starts before the end of the simulation so far "
                f"({self.next_day})"
            )
        week_end = _add_days(week_start, 7)
        for send in planned:
            if not week_start <= send.local_day < week_end:
                raise ValueError(
                    f"{send.page_name}: send at {send.instant.isoformat()} is outside the week "
                    f"{week_start}..{_add_days(week_end, -1)} (local time)"
                )
        by_page: dict[str, list[_PlannedSend]] = {name: [] for name in self._states}
        for send in planned:
            by_page[send.page_name].append(send)
        outcomes: list[OutcomeRow] = []
        week_fans: list[FansRow] = []
        for page_name in sorted(self._states):
            page_outcomes, page_fans = self._simulate_page(
                page_name, by_page[page_name], week_start
            )
            outcomes.extend(page_outcomes)
            week_fans.extend(page_fans)
        self.next_day = week_end
        self.week_fans = week_fans
        return outcomes

    def _simulate_page(
        self, page_name: str, sends: list[_PlannedSend], week_start: date
    ) -> tuple[list[OutcomeRow], list[FansRow]]:
        truth = self.truth.pages[page_name]
        state = self._states[page_name]
        rng = state.rng
        idle_days = (week_start - self.next_day).days
        days = [_add_days(self.next_day, offset) for offset in range(idle_days + 7)]
        fans = _fans_days(truth, days, state, rng)
        day_of = {day: index for index, day in enumerate(days)}
        day_index = np.array([day_of[send.local_day] for send in sends], dtype=np.int64)
        messages_per_day = np.bincount(day_index, minlength=len(days))
        fatigue = np.zeros(len(days) + 1)
        fatigue[0] = state.fatigue
        for day in range(len(days)):
            fatigue[day + 1] = next_fatigue(truth, float(fatigue[day]), int(messages_per_day[day]))
        state.fatigue = float(fatigue[len(days)])

        # A follow-up's parent: the latest earlier PPV of its caption in this week, else history.
        parent = np.full(len(sends), -1, dtype=np.int64)
        outside = np.zeros(len(sends), dtype=np.int64)
        latest_ppv: dict[str, int] = {}
        for index, send in enumerate(sends):
            if send.kind == KIND_PPV:
                latest_ppv[send.key] = index
            elif send.kind == KIND_FOLLOWUP:
                if send.parent_key in latest_ppv:
                    parent[index] = latest_ppv[send.parent_key]
                else:
                    fallback = fans[int(day_index[index])]["active_fans"]
                    outside[index] = state.nonbuyers_by_caption.get(send.parent_key, fallback)
        batch = _Batch(
            kind=np.array([send.kind for send in sends], dtype=np.int64),
            day_index=day_index,
            local_minute=np.array([send.local_minute for send in sends], dtype=np.int64),
            appeal=np.array([truth.appeal_of(send.key) for send in sends]),
            price=np.array([send.price for send in sends]),
            parent=parent,
            outside_nonbuyers=outside,
            active_fans=np.array([row["active_fans"] for row in fans], dtype=np.int64),
            weekday=np.array([day.weekday() for day in days], dtype=np.int64),
            holiday_lift=np.array([self.truth.holiday_lift(day) for day in days]),
            fatigue=fatigue[: len(days)],
            platform_factor=np.ones(len(days)),
        )
        sent, viewed, purchased = _respond(truth, batch, rng)
        outcomes: list[OutcomeRow] = []
        used_ids: set[str] = set()
        for index, send in enumerate(sends):
            if send.kind == KIND_PPV:
                state.nonbuyers_by_caption[send.key] = int(sent[index] - purchased[index])
            message_id = _message_id(page_name, send.instant)
            suffix = 1
            while message_id in used_ids:
                suffix += 1
                message_id = f"{_message_id(page_name, send.instant)}-{suffix}"
            used_ids.add(message_id)
            outcomes.append(
                _outcome_row(
                    page_name,
                    send.instant,
                    send.kind,
                    send.caption,
                    send.key,
                    send.price,
                    int(sent[index]),
                    int(viewed[index]),
                    int(purchased[index]),
                    message_id,
                )
            )
        return outcomes, fans[idle_days:]

    def expected_outcome(self, row: Mapping[str, object]) -> dict[str, float]:
        """Expected counts of one planned send from the current state, without randomness.

        The page's fatigue is decayed to the send's local day as if nothing were sent before it, the
        audience follows its trend; a follow-up reaches its caption's last known non-buyers.
        """
        send = self._plan(row)
        truth = self.truth.pages[send.page_name]
        state = self._states[send.page_name]
        days_ahead = (send.local_day - self.next_day).days
        if days_ahead < 0:
            raise ValueError(
                f"{send.local_day} is before the end of the simulation ({self.next_day})"
            )
        fatigue = state.fatigue * math.exp(-days_ahead / truth.fatigue_time_constant_days)
        wobble = state.audience_wobble * AUDIENCE_WOBBLE_PERSISTENCE ** (days_ahead + 1)
        audience = truth.audience_trend(send.local_day) * math.exp(wobble)
        is_followup = send.kind == KIND_FOLLOWUP
        if is_followup:
            sent = float(state.nonbuyers_by_caption.get(send.parent_key, audience * REACH))
        else:
            sent = audience * REACH
        one = np.ones(1)
        lift = one * self.truth.holiday_lift(send.local_day)
        view = view_probability(
            truth,
            local_hour=np.array([send.local_minute // 60]),
            weekday=np.array([send.local_day.weekday()]),
            holiday_lift=lift,
            fatigue=one * fatigue,
            platform_factor=one,
            view_appeal=one * (truth.appeal_of(send.key) if send.kind == KIND_BUMP else 0.0),
            followup=np.array([is_followup]),
        )[0]
        unlock = 0.0
        if send.kind != KIND_BUMP:
            unlock = float(
                unlock_probability(
                    truth,
                    appeal=one * truth.appeal_of(send.key),
                    price=one * send.price,
                    holiday_lift=lift,
                    fatigue=one * fatigue,
                    platform_factor=one,
                    followup=np.array([is_followup]),
                )[0]
            )
        viewed = sent * float(view)
        purchased = viewed * unlock
        return {
            "sent_count": sent,
            "viewed_count": viewed,
            "purchased_count": purchased,
            "revenue": purchased * send.price,
            "view_probability": float(view),
            "unlock_probability": unlock,
        }


# ---------------------------------------------------------------- building


@dataclass
class Agency:
    """An agency being simulated: what is known up front, then its pages' histories one by one.

    `captions` holds the shared bank and the seed pages' own captions (written in one stream up
    front); a generated page's own captions come with its history (`PageHistory.new_captions`).
    `truth.pages` fills in as `histories` is consumed (once).
    """

    pages: list[PageRow]
    captions: list[CaptionRow]
    truth: GroundTruth
    histories: Iterator[PageHistory]


def simulate_agency(
    history_end: date,
    *,
    seed: int = 7,
    history_days: int = 182,
    platform_drop: float | None = None,
    pages: Iterable[str] | None = None,
    page_count: int | None = None,
    workers: int | None = None,
) -> Agency:
    """The agency of `build_world`, page by page, so a big one can be written out as it is made.

    `workers` forked processes simulate the pages (default: see `_workers`) while this process
    writes the banks and consumes the pages; the pages come back in order and are the same
    whatever the number of workers.
    """
    if history_end.weekday() != 0:
        raise ValueError(f"history_end must be a Monday, got {history_end} ({history_end:%A})")
    if history_days < 4 * 7:
        raise ValueError(f"history_days must be at least 28, got {history_days}")
    drop = platform_drop or 0.0
    if not 0.0 <= drop < 1.0:
        raise ValueError(f"platform_drop must be in [0, 1), got {platform_drop}")

    layout = agency_specs(len(PAGE_SPECS) if page_count is None else page_count)
    chosen = _chosen_specs(pages, layout)
    chosen_names = {spec.page_name for _, spec in chosen}
    # The seed pages' bank is written whole (its draws run in one stream across the 38 pages),
    # then cut down to the chosen pages.
    _, shared, own_by_page = _write_captions(seed)
    captions = shared + [
        row
        for spec in PAGE_SPECS
        if spec.page_name in chosen_names
        for row in own_by_page[spec.page_name]
    ]
    shared_keys = [caption_key(row["caption_text"]) for row in shared]
    shared_rng = _rng(seed, SHARED_STREAM, _TRUTH)
    holiday_lift_by_name = draw_holiday_lifts(shared_rng)
    shared_appeal = {key: float(shared_rng.normal(0.0, 0.25)) for key in shared_keys}
    ground = GroundTruth(
        seed=seed,
        history_end=history_end,
        history_days=history_days,
        platform_drop=drop,
        platform_drop_start=_add_days(history_end, -PLATFORM_DROP_DAYS),
        holiday_lift_by_name=holiday_lift_by_name,
        pages={},
    )

    def page_history(
        stream: int, spec: PageSpec, own: list[CaptionRow], new_captions: list[CaptionRow]
    ) -> tuple[PageHistory, PageTruth]:
        catalog = own + shared
        own_key = caption_key if not new_captions else _fresh_caption_key
        keys = [own_key(row["caption_text"]) for row in own] + shared_keys
        appeal = _draw_appeal(_rng(seed, stream, _APPEAL), catalog, keys, shared_appeal)
        truth = draw_page_truth(
            spec,
            _rng(seed, stream, _TRUTH),
            history_end=history_end,
            history_days=history_days,
            caption_appeal=dict(zip(keys, appeal.tolist(), strict=True)),
        )
        bank = _PageBank(catalog, keys, appeal, new_captions)
        history = _history_for_page(spec, truth, ground, bank, seed, stream)
        return history, replace(truth, fatigue_at_history_end=history.fatigue_at_end)

    def tasks() -> Iterator[_PageTask]:
        seed_pages = [(stream, spec) for stream, spec in chosen if stream < len(PAGE_SPECS)]
        for stream, spec in sorted(seed_pages, key=lambda item: item[1].page_name):
            yield stream, spec, own_by_page[spec.page_name], []
        # Generated pages: every bank up to the last chosen page is written, in page order, so a
        # page's captions do not depend on which pages are chosen or how big the agency is.
        wanted = {stream for stream, _ in chosen if stream >= len(PAGE_SPECS)}
        writer = AgencyCopyWriter()
        for stream in range(len(PAGE_SPECS), max(wanted, default=-1) + 1):
            spec = layout[stream]
            own = _write_generated_bank(writer, spec, _rng(seed, stream, _CAPTIONS))
            if stream in wanted:
                yield stream, spec, own, own

    def histories() -> Iterator[PageHistory]:
        count = _workers(workers, len(chosen))
        for history, truth in _run_pages(page_history, tasks(), count, shared):
            ground.pages[truth.page_name] = truth
            yield history

    page_rows = [
        PageRow(page_name=spec.page_name, page_type=spec.page_type, timezone=spec.timezone)
        for _, spec in chosen
    ]
    return Agency(pages=page_rows, captions=captions, truth=ground, histories=histories())


def build_world(
    history_end: date,
    *,
    seed: int = 7,
    history_days: int = 182,
    platform_drop: float | None = None,
    pages: Iterable[str] | None = None,
    page_count: int | None = None,
    workers: int | None = None,
) -> World:
    """The demo agency with `history_days` of history up to the day before `history_end` (a Monday).

    `platform_drop` (0–1) lowers every page's view and unlock rates by that share during the last
    14 days of history: a platform-wide effect the analyzer must not blame on the pages.
    `page_count` (1–5,000; default the seed's 38) sizes the agency: the seed's pages first, then
    generated ones (`agency_specs`); every page is the same in any agency that has it.
    `pages` (names of the agency's pages) keeps only those pages, each exactly as it is in the whole
    agency (the same truth, history, own captions and closed loop; the shared bank is kept whole):
    a small world for tests that do not need all of them.
    """
    agency = simulate_agency(
        history_end,
        seed=seed,
        history_days=history_days,
        platform_drop=platform_drop,
        pages=pages,
        page_count=page_count,
        workers=workers,
    )
    histories = list(agency.histories)
    return World(
        pages=agency.pages,
        captions=agency.captions + [row for page in histories for row in page.new_captions],
        truth=agency.truth,
        next_day=history_end,
        histories=histories,
        _states={page.page_name: page.state for page in histories},
        _bank={
            page.page_name: dict(zip(page.catalog_keys, page.catalog, strict=True))
            for page in histories
        },
    )


_PageTask = tuple[int, PageSpec, list[CaptionRow], list[CaptionRow]]
_PageFunction = Callable[
    [int, PageSpec, list[CaptionRow], list[CaptionRow]], tuple[PageHistory, PageTruth]
]
SERIAL_PAGES: Final = 64  # up to this many pages (the default demo) no process is forked
_FORKED_PAGE: _PageFunction | None = None  # the agency's page function, inherited by forked workers


def _workers(requested: int | None, pages: int) -> int:
    """Simulating processes: as asked; else 1 for a small agency or when no core is idle (a busy
    machine gains nothing from forking, measured), else 2 (this process writes meanwhile)."""
    if requested is not None:
        return max(1, requested)
    cores = len(os.sched_getaffinity(0))
    idle_cores = cores - os.getloadavg()[0]
    if pages <= SERIAL_PAGES or cores < 2 or idle_cores < 1.0:
        return 1
    return 2


def _forked_page(task: _PageTask) -> tuple[PageHistory, PageTruth]:
    """A page simulated in a worker; its catalog stays behind (the parent has it)."""
    if _FORKED_PAGE is None:
        raise RuntimeError("no agency to simulate in this process")
    history, truth = _FORKED_PAGE(*task)
    return replace(history, catalog=[], new_captions=[]), truth


def _run_pages(
    page: _PageFunction, tasks: Iterator[_PageTask], workers: int, shared: list[CaptionRow]
) -> Iterator[tuple[PageHistory, PageTruth]]:
    """`page` of every task, in order: here, or in `workers` forked processes."""
    if workers <= 1:
        for task in tasks:
            yield page(*task)
        return
    import multiprocessing

    global _FORKED_PAGE
    _FORKED_PAGE = page
    waiting: deque[tuple[list[CaptionRow], list[CaptionRow]]] = deque()  # (own, new) by task

    def sent() -> Iterator[_PageTask]:  # runs in the pool's task thread
        for task in tasks:
            waiting.append((task[2], task[3]))
            yield task

    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for history, truth in pool.imap(_forked_page, sent(), chunksize=2):
                own, new_captions = waiting.popleft()  # results come back in task order
                yield replace(history, catalog=own + shared, new_captions=new_captions), truth
    finally:
        _FORKED_PAGE = None


def _fresh_caption_key(text: str) -> str:
    """`caption_key` of a caption hashed once (no cache), skipping the white-space pass when the
    normalised text has nothing for it to change (one space between words, none at the ends)."""
    normal = unicodedata.normalize("NFKC", text).lower()
    if "  " in normal or not normal.isprintable() or normal.strip() != normal:
        return caption_key.__wrapped__(text)
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _write_generated_bank(
    writer: AgencyCopyWriter, spec: PageSpec, rng: np.random.Generator
) -> list[CaptionRow]:
    """A generated page's own bank, sized like a seed page's (`own_bank_minimum` × 1–1.15)."""
    ppv_low, bump_low = own_bank_minimum(spec)
    spread = rng.uniform(1.0, 1.0 + CAPTION_BANK_SPREAD, size=2).tolist()
    ppv_count, bump_count = round(ppv_low * spread[0]), round(bump_low * spread[1])
    page_name = spec.page_name
    return [
        CaptionRow(
            caption_text=text,
            message_type=message_type,
            page_name=page_name,
            content_category=category,
            price_tier=tier,
            trigger=trigger,
            active=active,
        )
        for text, message_type, category, tier, trigger, active in writer.ppv(
            rng, ppv_count, INACTIVE_SHARE
        )
        + writer.bump(rng, bump_count, INACTIVE_SHARE)
    ]


def _chosen_specs(
    pages: Iterable[str] | None, layout: tuple[PageSpec, ...]
) -> list[tuple[int, PageSpec]]:
    """(random stream, spec) of the pages to simulate, in the layout's order; the stream is the
    page's position in the whole agency, so a page draws the same numbers in any subset."""
    everything = list(enumerate(layout))
    if pages is None:
        return everything
    wanted = {pages} if isinstance(pages, str) else set(pages)
    unknown = sorted(wanted - {spec.page_name for spec in layout})
    if unknown:
        raise ValueError(
            f"unknown page(s) {', '.join(unknown)}: choose from the agency's "
            f"{len(layout)} pages (PAGE_NAMES for the seed's)"
        )
    if not wanted:
        raise ValueError("pages must name at least one page")
    return [(stream, spec) for stream, spec in everything if spec.page_name in wanted]
