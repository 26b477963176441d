"""Benchmark: stream a large messages CSV into a fresh store; print wall time and peak memory.

    python bench/bench_import.py [--rows 1000000]

The import runs as its own process (`eros import messages ... --create-pages`) so the peak resident
memory printed is that of the import alone (getrusage of the child).
"""

from __future__ import annotations

import argparse
import csv
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "messages.csv"
        write_messages(csv_path, arguments.rows)
        store = Path(folder) / "bench.duckdb"
        command = [
            sys.executable,
            "-m",
            "eros",
            "import",
            "messages",
            str(csv_path),
            "--create-pages",
            "--store",
            str(store),
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size_mib = csv_path.stat().st_size / 2**20
        print(f"rows                 {arguments.rows:,}")
        print(f"csv size             {size_mib:.0f} MiB")
        print(f"import wall time     {elapsed:.1f} s ({arguments.rows / elapsed:,.0f} rows/s)")
        print(f"import peak memory   {peak_mib:.0f} MiB (max RSS of the import process)")
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"re-import wall time  {time.perf_counter() - started:.1f} s (no change)")


if __name__ == "__main__":
    main()
