"""The demo: a synthetic agency (eros.simulate) written out in the import formats and imported.

Going through the real import path means the demo also proves the import contract. The store is
built in a temporary file beside the target and renamed over it at the end, so a crash never leaves
half a demo.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eros import clock
from eros.ingest import ImportReport, import_columns, import_file
from eros.settings import Settings
from eros.store import open_store
from eros.store.base import ImportKind

if TYPE_CHECKING:
    from eros.simulate import World

DEFAULT_DEMO_STORE = Path("eros-demo.duckdb")
DEFAULT_SEED = 7
DEFAULT_HISTORY_DAYS = 182  # 26 weeks
DEMO_ORDER: tuple[ImportKind, ...] = ("pages", "captions", "messages", "fans")


@dataclass(frozen=True)
class DemoResult:
    store_path: Path
    week_start: date
    seed: int
    imports: tuple[ImportReport, ...]
    data_dir: Path | None
    run: dict[str, object] | None = None  # the main job's summary, when the demo ran it


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else value


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write `rows` as an import-format CSV; returns the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
            count += 1
    return count


def build_demo(
    settings: Settings,
    *,
    store_path: Path = DEFAULT_DEMO_STORE,
    week_start: date | None = None,
    seed: int = DEFAULT_SEED,
    data_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    pages: Sequence[str] | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
) -> DemoResult:
    """Build the demo store for the week starting `week_start` (default: the coming Monday).

    `pages` and `history_days` make a smaller agency (some of the 38 pages, fewer weeks of
    history; see `eros.simulate.build_world`); the defaults give the demo.
    """
    from eros.simulate import PAGE_NAMES, build_world

    step = on_step or (lambda _message: None)
    week = clock.week_start(week_start or clock.coming_monday(clock.zone(settings.timezone)))
    count = len(PAGE_NAMES) if pages is None else len(set(pages))
    step(f"simulating {count} pages of history up to {week.isoformat()}")
    world = build_world(week, seed=seed, history_days=history_days, pages=pages)
    return demo_from_world(
        world, settings, store_path=store_path, data_dir=data_dir, on_step=on_step
    )


def demo_from_world(
    world: World,
    settings: Settings,
    *,
    store_path: Path = DEFAULT_DEMO_STORE,
    data_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """The demo store of a world already built: its history, written out and imported.

    The week planned next is the world's `next_day`; tests build one world and store it once.
    """
    import tempfile

    step = on_step or (lambda _message: None)
    tables: dict[ImportKind, Sequence[Mapping[str, Any]]] = {
        "pages": world.pages,
        "captions": world.captions,
        "messages": world.messages,
        "fans": world.fans,
    }
    store_path.parent.mkdir(parents=True, exist_ok=True)
    building = store_path.with_name(f".{store_path.name}.building")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    reports: list[ImportReport] = []
    with tempfile.TemporaryDirectory(prefix="eros-demo-") as scratch:
        folder = data_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        with open_store(str(building), create=True) as store:
            for kind in DEMO_ORDER:
                file = folder / f"{kind}.csv"
                write_csv(file, import_columns(kind), tables[kind])
                step(f"importing {file.name}")
                reports.append(import_file(store, kind, file, settings))
    store_path.with_name(store_path.name + ".wal").unlink(missing_ok=True)
    os.replace(building, store_path)
    return DemoResult(
        store_path=store_path,
        week_start=world.next_day,
        seed=world.truth.seed,
        imports=tuple(reports),
        data_dir=data_dir,
    )
