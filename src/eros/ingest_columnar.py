"""Ingest, columnar: a messages CSV checked by DuckDB column by column instead of row by row.

The row reader (ingest.py) spends ~20 µs of Python per row; here DuckDB splits the file's lines
and checks every column in bulk against deliberately narrow formats (2025-10-01T19:00:00Z, 1000,
25.50, ...). A value outside them is not judged here: its whole row goes to the row validator of
ingest.py, which gives the same values or the same FILE:LINE report as a row-by-row import. Each
distinct page, message type, tier and trigger is checked once by the row reader's own parsers, and
each distinct caption text is hashed once (DuckDB has no NFKC). A file whose bytes could be read
differently than Python's csv module reads them (NUL, CR, blank lines, a quote outside a quoted
field, a field across lines, bad UTF-8, over-long cells) is left to the row reader entirely.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eros.errors import ImportRejected, RowProblem
from eros.identity import caption_key
from eros.ingest import (
    NULL,
    VALIDATORS,
    ImportReport,
    RowError,
    _canonical,
    _checked_row,
    _choice,
    _Context,
    _duplicates_rejected,
    _message_type,
    _not_a_value,
    _reading,
    import_columns,
)
from eros.settings import PRICE_TIERS, Settings
from eros.store.base import STAGED, Page, Store

if TYPE_CHECKING:
    import duckdb

# Python's csv module refuses a field longer than this many characters (csv.field_size_limit()).
LONGEST_FIELD = 131_072
# Bytes after which the row reader and a line-by-line split could disagree.
_UNSAFE_BYTES = (b"\x00", b"\x01", b"\n\n", b"\n\r\n")
_CHUNK = 1 << 24

# What str.strip() removes (str.isspace): a text cell starting or ending with one of these is left
# to the row validator, so that in SQL a text is taken as it is.
PYTHON_WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)

# One CSV field as Python's csv reader (strict) and DuckDB agree on it: quoted with doubled quotes,
# or without any quote at all.
_FIELD = '"(?:[^"]|"")*"|[^,"]*'
_LINE = f"(?:{_FIELD})(?:,(?:{_FIELD}))*"

_INSTANT = (
    r"^(\d{4}-\d{2}-\d{2})[T ]((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)(?:\.(\d{1,6}))?"
    r"(Z| UTC|([+-])(\d{2}):(\d{2}))$"
)


def _plain_bytes(path: Path) -> bool:
    """Whether every line of `path` is one record that a split on newlines finds as it is: no
    NUL, no blank line, and all lines ending in LF or all in CR LF."""
    previous = b""
    line_feeds = returns = pairs = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            window = previous[-1:] + chunk
            if any(unsafe in window for unsafe in _UNSAFE_BYTES):
                return False
            line_feeds += chunk.count(b"\n")
            returns += chunk.count(b"\r")
            pairs += window.count(b"\r\n")
            previous = chunk
    return returns == 0 or (returns == pairs and (pairs == line_feeds))


def _read_header(path: Path) -> list[str] | None:
    """The canonical header if it is the whole first line, else None."""
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        first = handle.readline().removesuffix("\n").removesuffix("\r")
    if not first:
        return None
    try:
        return _canonical(next(csv.reader([first], strict=True)))
    except (csv.Error, StopIteration):
        return None


def _cell(position: int | None) -> str:
    """SQL for the text of one column of a split line (NULL where the row reader gets None)."""
    if position is None:
        return "NULL::VARCHAR"
    return f"cells[{position + 1}]"


def _not_space(code: str) -> str:
    """SQL: the code point `code` is not one that str.strip() removes (or a control character)."""
    singles = ", ".join(str(ord(char)) for char in PYTHON_WHITE_SPACE if ord(char) > 32)
    return f"({code} > 32 AND {code} NOT IN ({singles}))"


def _plain_text(expression: str) -> str:
    """SQL: the text cell needs no strip() and is not the NULL marker."""
    return (
        f"({expression} = '' OR ({_not_space(f'ord({expression}[1])')} "
        f"AND {_not_space(f'ord({expression}[-1])')})) AND {expression} <> '{NULL}'"
    )


def _count_sql(expression: str) -> str:
    """SQL: the BIGINT of a cell of 1-18 digits, else NULL."""
    return (
        f"CASE WHEN regexp_matches({expression}, '^[0-9]{{1,18}}$') "
        f"THEN TRY_CAST({expression} AS BIGINT) END"
    )


def _money_sql(expression: str) -> str:
    """SQL: the DOUBLE of a cell like 25 or 12.50 (float() and DuckDB round it alike), else NULL."""
    return (
        f"CASE WHEN regexp_matches({expression}, '^[0-9]{{1,15}}(\\.[0-9]{{1,15}})?$') "
        f"THEN TRY_CAST({expression} AS DOUBLE) END"
    )


def _parsed_sql(index: dict[str, int]) -> str:
    """One row per line: the checked values and `fast` (every value in its narrow format)."""
    cells = {name: _cell(index.get(name)) for name in import_columns("messages")}
    unquote = "CASE WHEN f[1] = '\"' THEN replace(f[2:-2], '\"\"', '\"') ELSE f END"
    return f"""
    WITH numbered AS (
        SELECT row_number() OVER () + 1 AS line, raw FROM read_csv(
            ?, header = false, skip = 1, auto_detect = false, columns = {{'raw': 'VARCHAR'}},
            delim = '\x01', quote = '', escape = '', strict_mode = true,
            max_line_size = 536870912)
    ), split AS (
        SELECT line, raw, CASE
            WHEN NOT contains(raw, '"') THEN string_split(raw, ',')
            WHEN regexp_full_match(raw, '{_LINE}') THEN list_transform(
                regexp_extract_all(',' || raw, ',({_FIELD})', 1), lambda f: {unquote})
            END AS cells
        FROM numbered
    ), texts AS (
        SELECT line, raw, cells IS NULL AS quoted_oddly,
            {cells["page_name"]} AS page_name,
            {cells["sent_at"]} AS sent_at,
            {cells["message_type"]} AS message_type,
            {cells["caption_text"]} AS caption_text,
            {cells["price"]} AS price,
            {cells["sent_count"]} AS sent_count,
            {cells["viewed_count"]} AS viewed_count,
            {cells["purchased_count"]} AS purchased_count,
            {cells["revenue"]} AS revenue,
            coalesce({cells["message_id"]}, '') AS message_id,
            coalesce({cells["content_category"]}, '') AS content_category,
            coalesce({cells["price_tier"]}, '') AS price_tier,
            coalesce({cells["trigger"]}, '') AS trigger
        FROM split
    ), instants AS (
        SELECT *, regexp_extract(sent_at, '{_INSTANT}',
            ['day', 'time', 'fraction', 'zone', 'sign', 'hours', 'minutes']) AS parts
        FROM texts
    ), typed AS (
        SELECT line, raw, quoted_oddly, page_name, message_type, caption_text, price_tier, trigger,
            try_strptime(parts.day || ' ' || parts.time, '%Y-%m-%d %H:%M:%S')
                + to_microseconds(coalesce(
                    TRY_CAST(rpad(parts.fraction, 6, '0') AS BIGINT), 0))
                - to_minutes(CASE WHEN parts.sign = '' THEN 0 ELSE
                    (TRY_CAST(parts.hours AS BIGINT) * 60 + TRY_CAST(parts.minutes AS BIGINT))
                    * CASE parts.sign WHEN '-' THEN -1 ELSE 1 END END) AS sent_at,
            parts.sign = '' OR (TRY_CAST(parts.minutes AS BIGINT) < 60 AND
                TRY_CAST(parts.hours AS BIGINT) * 60 + TRY_CAST(parts.minutes AS BIGINT)
                <= CASE parts.sign WHEN '-' THEN 720 ELSE 840 END) AS offset_ok,
            {_money_sql("price")} AS price,
            {_money_sql("revenue")} AS revenue,
            {_count_sql("sent_count")} AS sent_count,
            {_count_sql("viewed_count")} AS viewed_count,
            {_count_sql("purchased_count")} AS purchased_count,
            message_id, content_category,
            caption_text <> '' AND {_plain_text("caption_text")}
                AND {_plain_text("message_id")} AND {_plain_text("content_category")} AS texts_ok
        FROM instants
    )
    SELECT * FROM typed
    """


def _checked_distinct(
    engine: duckdb.DuckDBPyConnection,
    column: str,
    check: Callable[[Any], Any],
) -> None:
    """A table `{column}_ok` (text, value) of the distinct texts of `column` the parser accepts."""
    accepted: list[tuple[str, Any]] = []
    for (text,) in engine.execute(f"SELECT DISTINCT {column} FROM parsed").fetchall():
        if text is None or _not_a_value(text):
            continue
        try:
            accepted.append((text, check(text)))
        except RowError:
            continue
    texts = [text for text, _ in accepted]
    values = [value for _, value in accepted]
    engine.execute(
        f"CREATE TABLE {column}_ok AS SELECT unnest(?::VARCHAR[]) AS text, "
        "unnest(?::VARCHAR[]) AS value",
        [texts, values],
    )


def import_messages_columnar(
    store: Store,
    path: Path,
    settings: Settings,
    create_pages: bool,
    on_progress: Callable[[int], None] | None,
) -> ImportReport | None:
    """Import a messages CSV column by column; None if its bytes need the row reader."""
    import duckdb

    if path.suffix.lower() not in {".csv", ".txt", ""} or not path.is_file():
        return None
    if not _plain_bytes(path):
        return None
    header = _read_header(path)
    if header is None:
        return None
    file_label = str(path)
    index, read, context = _reading("messages", file_label, header, store, settings, create_pages)
    with closing(duckdb.connect()) as engine:
        try:
            engine.execute(f"CREATE TABLE parsed AS {_parsed_sql(index)}", [str(path)])
        except duckdb.Error:  # bad UTF-8 and the like: the row reader says where
            return None
        longest = engine.execute(
            "SELECT coalesce(max(length(raw)), 0), count(*) FILTER (WHERE quoted_oddly) FROM parsed"
        ).fetchone()
        assert longest is not None
        if longest[0] > LONGEST_FIELD:
            return None
        pages = _pages_check(context)
        _checked_distinct(engine, "page_name", pages)
        _checked_distinct(
            engine,
            "message_type",
            lambda text: _message_type(text, ("ppv", "bump", "followup", "free")),
        )
        _checked_distinct(
            engine,
            "price_tier",
            lambda text: _choice("price_tier", text, PRICE_TIERS, optional=True),
        )
        _checked_distinct(engine, "trigger", context.trigger)
        engine.create_function(
            "caption_key", _caption_key, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR")
        )
        engine.execute(
            "CREATE TABLE caption_keys AS SELECT caption_text, caption_key(caption_text) "
            "AS caption_key FROM (SELECT DISTINCT caption_text FROM parsed WHERE texts_ok)"
        )
        engine.execute(_FAST_SQL)
        slow = engine.execute(
            "SELECT line, raw FROM parsed ANTI JOIN fast USING (line) ORDER BY line"
        ).fetchall()
        fast_count = engine.execute("SELECT count(*) FROM fast").fetchone()
        assert fast_count is not None
        outcome = _check_slow_rows(file_label, header, index, read, slow, context)
        if outcome is None:
            return None
        slow_values, row_count = outcome
        row_count += int(fast_count[0])
        if on_progress:
            on_progress(row_count)
        new_pages = {
            page
            for (page,) in engine.execute("SELECT DISTINCT page_name FROM fast").fetchall()
            if page not in context.known_pages
        } | set(context.new_pages)
        with store.staging_file("messages", suffix=".parquet") as staged_file:
            _write_staged(engine, staged_file, slow_values)
            result = store.load_staged(
                "messages",
                staged_file,
                create_pages=[
                    Page(page_name=name, page_type="standard", timezone=settings.timezone)
                    for name in sorted(new_pages)
                ],
            )
    if isinstance(result, list):
        raise _duplicates_rejected(file_label, "messages", result)
    return ImportReport(
        kind="messages",
        file=file_label,
        rows=row_count,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        pages_created=result.pages_created,
    )


def _caption_key(text: str) -> str:
    return caption_key(text)


def _pages_check(context: _Context) -> Callable[[Any], Any]:
    """context.page without recording new pages (the fast rows' new pages are found in SQL)."""

    def check(text: Any) -> Any:
        name = str(text).strip()
        if not name or (name not in context.known_pages and not context.create_pages):
            raise RowError("page_name", "unknown")
        return name

    return check


# The rows whose every value is in its narrow format and passes the row rules, with their values
# as the row validator gives them.
_FAST_SQL = """
CREATE TABLE fast AS
SELECT p.line, pn.value AS page_name, p.sent_at, ck.caption_key,
    mt.value AS message_type, p.caption_text, p.price, p.sent_count, p.viewed_count,
    p.purchased_count, p.revenue, nullif(p.message_id, '') AS message_id,
    nullif(p.content_category, '') AS content_category, pt.value AS price_tier,
    tr.value AS trigger
FROM parsed p
JOIN page_name_ok pn ON pn.text = p.page_name
JOIN message_type_ok mt ON mt.text = p.message_type
JOIN price_tier_ok pt ON pt.text = p.price_tier
JOIN trigger_ok tr ON tr.text = p.trigger
JOIN caption_keys ck ON ck.caption_text = p.caption_text
WHERE NOT p.quoted_oddly AND p.texts_ok AND p.offset_ok
    AND p.sent_at >= TIMESTAMP '1970-01-01' AND p.sent_at < TIMESTAMP '2100-01-01'
    AND p.price IS NOT NULL AND p.revenue IS NOT NULL
    AND p.sent_count IS NOT NULL AND p.viewed_count IS NOT NULL
    AND p.purchased_count IS NOT NULL
    AND p.viewed_count <= p.sent_count AND p.purchased_count <= p.viewed_count
    AND CASE mt.value WHEN 'ppv' THEN p.price > 0 WHEN 'followup' THEN true
        ELSE p.price = 0 END
"""


def _check_slow_rows(
    file_label: str,
    header: list[str],
    index: dict[str, int],
    read: set[int],
    slow: list[tuple[int, str]],
    context: _Context,
) -> tuple[list[tuple[Any, ...]], int] | None:
    """The row validator's values for the rows outside the narrow formats, and how many rows
    they are (blank ones skipped); ImportRejected as the row reader raises it; None if a line
    is no whole record (the row reader must read the file)."""
    validate = VALIDATORS["messages"]
    problems: list[RowProblem] = []
    bad_rows = 0
    row_count = 0
    values: list[tuple[Any, ...]] = []
    for line, raw in slow:
        try:
            cells = next(csv.reader([raw], strict=True), [])
        except csv.Error:
            return None
        if not cells or not any(cell.strip() for cell in cells):
            continue
        row_count += 1
        try:
            row = _checked_row(header, index, read, cells, line, context, validate)
        except RowError as error:
            bad_rows += 1
            if len(problems) < ImportRejected.max_shown:
                problems.append(RowProblem(file_label, line, error.reason, error.column))
            continue
        values.append((line, *row))
    if bad_rows:
        raise ImportRejected(file_label, problems, bad_rows)
    return values, row_count


def _columns(rows: list[tuple[Any, ...]]) -> Iterator[list[Any]]:
    for position in range(len(STAGED["messages"].columns) + 1):
        yield [row[position] for row in rows]


def _write_staged(
    engine: duckdb.DuckDBPyConnection, staged_file: Path, slow_values: list[tuple[Any, ...]]
) -> None:
    """Write the fast rows and the row validator's rows, in line order, as typed columns."""
    spec = STAGED["messages"]
    names = ("line", *spec.columns)
    types = ("BIGINT", *spec.types)
    unnested = ", ".join(
        f"unnest(?::{kind}[]) AS {name}" for name, kind in zip(names, types, strict=True)
    )
    engine.execute(
        f"CREATE TABLE slow AS SELECT {unnested}",
        list(_columns(slow_values)) if slow_values else [[] for _ in names],
    )
    engine.sql(
        f"SELECT {', '.join(names)} FROM fast UNION ALL "
        f"SELECT {', '.join(names)} FROM slow ORDER BY line"
    ).write_parquet(str(staged_file))
