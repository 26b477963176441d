"""Storage: `open_store(url)` picks the backend from the URL and opens it for one unit of work."""

from __future__ import annotations

from pathlib import Path

from eros.errors import InputError, StoreNotFoundError
from eros.store.base import Store

__all__ = ["Store", "open_store", "require_store", "store_path"]


def store_path(url: str) -> Path:
    """The file behind a DuckDB store URL or plain path.

    `duckdb:///./eros.duckdb` and `duckdb:///eros.duckdb` are relative, `duckdb:////srv/eros.duckdb`
    is absolute; anything without a scheme is a path.
    """
    if "://" not in url:
        return Path(url).expanduser()
    scheme, _, rest = url.partition("://")
    if scheme != "duckdb":
        if scheme == "bigquery":
            raise InputError(f"store {url!r}: the BigQuery store is not available yet; use duckdb")
        raise InputError(f"store {url!r}: unknown scheme {scheme!r} (use a path or duckdb:///PATH)")
    if not rest.startswith("/"):
        raise InputError(f"store {url!r}: write duckdb:///PATH (three slashes)")
    return Path(rest[1:]).expanduser()


def open_store(url: str, *, create: bool = False, busy_timeout_s: float = 30.0) -> Store:
    """Open the store at `url` (migrating it if needed). Close it when the unit of work ends.

    Only `eros import` and `eros demo` make a new store (`create=True`): for every other command a
    mistyped --store must be an error, not a new empty store that plans nothing and scores healthy.
    """
    from eros.store.duckdb import DuckDBStore

    path = store_path(url) if create else require_store(url)
    return DuckDBStore(path, url=url, busy_timeout_s=busy_timeout_s)


def require_store(url: str) -> Path:
    """The file of an existing store, or StoreNotFoundError (without opening it)."""
    path = store_path(url)
    if not path.exists():
        raise StoreNotFoundError(str(path))
    return path
