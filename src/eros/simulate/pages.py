"""The demo agency's 38 pages (names from the seed), their types, time zones and intended layout.

The layout is fixed, not drawn from the seed, so the demo tells the same story every time: which
pages are free, paid or standard, where they live, how big they are meant to be and which ones the
agency has been over-messaging lately. The seed only moves numbers inside this layout.

Each page's own caption bank is sized from its tier's volume (`own_bank_minimum`): the agency ran a
21-day PPV and a 7-day bump cooldown, and at the end of history a page still has a week of the
engine's busiest plan (with alternates) outside its cooldowns.

A bigger agency (`agency_specs(page_count)`, up to `MAX_PAGES`) keeps the seed's 38 pages first and
adds generated pages `page0039`, `page0040`, ...: each copies the type, tier and fatigue of a seed
page and the time zone of another, picked by a fixed draw per page number, so the mix stays the
seed's and page k is the same page in every agency that has it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

PageType = Literal["free", "paid", "standard"]
SizeTier = Literal["NEW", "SMALL", "MEDIUM", "LARGE", "XL"]

DEFAULT_TIMEZONE: Final = "America/Los_Angeles"


@dataclass(frozen=True)
class PageSpec:
    """One page of the demo agency as designed: the seed draws its numbers inside this shape."""

    page_name: str
    page_type: PageType
    size_tier: SizeTier
    timezone: str = DEFAULT_TIMEZONE
    fatigued: bool = False


PAGE_SPECS: Final[tuple[PageSpec, ...]] = (
    # Free pages: large audiences, low unlock rates.
    PageSpec("gracebennett_free", "free", "XL"),
    PageSpec("itskassielee_free", "free", "XL"),
    PageSpec("missalexa_free", "free", "LARGE", "America/New_York"),
    PageSpec("oliviahansley_free", "free", "XL"),
    # Paid (subscription) pages: smaller audiences that view and buy more.
    PageSpec("gracebennett_paid", "paid", "MEDIUM"),
    PageSpec("itskassielee_paid", "paid", "SMALL", "Europe/London"),
    PageSpec("missalexa_paid", "paid", "MEDIUM"),
    PageSpec("oliviahansley_paid", "paid", "SMALL"),
    PageSpec("taylorwild_paid", "paid", "MEDIUM", "America/Chicago", fatigued=True),
    PageSpec("tessathomas_paid", "paid", "SMALL"),
    # Standard pages.
    PageSpec("adriannarodriguez", "standard", "LARGE"),
    PageSpec("alexlove", "standard", "LARGE"),
    PageSpec("anngrayson", "standard", "MEDIUM"),
    PageSpec("ashlyroux", "standard", "MEDIUM"),
    PageSpec("aspynhayes", "standard", "MEDIUM", "America/New_York"),
    PageSpec("calilove", "standard", "LARGE"),
    PageSpec("carmenrose", "standard", "MEDIUM", fatigued=True),
    PageSpec("chloewildd", "standard", "LARGE", "America/Denver"),
    PageSpec("corvettemikayla", "standard", "XL"),
    PageSpec("del", "standard", "NEW"),
    PageSpec("dianagrace", "standard", "MEDIUM"),
    PageSpec("isabellelayla", "standard", "LARGE"),
    PageSpec("jadebri", "standard", "LARGE", fatigued=True),
    PageSpec("jadevalentine", "standard", "LARGE"),
    PageSpec("jadewilkinson", "standard", "MEDIUM"),
    PageSpec("kayleighashford", "standard", "MEDIUM", "America/New_York"),
    PageSpec("lolarivers", "standard", "LARGE", fatigued=True),
    PageSpec("madisonsummers", "standard", "LARGE"),
    PageSpec("miafoster", "standard", "MEDIUM", fatigued=True),
    PageSpec("miaharper", "standard", "LARGE"),
    PageSpec("myahill", "standard", "SMALL", fatigued=True),
    PageSpec("neenah", "standard", "SMALL"),
    PageSpec("norarhodes", "standard", "MEDIUM", "America/Chicago"),
    PageSpec("poutyselena", "standard", "MEDIUM", "Australia/Sydney"),
    PageSpec("scarlettgraceee", "standard", "LARGE", "Europe/London"),
    PageSpec("talia", "standard", "MEDIUM"),
    PageSpec("tessadove", "standard", "MEDIUM"),
    PageSpec("tessatan", "standard", "NEW", "America/New_York"),
)

PAGE_NAMES: Final[tuple[str, ...]] = tuple(spec.page_name for spec in PAGE_SPECS)

MAX_PAGES: Final = 5_000
_LAYOUT_SEED: Final = 38  # the generated pages' layout is fixed, like the seed's: no world seed


def generated_page_name(number: int) -> str:
    """The name of the agency's page `number` (1-based) beyond the seed's 38: page0039, ..."""
    return f"page{number:04d}"


def agency_specs(page_count: int) -> tuple[PageSpec, ...]:
    """The first `page_count` pages of an agency (1..MAX_PAGES): the seed's pages, then generated
    ones whose type, tier, fatigue and time zone follow the seed's mix."""
    if not 1 <= page_count <= MAX_PAGES:
        raise ValueError(f"page_count must be in 1..{MAX_PAGES}, got {page_count}")
    generated = []
    for number in range(len(PAGE_SPECS) + 1, page_count + 1):
        rng = np.random.default_rng(np.random.SeedSequence([_LAYOUT_SEED, number]))
        shape, place = (PAGE_SPECS[int(index)] for index in rng.integers(len(PAGE_SPECS), size=2))
        generated.append(
            PageSpec(
                generated_page_name(number),
                shape.page_type,
                shape.size_tier,
                place.timezone,
                shape.fatigued,
            )
        )
    return PAGE_SPECS[:page_count] + tuple(generated)


# Audience (≈ sent_count of a mass message) at the end of history, drawn log-uniformly inside these
# bounds; they keep clear of the tier edges (5,000 / 25,000 / 100,000) so growth and noise over the
# last 30 days never move a page across one. NEW pages start small and grow fast.
AUDIENCE_AT_END: Final[dict[SizeTier, tuple[float, float]]] = {
    "NEW": (400.0, 2_500.0),
    "SMALL": (1_400.0, 3_800.0),
    "MEDIUM": (7_000.0, 19_000.0),
    "LARGE": (32_000.0, 80_000.0),
    "XL": (130_000.0, 340_000.0),
}

# The agency's historical sending habit per tier (inclusive ranges per day).
HISTORY_PPV_PER_DAY: Final[dict[SizeTier, tuple[int, int]]] = {
    "NEW": (2, 3),
    "SMALL": (3, 5),
    "MEDIUM": (5, 8),
    "LARGE": (8, 12),
    "XL": (10, 15),
}
HISTORY_BUMPS_PER_DAY: Final[dict[SizeTier, tuple[int, int]]] = {
    "NEW": (3, 4),
    "SMALL": (3, 5),
    "MEDIUM": (4, 7),
    "LARGE": (6, 10),
    "XL": (8, 12),
}

# Messages per day a page's audience takes without tiring (before the per-page spread): above the
# agency's usual volume and above a normal plan from the design's tier table, so only
# over-messaging tires the audience.
COMFORTABLE_MESSAGES_PER_DAY: Final[dict[SizeTier, float]] = {
    "NEW": 8.0,
    "SMALL": 11.0,
    "MEDIUM": 16.0,
    "LARGE": 24.0,
    "XL": 30.0,
}

# Fatigued pages: over the last 24–28 days of history the agency ramped volume up to this multiple.
FATIGUE_RAMP_DAYS: Final = (24, 28)
FATIGUE_RAMP_PEAK: Final = (2.15, 2.35)

# The engine's plan per tier (DESIGN.md §3): most PPVs a day and bumps a day. A RED page's bump
# target doubles, hence the 2.5 × week of bumps kept free below.
PLAN_PPV_PER_DAY_MAX: Final[dict[SizeTier, int]] = {
    "NEW": 3,
    "SMALL": 5,
    "MEDIUM": 8,
    "LARGE": 12,
    "XL": 15,
}
PLAN_BUMPS_PER_DAY: Final[dict[SizeTier, int]] = {
    "NEW": 3,
    "SMALL": 4,
    "MEDIUM": 6,
    "LARGE": 10,
    "XL": 12,
}
# Cooldowns the agency ran (and the engine runs): a caption is not re-sent on a page within them.
PPV_COOLDOWN_DAYS: Final = 21
BUMP_COOLDOWN_DAYS: Final = 7
# Captions free at the end of history, beyond those in cooldown: a week of the plan's most PPVs
# × 1.5 + 20 (the pool plus alternates), and 2.5 weeks of bumps.
FREE_PPV_WEEKS: Final = 1.5
FREE_PPV_EXTRA: Final = 20
FREE_BUMP_WEEKS: Final = 2.5

INACTIVE_SHARE: Final = 0.08  # captions the agency retired (sent only early in history)
CAPTION_BANK_SPREAD: Final = 0.15  # a page's own bank is its minimum × uniform(1, 1.15)
SHARED_PPV_CAPTIONS: Final = 120
SHARED_BUMP_CAPTIONS: Final = 30


def own_bank_minimum(spec: PageSpec) -> tuple[int, int]:
    """(PPV, bump) captions a page's own bank needs, before the seed's spread.

    Enough for the agency's busiest history (tier maximum a day, × the ramp's peak on fatigued
    pages) to keep its cooldowns, with the engine's week (plus alternates) still free at the end of
    history, after retiring some captions; the shared bank comes on top as a margin.
    """
    ramp = FATIGUE_RAMP_PEAK[1] if spec.fatigued else 1.0
    tier = spec.size_tier
    ppv = (
        PPV_COOLDOWN_DAYS * HISTORY_PPV_PER_DAY[tier][1] * ramp
        + FREE_PPV_WEEKS * 7 * PLAN_PPV_PER_DAY_MAX[tier]
        + FREE_PPV_EXTRA
    )
    bumps = (
        BUMP_COOLDOWN_DAYS * HISTORY_BUMPS_PER_DAY[tier][1] * ramp
        + FREE_BUMP_WEEKS * 7 * PLAN_BUMPS_PER_DAY[tier]
    )
    active = 1.0 - INACTIVE_SHARE
    return math.ceil(ppv / active), math.ceil(bumps / active)


# The small world: 8 of the demo's 38 pages, each exactly as it is in the demo (the same 26 weeks
# of history, caption bank and ground truth; only the other pages are left out). It has every tier
# (NEW del; SMALL myahill, itskassielee_paid; MEDIUM talia, poutyselena, carmenrose; LARGE jadebri;
# XL gracebennett_free), the three page types, three time zones (Los Angeles; London:
# itskassielee_paid; Sydney: poutyselena) and three fatigued pages (carmenrose, jadebri, myahill).
SMALL_AGENCY = (
    "carmenrose",
    "del",
    "gracebennett_free",
    "itskassielee_paid",
    "jadebri",
    "myahill",
    "poutyselena",
    "talia",
)
