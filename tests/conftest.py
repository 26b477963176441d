"""Shared fixtures: a temp DuckDB store, settings isolated from the developer's environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from eros.settings import Settings, load_settings
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


DEMO_WEEK = date(2025, 11, 3)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store for the week of 2025-11-03, built once a session; copy it before writing."""
    from eros.demo import build_demo

    folder = tmp_path_factory.mktemp("demo")
    return build_demo(
        load_settings(), store_path=folder / "demo.duckdb", week_start=DEMO_WEEK
    ).store_path


@pytest.fixture
def demo_store_path(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store."""
    import shutil

    copy = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_template, copy)
    return copy
