"""The performance analyzer: known answers for formulas and tables, acceptance on the demo."""

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from eros.analyze import (
    PageHistory,
    analyze,
    analyze_pages,
    caption_target,
    local_hour_and_day,
    risk_level,
    round_half_up,
    size_tier,
)
from eros.settings import Settings, load_settings
from eros.simulate import World
from eros.store import open_store

EXPECTED_CAPTION_TARGETS = {
    ("NEW", "LOW"): 40,
    ("NEW", "MODERATE"): 34,
    ("NEW", "HIGH"): 30,  # 28 is below the floor
    ("NEW", "CRITICAL"): 30,  # 22
    ("SMALL", "LOW"): 60,
    ("SMALL", "MODERATE"): 51,
    ("SMALL", "HIGH"): 42,
    ("SMALL", "CRITICAL"): 33,
    ("MEDIUM", "LOW"): 80,
    ("MEDIUM", "MODERATE"): 68,
    ("MEDIUM", "HIGH"): 56,
    ("MEDIUM", "CRITICAL"): 44,
    ("LARGE", "LOW"): 100,
    ("LARGE", "MODERATE"): 85,
    ("LARGE", "HIGH"): 70,
    ("LARGE", "CRITICAL"): 55,
    ("XL", "LOW"): 140,
    ("XL", "MODERATE"): 119,
    ("XL", "HIGH"): 98,
    ("XL", "CRITICAL"): 77,
}


@pytest.mark.parametrize(("pair", "expected"), EXPECTED_CAPTION_TARGETS.items())
def test_caption_target_for_every_tier_and_risk(pair: tuple[str, str], expected: int) -> None:
    assert caption_target(load_settings(), *pair) == expected


def test_round_half_up() -> None:
    assert [round_half_up(value) for value in (2.5, 3.5, 6.5, 0.49, 7.0)] == [3, 4, 7, 0, 7]


@pytest.mark.parametrize(
    ("audience", "tier"),
    [
        (0, "SMALL"),
        (4_999, "SMALL"),
        (5_000, "MEDIUM"),
        (24_999, "MEDIUM"),
        (25_000, "LARGE"),
        (99_999, "LARGE"),
        (100_000, "XL"),
        (2_000_000, "XL"),
    ],
)
def test_tier_thresholds(audience: int, tier: str) -> None:
    assert size_tier(load_settings(), audience) == tier


@pytest.mark.parametrize(
    ("score", "risk"),
    [
        (0.0, "LOW"),
        (0.299, "LOW"),
        (0.3, "MODERATE"),
        (0.5, "HIGH"),
        (0.7, "CRITICAL"),
        (1, "CRITICAL"),
    ],
)
def test_risk_levels(score: float, risk: str) -> None:
    assert risk_level(load_settings(), score) == risk


def test_local_hours_across_a_dst_change_and_outside_los_angeles() -> None:
    instants = [
        datetime(2025, 11, 2, 8, 30, tzinfo=UTC),  # 01:30 PDT (first pass), Sunday
        datetime(2025, 11, 2, 9, 30, tzinfo=UTC),  # 01:30 PST (second pass)
        datetime(2025, 11, 3, 3, 0, tzinfo=UTC),  # 19:00 PST, Sunday
    ]
    seconds = np.array([instant.timestamp() for instant in instants])
    hours, weekdays, ordinals = local_hour_and_day(seconds, "America/Los_Angeles")
    assert hours.tolist() == [1, 1, 19]
    assert weekdays.tolist() == [6, 6, 6]
    assert ordinals.tolist() == [date(2025, 11, 2).toordinal()] * 3
    hours, weekdays, _ = local_hour_and_day(seconds, "Australia/Sydney")
    assert hours.tolist() == [19, 20, 14]  # AEDT, UTC+11
    assert weekdays.tolist() == [6, 6, 0]


def synthetic_history(
    rng: np.random.Generator, *, days: int, per_day: int, audience: float, recent_factor: float
) -> PageHistory:
    """A page sending at fixed local hours; the last 14 days' rates multiplied by recent_factor."""
    as_of = datetime(2025, 11, 3, 8, tzinfo=UTC).timestamp()
    start = as_of - days * 86_400
    times = np.array(
        [
            start + day * 86_400 + 3_600 * (2 + slot)
            for day in range(days)
            for slot in range(per_day)
        ]
    )
    recent = times >= as_of - 14 * 86_400
    sent = np.full(times.size, audience)
    view = 0.2 * np.where(recent, recent_factor, 1.0) * rng.beta(100, 100, times.size) * 2
    viewed = rng.binomial(sent.astype(np.int64), np.clip(view, 0, 1)).astype(float)
    unlock = 0.08 * np.where(recent, recent_factor, 1.0)
    purchased = rng.binomial(viewed.astype(np.int64), unlock).astype(float)
    return PageHistory(
        page_name="synthetic",
        timezone="America/Los_Angeles",
        sent_at=times,
        is_ppv=np.ones(times.size, dtype=bool),
        is_followup=np.zeros(times.size, dtype=bool),
        sent=sent,
        viewed=viewed,
        purchased=purchased,
        revenue=purchased * 25,
        first_sent_at=datetime.fromtimestamp(start, UTC),
        total_messages=int(times.size),
    )


AS_OF = datetime(2025, 11, 3, 8, tzinfo=UTC)


def test_a_credible_drop_is_flagged_and_noise_is_not(rng: np.random.Generator) -> None:
    settings = load_settings()
    stable = analyze(
        synthetic_history(rng, days=90, per_day=6, audience=20_000, recent_factor=1.0),
        settings,
        AS_OF,
    )
    assert stable.saturation_analysis.risk_level == "LOW"
    tired = analyze(
        synthetic_history(rng, days=90, per_day=6, audience=20_000, recent_factor=0.6),
        settings,
        AS_OF,
    )
    assert tired.saturation_analysis.risk_level in ("HIGH", "CRITICAL")
    assert tired.saturation_analysis.revenue_per_send_change == pytest.approx(-0.64, abs=0.08)


def test_a_small_noisy_page_is_not_flagged() -> None:
    settings = load_settings()
    flagged = 0
    for seed in range(20):
        history = synthetic_history(
            np.random.default_rng(seed), days=90, per_day=2, audience=40, recent_factor=1.0
        )
        flagged += analyze(history, settings, AS_OF).saturation_analysis.risk_level != "LOW"
    assert flagged <= 1


def test_new_page_rule(rng: np.random.Generator) -> None:
    history = synthetic_history(rng, days=20, per_day=3, audience=30_000, recent_factor=1.0)
    report = analyze(history, load_settings(), AS_OF)
    assert report.account_classification.size_tier == "NEW"
    assert report.optimization_parameters.daily_ppv_target == 3  # midpoint 2.5 rounds half up
    assert report.caption_target == 40


def test_targets_follow_the_tables(rng: np.random.Generator) -> None:
    settings = load_settings()
    report = analyze(
        synthetic_history(rng, days=90, per_day=6, audience=50_000, recent_factor=0.6),
        settings,
        AS_OF,
    )
    assert report.account_classification.size_tier == "LARGE"
    risk = settings.risk(report.saturation_analysis.risk_level)
    parameters = report.optimization_parameters
    assert parameters.daily_ppv_target == max(1, round_half_up(10 * risk.volume_factor))
    assert parameters.daily_bump_target == round_half_up(10 * risk.bump_factor)
    assert parameters.min_ppv_gap_minutes == 75 + risk.gap_extension_minutes
    assert parameters.max_messages_per_day == 22


def demo_reports(path: Path, settings: Settings) -> dict[str, object]:
    with open_store(str(path)) as store:
        histories = store.page_histories(AS_OF, settings.saturation.lookback_days)
    return {report.page_name: report for report in analyze_pages(histories, settings, AS_OF)}


def test_demo_fatigued_pages_are_flagged_and_stable_pages_are_low(
    demo_template: Path, demo_world: World
) -> None:
    truth = demo_world.truth
    reports = demo_reports(demo_template, load_settings())
    for page in truth.fatigued_pages:
        assert reports[page].saturation_analysis.risk_level != "LOW", page  # type: ignore[attr-defined]
    stable = [page for page in truth.stable_pages]
    low = [page for page in stable if reports[page].saturation_analysis.risk_level == "LOW"]  # type: ignore[attr-defined]
    assert len(low) >= 0.9 * len(stable)
    tiers = {report.account_classification.size_tier for report in reports.values()}  # type: ignore[attr-defined]
    assert tiers == {"NEW", "SMALL", "MEDIUM", "LARGE", "XL"}


def test_a_platform_wide_drop_flags_no_page(tmp_path: Path) -> None:
    from eros.simulate import build_world

    settings = load_settings()
    # All 38 pages, with the 90 days of history the analysis reads (not the demo's 26 weeks).
    assert settings.saturation.lookback_days <= 91
    world = build_world(date(2025, 11, 3), platform_drop=0.45, history_days=91)
    from eros.demo import DEMO_ORDER, write_csv
    from eros.ingest import import_columns, import_file

    tables = {
        "pages": world.pages,
        "captions": world.captions,
        "messages": world.messages,
        "fans": world.fans,
    }
    with open_store(str(tmp_path / "drop.duckdb"), create=True) as store:
        for kind in DEMO_ORDER:
            file = tmp_path / f"{kind}.csv"
            write_csv(file, import_columns(kind), tables[kind])
            import_file(store, kind, file, settings)
        histories = store.page_histories(AS_OF, settings.saturation.lookback_days)
    reports = analyze_pages(histories, settings, AS_OF)
    assert all(report.saturation_analysis.risk_level == "LOW" for report in reports)
    reasons = {report.saturation_analysis.exclusion_reason or "" for report in reports}
    assert any(reason.startswith("platform-wide drop") for reason in reasons)
