"""The schedule CSV export: the stable contract of DESIGN.md §5 (header CSV_COLUMNS, one row per
message, UTF-8, `\\n` line ends). Also the atomic-write helper every file exporter uses."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from eros.errors import TerminalError
from eros.export.rows import CSV_COLUMNS, ScheduleExport


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` in one step.

    A crash or an error inside the block leaves `path` as it was (absent or the previous file) and
    removes the temporary file. The folder is created if needed. OS errors become TerminalError.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created like a normal file (0666 minus the umask), not 0600 as mkstemp would.
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise TerminalError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        yield temporary
        with open(temporary, "r+b") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise TerminalError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def export_csv(schedules: Sequence[ScheduleExport], path: Path) -> int:
    """Write the schedules, in the given order, to one CSV file; return the rows written."""
    # The writer quotes a cell holding any character of its line terminator: with "\r\n" that
    # covers a bare CR in a caption too (with "\n" it would split the row); each line then gets the
    # contract's "\n" end.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()[:-2] + "\n"

    count = 0
    with (
        atomic_output(path) as temporary,
        open(temporary, "w", encoding="utf-8", newline="") as handle,
    ):
        handle.write(line(CSV_COLUMNS))
        for schedule in schedules:
            for row in schedule.rows:
                handle.write(line(row.csv_values()))
                count += 1
    return count
