"""The demo: a synthetic agency (eros.simulate) written out in the import formats and imported.

Going through the real import path means the demo also proves the import contract. The store is
built in a temporary file beside the target and renamed over it at the end, so a crash never leaves
half a demo. An agency of any size (`pages`: 1–5,000) is written out page by page as it is
simulated, from the histories' columns, so memory stays flat and no row becomes a dict.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from eros import clock
from eros.ingest import ImportReport, import_columns, import_file
from eros.settings import Settings
from eros.store import open_store
from eros.store.base import ImportKind

if TYPE_CHECKING:
    from eros.simulate import World
    from eros.simulate.world import CaptionRow, PageHistory, PageRow

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
    pages: int = 0
    simulate_seconds: float = 0.0  # simulating the history and writing the import files
    import_seconds: float = 0.0  # importing them (the real `eros import` path)


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


def write_history_files(
    folder: Path,
    pages: Sequence[PageRow],
    captions: Sequence[CaptionRow],
    histories: Iterable[PageHistory],
    *,
    with_new_captions: bool = True,
) -> dict[ImportKind, Path]:
    """Write pages, captions, messages and fans CSVs (import formats) for an agency's histories.

    `captions` go first, then (with `with_new_captions`) each generated page's own captions as its
    history arrives; the histories are consumed once, page by page.
    """
    from eros.simulate.world import KIND_NAMES

    paths: dict[ImportKind, Path] = {kind: folder / f"{kind}.csv" for kind in DEMO_ORDER}
    columns = {kind: import_columns(kind) for kind in DEMO_ORDER}
    handles = {kind: paths[kind].open("w", newline="", encoding="utf-8") for kind in DEMO_ORDER}
    try:
        writers = {kind: csv.writer(handles[kind]) for kind in DEMO_ORDER}
        for kind in DEMO_ORDER:
            writers[kind].writerow(columns[kind])
        writers["pages"].writerows(
            [_cell(row.get(column)) for column in columns["pages"]] for row in pages
        )
        _write_captions(writers["captions"], columns["captions"], captions)
        for history in histories:
            if with_new_captions:
                _write_captions(writers["captions"], columns["captions"], history.new_captions)
            _write_messages(handles["messages"], columns["messages"], history, KIND_NAMES)
            writers["fans"].writerows(
                [_cell(row.get(column)) for column in columns["fans"]] for row in history.fans
            )
    finally:
        for handle in handles.values():
            handle.close()
    return paths


def _write_captions(writer: Any, columns: tuple[str, ...], captions: Iterable[CaptionRow]) -> None:
    if columns != tuple(CAPTION_COLUMNS):
        writer.writerows([_cell(row.get(column)) for column in columns] for row in captions)
        return
    writer.writerows(
        (
            row["caption_text"],
            row["message_type"],
            row["page_name"],
            row["content_category"],
            row["price_tier"],
            row["trigger"],
            "true" if row["active"] else "false",
        )
        for row in captions
    )


CAPTION_COLUMNS = (
    "caption_text",
    "message_type",
    "page_name",
    "content_category",
    "price_tier",
    "trigger",
    "active",
)
MESSAGE_COLUMNS = (
    "page_name",
    "sent_at",
    "message_type",
    "caption_text",
    "price",
    "sent_count",
    "viewed_count",
    "purchased_count",
    "revenue",
    "message_id",
    "content_category",
    "price_tier",
    "trigger",
)


def _csv_field(value: str) -> str:
    """`value` as the csv module writes it inside a row of several fields (QUOTE_MINIMAL)."""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _write_messages(
    handle: TextIO, columns: tuple[str, ...], history: PageHistory, kind_names: Sequence[str]
) -> None:
    """One page's messages from its columns: the same bytes as `write_csv` of its rows.

    Cells are made a column at a time (a caption's cells are quoted once, counts are `str`ed in
    one pass, prices formatted only where there is a price) and joined into lines at the end.
    """
    from itertools import repeat

    import numpy as np

    if columns != MESSAGE_COLUMNS:
        raise RuntimeError(f"the messages import format changed: {columns}")
    count = len(history.kind)
    if count == 0:
        return
    minutes = history.utc_minute.astype("datetime64[m]")
    stamps = [f"{stamp}:00Z" for stamp in np.datetime_as_string(minutes, unit="m").tolist()]
    message_id_prefix = f"sim-{history.page_name}-"
    message_ids = [
        _csv_field(f"{message_id_prefix}{stamp[:16].replace('-', '').replace(':', '')}Z")
        for stamp in stamps
    ]
    catalog_texts = np.array(
        [_csv_field(row["caption_text"]) for row in history.catalog], dtype=object
    )
    catalog_tails = np.array(
        [
            f"{_csv_field(row['content_category'])},{_csv_field(row['price_tier'])},"
            f"{_csv_field(row['trigger'])}"
            for row in history.catalog
        ],
        dtype=object,
    )
    priced = np.flatnonzero(history.price != 0.0)
    prices = np.full(count, "0.00", dtype=object)
    revenues = np.full(count, "0.00", dtype=object)
    rounded = [round(price, 2) for price in history.price[priced].tolist()]
    prices[priced] = [f"{price:.2f}" for price in rounded]
    revenues[priced] = [
        f"{round(bought * price, 2):.2f}"
        for bought, price in zip(history.purchased[priced].tolist(), rounded, strict=True)
    ]
    lines = map(
        ",".join,
        zip(
            repeat(_csv_field(history.page_name), count),
            stamps,
            np.array(kind_names, dtype=object)[history.kind].tolist(),
            catalog_texts[history.caption_index].tolist(),
            prices.tolist(),
            map(str, history.sent.tolist()),
            map(str, history.viewed.tolist()),
            map(str, history.purchased.tolist()),
            revenues.tolist(),
            message_ids,
            catalog_tails[history.caption_index].tolist(),
            strict=True,
        ),
    )
    handle.write("\r\n".join(lines))
    handle.write("\r\n")


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
    page_count: int | None = None,
) -> DemoResult:
    """Build the demo store for the week starting `week_start` (default: the coming Monday).

    `page_count` (1–5,000) sizes the agency: the seed's 38 pages first, then generated pages
    (page0039, ...), each with its own history and captions, plus the agency's shared captions.
    `pages` and `history_days` make a smaller agency (some of its pages, fewer weeks of history;
    see `eros.simulate.build_world`); the defaults give the demo.
    """
    from eros.simulate.world import simulate_agency

    step = on_step or (lambda _message: None)
    week = clock.week_start(week_start or clock.coming_monday(clock.zone(settings.timezone)))
    agency = simulate_agency(
        week, seed=seed, history_days=history_days, pages=pages, page_count=page_count
    )
    step(f"simulating {len(agency.pages):,} pages of history up to {week.isoformat()}")
    return _import_history(
        lambda folder: write_history_files(folder, agency.pages, agency.captions, agency.histories),
        settings,
        week_start=week,
        seed=seed,
        page_total=len(agency.pages),
        store_path=store_path,
        data_dir=data_dir,
        on_step=step,
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
    return _import_history(
        lambda folder: write_history_files(
            folder, world.pages, world.captions, world.histories, with_new_captions=False
        ),
        settings,
        week_start=world.next_day,
        seed=world.truth.seed,
        page_total=len(world.pages),
        store_path=store_path,
        data_dir=data_dir,
        on_step=on_step or (lambda _message: None),
    )


def _import_history(
    write: Callable[[Path], dict[ImportKind, Path]],
    settings: Settings,
    *,
    week_start: date,
    seed: int,
    page_total: int,
    store_path: Path,
    data_dir: Path | None,
    on_step: Callable[[str], None],
) -> DemoResult:
    """Write the history files (`write`) and import them into a new store at `store_path`."""
    import tempfile

    store_path.parent.mkdir(parents=True, exist_ok=True)
    building = store_path.with_name(f".{store_path.name}.building")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    reports: list[ImportReport] = []
    with tempfile.TemporaryDirectory(prefix="eros-demo-") as scratch:
        folder = data_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        files = write(folder)
        written = time.perf_counter()
        with open_store(str(building), create=True) as store:
            for kind in DEMO_ORDER:
                on_step(f"importing {files[kind].name}")
                reports.append(import_file(store, kind, files[kind], settings))
        imported = time.perf_counter()
    store_path.with_name(store_path.name + ".wal").unlink(missing_ok=True)
    os.replace(building, store_path)
    return DemoResult(
        store_path=store_path,
        week_start=week_start,
        seed=seed,
        imports=tuple(reports),
        data_dir=data_dir,
        pages=page_total,
        simulate_seconds=round(written - began, 2),
        import_seconds=round(imported - written, 2),
    )
