"""The worlds the tests plan on (built by the session fixtures in tests/conftest.py)."""

from datetime import date

DEMO_WEEK = date(2025, 11, 3)  # the seed's example week (ISO 2025-W45); history ends the day before

# The small world: 8 of the demo's 38 pages, each exactly as it is in the demo (the same 26 weeks
# of history, caption bank and ground truth; only the other pages are left out). It has every tier
# (NEW del; SMALL myahill, itskassielee_paid; MEDIUM talia, poutyselena, carmenrose; LARGE jadebri;
# XL gracebennett_free), the three page types, three time zones (Los Angeles; London:
# itskassielee_paid; Sydney: poutyselena) and three fatigued pages (carmenrose, jadebri, myahill).
SMALL_PAGES = (
    "carmenrose",
    "del",
    "gracebennett_free",
    "itskassielee_paid",
    "jadebri",
    "myahill",
    "poutyselena",
    "talia",
)
