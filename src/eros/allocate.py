"""Allocate: the agency's shared captions to its pages, once per week, before any page is planned.

A shared caption (a caption bank row with no page) may go to one page per lock window. Deciding who
gets it up front, from one snapshot of evidence and locks, lets every page then be planned on its
own (in parallel, nothing left to contest) and makes the winner a rule instead of a race.

Pure. Each page brings the expected value of one send of every caption it may use this week, its
own and the shared ones, and how many captions it can use (its pool size). Pairs are taken best
first: a page takes a caption while it has room, so a shared caption goes to the page where it is
worth most among those with room for it. Ties go to the page whose name sorts first. A shared
caption that no page had room for goes to the page where it is worth most, so that page may still
explore it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PageDemand:
    """What one page wants of one kind of caption this week."""

    page_name: str
    capacity: int  # captions of this kind the page can use (its pool size)
    values: Mapping[str, float]  # eligible caption -> expected value of one send here


def allocate_shared(demands: Sequence[PageDemand], shared: frozenset[str]) -> dict[str, str]:
    """Each shared caption that some page may use -> the one page that gets it."""
    pairs: list[tuple[float, str, str]] = []
    for demand in demands:
        own = sorted(
            (value for key, value in demand.values.items() if key not in shared), reverse=True
        )
        # Own captions past the page's capacity can never be taken: leave them out of the sort.
        floor = own[demand.capacity - 1] if 0 < demand.capacity <= len(own) else float("-inf")
        pairs.extend(
            (-value, demand.page_name, key)
            for key, value in demand.values.items()
            if key in shared or value >= floor
        )
    pairs.sort()
    capacity = {demand.page_name: demand.capacity for demand in demands}
    taken: dict[str, int] = dict.fromkeys(capacity, 0)
    owner: dict[str, str] = {}
    best: dict[str, str] = {}  # the page where each shared caption is worth most
    for _, page_name, key in pairs:
        if key in shared:
            best.setdefault(key, page_name)
            if key in owner:
                continue
        if taken[page_name] >= capacity[page_name]:
            continue
        taken[page_name] += 1
        if key in shared:
            owner[key] = page_name
    for key, page_name in best.items():
        owner.setdefault(key, page_name)
    return dict(sorted(owner.items()))
