"""Shared fixtures: a temp DuckDB store, settings isolated from the developer's environment."""

from __future__ import annotations

from collections.abc import Iterator
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
    with open_store(str(db_path)) as store:
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
