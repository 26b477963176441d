"""The simulator's tests read the demo world built once a session by tests/conftest.py."""

from __future__ import annotations

import pytest

from eros.simulate import World


@pytest.fixture
def world(demo_world: World) -> World:
    """The default demo world (seed 7, 26 weeks up to 2025-11-02); copy it before simulating."""
    return demo_world
