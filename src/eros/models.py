"""Frozen records passed between stages (the analysis report lives in analyze.py, by its maths)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

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
    # Integer codes of caption_key (same code, same key), when the reader already has them.
    caption_code: npt.NDArray[np.int64] | None = None
    code_of: dict[str, int] | None = None

    def codes(self) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
        """Each send's caption as an integer code, and the code of each key."""
        import numpy as np

        if self.caption_code is not None and self.code_of is not None:
            return self.caption_code, self.code_of
        code_of: dict[str, int] = {}
        codes = np.fromiter(
            (code_of.setdefault(key, len(code_of)) for key in self.caption_key),
            dtype=np.int64,
            count=self.caption_key.size,
        )
        return codes, code_of


def group_bounds(names: npt.NDArray[Any]) -> dict[str, tuple[int, int]]:
    """[start, stop) of each run of equal values in `names` (grouped, e.g. ORDER BY page), found
    in one vectorised pass: per-page slicing then costs nothing whatever the agency's size."""
    import numpy as np

    if len(names) == 0:
        return {}
    changes = np.flatnonzero(names[1:] != names[:-1]) + 1
    starts = np.concatenate([[0], changes])
    stops = np.concatenate([changes, [len(names)]])
    return {
        str(names[start]): (int(start), int(stop))
        for start, stop in zip(starts, stops, strict=True)
    }


@dataclass(frozen=True)
class CaptionSnapshot:
    """Every page's bank, sends and last sends, read once for a run of many pages."""

    # Kept as the store's columns: the Python objects of one page are made when that page is
    # planned (in a worker process when the run forks), not all at once up front.
    bank_columns: dict[str, npt.NDArray[np.object_]]  # the captions table, one array a column
    page_name: npt.NDArray[np.object_]  # the page of each send in `evidence`
    evidence: CaptionEvidence
    last_sent_columns: dict[str, npt.NDArray[Any]]  # page_name, caption_key, sent_at (epoch s)

    def bank(self, page_name: str) -> list[CaptionCandidate]:
        """The page's own captions and the shared ones."""
        import numpy as np

        columns = self.bank_columns
        groups = self.bank_rows_by_owner
        empty = np.empty(0, dtype=np.int64)
        rows = np.sort(np.concatenate([groups.get(page_name, empty), groups.get("", empty)]))
        fields = [
            columns[name][rows].tolist()
            for name in (
                "caption_key",
                "caption_text",
                "message_type",
                "page_name",
                "content_category",
                "price_tier",
                "trigger",
                "active",
            )
        ]
        return [CaptionCandidate(*values) for values in zip(*fields, strict=True)]

    def last_sent(self, page_name: str, as_of: datetime) -> dict[str, datetime]:
        columns = self.last_sent_columns
        start, stop = self.last_sent_bounds.get(page_name, (0, 0))
        cutoff = as_of.timestamp()
        return {
            columns["caption_key"][i]: datetime.fromtimestamp(float(columns["sent_at"][i]), UTC)
            for i in range(start, stop)
            if columns["sent_at"][i] < cutoff
        }

    @cached_property
    def bank_rows_by_owner(self) -> dict[str, npt.NDArray[np.int64]]:
        """The bank's rows of each owner ("" = shared), each in bank order (grouped once)."""
        import numpy as np

        owners = self.bank_columns["page_name"]
        order = np.argsort(owners, kind="stable")
        return {
            name: order[start:stop] for name, (start, stop) in group_bounds(owners[order]).items()
        }

    @cached_property
    def last_sent_bounds(self) -> dict[str, tuple[int, int]]:
        """Each page's rows in `last_sent_columns` (the store returns them grouped by page)."""
        return group_bounds(self.last_sent_columns["page_name"])

    def for_page(
        self, page_name: str, as_of: datetime, *, others: bool = True
    ) -> tuple[list[CaptionCandidate], CaptionEvidence, dict[str, datetime]]:
        """What `Store.caption_candidates`, `caption_evidence` and `last_sent` give for one page;
        without `others`, the evidence is the page's own sends only (other pages' sends of shared
        captions then come summed, from `captions.SharedEvidence`)."""
        import numpy as np

        evidence = self.evidence
        start, stop = self.page_bounds.get(page_name, (0, 0))
        rows = np.arange(start, stop)
        if others:
            shared = self.shared_indexes
            rows = np.concatenate([rows, shared[(shared < start) | (shared >= stop)]])
        rows = rows[evidence.sent_at[rows] < as_of.timestamp()]
        here = (rows >= start) & (rows < stop)
        codes, code_of = self.all_codes
        sliced = CaptionEvidence(
            caption_key=evidence.caption_key[rows],
            on_this_page=here,
            is_ppv=evidence.is_ppv[rows],
            sent_at=evidence.sent_at[rows],
            sent=evidence.sent[rows],
            viewed=evidence.viewed[rows],
            purchased=evidence.purchased[rows],
            price=evidence.price[rows],
            caption_code=codes[rows],
            code_of=code_of,
        )
        return self.bank(page_name), sliced, self.last_sent(page_name, as_of)

    @cached_property
    def page_bounds(self) -> dict[str, tuple[int, int]]:
        """Each page's rows [start, stop) in `evidence` (the store returns them grouped by page)."""
        return group_bounds(self.page_name)

    @cached_property
    def shared_indexes(self) -> npt.NDArray[np.int64]:
        import numpy as np

        indexes: npt.NDArray[np.int64] = np.flatnonzero(self.shared_rows)
        return indexes

    @cached_property
    def all_codes(self) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
        """Integer codes of every send's caption (computed once per snapshot)."""
        return self.evidence.codes()

    @cached_property
    def shared_keys(self) -> frozenset[str]:
        """The captions the agency shares (bank rows with no page)."""
        owners = self.bank_columns["page_name"]
        return frozenset(str(key) for key in self.bank_columns["caption_key"][owners == ""])

    @cached_property
    def contested_keys(self) -> frozenset[str]:
        """Captions more than one page may use: the shared ones, and a text two pages both own."""
        owners = self.bank_columns["page_name"]
        keys = self.bank_columns["caption_key"]
        seen: dict[str, str] = {}
        contested = set(self.shared_keys)
        for key, owner in zip(keys.tolist(), owners.tolist(), strict=True):
            if seen.setdefault(key, owner) != owner:
                contested.add(key)
        return frozenset(contested)

    @cached_property
    def shared_rows(self) -> npt.NDArray[np.bool_]:
        """Which sends are of a shared caption (computed once per snapshot)."""
        import numpy as np

        codes, code_of = self.all_codes
        shared = np.zeros(len(code_of) + 1, dtype=bool)
        owners = self.bank_columns["page_name"]
        for key in self.bank_columns["caption_key"][owners == ""]:
            code = code_of.get(key)
            if code is not None:
                shared[code] = True
        flags: npt.NDArray[np.bool_] = shared[codes]
        return flags


@dataclass(frozen=True)
class CaptionLock:
    """A page's hold on a caption for a window of time: its week plus the caption's cooldown.

    Two pages conflict when their windows overlap, whatever the real clock says; a lock with no
    start holds from the beginning of time (locks made before windows were stored)."""

    caption_key: str
    page_name: str
    schedule_id: str
    expires_at: datetime
    starts_at: datetime | None = None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether this lock's window meets [start, end)."""
        return self.expires_at > start and (self.starts_at is None or self.starts_at < end)


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
