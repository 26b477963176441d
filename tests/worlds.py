"""The worlds the tests plan on (built by the session fixtures in tests/conftest.py)."""

from datetime import date

from eros.simulate.pages import SMALL_AGENCY as SMALL_PAGES

__all__ = ["DEMO_WEEK", "SMALL_PAGES"]

DEMO_WEEK = date(2025, 11, 3)  # the seed's example week (ISO 2025-W45); history ends the day before
