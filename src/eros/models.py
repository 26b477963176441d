"""Frozen records passed between stages (the analysis report lives in analyze.py, by its maths)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

Strategy = Literal["exploit", "explore", "new"]


@dataclass(frozen=True)
class CaptionCandidate:
    """A caption of the bank a page may use: its own, or a shared one (owner "")."""

    caption_key: str
    caption_text: str
    message_type: str  # ppv | bump
    owner: str  # the page, or "" when shared by the agency
    content_category: str | None
    price_tier: str | None
    trigger: str | None
    active: bool


@dataclass(frozen=True)
class CaptionEvidence:
    """Sends of captions as arrays: this page's, plus other pages' sends of shared captions."""

    caption_key: npt.NDArray[np.object_]
    on_this_page: npt.NDArray[np.bool_]
    is_ppv: npt.NDArray[np.bool_]  # ppv or followup: an unlock offer
    sent_at: FloatArray  # seconds since the epoch, UTC
    sent: FloatArray
    viewed: FloatArray
    purchased: FloatArray
    price: FloatArray


@dataclass(frozen=True)
class CaptionLock:
    caption_key: str
    page_name: str
    schedule_id: str
    expires_at: datetime


@dataclass(frozen=True)
class PooledCaption:
    caption_key: str
    caption_text: str
    message_type: str
    price_tier: str | None
    price: float
    content_category: str | None
    trigger: str | None
    posterior_mean: float
    wilson_lower: float
    wilson_upper: float
    observations: int
    sampled_score: float
    strategy: Strategy


@dataclass(frozen=True)
class PoolHealth:
    total_available: int
    after_cooldown: int
    after_locks: int
    after_quality: int
    after_budgets: int
    final_selected: int


@dataclass(frozen=True)
class SelectionMetrics:
    explore_share: float
    new_share: float
    expected_revenue: float
    mean_posterior: float
    category_diversity: float


@dataclass(frozen=True)
class CaptionPool:
    ppv_captions: list[PooledCaption]
    bump_captions: list[PooledCaption]


@dataclass(frozen=True)
class CaptionSelection:
    page_name: str
    week_start: str
    mode: str
    target_count: int
    caption_pool: CaptionPool
    selection_metrics: SelectionMetrics
    pool_health: PoolHealth
    warnings: list[str]


@dataclass(frozen=True)
class CaptionStats:
    """A row of caption_bandit_stats: evidence decayed to reference_at, and raw totals."""

    caption_key: str
    successes: float
    failures: float
    sends: int
    views: int
    purchases: int
    last_sent_at: datetime
    reference_at: datetime
    source_loaded_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class JobRun:
    job: str
    started_at: datetime
    finished_at: datetime
    status: str  # ok | failed | partial
    pages_processed: int
    pages_failed: int
    error: str | None
