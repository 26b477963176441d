"""`eros health` (a 0-100 score over 8 weighted metrics) and `eros verify` (named PASS/FAIL checks).

The scoring is pure (metric values in, statuses and score out); `gather_health` and `verify` do the
reading. Both finish in well under two seconds on the demo store.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from eros import clock
from eros.settings import WEEKDAYS, Settings
from eros.store.base import Alert, HealthFacts

Status = Literal["ok", "warn", "fail"]
PASS_SCORE = 80
CREDIT: dict[Status, float] = {"ok": 1.0, "warn": 0.5, "fail": 0.0}

# name -> weight; the weights sum to 100.
WEIGHTS: dict[str, int] = {
    "data_freshness": 20,
    "stats_freshness": 10,
    "lock_backlog": 5,
    "failed_exports_7d": 10,
    "schedules_not_exported": 15,
    "pages_red": 10,
    "pages_without_schedule": 15,
    "caption_bank_depth": 15,
}
# A run saves every page before it exports; a schedule younger than this may still be on its way.
EXPORT_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Metric:
    name: str
    weight: int
    value: float | None
    threshold: str
    status: Status
    detail: str


@dataclass(frozen=True)
class HealthReport:
    score: int
    ok: bool
    metrics: list[Metric]
    checked_at: datetime


def grade(value: float | None, ok: float, warn: float, *, higher_is_better: bool = False) -> Status:
    """ok / warn / fail of a value against its two limits (None, no data, fails)."""
    if value is None:
        return "fail"
    if higher_is_better:
        return "ok" if value >= ok else "warn" if value >= warn else "fail"
    return "ok" if value <= ok else "warn" if value <= warn else "fail"


def score(metrics: list[Metric]) -> int:
    """Weighted share of credit: ok counts whole, warn half, fail nothing."""
    return round(sum(metric.weight * CREDIT[metric.status] for metric in metrics))


@dataclass(frozen=True)
class HealthInputs:
    """The metrics' raw values."""

    data_age_hours: float | None
    stale_stats_pages: int
    pages_with_messages: int
    sweepable_locks: int
    failed_exports: int
    pages: int
    red_pages: list[str]
    pages_without_schedule: list[str]
    schedules_due: bool  # the build weekday has passed, so next week's schedules should exist
    build_weekday: str
    depth: dict[str, tuple[int, int]]  # page -> (eligible PPV captions, caption target)
    unexported_schedules: list[str]  # live schedules neither exported nor skipped by the gate


def metrics_from(inputs: HealthInputs) -> list[Metric]:
    """Pure: the metrics with value, threshold and status."""
    pages = max(inputs.pages, 1)
    age = inputs.data_age_hours
    missing = inputs.pages_without_schedule if inputs.schedules_due else []
    red_share = len(inputs.red_pages) / pages
    missing_share = len(missing) / pages
    stale_share = inputs.stale_stats_pages / max(inputs.pages_with_messages, 1)
    ratios = {
        page: eligible / target for page, (eligible, target) in inputs.depth.items() if target > 0
    }
    worst = min(ratios, key=lambda page: ratios[page]) if ratios else None
    depth_value = ratios[worst] if worst is not None else None
    metrics = [
        Metric(
            "data_freshness",
            WEIGHTS["data_freshness"],
            None if age is None else round(age, 1),
            "newest message <= 48 h old (warn to 168 h)",
            grade(age, 48, 168),
            "no messages in the store"
            if age is None
            else f"newest message is {age:.0f} h old"
            + ("" if age <= 48 else ": import recent history (eros import messages FILE)"),
        ),
        Metric(
            "stats_freshness",
            WEIGHTS["stats_freshness"],
            inputs.stale_stats_pages,
            "0 pages with stale caption stats (warn to 25 %)",
            grade(stale_share, 0, 0.25),
            f"{inputs.stale_stats_pages} of {inputs.pages_with_messages} page(s) have caption "
            "stats older than their messages"
            + ("" if not inputs.stale_stats_pages else ": run eros jobs update-stats"),
        ),
        Metric(
            "lock_backlog",
            WEIGHTS["lock_backlog"],
            inputs.sweepable_locks,
            "<= 500 expired or superseded locks (warn to 2,000)",
            grade(inputs.sweepable_locks, 500, 2_000),
            f"{inputs.sweepable_locks} lock(s) waiting for eros jobs sweep-locks",
        ),
        Metric(
            "failed_exports_7d",
            WEIGHTS["failed_exports_7d"],
            inputs.failed_exports,
            "0 failed exports in 7 days (warn to 3)",
            grade(inputs.failed_exports, 0, 3),
            f"{inputs.failed_exports} failed export attempt(s) in the last 7 days",
        ),
        Metric(
            "schedules_not_exported",
            WEIGHTS["schedules_not_exported"],
            len(inputs.unexported_schedules),
            "0 live schedules saved but neither exported nor held back by the gate",
            grade(len(inputs.unexported_schedules), 0, 0),
            f"{len(inputs.unexported_schedules)} live schedule(s) saved but never exported"
            + (
                " (a run stopped between save and export, or every attempt failed): "
                + ", ".join(inputs.unexported_schedules[:5])
                + (" …" if len(inputs.unexported_schedules) > 5 else "")
                + "; export each with eros export ID, or run the week again"
                if inputs.unexported_schedules
                else ""
            ),
        ),
        Metric(
            "pages_red",
            WEIGHTS["pages_red"],
            len(inputs.red_pages),
            "<= 10 % of pages in RED (warn to 25 %)",
            grade(red_share, 0.10, 0.25),
            f"{len(inputs.red_pages)} of {inputs.pages} page(s) in RED"
            + (f": {', '.join(inputs.red_pages[:5])}" if inputs.red_pages else ""),
        ),
        Metric(
            "pages_without_schedule",
            WEIGHTS["pages_without_schedule"],
            len(missing),
            f"0 pages without next week's schedule after {inputs.build_weekday} (warn to 10 %)",
            grade(missing_share, 0, 0.10),
            (
                f"{len(missing)} page(s) without a schedule for the coming week"
                + (f": {', '.join(missing[:5])}; run eros jobs daily" if missing else "")
            )
            if inputs.schedules_due
            else f"schedules are built on {inputs.build_weekday}; "
            f"{len(inputs.pages_without_schedule)} page(s) still to plan",
        ),
        Metric(
            "caption_bank_depth",
            WEIGHTS["caption_bank_depth"],
            None if depth_value is None else round(depth_value, 2),
            "every page has eligible PPV captions >= its caption target (warn to 50 %)",
            "ok" if not ratios else grade(depth_value, 1.0, 0.5, higher_is_better=True),
            "no pages"
            if worst is None
            else f"shallowest: {worst} with {inputs.depth[worst][0]} eligible PPV captions for a "
            f"target of {inputs.depth[worst][1]}",
        ),
    ]
    return metrics


def report_from(metrics: list[Metric], checked_at: datetime) -> HealthReport:
    total = score(metrics)
    return HealthReport(total, total >= PASS_SCORE, metrics, checked_at)


# -- gathering ------------------------------------------------------------------------------------


def _schedules_due(today: date, build_weekday: str) -> bool:
    """Whether this week's build day has come (then next week's schedules should exist)."""
    return today.weekday() >= WEEKDAYS.index(build_weekday)


def gather_health(store_url: str, settings: Settings) -> HealthReport:
    """Read the store and score it."""
    from eros.errors import StoreError
    from eros.pipeline import analyze_weeks, page_week
    from eros.store import open_store

    now = clock.now()
    today = now.astimezone(clock.zone(settings.timezone)).date()
    with open_store(store_url) as store:
        missing_tables = sorted(set(expected_tables()) - set(store.tables()))
        if missing_tables:
            raise StoreError(
                f"{store_url}: table(s) missing: {', '.join(missing_tables)} "
                "(the store is damaged; run eros verify)"
            )
        pages = store.pages()
        weeks = {
            page.page_name: clock.coming_monday(clock.zone(page.timezone), now) for page in pages
        }
        facts: HealthFacts = store.health_facts(
            now,
            now - timedelta(days=7),
            weeks,
            settings.cooldown_days.ppv,
            saved_before=now - EXPORT_GRACE,
        )
        reports = (
            analyze_weeks(
                store, [page_week(page, weeks[page.page_name]) for page in pages], settings
            )
            if pages
            else {}
        )
    newest = facts.newest_message_at
    inputs = HealthInputs(
        data_age_hours=None if newest is None else max(0.0, (now - newest).total_seconds() / 3600),
        stale_stats_pages=facts.pages_with_stale_stats,
        pages_with_messages=facts.pages_with_messages,
        sweepable_locks=facts.sweepable_locks,
        failed_exports=facts.failed_exports,
        pages=facts.pages,
        red_pages=sorted(
            name for name, report in reports.items() if report.saturation_analysis.zone == "RED"
        ),
        pages_without_schedule=facts.pages_without_schedule,
        schedules_due=_schedules_due(today, settings.daily_build_weekday),
        build_weekday=settings.daily_build_weekday,
        depth={
            name: (facts.eligible_ppv.get(name, 0), report.caption_target)
            for name, report in reports.items()
        },
        unexported_schedules=facts.unexported_schedules,
    )
    return report_from(metrics_from(inputs), now)


def expected_tables() -> list[str]:
    """Every table the shipped migrations create, plus schema_version."""
    from eros.store.duckdb import migrations

    names = {"schema_version"}
    for _, _, sql in migrations():
        names.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql))
    return sorted(names)


# -- verify ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class _Rollback(Exception):
    """Raised inside a transaction to prove it rolls back."""


def _check(name: str, test: Callable[[], tuple[bool, str]]) -> Check:
    try:
        passed, detail = test()
    except Exception as error:  # a check that crashes fails, with the reason
        return Check(name, False, f"{type(error).__name__}: {error}")
    return Check(name, passed, detail)


def _close(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance


def _pure_checks(settings: Settings) -> list[Check]:
    import hashlib

    import numpy as np

    from eros.analyze import caption_target, size_tier
    from eros.bandit import CaptionBandit, wilson_bounds
    from eros.identity import caption_key

    def key_known_answer() -> tuple[bool, str]:
        got = caption_key("Café ﬁre")
        want = hashlib.sha256("café fire".encode()).hexdigest()
        return got == want, f"caption_key('Café ﬁre') = {got[:12]}…"

    def key_normalises() -> tuple[bool, str]:
        same = caption_key("  New SET 🌊\t just   dropped ") == caption_key(
            "new set 🌊 just dropped"
        )
        distinct = caption_key("hello 🌊") != caption_key("hello 🔥")
        return same and distinct, "case and white space ignored, emoji kept"

    def wilson(
        successes: int, trials: int, low: float, high: float
    ) -> Callable[[], tuple[bool, str]]:
        def test() -> tuple[bool, str]:
            lower, upper = wilson_bounds(float(successes), float(trials))
            ok = _close(float(lower), low, 5e-4) and _close(float(upper), high, 5e-4)
            return ok, f"({successes}/{trials}) -> {float(lower):.4f}/{float(upper):.4f}"

        return test

    def thompson() -> tuple[bool, str, bool, str]:
        bandit = CaptionBandit(np.random.default_rng(20251103), temperature=1.0)
        bandit.alpha, bandit.beta = np.full(40_000, 2.0), np.full(40_000, 8.0)
        draws = bandit.sample()
        mean, variance = float(draws.mean()), float(draws.var())
        want_variance = 2 * 8 / (10**2 * 11)
        return (
            _close(mean, 0.2, 0.005),
            f"Beta(2, 8) draws mean {mean:.4f} (want 0.2000)",
            _close(variance, want_variance, 0.0008),
            f"Beta(2, 8) draws variance {variance:.5f} (want {want_variance:.5f})",
        )

    def target_table() -> tuple[bool, str]:
        large_moderate = caption_target(settings, "large", "moderate")
        new_critical = caption_target(settings, "new", "critical")
        return (large_moderate, new_critical) == (85, 30), (
            f"LARGE+MODERATE = {large_moderate} (want 85), NEW+CRITICAL = {new_critical} (want 30)"
        )

    def tiers() -> tuple[bool, str]:
        cases = {4_999: "SMALL", 5_000: "MEDIUM", 24_999: "MEDIUM", 25_000: "LARGE", 100_000: "XL"}
        got = {audience: size_tier(settings, audience) for audience in cases}
        wrong = [f"{a} -> {got[a]}" for a, want in cases.items() if got[a] != want]
        return not wrong, "; ".join(wrong) or "5,000 / 25,000 / 100,000 boundaries hold"

    def holidays_for(year: int) -> Callable[[], tuple[bool, str]]:
        def test() -> tuple[bool, str]:
            days = clock.holiday_dates(
                settings.holidays.country, settings.holidays.categories, range(year, year + 1)
            )
            christmas = date(year, 12, 25) in days
            return len(days) >= 10 and christmas, f"{len(days)} holidays in {year}"

        return test

    def dst_week() -> tuple[bool, str]:
        start, end = clock.week_bounds_utc(date(2025, 10, 27), clock.zone("America/Los_Angeles"))
        hours = (end - start).total_seconds() / 3600
        return hours == 169, f"week of 2025-10-27 in Los Angeles is {hours:.0f} h (want 169)"

    def crons() -> tuple[bool, str]:
        from eros.daemon import trigger

        for cron in (settings.update_stats_cron, settings.daily_cron, settings.sweep_locks_cron):
            trigger(cron, settings.timezone)
        return True, "update-stats, daily and sweep-locks schedules parse"

    mean_ok, mean_detail, var_ok, var_detail = thompson()
    this_year = clock.now().year
    return [
        _check("caption_key known answer", key_known_answer),
        _check("caption_key normalisation", key_normalises),
        _check("Wilson bounds (1 of 2)", wilson(1, 2, 0.0945, 0.9055)),
        _check("Wilson bounds (0 of 10)", wilson(0, 10, 0.0, 0.2775)),
        _check("Wilson bounds (no trials)", wilson(0, 0, 0.0, 1.0)),
        Check("Thompson draws' mean", mean_ok, mean_detail),
        Check("Thompson draws' variance", var_ok, var_detail),
        _check("caption-target table", target_table),
        _check("tier thresholds", tiers),
        _check(f"holiday calendar {this_year}", holidays_for(this_year)),
        _check(f"holiday calendar {this_year + 1}", holidays_for(this_year + 1)),
        _check("DST week length", dst_week),
        _check("job schedules", crons),
    ]


def _store_checks(store_url: str, settings: Settings | None) -> list[Check]:
    from eros.errors import StoreNotFoundError
    from eros.store import open_store
    from eros.store.duckdb import migrations

    try:
        store = open_store(store_url, busy_timeout_s=5.0)
    except StoreNotFoundError:
        raise  # a mistyped --store is bad usage (exit 2), not a failed check
    except Exception as error:
        return [Check("store opens", False, f"{store_url}: {error}")]
    with store:
        checks = [Check("store opens", True, store_url)]
        newest = migrations()[-1][0]

        def version() -> tuple[bool, str]:
            current = store.schema_version()
            return current == newest, f"schema version {current} (newest migration {newest})"

        def tables() -> tuple[bool, str]:
            missing = sorted(set(expected_tables()) - set(store.tables()))
            return not missing, (
                f"missing: {', '.join(missing)}" if missing else f"{len(expected_tables())} tables"
            )

        def keys() -> tuple[bool, str]:
            counts = store.table_counts()
            return True, f"{counts.get('pages', 0)} pages, {counts.get('messages', 0)} messages"

        def zones() -> tuple[bool, str]:
            bad = sorted(
                {page.timezone for page in store.pages() if not clock.is_zone(page.timezone)}
            )
            named = settings.timezone if settings else "America/Los_Angeles"
            ok = not bad and clock.is_zone(named)
            return (
                ok,
                f"unknown zones: {', '.join(bad)}" if bad else f"pages' zones and {named} load",
            )

        def writable() -> tuple[bool, str]:
            holder = f"verify-{uuid.uuid4().hex[:8]}"
            got = store.acquire_lease("verify", holder, clock.now(), 60)
            store.release_lease("verify", holder)
            return got == holder, "wrote and deleted a row"

        def rollback() -> tuple[bool, str]:
            key = f"verify-rollback-{uuid.uuid4().hex}"
            try:
                with store.atomic():
                    store.raise_alerts([Alert(key, clock.now(), None, "verify", "rollback probe")])
                    raise _Rollback
            except _Rollback:
                pass
            left = [alert for alert in store.alerts("verify") if alert.alert_key == key]
            return not left, "a row written in a rolled-back transaction is gone" if not left else (
                "a rolled-back row is still there"
            )

        checks += [
            _check("schema version", version),
            _check("every table", tables),
            _check("tables readable", keys),
            _check("time-zone data", zones),
            _check("store writable", writable),
            _check("store transactional (rollback)", rollback),
        ]
    return checks


def _sheets_check(settings: Settings | None) -> Check:
    if settings is None or not settings.sheets_credentials:
        return Check("Sheets credentials", True, "Sheets not configured")
    path = Path(settings.sheets_credentials).expanduser()

    def readable() -> tuple[bool, str]:
        import json

        data = json.loads(path.read_text("utf-8"))
        ok = isinstance(data, dict) and "client_email" in data
        return ok, f"{path}: service account {data.get('client_email', '?')}" if ok else (
            f"{path}: not a service-account JSON (no client_email)"
        )

    return _check("Sheets credentials", readable)


def verify(store_url: str, settings: Settings | None, settings_error: str | None) -> list[Check]:
    """Every check, in order; `settings` is None when they failed to load (`settings_error`)."""
    checks = [
        Check(
            "settings valid",
            settings is not None,
            settings_error or "defaults, eros.toml, EROS_* and flags load",
        )
    ]
    # With broken settings the known answers are checked against the defaults.
    base = settings if settings is not None else Settings.model_construct()
    checks += _pure_checks(base)
    checks += _store_checks(store_url, settings)
    checks.append(_sheets_check(settings))
    return checks
