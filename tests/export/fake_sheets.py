"""A local fake of the Google Sheets v4 API for tests: the real gspread client talks HTTP to it.

It implements what the Sheets exporter calls — spreadsheet metadata GET and batchUpdate (addSheet,
deleteSheet, updateSheetProperties, updateCells, repeatCell, setDataValidation,
updateDimensionProperties; applied all or nothing, with the API's grid-limit and duplicate checks) —
plus values GET (unformatted) so tests can read a tab back through gspread. State lives in memory.
Faults: `fail_next(n, status)` answers the next n requests with that HTTP status (`status=None`
drops the connection; `after_apply=True` applies the request first, as when an answer is lost).

Binds to 127.0.0.1 on an ephemeral port only. Use it as a context manager so it always stops.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import gspread
import requests
from requests.adapters import HTTPAdapter

GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
TITLE_MAX = 100  # characters in a tab name
CELL_FIELDS = ("userEnteredValue", "userEnteredFormat", "dataValidation", "note")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Sheet:
    properties: dict[str, Any]
    cells: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    column_pixels: dict[int, int] = field(default_factory=dict)

    @property
    def sheet_id(self) -> int:
        return int(self.properties["sheetId"])

    @property
    def title(self) -> str:
        return str(self.properties["title"])

    @property
    def grid(self) -> dict[str, Any]:
        grid: dict[str, Any] = self.properties["gridProperties"]
        return grid


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[Sheet] = field(default_factory=list)
    next_id: int = 1


@dataclass
class Fault:
    status: int | None
    after_apply: bool
    path_contains: str


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


def _new_sheet(sheet_id: int, title: str, index: int, grid: dict[str, Any] | None) -> Sheet:
    grid_properties = {"rowCount": 1000, "columnCount": 26}
    grid_properties.update(grid or {})
    return Sheet(
        {
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid_properties,
        }
    )


def _mask_paths(fields: str) -> list[list[str]]:
    """`a(b,c),d.e` → [[a, b], [a, c], [d, e]] (a FieldMask with the API's parenthesis form)."""
    paths: list[list[str]] = []

    def parse(text: str, prefix: list[str]) -> None:
        depth, start = 0, 0
        parts = []
        for index, char in enumerate(text):
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "," and depth == 0:
                parts.append(text[start:index])
                start = index + 1
        parts.append(text[start:])
        for part in (p.strip() for p in parts):
            if not part:
                continue
            if "(" in part and part.endswith(")"):
                head, inner = part[: part.index("(")], part[part.index("(") + 1 : -1]
                parse(inner, prefix + head.split("."))
            else:
                paths.append(prefix + part.split("."))

    parse(fields, [])
    return paths


def _apply_mask(target: dict[str, Any], source: dict[str, Any], fields: str) -> None:
    """Copy the masked paths of `source` into `target`; a masked path absent in `source` is
    cleared."""
    if fields.strip() == "*":
        target.clear()
        target.update(copy.deepcopy(source))
        return
    for path in _mask_paths(fields):
        src: Any = source
        for key in path:
            src = src.get(key) if isinstance(src, dict) else None
        node = target
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if src is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(src)


class FakeSheetsServer:
    """The fake API: start with `with FakeSheetsServer() as server:`; `server.client()` is a real
    gspread Client pointed at it."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.log: list[Logged] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sessions: list[requests.Session] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeSheetsServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for session in self._sessions:
            session.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSheetsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    # -- clients -----------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """A requests session whose Google URLs go to this server (no proxy, dummy bearer)."""
        base = self.base_url

        class Redirect(HTTPAdapter):
            def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
                for host in GOOGLE_HOSTS:
                    if request.url and request.url.startswith(host):
                        request.url = base + request.url[len(host) :]
                return super().send(request, *args, **kwargs)

        session = requests.Session()
        session.trust_env = False  # never through a proxy from the environment
        session.headers["Authorization"] = "Bearer fake-token"
        for host in GOOGLE_HOSTS:
            session.mount(host, Redirect())
        self._sessions.append(session)
        return session

    def client(self) -> gspread.Client:
        return gspread.Client(auth=None, session=self.session())  # type: ignore[arg-type]

    # -- state and faults --------------------------------------------------------------------
    def add_spreadsheet(self, spreadsheet_id: str, tabs: tuple[str, ...] = ("Sheet1",)) -> None:
        book = Spreadsheet(spreadsheet_id, f"Agency {spreadsheet_id}")
        for index, title in enumerate(tabs):
            book.sheets.append(_new_sheet(index, title, index, None))
        book.next_id = len(tabs)
        self.spreadsheets[spreadsheet_id] = book

    def fail_next(
        self, count: int, status: int | None = 429, *, after_apply: bool = False, path: str = ""
    ) -> None:
        """Answer the next `count` requests (whose path contains `path`) with `status`."""
        with self._lock:
            for _ in range(count):
                self._faults.append(Fault(status, after_apply, path))

    def tab(self, spreadsheet_id: str, title: str) -> Sheet:
        matches = [s for s in self.spreadsheets[spreadsheet_id].sheets if s.title == title]
        assert len(matches) == 1, f"{len(matches)} tabs called {title!r}"
        return matches[0]

    def titles(self, spreadsheet_id: str) -> list[str]:
        return [sheet.title for sheet in self.spreadsheets[spreadsheet_id].sheets]

    def values(self, spreadsheet_id: str, title: str) -> list[list[Any]]:
        """The tab's user-entered values as Python values, row by row up to the last used cell."""
        return _grid_values(self.tab(spreadsheet_id, title))

    def requests_of(self, method: str, fragment: str) -> list[Logged]:
        return [entry for entry in self.log if entry.method == method and fragment in entry.path]

    # -- HTTP --------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self._lock:
            fault = None
            for candidate in self._faults:
                if candidate.path_contains in path:
                    fault = candidate
                    self._faults.remove(candidate)
                    break
            status, payload = 200, {}
            if fault is None or fault.after_apply:
                try:
                    payload = self._route(method, path, query, body)
                except ApiError as exc:
                    status, payload = exc.status, _error(exc.status, exc.message)
            if fault is not None:
                if fault.status is None:
                    self.log.append(Logged(method, path, query, body, 0))
                    handler.close_connection = True
                    return  # no answer at all: the client sees a dropped connection
                status, payload = fault.status, _error(fault.status, "injected fault")
            self.log.append(Logged(method, path, query, body, status))
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> dict[str, Any]:
        match = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(:batchUpdate|/values/(.+))?", path)
        if match is None:
            raise ApiError(404, f"no such endpoint: {method} {path}")
        book = self.spreadsheets.get(match.group(1))
        if book is None:
            raise ApiError(404, "Requested entity was not found.")
        if method == "GET" and match.group(2) is None:
            return {
                "spreadsheetId": book.spreadsheet_id,
                "properties": {"title": book.title},
                "sheets": [{"properties": copy.deepcopy(s.properties)} for s in book.sheets],
            }
        if method == "POST" and match.group(2) == ":batchUpdate":
            return self._batch_update(book, body or {})
        if method == "GET" and match.group(3) is not None:
            return self._values_get(book, match.group(3), query)
        raise ApiError(404, f"no such endpoint: {method} {path}")

    def _batch_update(self, book: Spreadsheet, body: dict[str, Any]) -> dict[str, Any]:
        work = copy.deepcopy(book)  # all or nothing, as the real API
        replies = [self._apply(work, request) for request in body.get("requests", [])]
        self.spreadsheets[book.spreadsheet_id] = work
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    def _apply(self, book: Spreadsheet, request: dict[str, Any]) -> dict[str, Any]:
        if len(request) != 1:
            raise ApiError(400, "each request must have exactly one kind")
        ((kind, spec),) = request.items()
        if kind == "addSheet":
            props = spec.get("properties", {})
            title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
            _check_title(book, title, None)
            sheet_id = props.get("sheetId")
            if sheet_id is None:
                sheet_id = book.next_id
                book.next_id += 1
            if not 0 <= sheet_id < 2**31 or any(s.sheet_id == sheet_id for s in book.sheets):
                raise ApiError(400, f"Invalid requests[0].addSheet: sheet id {sheet_id} in use")
            sheet = _new_sheet(sheet_id, title, len(book.sheets), props.get("gridProperties"))
            _check_frozen(sheet)
            book.sheets.append(sheet)
            return {"addSheet": {"properties": copy.deepcopy(sheet.properties)}}
        if kind == "deleteSheet":
            sheet = _sheet(book, spec.get("sheetId"))
            book.sheets.remove(sheet)
            return {}
        if kind == "updateSheetProperties":
            props = spec.get("properties", {})
            sheet = _sheet(book, props.get("sheetId"))
            if "title" in props:
                _check_title(book, str(props["title"]), sheet)
            _apply_mask(sheet.properties, props, spec["fields"])
            sheet.properties["sheetId"] = sheet.sheet_id
            rows, cols = sheet.grid["rowCount"], sheet.grid["columnCount"]
            sheet.cells = {(r, c): v for (r, c), v in sheet.cells.items() if r < rows and c < cols}
            _check_frozen(sheet)
            return {}
        if kind == "updateCells":
            return self._update_cells(book, spec)
        if kind == "repeatCell":
            sheet, rows, cols = _range(book, spec["range"])
            for r in rows:
                for c in cols:
                    _apply_mask(sheet.cells.setdefault((r, c), {}), spec["cell"], spec["fields"])
            return {}
        if kind == "setDataValidation":
            sheet, rows, cols = _range(book, spec["range"])
            for r in rows:
                for c in cols:
                    cell = sheet.cells.setdefault((r, c), {})
                    if spec.get("rule"):
                        cell["dataValidation"] = copy.deepcopy(spec["rule"])
                    else:
                        cell.pop("dataValidation", None)
            return {}
        if kind == "updateDimensionProperties":
            grid_range = spec["range"]
            sheet = _sheet(book, grid_range.get("sheetId"))
            if grid_range.get("dimension") != "COLUMNS":
                raise ApiError(400, "the fake supports COLUMNS only")
            end = grid_range.get("endIndex", sheet.grid["columnCount"])
            if end > sheet.grid["columnCount"]:
                raise ApiError(400, "Invalid requests: range exceeds grid limits")
            for column in range(grid_range.get("startIndex", 0), end):
                sheet.column_pixels[column] = spec["properties"]["pixelSize"]
            return {}
        raise ApiError(400, f"Invalid JSON payload received. Unknown name {kind!r}")

    def _update_cells(self, book: Spreadsheet, spec: dict[str, Any]) -> dict[str, Any]:
        fields = spec["fields"]
        rows_data = spec.get("rows", [])
        if "range" in spec:
            sheet, rows, cols = _range(book, spec["range"])
            for r in rows:
                for c in cols:
                    row_values = (
                        rows_data[r - rows.start]["values"]
                        if r - rows.start < len(rows_data)
                        else []
                    )
                    source = row_values[c - cols.start] if c - cols.start < len(row_values) else {}
                    _apply_mask(sheet.cells.setdefault((r, c), {}), source, fields)
        else:
            start = spec["start"]
            sheet = _sheet(book, start.get("sheetId"))
            row0, col0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
            for r, row in enumerate(rows_data, start=row0):
                values = row.get("values", [])
                if r >= sheet.grid["rowCount"] or col0 + len(values) > sheet.grid["columnCount"]:
                    raise ApiError(400, "Invalid requests: range exceeds grid limits")
                for c, source in enumerate(values, start=col0):
                    _apply_mask(sheet.cells.setdefault((r, c), {}), source, fields)
        sheet.cells = {key: cell for key, cell in sheet.cells.items() if cell}
        return {}

    def _values_get(
        self, book: Spreadsheet, a1_range: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        render = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        if render != "UNFORMATTED_VALUE":
            raise ApiError(400, "the fake answers valueRenderOption=UNFORMATTED_VALUE only")
        title = a1_range.split("!")[0]
        if title.startswith("'") and title.endswith("'"):
            title = title[1:-1].replace("''", "'")
        sheets = [s for s in book.sheets if s.title == title]
        if not sheets or "!" in a1_range:
            raise ApiError(400, f"Unable to parse range: {a1_range} (the fake reads whole tabs)")
        values = []
        for row in _grid_values(sheets[0]):  # the API drops trailing empty cells, "" in between
            while row and row[-1] is None:
                row.pop()
            values.append(["" if value is None else value for value in row])
        return {"range": a1_range, "majorDimension": "ROWS", "values": values}


def _error(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "ERR")}
    }


def _check_title(book: Spreadsheet, title: str, renamed: Sheet | None) -> None:
    """The API's rules for a tab name: at most 100 characters, unique ignoring case."""
    if len(title) > TITLE_MAX:
        raise ApiError(400, f"Invalid sheet name: longer than {TITLE_MAX} characters")
    if any(s.title.casefold() == title.casefold() for s in book.sheets if s is not renamed):
        raise ApiError(
            400,
            f'Invalid requests[0]: A sheet with the name "{title}" already exists. '
            "Please enter another name.",
        )


def _sheet(book: Spreadsheet, sheet_id: Any) -> Sheet:
    for sheet in book.sheets:
        if sheet.sheet_id == sheet_id:
            return sheet
    raise ApiError(400, f"No grid with id: {sheet_id}")


def _range(book: Spreadsheet, grid_range: dict[str, Any]) -> tuple[Sheet, range, range]:
    sheet = _sheet(book, grid_range.get("sheetId"))
    rows = range(
        grid_range.get("startRowIndex", 0), grid_range.get("endRowIndex", sheet.grid["rowCount"])
    )
    cols = range(
        grid_range.get("startColumnIndex", 0),
        grid_range.get("endColumnIndex", sheet.grid["columnCount"]),
    )
    if rows.stop > sheet.grid["rowCount"] or cols.stop > sheet.grid["columnCount"]:
        raise ApiError(400, "Invalid requests: range exceeds grid limits")
    if rows.start >= rows.stop or cols.start >= cols.stop:
        raise ApiError(400, "Invalid requests: empty range")
    return sheet, rows, cols


def _check_frozen(sheet: Sheet) -> None:
    if sheet.grid.get("frozenRowCount", 0) >= sheet.grid["rowCount"]:
        raise ApiError(400, "You can't freeze all visible rows on the sheet.")


def _python_value(cell: dict[str, Any]) -> Any:
    value = cell.get("userEnteredValue")
    if not value:
        return None
    ((kind, inner),) = value.items()
    return inner if kind != "formulaValue" else f"FORMULA:{inner}"


def _grid_values(sheet: Sheet) -> list[list[Any]]:
    used = [(r, c) for (r, c), cell in sheet.cells.items() if cell.get("userEnteredValue")]
    if not used:
        return []
    rows = max(r for r, _ in used) + 1
    cols = max(c for _, c in used) + 1
    return [[_python_value(sheet.cells.get((r, c), {})) for c in range(cols)] for r in range(rows)]
