"""Benchmark: import a large messages CSV into a fresh store, beside DuckDB's own floor.

    python bench/bench_import.py [--rows 1000000]

Each import runs as its own process (`eros import messages ... --create-pages`), timed whole
(interpreter start-up included), so the peak resident memory printed is that of the import alone
(getrusage of the child). In the same run: the row-by-row reader (`--row-reader` of this bench,
the reader every file used before the columnar one) and the floor, DuckDB's `read_csv` of the same
file plus SHA-256 of the lower-cased, trimmed caption in SQL, in this process.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = (
    "page_name,sent_at,message_type,caption_text,price,sent_count,viewed_count,"
    "purchased_count,revenue,content_category,price_tier,trigger"
)


def write_messages(path: Path, rows: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER.split(","))
        for index in range(rows):
            page = f"page{index % 38:02d}"
            sent_at = start + timedelta(minutes=20 * (index // 38))
            sent = 1000 + index % 5000
            viewed = sent // 5
            purchased = viewed // 10
            writer.writerow(
                [
                    page,
                    sent_at.isoformat().replace("+00:00", "Z"),
                    "ppv",
                    f"Caption number {index % 20000} 🌊 tap to unlock",
                    "25",
                    sent,
                    viewed,
                    purchased,
                    purchased * 25,
                    "Photo set",
                    "standard",
                    "Curiosity",
                ]
            )


ROW_READER = """
import sys
from pathlib import Path

from eros.ingest import import_file
from eros.settings import load_settings
from eros.store import open_store

with open_store(sys.argv[1]) as store:
    settings = load_settings(store=sys.argv[1])
    import_file(store, "messages", Path(sys.argv[2]), settings, create_pages=True, columnar=False)
"""


def duckdb_floor(path: Path) -> float:
    """Seconds for DuckDB to read every column of `path` and hash each caption in SQL."""
    import duckdb

    with duckdb.connect() as engine:
        started = time.perf_counter()
        engine.execute(
            "SELECT count(*), count(DISTINCT sha256(lower(trim(caption_text)))) "
            "FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        ).fetchall()
        return time.perf_counter() - started


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `command` as a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if status:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--skip-row-reader", action="store_true", help="do not time the row-by-row reader"
    )
    arguments = parser.parse_args()
    rows = arguments.rows
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "messages.csv"
        write_messages(csv_path, rows)
        store = Path(folder) / "bench.duckdb"
        command = [sys.executable, "-m", "eros", "import", "messages", str(csv_path)]
        command += ["--create-pages", "--store", str(store)]
        floor = duckdb_floor(csv_path)
        elapsed, peak_mib = timed(command)
        again, _ = timed(command)
        print(f"rows                      {rows:,}")
        print(f"csv size                  {csv_path.stat().st_size / 2**20:.0f} MiB")
        print(f"load average (1 min)      {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"duckdb read_csv + sha256  {floor:.1f} s ({rows / floor:,.0f} rows/s)  floor")
        print(
            f"eros import messages      {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)  "
            f"{elapsed / floor:.1f}x the floor, peak RSS {peak_mib:.0f} MiB"
        )
        print(f"re-import (no change)     {again:.1f} s ({rows / again:,.0f} rows/s)")
        if not arguments.skip_row_reader:
            row_store = Path(folder) / "rows.duckdb"
            row_command = [sys.executable, "-c", ROW_READER, str(row_store), str(csv_path)]
            slow, slow_peak = timed(row_command)
            print(
                f"row-by-row reader         {slow:.1f} s ({rows / slow:,.0f} rows/s)  "
                f"{slow / floor:.1f}x the floor, peak RSS {slow_peak:.0f} MiB"
            )


if __name__ == "__main__":
    main()
