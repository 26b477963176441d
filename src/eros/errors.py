"""One error tree for the whole project.

TransientError means "try again" (a busy store, an HTTP 429); TerminalError means retrying will
not help. InputError is a TerminalError caused by the user's input or usage: the CLI exits 2 for it,
1 for the rest.
Errors carry the data a user needs to act (file, line, page, rule) and print as one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ErosError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class TransientError(ErosError):
    """A fault that may pass: worth retrying with backoff."""


class TerminalError(ErosError):
    """A fault that retrying will not fix."""


class InputError(TerminalError):
    """Bad usage or bad input: the user must change something."""

    exit_code = 2


class SettingsError(InputError):
    """A setting has a wrong value (from eros.toml, an EROS_* variable or a flag)."""


class StoreNotFoundError(InputError):
    """A command other than `eros import` or `eros demo` named a store that does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"no store at {path} (create one with eros demo or eros import)")


class UnknownPageError(InputError):
    """A page name that the store does not know; names the closest known page when one is close."""

    def __init__(self, page_name: str, hint: str = "", known: Iterable[str] = ()) -> None:
        from difflib import get_close_matches

        self.page_name = page_name
        message = f"unknown page {page_name!r}"
        close = get_close_matches(page_name, list(known), n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
            super().__init__(f"{message} ({hint})" if hint else message)
        else:
            super().__init__(f"{message}; {hint}" if hint else message)


class StoreError(TerminalError):
    """The store failed in a way that retrying will not fix (corrupt file, bad schema)."""


class StoreBusyError(TransientError):
    """Another process holds the store file; retried with backoff before it reaches the user."""


class StaleDataError(TerminalError):
    """A page's newest data is too old to plan its week from (or there is none)."""


class LockConflictError(TerminalError):
    """Another page holds some of the captions in an overlapping window. The agency's allocation
    of shared captions prevents this within a run, so it means the store changed under the run:
    planning again from the store's new state decides it (never a timing race)."""

    def __init__(self, page_name: str, caption_keys: list[str] | None = None) -> None:
        self.page_name = page_name
        self.caption_keys = caption_keys or []
        count = f"{len(caption_keys)} caption(s)" if caption_keys else "a caption"
        shown = f": {', '.join(caption_keys[:3])}" if caption_keys else ""
        super().__init__(
            f"page {page_name!r}: {count} held by another page in an overlapping week{shown}; "
            "plan the week again"
        )


@dataclass(frozen=True)
class RowProblem:
    """One bad row of an input file: FILE:LINE: column: reason (no column for a whole-row fault)."""

    file: str
    line: int
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: "
        return where + (f"{self.column}: {self.reason}" if self.column else self.reason)


class ImportRejected(InputError):
    """An input file had bad rows; nothing of it was imported."""

    max_shown = 20

    def __init__(self, file: str, problems: list[RowProblem], total_bad_rows: int) -> None:
        self.file = file
        self.problems = problems
        self.total_bad_rows = total_bad_rows
        super().__init__(f"{file}: {total_bad_rows} bad row(s); nothing was imported")

    def details(self) -> list[str]:
        """The lines to show: the first problems, then a count of the rest."""
        shown = [str(problem) for problem in self.problems[: self.max_shown]]
        hidden = self.total_bad_rows - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more bad row(s)")
        return shown
