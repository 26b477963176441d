"""Shared demo worlds: building one takes about a second, so each is built once per session."""

from __future__ import annotations

import time
from datetime import date

import pytest

from eros.simulate import World, build_world

HISTORY_END = date(2025, 11, 3)  # the seed's example week (ISO 2025-W45)


@pytest.fixture(scope="session")
def timed_world() -> tuple[World, float]:
    started = time.perf_counter()
    world = build_world(HISTORY_END)
    return world, time.perf_counter() - started


@pytest.fixture(scope="session")
def world(timed_world: tuple[World, float]) -> World:
    """The default demo world (seed 7, 26 weeks up to 2025-11-02); copy it before simulating."""
    return timed_world[0]
