"""The `eros` command: thin commands that parse, call one library function and print.

One error handler (ErosGroup.invoke) turns the project's own errors and bad options into one line
and an exit code: 2 for bad usage or input, 1 for a failed run. With --json the error is a JSON
object on stdout instead. `eros --debug ...` shows the traceback of the project's own errors.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from dataclasses import asdict, is_dataclass, replace
from datetime import date, datetime, time
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer._click import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from eros import __version__
from eros.errors import ErosError, ImportRejected
from eros.settings import Settings, load_settings

# Off a terminal (a pipe, CI) rich would wrap tables at 80 columns; page names need more.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class _State:
    debug = False
    config: Path | None = None
    json_written = False  # a command already printed its JSON document (see print_json)


state = _State()

JSON_ERRORS = "eros.json_errors"  # ctx.meta key: the command line asked for --json


class ErosGroup(TyperGroup):
    """The command group with the project's one error handler."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        # Seen before any option is parsed, so that even a bad option is reported as JSON.
        if ctx.parent is None:
            ctx.meta[JSON_ERRORS] = "--json" in args
            state.json_written = False
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except ErosError as error:
            if state.debug:
                raise
            details = error.details() if isinstance(error, ImportRejected) else []
            _report_error(ctx, str(error), error.exit_code, details)
        except NoArgsIsHelpError:
            raise
        except ClickException as error:
            # A bad option or argument (typer's own checks and the callbacks below).
            _report_error(ctx, error.format_message(), error.exit_code, [])


def _report_error(ctx: Context, message: str, exit_code: int, details: list[str]) -> None:
    """Print one error, as a JSON object on stdout under --json (unless the command already wrote
    its JSON document) or as one line on stderr, and exit with its code."""
    if ctx.meta.get(JSON_ERRORS) and not state.json_written:
        error: dict[str, Any] = {"error": message, "exit_code": exit_code}
        if details:
            error["details"] = details
        print_json(error)
    else:
        err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
        for line in details:
            err_console.print(line, soft_wrap=True, markup=False)
    raise typer.Exit(exit_code) from None


app = typer.Typer(
    cls=ErosGroup,
    name="eros",
    help=(
        "Plan the weekly mass-message schedule of creator pages from each page's own history.\n\n"
        "Start with [bold]eros demo[/] to build a demo agency, then [bold]eros pages --store "
        "eros-demo.duckdb[/]."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="DuckDB file or store URL (default: setting `store`, env EROS_STORE).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _version(value: bool) -> None:
    if value:
        console.print(f"eros {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an error.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Settings file (default: ./eros.toml if present, env EROS_CONFIG)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options come before the command: eros --debug import messages history.csv"""
    state.debug = debug
    state.config = config


def settings_for(store: str | None = None, **flags: Any) -> Settings:
    """The effective settings, with the command's flags as the top layer."""
    return load_settings(state.config, store=store, **flags)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(value), indent=2, ensure_ascii=False) + "\n")
    state.json_written = True


# -- option checks (typer reports a failed one as a usage error: exit 2) --------------------------


def _distinct_pages(pages: list[str] | None) -> list[str] | None:
    """Page arguments: each page once."""
    return _distinct(pages or [], "page") or None


def _distinct(names: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise typer.BadParameter(f"{what} {name!r} given twice")
        seen.add(name)
    return names


def _destination_list(text: str) -> str:
    """--export / --to: at least one destination, each once (names are checked by the exporter)."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise typer.BadParameter("name at least one destination: xlsx, csv, ics or sheets")
    _distinct(names, "destination")
    return text


def _lookback_days(days: int | None) -> int | None:
    """--lookback obeys the same bounds as the setting saturation.lookback_days."""
    if days is not None:
        from pydantic import ValidationError

        from eros.settings import SaturationRules

        try:
            SaturationRules(lookback_days=days)
        except ValidationError as error:
            raise typer.BadParameter(str(error.errors()[0]["msg"])) from None
    return days


def _chosen_pages(pages: list[str] | None, all_pages: bool) -> list[str] | None:
    """The named pages, or None for --all; naming both or neither is a usage error."""
    from eros.errors import InputError

    if pages and all_pages:
        raise InputError("name pages or pass --all, not both")
    if not pages and not all_pages:
        raise InputError("name one or more pages, or pass --all")
    return None if all_pages else list(pages or [])


# -- import ---------------------------------------------------------------------------------------


class ImportKindChoice(StrEnum):
    pages = "pages"
    messages = "messages"
    captions = "captions"
    fans = "fans"


@app.command("import")
def import_command(
    kind: Annotated[ImportKindChoice, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="A UTF-8 CSV with a header, or an xlsx workbook.")],
    create_pages: Annotated[
        bool,
        typer.Option(
            "--create-pages", help="Create pages the store does not know (type standard)."
        ),
    ] = False,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import pages, message history, the caption bank or daily fan counts.

    Every row is checked first; if any row is bad, each is reported as FILE:LINE: reason, the
    command exits 2 and nothing of the file is imported. Importing the same file again changes
    nothing. Formats: docs/data-formats.md (the seed's BigQuery column names are accepted too).

    Example: eros import messages history.csv --create-pages
    """
    from eros.ingest import import_file
    from eros.store import open_store

    settings = settings_for(store)
    progress = None
    if not as_json and err_console.is_terminal:

        def progress(rows: int) -> None:
            err_console.print(f"  {rows:,} rows checked", style="dim")

    with open_store(settings.store, create=True) as opened:
        report = import_file(
            opened, kind.value, file, settings, create_pages=create_pages, on_progress=progress
        )
    if as_json:
        print_json(report)
        return
    console.print(
        f"{report.file}: {report.rows:,} {report.kind} rows — {report.inserted:,} new, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged"
    )
    if report.pages_created:
        console.print(f"created pages: {', '.join(report.pages_created)}")


# -- pages ----------------------------------------------------------------------------------------


def _local(instant: datetime | None, timezone: str) -> str:
    from eros.clock import zone

    if instant is None:
        return "–"
    return instant.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M")


@app.command("pages")
def pages_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """List the pages in the store with their history: messages, captions, first and last send.

    Times are shown in each page's own time zone (in --json: UTC instants).

    Example: eros pages --store eros-demo.duckdb
    """
    from eros.store import open_store

    settings = settings_for(store)
    with open_store(settings.store) as opened:
        overview = opened.page_overview()
    if as_json:
        print_json(overview)
        return
    if not overview:
        console.print(
            f"no pages in {settings.store} yet: run `eros import pages FILE` or `eros demo`"
        )
        return
    table = Table(title=f"{len(overview)} pages in {settings.store}")
    for column in ("page", "type", "time zone", "messages", "captions", "first send", "last send"):
        table.add_column(column, justify="right" if column in ("messages", "captions") else "left")
    for page in overview:
        table.add_row(
            page.page_name,
            page.page_type,
            page.timezone,
            f"{page.messages:,}",
            f"{page.captions:,}",
            _local(page.first_sent_at, page.timezone),
            _local(page.last_sent_at, page.timezone),
        )
    console.print(table)


# -- analyze --------------------------------------------------------------------------------------


@app.command("analyze")
def analyze_command(
    pages: Annotated[
        list[str] | None,
        typer.Argument(help="Pages to analyse.", callback=_distinct_pages, show_default=False),
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Analyse every page.")] = False,
    lookback: Annotated[
        int | None,
        typer.Option(
            "--lookback",
            help="Days of history to read (default 90, at least 14).",
            callback=_lookback_days,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Analyse as of this date, 00:00 in each page's time zone."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Size tier, audience, saturation (fatigue) risk, local day and hour patterns, daily targets.

    Saturation compares the last 14 days of mature PPVs with the baseline, adjusted for local hour
    and weekday; a drop counts only when it is credible. A drop shared by >= 70 % of pages is
    reported as platform-wide and flags none.

    Example: eros analyze jadebri --as-of 2025-11-03 --store eros-demo.duckdb
    """
    from eros import clock
    from eros.analyze import analyze_pages
    from eros.errors import InputError, UnknownPageError
    from eros.store import open_store, store_path

    settings = settings_for(
        store, saturation=None if lookback is None else {"lookback_days": lookback}
    )
    named = _chosen_pages(pages, all_pages)
    with open_store(settings.store) as opened:
        known = {page.page_name: page for page in opened.pages()}
        if not known:
            raise InputError(
                f"no pages in {store_path(settings.store)}: import them with "
                "eros import pages FILE, or run eros demo"
            )
        chosen = sorted(known) if named is None else named
        for name in chosen:
            if name not in known:
                raise UnknownPageError(name, "see `eros pages`", known)
        if as_of is None:
            instants = {name: clock.now() for name in chosen}
        else:
            try:
                day = date.fromisoformat(as_of)
            except ValueError as error:
                raise InputError(f"--as-of {as_of!r}: give a date as YYYY-MM-DD") from error
            instants = {
                name: clock.local_datetime(day, time(0), clock.zone(known[name].timezone))
                for name in chosen
            }
        everything = opened.page_histories(
            max(instants.values()),
            settings.saturation.lookback_days + 1,
            pages=None,
        )
    # The platform-wide rule needs every page; the report shows the chosen ones.
    for page_name in known:
        instants.setdefault(page_name, max(instants.values()))
    reports = [
        report
        for report in analyze_pages(everything, settings, instants)
        if report.page_name in set(chosen)
    ]
    if as_json:
        print_json(reports if all_pages or len(reports) > 1 else reports[0])
        return
    table = Table(title=f"{len(reports)} page(s) analysed")
    for column in ("page", "tier", "audience", "risk", "zone", "score", "rps change", "targets"):
        table.add_column(column)
    for report in reports:
        saturation = report.saturation_analysis
        parameters = report.optimization_parameters
        change = saturation.revenue_per_send_change
        table.add_row(
            report.page_name,
            report.account_classification.size_tier,
            f"{report.account_classification.audience_size:,}",
            saturation.risk_level,
            saturation.zone,
            f"{saturation.saturation_score:.2f}",
            "–" if change is None else f"{change:+.0%}",
            f"{parameters.daily_ppv_target} PPV, {parameters.daily_bump_target} bumps/day, "
            f"{report.caption_target} captions",
        )
    console.print(table)


# -- select ---------------------------------------------------------------------------------------

ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        help="optimize, safe or conservative (volume, gaps, follow-ups).",
        show_default=True,
    ),
]
WeekOption = Annotated[
    str, typer.Option("--week", help="The Monday the week starts (page's time zone), or 'next'.")
]


def _week(text: str, settings: Settings) -> date:
    """A --week value: "next" is the coming ISO week for every page (the agency's time zone
    decides when it begins), or an ISO Monday."""
    from eros import clock

    return clock.parse_week(text, clock.zone(settings.timezone))


def _check_mode(mode: str) -> str:
    from eros.errors import InputError
    from eros.settings import MODES

    if mode not in MODES:
        raise InputError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


@app.command("select")
def select_command(
    page: Annotated[str, typer.Argument(help="The page to select captions for.")],
    week: WeekOption = "next",
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, help="PPV pool size (default: the caption target)."),
    ] = None,
    mode: ModeOption = "optimize",
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Choose the week's PPV and bump caption pools by Thompson sampling (a preview: locks nothing).

    Eligible captions are active, outside their cooldown (PPV 21 days, bump 7) and not locked by
    another page; PPVs rank by a posterior draw of the unlock rate × price, within trigger budgets
    and at most 35 % per content category. The same page, week and mode give the same pools.

    Example: eros select jadebri --week 2025-11-03 --store eros-demo.duckdb --json
    """
    from eros.pipeline import select_page_week
    from eros.store import open_store

    settings = settings_for(store)
    _check_mode(mode)
    monday = _week(week, settings)
    with open_store(settings.store) as opened:
        selection = select_page_week(opened, page, monday, mode, settings, count)
    if as_json:
        print_json(selection)
        return
    table = Table(title=f"{page}, week of {selection.week_start}: PPV pool")
    for column in ("#", "caption", "tier", "price", "category", "trigger", "mean", "strategy"):
        table.add_column(column)
    for number, item in enumerate(selection.caption_pool.ppv_captions, start=1):
        table.add_row(
            str(number),
            item.caption_text[:60],
            item.price_tier or "",
            f"${item.price:,.2f}",
            item.content_category or "",
            item.trigger or "",
            f"{item.posterior_mean:.3f}",
            item.strategy,
        )
    console.print(table)
    health = selection.pool_health
    console.print(
        f"pool: {health.final_selected} of target {selection.target_count} PPVs "
        f"({health.total_available} active, {health.after_cooldown} outside cooldown, "
        f"{health.after_locks} unlocked), {len(selection.caption_pool.bump_captions)} bumps"
    )
    for warning in selection.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")


# -- build ----------------------------------------------------------------------------------------


@app.command("build")
def build_command(
    page: Annotated[str, typer.Argument(help="The page to plan.")],
    week: WeekOption = "next",
    mode: ModeOption = "optimize",
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plan one page's week: times, captions, prices and follow-ups; validate; save with locks.

    The week runs Monday 00:00 to Monday 00:00 in the page's time zone. PPV times maximise the
    page's revenue by local hour under the windows and gaps; captions are placed to maximise
    expected revenue under the diversity rules. A valid schedule is saved with its caption locks in
    one transaction; the same inputs give the same schedule_id and saving again changes nothing.
    Exits 1 when the schedule fails validation.

    Example: eros build jadebri --week 2025-11-03 --mode safe --store eros-demo.duckdb
    """
    from eros.pipeline import build_page_week
    from eros.schedule import schedule_as_dict

    settings = settings_for(store)
    _check_mode(mode)
    built = build_page_week(settings.store, page, _week(week, settings), mode, settings)
    validation = built.validation
    if as_json:
        print_json(
            {
                "schedule": schedule_as_dict(built.schedule),
                "validation": {
                    "ok": validation.ok,
                    "zone": validation.zone,
                    "rules": [
                        {"rule": r.rule, "ok": r.ok, "detail": r.detail} for r in validation.rules
                    ],
                    "warnings": validation.warnings,
                },
                "persisted": built.persisted,
            }
        )
    else:
        _print_schedule(built.schedule)
        console.print(
            f"[bold]{built.schedule.schedule_id}[/] zone {validation.zone}, "
            f"validation {'ok' if validation.ok else 'FAILED'}, {built.persisted}"
        )
        for rule in validation.failed():
            err_console.print(f"[red]rule {rule.rule}:[/] {rule.detail}")
        for warning in validation.warnings:
            err_console.print(f"[yellow]warning:[/] {warning}")
    if not validation.ok:
        raise typer.Exit(1)


def _print_schedule(schedule: Any) -> None:
    table = Table(
        title=f"{schedule.page_name}, week of {schedule.week_start} ({schedule.timezone})"
    )
    for column in ("day", "time", "type", "caption", "price", "tier", "category", "expected"):
        table.add_column(column)
    for message in schedule.messages:
        table.add_row(
            message.send_at_local.strftime("%a %d"),
            message.send_at_local.strftime("%H:%M"),
            message.message_type,
            message.caption_text[:50],
            f"${message.price:,.2f}" if message.price else "",
            message.price_tier or "",
            message.content_category or "",
            f"${message.expected_revenue:,.0f}" if message.expected_revenue else "",
        )
    console.print(table)


# -- run ------------------------------------------------------------------------------------------


@app.command("run")
def run_command(
    pages: Annotated[
        list[str] | None,
        typer.Argument(help="Pages to plan.", callback=_distinct_pages, show_default=False),
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Plan every page.")] = False,
    week: WeekOption = "next",
    mode: ModeOption = "optimize",
    auto_export: Annotated[
        bool,
        typer.Option(
            "--auto-export/--no-auto-export",
            help="Export valid schedules that are not RED (else: skipped, reason manual).",
        ),
    ] = True,
    parallel: Annotated[
        bool, typer.Option("--parallel/--sequential", help="Plan pages at once (workers setting).")
    ] = True,
    export: Annotated[
        str,
        typer.Option(
            "--export",
            help="Destinations, comma-separated: xlsx, csv, ics, sheets.",
            callback=_destination_list,
        ),
    ] = "xlsx,csv",
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder for xlsx, csv and ics files.")
    ] = Path("out"),
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """The main job: analyse, select, build, validate, save and export the week of many pages.

    Per page: analyse -> caption target -> select -> build -> validate -> persist -> gate ->
    export. The gate exports a schedule only if it is valid, not RED and --auto-export; otherwise
    the export is skipped with the reason invalid, red_zone or manual. Transient faults are retried
    (3 attempts, exponential backoff); one page's failure never stops the others. Exits 0 when every
    page succeeded, 1 when any failed.

    Example: eros run --all --week 2025-11-03 --export xlsx,csv --out out --store eros-demo.duckdb
    """
    from eros.export import check_destinations, parse_destinations
    from eros.pipeline import run_summary

    settings = settings_for(store)
    _check_mode(mode)
    destinations = parse_destinations(export)
    check_destinations(destinations, settings)  # e.g. Sheets without credentials: before planning
    named = _chosen_pages(pages, all_pages)
    monday = _week(week, settings)
    show_progress = not as_json and console.is_terminal
    result = _run_with_progress(
        settings,
        named,
        monday,
        mode,
        auto_export,
        parallel,
        destinations,
        out,
        show_progress,
    )
    summary = run_summary(result)
    if as_json:
        print_json(summary)
    else:
        _print_run(summary)
    if any(run.status != "success" for run in result.pages):
        raise typer.Exit(1)


def _run_with_progress(
    settings: Settings,
    pages: list[str] | None,
    monday: date | None,
    mode: str,
    auto_export: bool,
    parallel: bool,
    destinations: list[str],
    out: Path,
    show_progress: bool,
) -> Any:
    from contextlib import ExitStack

    from eros.pipeline import run_pages

    with ExitStack() as stack:
        done = None
        if show_progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            progress = stack.enter_context(
                Progress(
                    TextColumn("planning"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err_console,
                    transient=True,
                )
            )
            task = progress.add_task("pages", total=None)

            def done(run: Any) -> None:
                progress.advance(task)

        return run_pages(
            settings.store,
            pages,
            monday,
            mode,
            settings,
            auto_export=auto_export,
            parallel=parallel,
            destinations=destinations,
            out_dir=out,
            on_page_done=done,
        )


def _print_run(summary: dict[str, Any]) -> None:
    overall = summary["orchestration_summary"]
    table = Table(title=f"week of {overall['week_start']}, mode {overall['mode']}")
    columns = ("page", "status", "tier", "risk", "zone", "messages", "saved", "export", "schedule")
    for column in columns:
        table.add_column(column)
    for page, result in summary["page_results"].items():
        schedule = result.get("schedule", {})
        performance = result.get("performance", {})
        export = result.get("export", {})
        table.add_row(
            page,
            result["status"],
            performance.get("account_classification", {}).get("size_tier", ""),
            performance.get("saturation_analysis", {}).get("risk_level", ""),
            schedule.get("saturation_zone", ""),
            str(schedule.get("total_messages", "")),
            schedule.get("persisted", ""),
            export.get("status", "") + (f" ({export['reason']})" if export.get("reason") else ""),
            schedule.get("schedule_id", ""),
        )
    console.print(table)
    console.print(
        f"{overall['successful']} of {overall['total_pages']} pages planned, "
        f"{overall['saved']} saved new, {overall['unchanged']} unchanged, "
        f"{overall['exported']} exported, {overall['skipped_exports']} skipped, "
        f"{overall['failed']} failed in {overall['execution_time_seconds']:.1f} s; zones "
        + ", ".join(f"{zone} {count}" for zone, count in overall["saturation_breakdown"].items())
    )
    for destination, files in overall.get("files", {}).items():
        if files:
            console.print(
                f"{destination}: {', '.join(files[:3])}" + (" …" if len(files) > 3 else "")
            )
    for error in summary["errors"]:
        err_console.print(f"[red]{error['page_name']}[/] {error['stage']}: {error['error']}")


# -- backtest -------------------------------------------------------------------------------------


@app.command("backtest")
def backtest_command(
    weeks: Annotated[int, typer.Option("--weeks", min=1, help="Weeks to run in closed loop.")] = 8,
    pages: Annotated[
        str, typer.Option("--pages", help="'all', or demo pages to plan, comma-separated.")
    ] = "all",
    policies: Annotated[
        str,
        typer.Option(
            "--policies", help="Policies to compare, comma-separated: eros, seed, random, oracle."
        ),
    ] = "eros,seed,random,oracle",
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, help="Seed of the demo world and of every policy's draws."),
    ] = 7,
    start: Annotated[
        str,
        typer.Option(
            "--start", help="Monday the run starts (the world's history ends the day before)."
        ),
    ] = "2025-11-03",
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", dir_okay=False, help="Write a PNG chart of weekly revenue per policy."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Closed-loop backtest on the demo world: eros vs the seed's heuristics vs random vs an oracle.

    Each policy runs on its own copy of the demo world and store: every week it plans every page,
    the simulator turns the plan into outcomes, and those become the policy's history for the next
    week (fatigue carries over). Reports revenue, messages, revenue per message, end-of-run
    fatigue and regret against the oracle per policy and page (docs/evaluation.md).

    Example: eros backtest --weeks 8 --plot backtest.png
    """
    from eros import clock
    from eros.backtest import report, run_backtest

    settings = settings_for()
    monday = clock.parse_week(start, clock.zone(settings.timezone))
    chosen = (
        None
        if pages.strip().lower() == "all"
        else _distinct([page.strip() for page in pages.split(",") if page.strip()], "page")
    )
    quiet = as_json or not err_console.is_terminal

    def step(message: str) -> None:
        if not quiet:
            err_console.print(f"  {message}", style="dim")

    result = run_backtest(
        weeks, chosen, policies.split(","), seed, start=monday, settings=settings, on_progress=step
    )
    if plot is not None:
        report.plot_weekly_revenue(result, plot)
    if as_json:
        print_json(report.summary(result))
        return
    console.print(report.totals_table(result))
    console.print(report.pages_table(result))
    line = report.bar_line(result)
    if line:
        console.print(line)
    if plot is not None:
        console.print(f"chart: {plot}")
    console.print(
        f"{len(result.pages)} pages × {len(result.weeks)} weeks in {result.seconds:.1f} s"
    )


# -- export ---------------------------------------------------------------------------------------


@app.command("export")
def export_command(
    schedule_id: Annotated[str, typer.Argument(help="A saved schedule's id (SCH_...).")],
    to: Annotated[
        str,
        typer.Option(
            "--to", help="xlsx, csv, ics or sheets (comma-separated).", callback=_destination_list
        ),
    ] = "csv",
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder for the files.")
    ] = Path("out"),
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a saved schedule again (to a file or to the agency's Google Sheet).

    Files are named for the schedule (OUT/SCHEDULE_ID.csv, .xlsx; OUT/ics/PAGE.ics), never over a
    run's agency-wide schedules.csv and .xlsx. Each attempt is recorded in schedule_export_log. A
    re-export to Sheets replaces the tab.

    Example: eros export SCH_2025W45_JADEBRI_ABC123 --to xlsx,csv --out out
    """
    from eros.errors import ErosError, InputError
    from eros.export import (
        check_destinations,
        export_schedules,
        parse_destinations,
        record_attempts,
    )
    from eros.store import open_store

    settings = settings_for(store)
    destinations = parse_destinations(to)
    check_destinations(destinations, settings)
    with open_store(settings.store) as opened:
        schedule = opened.schedule_export(schedule_id)
        if schedule is None:
            raise InputError(f"unknown schedule {schedule_id!r}: see `eros run` or `eros build`")
        outcome = export_schedules([schedule], destinations, out, settings, file_stem=schedule_id)
        attempts = outcome.attempts.get(schedule_id, [])
        record_attempts(opened, {schedule_id: attempts})
    if as_json:
        print_json({"schedule_id": schedule_id, "attempts": attempts, "files": outcome.files})
    else:
        for attempt in attempts:
            detail = attempt.error or ", ".join(outcome.files.get(attempt.destination, []))
            console.print(f"{attempt.destination}: {attempt.status} ({attempt.rows} rows) {detail}")
    if any(attempt.status != "exported" for attempt in attempts):
        raise ErosError(f"{schedule_id}: some exports failed")


# -- jobs -----------------------------------------------------------------------------------------

jobs_app = typer.Typer(
    cls=ErosGroup,
    help=(
        "Maintenance jobs; each is safe to run again (a second run changes nothing).\n\n"
        "Example: eros jobs update-stats --store eros-demo.duckdb"
    ),
    no_args_is_help=True,
)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("update-stats")
def update_stats_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Refresh caption_bandit_stats for pages whose messages changed since the last refresh.

    Example: eros jobs update-stats --store eros-demo.duckdb
    """
    _run_job_command("update-stats", store, as_json)


@jobs_app.command("sweep-locks")
def sweep_locks_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Free expired caption locks and the locks of superseded schedules.

    Example: eros jobs sweep-locks --store eros-demo.duckdb
    """
    _run_job_command("sweep-locks", store, as_json)


def _run_job_command(job: str, store: str | None, as_json: bool) -> None:
    """Run a maintenance job under its lease and print what it did."""
    from eros.jobs import run_job

    settings = settings_for(store)
    result = run_job(job, settings.store, settings)
    print_json(result) if as_json else console.print(f"{job}: {result.detail}")


@jobs_app.command("daily")
def daily_command(
    day: Annotated[
        str | None,
        typer.Option("--date", help="The day to run for, YYYY-MM-DD (default: today)."),
    ] = None,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """The nightly job: refresh stats, sweep locks, analyse every page and keep the day's snapshot,
    alert for pages that entered RED, and on `daily_build_weekday` (thursday) plan next week for
    the pages without a schedule. One page's failure is recorded and the job goes on; 5 in a row
    stop it with an alert. Exits 1 when any page failed.

    Example: eros jobs daily --date 2025-10-30 --store eros-demo.duckdb
    """
    from eros.errors import InputError
    from eros.jobs import run_job

    settings = settings_for(store)
    chosen = None
    if day is not None:
        try:
            chosen = date.fromisoformat(day)
        except ValueError as error:
            raise InputError(f"--date {day!r}: give a date as YYYY-MM-DD") from error
    result = run_job("daily", settings.store, settings, day=chosen)
    print_json(result) if as_json else console.print(f"daily: {result.detail}")
    if result.status not in ("ok", "skipped"):
        raise typer.Exit(1)


# -- daemon, health, verify -----------------------------------------------------------------------


@app.command("daemon")
def daemon_command(store: StoreOption = None) -> None:
    """Run the jobs on their schedules until stopped (SIGTERM or Ctrl-C).

    update-stats every 6 h, daily at 03:05 and sweep-locks hourly, in the settings' time zone
    (settings update_stats_cron, daily_cron, sweep_locks_cron). A run missed while the machine
    slept runs once on wake; a lease in the store keeps two daemons from running one job at once.

    Example: eros daemon --store eros-demo.duckdb
    """
    import logging

    from eros.daemon import run_daemon, schedules
    from eros.store import require_store

    settings = settings_for(store)
    require_store(settings.store)  # a missing store is an error now, not at every job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for job, cron in schedules(settings).items():
        err_console.print(f"{job}: {cron} ({settings.timezone})", style="dim")
    run_daemon(settings.store, settings)
    err_console.print("daemon stopped")


@app.command("health")
def health_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Score the store's health 0-100 from 8 weighted metrics; exits 0 at >= 80, else 1.

    Metrics: data freshness, caption-stats freshness, lock backlog, failed exports in 7 days,
    live schedules saved but never exported (neither exported nor held back by the gate: a run
    stopped between save and export), pages in RED, pages without a schedule for the coming week,
    caption bank depth (eligible PPV captions vs each page's target). Each shows its value,
    threshold and ok/warn/fail.

    Example: eros health --store eros-demo.duckdb --json
    """
    from eros.health import gather_health

    settings = settings_for(store)
    report = gather_health(settings.store, settings)
    if as_json:
        print_json(report)
    else:
        table = Table(title=f"health {report.score}/100 ({'ok' if report.ok else 'failing'})")
        for column in ("metric", "weight", "value", "threshold", "status", "detail"):
            table.add_column(column)
        colours = {"ok": "green", "warn": "yellow", "fail": "red"}
        for metric in report.metrics:
            table.add_row(
                metric.name,
                str(metric.weight),
                "–" if metric.value is None else f"{metric.value:g}",
                metric.threshold,
                f"[{colours[metric.status]}]{metric.status}[/]",
                metric.detail,
            )
        console.print(table)
    if not report.ok:
        failing = [m.name for m in report.metrics if m.status != "ok"]
        err_console.print(f"health score {report.score} < 80: {', '.join(failing)}")
        raise typer.Exit(1)


@app.command("verify")
def verify_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Check the installation and the store: at least 21 named checks, each PASS or FAIL.

    Settings, time-zone data, holiday calendars, known answers (caption_key, Wilson bounds,
    Thompson draws, caption targets, tier thresholds), the schema version and every table, a
    write and a rollback, Sheets credentials when Sheets is configured. Exits 0 only if all pass.

    Example: eros verify --store eros-demo.duckdb
    """
    import os

    from eros.errors import SettingsError
    from eros.health import verify

    settings: Settings | None
    try:
        settings = settings_for(store)
        error = None
        store_url = settings.store
    except SettingsError as problem:
        settings, error = None, str(problem)
        store_url = store or os.environ.get("EROS_STORE") or Settings.model_construct().store
    checks = verify(store_url, settings, error)
    failed = [check for check in checks if not check.passed]
    if as_json:
        print_json({"ok": not failed, "checks": checks})
    else:
        for check in checks:
            mark = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
            console.print(f"{mark} {check.name}: {check.detail}", markup=True)
        console.print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    if failed:
        err_console.print(f"verify failed: {', '.join(check.name for check in failed)}")
        raise typer.Exit(1)


# -- demo -----------------------------------------------------------------------------------------


@app.command("demo")
def demo_command(
    store: Annotated[
        Path, typer.Option("--store", dir_okay=False, help="Where to build the demo store.")
    ] = Path("eros-demo.duckdb"),
    week: Annotated[
        str,
        typer.Option("--week", help="The Monday to plan (history ends the day before), or 'next'."),
    ] = "next",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the synthetic world.")] = 7,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            file_okay=False,
            help="Also keep the generated import files in this folder.",
        ),
    ] = None,
    run: Annotated[
        bool,
        typer.Option("--run/--no-run", help="Then run the main job: plan and export every page."),
    ] = True,
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder for schedules.xlsx and .csv.")
    ] = Path("out"),
    pages: Annotated[
        int,
        typer.Option(
            "--pages",
            min=1,
            max=5_000,
            help="Pages in the agency: the seed's 38 first, then generated ones (page0039, ...).",
        ),
    ] = 38,
    as_json: JsonOption = False,
) -> None:
    """Build a demo agency and plan its week: the seed's 38 pages with 26 weeks of history.

    The history comes from a simulator with a hidden ground truth (audiences, hours, caption appeal,
    fatigue, holidays) and goes in through the same import as real data. Then the main job runs on
    it, as `eros run --all` would, and writes out/schedules.xlsx and out/schedules.csv.

    --pages N builds an agency of N pages (up to 5,000): fewer than 38 keeps the first N seed
    pages; more adds generated pages with their own history and captions, sharing the agency's
    shared captions. --no-run builds the store without planning.

    Example: eros demo --week 2025-11-03 --data-dir demo-data
    """
    from eros import clock
    from eros.demo import build_demo
    from eros.jobs import run_job
    from eros.pipeline import run_pages, run_summary

    settings = settings_for()
    monday = clock.parse_week(week, clock.zone(settings.timezone))
    quiet = as_json or not err_console.is_terminal
    with nullcontext() if quiet else err_console.status("building the demo…", spinner="dots"):

        def step(message: str) -> None:
            if not quiet:
                err_console.print(f"  {message}", style="dim")

        result = build_demo(
            settings,
            store_path=store,
            week_start=monday,
            seed=seed,
            data_dir=data_dir,
            on_step=step,
            page_count=pages,
        )
        summary = None
        if run:
            step("refreshing caption stats (as the daemon's update-stats job would)")
            run_job("update-stats", str(result.store_path), settings)
            step(f"planning the week of {result.week_start.isoformat()} for every page")
            job = run_pages(
                str(result.store_path),
                None,
                result.week_start,
                "optimize",
                settings,
                destinations=["xlsx", "csv"],
                out_dir=out,
            )
            summary = run_summary(job)
    if as_json:
        print_json(replace(result, run=summary))
        return
    rows = ", ".join(f"{report.rows:,} {report.kind}" for report in result.imports)
    console.print(f"[bold]demo store[/] {result.store_path}: {rows}")
    console.print(
        f"built in {result.simulate_seconds + result.import_seconds:.1f} s: simulating and "
        f"writing {result.simulate_seconds:.1f} s, importing {result.import_seconds:.1f} s"
    )
    console.print(f"history ends {result.week_start.isoformat()} (the week it plans starts then)")
    if summary is None and result.pages > 38:  # a big agency: no table of every page
        console.print(f"{result.pages:,} pages: eros pages --store {result.store_path}")
    elif summary is None:
        pages_command(store=str(result.store_path), as_json=False)
    else:
        _print_run(summary)


# -- settings -------------------------------------------------------------------------------------


@app.command("settings")
def settings_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Show the effective settings (defaults < eros.toml < EROS_* variables < flags).

    Example: eros --config agency.toml settings --json
    """
    settings = settings_for(store)
    dumped = settings.model_dump(mode="json")
    if as_json:
        print_json(dumped)
        return
    table = Table(title="effective settings")
    table.add_column("setting")
    table.add_column("value")
    for name, value in dumped.items():
        shown = value if isinstance(value, str | int | float) else json.dumps(value)
        table.add_row(name, str(shown))
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
