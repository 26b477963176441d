from pathlib import Path

import pytest

from eros.errors import SettingsError
from eros.settings import describe_settings, load_settings


def test_defaults_follow_the_design_tables() -> None:
    settings = load_settings()
    assert settings.store == "duckdb:///./eros.duckdb"
    assert settings.timezone == "America/Los_Angeles"
    large = settings.tier("LARGE")
    assert (large.ppv_min, large.ppv_max, large.bumps_per_day) == (8, 12, 10)
    assert (large.min_ppv_gap_minutes, large.max_messages_per_day, large.caption_target_base) == (
        75,
        22,
        100,
    )
    assert settings.risk("MODERATE").caption_multiplier == 0.85
    assert settings.risk("CRITICAL").zone == "RED"
    assert settings.modes["conservative"].follow_ups is False
    assert settings.prices["vip"] == 100
    assert settings.follow_ups["budget"].delays_hours == (4, 24)
    assert settings.trigger_budgets["social_proof"] == 6
    assert (settings.cooldown_days.ppv, settings.cooldown_days.bump) == (21, 7)
    assert settings.half_life_days == 180  # DESIGN said 30: see docs/benchmarks.md
    assert settings.thompson_temperature == 0.5


def test_layers_defaults_toml_env_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "eros.toml").write_text(
        'timezone = "Europe/London"\nstore = "from-toml.duckdb"\n'
        "[tiers.small]\nmin_ppv_gap_minutes = 100\n"
    )
    settings = load_settings()
    assert settings.timezone == "Europe/London"
    assert settings.tier("small").min_ppv_gap_minutes == 100
    assert settings.tier("small").ppv_max == 5  # the rest of the row keeps its default
    monkeypatch.setenv("EROS_STORE", "from-env.duckdb")
    monkeypatch.setenv("EROS_TIERS__SMALL__PPV_MAX", "6")
    settings = load_settings()
    assert settings.store == "from-env.duckdb"
    assert settings.tier("small").ppv_max == 6
    assert settings.tier("small").min_ppv_gap_minutes == 100
    assert load_settings(store="from-flag.duckdb").store == "from-flag.duckdb"


def test_explicit_config_file(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    config.write_text("half_life_days = 14\n")
    assert load_settings(config).half_life_days == 14


def test_bad_setting_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "eros.toml").write_text("[tiers.small]\nppv_min = 9\n")
    with pytest.raises(
        SettingsError, match=r"eros\.toml.*tiers\.small.*ppv_min 9 is above ppv_max"
    ):
        load_settings()


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "eros.toml").write_text("half_lfe_days = 14\n")
    with pytest.raises(SettingsError, match="half_lfe_days"):
        load_settings()


def test_bad_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EROS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="Mars/Olympus"):
        load_settings()


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nope\.toml"):
        load_settings(tmp_path / "nope.toml")


def test_every_setting_has_help() -> None:
    described = list(describe_settings())
    assert len(described) >= 20
    assert all(help_text for _, _, help_text, _ in described)
