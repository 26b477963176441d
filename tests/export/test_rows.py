"""Export rows: a follow-up carries its instruction and its parent PPV's local time and text."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from eros.export.rows import ExportRow, ScheduleExport

from .conftest import LA, make_row

SID = "sch-x"


def test_a_follow_up_follows_the_most_recent_earlier_ppv_with_its_key() -> None:
    def row(day: int, hour: int, kind: str, text: str, **fields: Any) -> ExportRow:
        return make_row(SID, "x", LA, datetime(2025, 10, day, hour), kind, text, **fields)

    rows = [
        row(27, 9, "ppv", "first send", caption_key="k"),
        row(28, 9, "followup", "first send", caption_key="k", parent="k"),
        row(29, 9, "ppv", "second send", caption_key="k"),
        row(30, 9, "followup", "second send", caption_key="k", parent="k"),
        row(30, 12, "followup", "orphan", caption_key="gone", parent="gone"),
        row(30, 14, "bump", "hi"),
    ]
    schedule = ScheduleExport(SID, "x", LA, date(2025, 10, 27), "GREEN", rows)
    first, second, orphan, bump = (schedule.rows[index] for index in (1, 3, 4, 5))
    assert first.parent_send_at_local == schedule.rows[0].send_at_local
    assert first.parent_caption_text == "first send"
    assert second.parent_send_at_local == schedule.rows[2].send_at_local
    assert second.parent_caption_text == "second send"
    assert (orphan.parent_send_at_local, orphan.parent_caption_text) == (None, None)
    assert (bump.parent_send_at_local, bump.parent_caption_text) == (None, None)
    # The order rows come in does not matter; a saved copy and a built one are equal.
    shuffled = ScheduleExport(SID, "x", LA, date(2025, 10, 27), "GREEN", rows[::-1])
    assert shuffled.rows[::-1] == schedule.rows


def test_instructions() -> None:
    ppv = make_row(SID, "x", LA, datetime(2025, 10, 27, 9), "ppv", "a", caption_key="k")
    follow_up = make_row(SID, "x", LA, datetime(2025, 10, 28, 9), "followup", "a", parent="k")
    assert ppv.instruction == ""
    assert follow_up.instruction == "send to all"
    assert replace(follow_up, note="only if unopened").instruction == "only if unopened"
