"""Hand-built page-weeks across the 2025 DST changes: Los Angeles (PDT→PST on Sun 2025-11-02) and
London (BST→GMT on Sun 2025-10-26, and the GMT week after)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from eros.export.rows import ExportRow, ScheduleExport

LA = "America/Los_Angeles"
LONDON = "Europe/London"


def make_row(
    schedule_id: str,
    page_name: str,
    timezone: str,
    local: datetime,
    message_type: str,
    caption_text: str,
    *,
    price: float = 0.0,
    price_tier: str | None = None,
    content_category: str | None = None,
    trigger: str | None = None,
    parent: str | None = None,
    expected_revenue: float = 0.0,
    caption_key: str | None = None,
) -> ExportRow:
    aware = local.replace(tzinfo=ZoneInfo(timezone))
    return ExportRow(
        schedule_id=schedule_id,
        page_name=page_name,
        date=aware.date(),
        day_of_week=aware.strftime("%A"),
        send_at_local=aware,
        send_at_utc=aware.astimezone(UTC),
        message_type=message_type,
        caption_key=caption_key or f"key-{message_type}-{aware:%d%H%M}",
        caption_text=caption_text,
        price=price,
        price_tier=price_tier,
        content_category=content_category,
        trigger=trigger,
        parent=parent,
        expected_revenue=expected_revenue,
    )


@pytest.fixture
def la_week() -> ScheduleExport:
    """jadebri, week 2025-10-27 (ISO 2025-W44), GREEN; US DST ends on its Sunday."""
    sid = "sch-jadebri-2025W44"

    def row(local: datetime, kind: str, caption: str, **fields: Any) -> ExportRow:
        return make_row(sid, "jadebri", LA, local, kind, caption, **fields)

    return ScheduleExport(
        schedule_id=sid,
        page_name="jadebri",
        timezone=LA,
        week_start=date(2025, 10, 27),
        saturation_zone="GREEN",
        rows=[
            row(
                datetime(2025, 10, 27, 9, 30),
                "ppv",
                'New set, "just for you", babe 💋 — café edition',
                price=25.0,
                price_tier="standard",
                content_category="lingerie",
                trigger="urgency",
                expected_revenue=112.5,
                caption_key="cap-ppv-1",
            ),
            row(
                datetime(2025, 10, 27, 10, 0),
                "followup",
                "Did you see it?\nStill unlocked for 2 more hours",
                parent="cap-ppv-1",
                expected_revenue=18.25,
            ),
            row(datetime(2025, 11, 1, 20, 0), "bump", "=1+1 hey you"),
            row(
                datetime(2025, 11, 2, 20, 0),
                "ppv",
                "Sunday special",
                price=40.0,
                price_tier="premium",
                content_category="shower",
                expected_revenue=200.0,
            ),
        ],
    )


@pytest.fixture
def london_weeks() -> list[ScheduleExport]:
    """missalexa_free: week 2025-10-20 (W43, UK DST ends Sun 26 Oct), YELLOW; week 2025-10-27 (W44),
    RED."""
    first_id, second_id = "sch-missalexa-2025W43", "sch-missalexa-2025W44"
    page = "missalexa_free"
    return [
        ScheduleExport(
            schedule_id=first_id,
            page_name=page,
            timezone=LONDON,
            week_start=date(2025, 10, 20),
            saturation_zone="YELLOW",
            rows=[
                make_row(first_id, page, LONDON, datetime(2025, 10, 25, 21, 0), "free", "Hi!"),
                make_row(
                    first_id,
                    page,
                    LONDON,
                    datetime(2025, 10, 26, 21, 0),
                    "ppv",
                    "Cosy night in",
                    price=9.99,
                    price_tier="budget",
                    expected_revenue=35.0,
                ),
            ],
        ),
        ScheduleExport(
            schedule_id=second_id,
            page_name=page,
            timezone=LONDON,
            week_start=date(2025, 10, 27),
            saturation_zone="RED",
            rows=[make_row(second_id, page, LONDON, datetime(2025, 10, 28, 8, 5), "bump", "gm")],
        ),
    ]


@pytest.fixture
def schedules(la_week: ScheduleExport, london_weeks: list[ScheduleExport]) -> list[ScheduleExport]:
    return [la_week, *london_weeks]
