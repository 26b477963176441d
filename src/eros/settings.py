"""Every setting, declared once with its default and help.

Layers, lowest first: defaults < eros.toml (or the file named by --config / EROS_CONFIG) <
environment variables EROS_* (nested with a double underscore:
EROS_TIERS__SMALL__MIN_PPV_GAP_MINUTES=100) < CLI flags.
The defaults are DESIGN.md §3; a table entry can be overridden one field at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from eros.errors import SettingsError

Tier = Literal["new", "small", "medium", "large", "xl"]
Risk = Literal["low", "moderate", "high", "critical"]
Zone = Literal["GREEN", "YELLOW", "RED"]
Mode = Literal["optimize", "safe", "conservative"]
PriceTier = Literal["budget", "standard", "premium", "luxury", "vip"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

TIERS: tuple[Tier, ...] = ("new", "small", "medium", "large", "xl")
RISKS: tuple[Risk, ...] = ("low", "moderate", "high", "critical")
MODES: tuple[Mode, ...] = ("optimize", "safe", "conservative")
PRICE_TIERS: tuple[PriceTier, ...] = ("budget", "standard", "premium", "luxury", "vip")
TRIGGERS: tuple[str, ...] = (
    "Scarcity",
    "Urgency",
    "FOMO",
    "Exclusivity",
    "Social Proof",
    "Curiosity",
    "Flash Sale",
)

DEFAULT_CONFIG_FILE = Path("eros.toml")


def setting_key(name: str) -> str:
    """The key a display name has in a settings table: "Social Proof" -> "social_proof"."""
    return "_".join(name.lower().replace("-", " ").split())


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierRule(_Rule):
    audience_below: int | None = Field(
        description="upper bound (exclusive) of the audience for this tier; none for NEW and XL"
    )
    ppv_min: int = Field(ge=0, description="fewest PPVs a day")
    ppv_max: int = Field(ge=0, description="most PPVs a day")
    bumps_per_day: int = Field(ge=0, description="free bump messages a day")
    min_ppv_gap_minutes: int = Field(ge=0, description="least time between two PPVs")
    max_messages_per_day: int = Field(ge=1, description="most messages of any kind a day")
    caption_target_base: int = Field(ge=0, description="caption pool size before risk scaling")

    @model_validator(mode="after")
    def _range(self) -> TierRule:
        if self.ppv_min > self.ppv_max:
            raise ValueError(f"ppv_min {self.ppv_min} is above ppv_max {self.ppv_max}")
        return self

    @property
    def ppv_midpoint(self) -> float:
        return (self.ppv_min + self.ppv_max) / 2


class RiskRule(_Rule):
    score_below: float | None = Field(
        description="upper bound (exclusive) of the saturation score; none for the top level"
    )
    zone: Zone
    volume_factor: float = Field(gt=0, description="multiplies the daily PPV target")
    bump_factor: float = Field(gt=0, description="multiplies the daily bump target")
    gap_extension_minutes: int = Field(ge=0, description="added to the minimum PPV gap")
    caption_multiplier: float = Field(gt=0, description="multiplies the caption target base")


class ModeRule(_Rule):
    volume_factor: float = Field(gt=0, description="multiplies the daily PPV target")
    gap_extension_minutes: int = Field(ge=0, description="added to the minimum PPV gap")
    follow_ups: bool = Field(description="whether follow-ups are scheduled")


class FollowUpRule(_Rule):
    delays_hours: tuple[float, ...] = Field(description="hours after the PPV, one per follow-up")
    only_if_unopened: bool = Field(default=False, description="send only to fans who did not open")


class Windows(_Rule):
    ppv_start: time = Field(default=time(8, 0), description="earliest local time for a PPV")
    ppv_end: time = Field(default=time(23, 59), description="latest local time for a PPV")
    quiet_start: time = Field(default=time(2, 0), description="start of the local quiet hours")
    quiet_end: time = Field(default=time(8, 0), description="end (exclusive) of the quiet hours")
    min_message_gap_minutes: int = Field(default=20, ge=0, description="least time between any two")
    slot_minutes: int = Field(default=15, ge=1, le=60, description="grid of candidate send times")


class CooldownDays(_Rule):
    ppv: int = Field(default=21, ge=0, description="days before a PPV caption may be sent again")
    bump: int = Field(default=7, ge=0, description="days before a bump caption may be sent again")


class SaturationRules(_Rule):
    lookback_days: int = Field(default=90, ge=14, description="history the analysis reads")
    recent_days: int = Field(default=14, ge=1, description="recent window compared to baseline")
    mature_hours: int = Field(default=48, ge=0, description="age before a message counts")
    credible_probability: float = Field(
        default=0.95, gt=0.5, lt=1, description="posterior probability that makes a drop credible"
    )
    platform_page_share: float = Field(
        default=0.7, gt=0, le=1, description="share of pages dropping together = platform-wide"
    )
    platform_drop: float = Field(
        default=0.3, gt=0, lt=1, description="relative drop that counts for the platform-wide rule"
    )


class CoolingRules(_Rule):
    days: int = Field(default=2, ge=0, description="days without PPVs when a page is RED")
    ramp_start: float = Field(default=0.5, gt=0, le=1, description="PPV volume the day after")
    ramp_step: float = Field(default=0.1, ge=0, description="added PPV volume each following day")


class DayOfWeekRules(_Rule):
    min_weeks: int = Field(default=4, ge=1, description="weeks of data before multipliers are used")
    min_multiplier: float = Field(default=0.7, gt=0, description="lowest day-of-week multiplier")
    max_multiplier: float = Field(default=1.3, gt=0, description="highest day-of-week multiplier")


class HolidayRules(_Rule):
    country: str = Field(default="US", description="country of the `holidays` calendar")
    categories: tuple[str, ...] = Field(
        default=("public", "unofficial"), description="holiday categories to include"
    )
    default_factor: float = Field(default=1.0, gt=0, description="volume factor on a holiday")
    factors: dict[str, float] = Field(
        default_factory=dict, description="volume factor per holiday name, overriding the default"
    )


def _default_tiers() -> dict[Tier, TierRule]:
    rows = {
        "new": (None, 2, 3, 3, 120, 8, 40),
        "small": (5_000, 3, 5, 4, 120, 10, 60),
        "medium": (25_000, 5, 8, 6, 90, 15, 80),
        "large": (100_000, 8, 12, 10, 75, 22, 100),
        "xl": (None, 10, 15, 12, 60, 30, 140),
    }
    fields = list(TierRule.model_fields)
    return {name: TierRule(**dict(zip(fields, row, strict=True))) for name, row in rows.items()}  # type: ignore[misc]


def _default_risks() -> dict[Risk, RiskRule]:
    return {
        "low": RiskRule(
            score_below=0.3,
            zone="GREEN",
            volume_factor=1.0,
            bump_factor=1.0,
            gap_extension_minutes=0,
            caption_multiplier=1.0,
        ),
        "moderate": RiskRule(
            score_below=0.5,
            zone="YELLOW",
            volume_factor=0.9,
            bump_factor=1.2,
            gap_extension_minutes=30,
            caption_multiplier=0.85,
        ),
        "high": RiskRule(
            score_below=0.7,
            zone="YELLOW",
            volume_factor=0.75,
            bump_factor=1.2,
            gap_extension_minutes=30,
            caption_multiplier=0.70,
        ),
        "critical": RiskRule(
            score_below=None,
            zone="RED",
            volume_factor=0.5,
            bump_factor=2.0,
            gap_extension_minutes=60,
            caption_multiplier=0.55,
        ),
    }


def _default_modes() -> dict[Mode, ModeRule]:
    return {
        "optimize": ModeRule(volume_factor=1.0, gap_extension_minutes=0, follow_ups=True),
        "safe": ModeRule(volume_factor=0.85, gap_extension_minutes=30, follow_ups=True),
        "conservative": ModeRule(volume_factor=0.7, gap_extension_minutes=60, follow_ups=False),
    }


def _default_follow_ups() -> dict[PriceTier, FollowUpRule]:
    return {
        "budget": FollowUpRule(delays_hours=(4, 24)),
        "standard": FollowUpRule(delays_hours=(8,)),
        "premium": FollowUpRule(delays_hours=(24,), only_if_unopened=True),
        "luxury": FollowUpRule(delays_hours=()),
        "vip": FollowUpRule(delays_hours=()),
    }


def _default_trigger_budgets() -> dict[str, int]:
    budgets = (3, 5, 4, 4, 6, 7, 2)
    return {setting_key(name): budget for name, budget in zip(TRIGGERS, budgets, strict=True)}


_config_file: ContextVar[Path | None] = ContextVar("eros_config_file", default=None)


class _DefaultsSource(PydanticBaseSettingsSource):
    """The declared defaults as the lowest layer, so a file can override one field of a row."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return Settings.model_construct().model_dump()


class Settings(BaseSettings):
    """The effective settings. Build with `load_settings()`; instances are frozen."""

    model_config = SettingsConfigDict(
        env_prefix="EROS_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    store: str = Field(
        default="duckdb:///./eros.duckdb",
        description="where history and schedules live: a DuckDB file path or a store URL",
    )
    timezone: str = Field(
        default="America/Los_Angeles", description="time zone of pages that do not name one"
    )
    new_page_min_days: int = Field(default=30, ge=0, description="days of history before a tier")
    new_page_min_messages: int = Field(default=20, ge=0, description="messages before a tier")
    audience_window_days: int = Field(default=30, ge=1, description="days read for the audience")
    audience_percentile: float = Field(
        default=95, gt=0, le=100, description="percentile of sent_count that is the audience"
    )
    stale_after_days: int = Field(
        default=14,
        ge=1,
        description="a page whose newest message is older than this before its week is not planned",
    )
    workers: int = Field(default=2, ge=1, le=64, description="pages planned at once by `eros run`")
    retry_attempts: int = Field(
        default=3, ge=1, le=10, description="tries of a step that failed transiently (busy, 429)"
    )
    sheets_credentials: str | None = Field(
        default=None, description="path of the Google service-account JSON for Sheets export"
    )
    sheets_spreadsheet_id: str | None = Field(
        default=None, description="the agency's spreadsheet id for Sheets export"
    )
    tiers: dict[Tier, TierRule] = Field(
        default_factory=_default_tiers, description="volume and gap rules by audience size"
    )
    risks: dict[Risk, RiskRule] = Field(
        default_factory=_default_risks, description="responses to each saturation risk level"
    )
    modes: dict[Mode, ModeRule] = Field(
        default_factory=_default_modes, description="scheduling modes: volume, gaps, follow-ups"
    )
    windows: Windows = Field(default_factory=Windows, description="local send windows and gaps")
    prices: dict[PriceTier, float] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "budget": 15.0,
            "standard": 25.0,
            "premium": 40.0,
            "luxury": 60.0,
            "vip": 100.0,
        },
        description="PPV price in USD by price tier, when a caption has no price history",
    )
    price_tolerance: float = Field(
        default=0.45,
        ge=0,
        lt=1,
        description="a PPV's price may differ from its tier's price by this share (history varies)",
    )
    follow_ups: dict[PriceTier, FollowUpRule] = Field(
        default_factory=_default_follow_ups, description="follow-ups after a PPV, by price tier"
    )
    trigger_budgets: dict[str, int] = Field(
        default_factory=_default_trigger_budgets,
        description="most PPVs a week per psychological trigger (keys snake_case)",
    )
    cooldown_days: CooldownDays = Field(
        default_factory=CooldownDays, description="days before a caption may be sent again"
    )
    half_life_days: float = Field(
        default=180,
        gt=0,
        description=(
            "age at which a message counts half in caption posteriors and hour patterns "
            "(DESIGN.md said 30; 180 measured far better, see docs/benchmarks.md)"
        ),
    )
    thompson_temperature: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Thompson draws pulled towards the posterior mean (1 = plain Thompson)",
    )
    caption_target_floor: int = Field(default=30, ge=0, description="smallest PPV caption pool")
    bump_pool_factor: float = Field(default=1.2, ge=1, description="bump pool = bump slots × this")
    max_category_share: float = Field(
        default=0.35, gt=0, le=1, description="largest share of one content category in a PPV pool"
    )
    saturation: SaturationRules = Field(
        default_factory=SaturationRules, description="audience fatigue analysis"
    )
    cooling: CoolingRules = Field(
        default_factory=CoolingRules, description="cooling plan of a RED (critical) page"
    )
    day_of_week: DayOfWeekRules = Field(
        default_factory=DayOfWeekRules, description="day-of-week volume multipliers"
    )
    holidays: HolidayRules = Field(default_factory=HolidayRules, description="holiday calendar")
    update_stats_cron: str = Field(
        default="0 */6 * * *",
        description="when the daemon runs `jobs update-stats` (cron; 6 fields: seconds first)",
    )
    daily_cron: str = Field(
        default="5 3 * * *", description="when the daemon runs `jobs daily` (cron, in `timezone`)"
    )
    sweep_locks_cron: str = Field(
        default="0 * * * *", description="when the daemon runs `jobs sweep-locks` (cron)"
    )
    daily_build_weekday: Weekday = Field(
        default="thursday",
        description="weekday on which `jobs daily` builds next week's missing schedules",
    )
    job_lease_seconds: float = Field(
        default=6 * 3600,
        gt=0,
        description="a job's lease lasts this long, so a crashed runner's lease is taken over",
    )
    job_max_consecutive_failures: int = Field(
        default=5, ge=1, description="consecutive page failures that stop a job (with an alert)"
    )
    daemon_misfire_grace_seconds: int = Field(
        default=86_400,
        ge=1,
        description="a run missed (machine asleep) this recently still runs, once, on wake",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from eros.clock import is_zone

        if not is_zone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @field_validator("update_stats_cron", "daily_cron", "sweep_locks_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) not in (5, 6):
            raise ValueError(
                f"{value!r} is not a cron expression: give 5 fields (minute hour day month "
                "weekday) or 6 (seconds first)"
            )
        return value

    @field_validator("tiers", "risks", "modes", "prices", "follow_ups")
    @classmethod
    def _complete_table(cls, value: dict[str, Any], info: Any) -> dict[str, Any]:
        expected = {
            "tiers": TIERS,
            "risks": RISKS,
            "modes": MODES,
            "prices": PRICE_TIERS,
            "follow_ups": PRICE_TIERS,
        }[info.field_name]
        missing = [key for key in expected if key not in value]
        if missing:
            raise ValueError(f"missing entries: {', '.join(missing)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _config_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        sources.append(_DefaultsSource(settings_cls))
        return tuple(sources)

    def tier(self, name: str) -> TierRule:
        return self.tiers[name.lower()]  # type: ignore[index]

    def mode(self, name: str) -> ModeRule:
        return self.modes[name]  # type: ignore[index]

    def tier_price(self, price_tier: str | None) -> float:
        """The default price of a price tier (standard's for an unknown or missing tier)."""
        return next(
            (price for name, price in self.prices.items() if name == price_tier),
            self.prices["standard"],
        )

    def follow_up(self, price_tier: str | None) -> FollowUpRule | None:
        return next((rule for name, rule in self.follow_ups.items() if name == price_tier), None)

    def price_band(self, price_tier: str) -> tuple[float, float]:
        """The prices a tier allows: its default price ± `price_tolerance`."""
        base = self.prices[price_tier]  # type: ignore[index]
        return round(base * (1 - self.price_tolerance), 2), round(
            base * (1 + self.price_tolerance), 2
        )

    def risk(self, name: str) -> RiskRule:
        return self.risks[name.lower()]  # type: ignore[index]


def config_file_path(explicit: Path | None = None) -> Path | None:
    """The settings file in force: --config, else EROS_CONFIG, else ./eros.toml when it exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise SettingsError(f"{explicit}: settings file not found")
        return explicit
    named = os.environ.get("EROS_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"EROS_CONFIG={named}: settings file not found")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from every layer; `overrides` are the CLI flags (None values are ignored)."""
    path = config_file_path(config_file)
    flags = {key: value for key, value in overrides.items() if value is not None}
    token = _config_file.set(path)
    try:
        return Settings(**flags)
    except ValidationError as error:
        raise SettingsError(_describe(error, path)) from error
    except ValueError as error:  # a TOML syntax error
        raise SettingsError(f"{path}: {error}") from error
    finally:
        _config_file.reset(token)


def _describe(error: ValidationError, path: Path | None) -> str:
    where = f"{path}, EROS_* variables or flags" if path else "EROS_* variables or flags"
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )
    return f"invalid settings (from {where}): {problems}"


def describe_settings() -> Iterator[tuple[str, str, str, str]]:
    """(dotted name, default, help, environment variable) for every top-level setting."""
    defaults = Settings.model_construct()
    for name, field in Settings.model_fields.items():
        default = getattr(defaults, name)
        shown = default if isinstance(default, str | int | float) else "(table)"
        yield name, str(shown), field.description or "", f"EROS_{name.upper()}"
