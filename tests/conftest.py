"""Shared fixtures: a temp DuckDB store, settings isolated from the developer's environment, and
the worlds, each built once a session: the whole demo agency (38 pages) for agency-wide facts, the
small world (8 of its pages, tests/worlds.py) for everything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from tests.worlds import DEMO_WEEK, SMALL_PAGES

from eros.settings import Settings, load_settings
from eros.simulate import World, build_world
from eros.store import open_store
from eros.store.base import Page, Store


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EROS_* variable or eros.toml of the developer leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("EROS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return load_settings(store=str(db_path))


@pytest.fixture
def fresh_store(db_path: Path) -> Iterator[Store]:
    with open_store(str(db_path), create=True) as store:
        yield store


@pytest.fixture
def store_with_pages(fresh_store: Store) -> Store:
    fresh_store.upsert_pages(
        [
            Page("jadebri", "standard", "America/Los_Angeles"),
            Page("missalexa_free", "free", "Europe/London"),
        ]
    )
    return fresh_store


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20251103)


@contextmanager
def _session_isolation(folder: Path) -> Iterator[None]:
    """What `_isolated_environment` does for a test, for a session fixture (set up before it)."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("EROS_"):
                patch.delenv(name)
        patch.chdir(folder)
        yield


def _copy_store(template: Path, copy: Path) -> Path:
    import shutil

    shutil.copyfile(template, copy)
    return copy


@pytest.fixture(scope="session")
def demo_world() -> World:
    """The demo's world (seed 7, 38 pages, 26 weeks up to 2025-11-02), built once a session.

    Shared and read-only: simulate on `demo_world.copy()`.
    """
    return build_world(DEMO_WEEK)


@pytest.fixture(scope="session")
def demo_template(demo_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store for the week of 2025-11-03 (all 38 pages), built once a session through the
    import path as `eros demo --no-run` builds it; copy it before writing (`demo_store_path`)."""
    from eros.demo import demo_from_world

    folder = tmp_path_factory.mktemp("demo")
    with _session_isolation(folder):
        return demo_from_world(
            demo_world, load_settings(), store_path=folder / "demo.duckdb"
        ).store_path


@pytest.fixture
def demo_store_path(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the whole demo store."""
    return _copy_store(demo_template, tmp_path / "demo.duckdb")


@pytest.fixture(scope="session")
def small_world() -> World:
    """The demo cut down to `SMALL_PAGES`, built once a session; simulate on a copy."""
    return build_world(DEMO_WEEK, pages=SMALL_PAGES)


@pytest.fixture(scope="session")
def small_template(small_world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world's store for the week of 2025-11-03, built once a session through the same
    import path as the demo (its import files are kept in `data` beside it); copy it before
    writing (`small_store_path`)."""
    from eros.demo import demo_from_world

    folder = tmp_path_factory.mktemp("small")
    with _session_isolation(folder):
        return demo_from_world(
            small_world,
            load_settings(),
            store_path=folder / "small.duckdb",
            data_dir=folder / "data",
        ).store_path


@pytest.fixture
def small_store_path(small_template: Path, tmp_path: Path) -> Path:
    """A private copy of the small world's store: for tests that do not need all 38 pages."""
    return _copy_store(small_template, tmp_path / "small.duckdb")
