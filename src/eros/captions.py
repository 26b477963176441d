"""Select: the caption pools of one page-week (DESIGN.md §3, "Caption posterior" to "Eligibility").

Pure: the bank, the evidence, the last sends and the live locks come in; the PPV pool (the
caption target's worth, ranked by Thompson draws θ × price) and the bump pool (the week's bump
slots × 1.2, ranked by θ of engagement) go out. The generator is seeded from (page, week, mode), so
the same inputs give the same selection.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from eros import clock
from eros.analyze import PerformanceReport
from eros.bandit import (
    CaptionBandit,
    caption_evidence,
    decay_weights,
    effective_trials_factor,
    intra_class_correlation,
    wilson_bounds,
)
from eros.models import (
    CaptionCandidate,
    CaptionEvidence,
    CaptionLock,
    CaptionPool,
    CaptionSelection,
    CaptionSnapshot,
    PooledCaption,
    PoolHealth,
    SelectionMetrics,
    Strategy,
)
from eros.settings import PRICE_TIERS, Settings, setting_key

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

SHARED_EVIDENCE_WEIGHT = 0.25  # how much another page's sends of a shared caption count here
CLEARLY_BAD_SHARE = 0.5  # dropped when the Wilson upper bound is below half the page's rate ...
CLEARLY_BAD_MIN_TRIALS = 50.0  # ... with at least this many effective viewers of evidence


def selection_seed(page_name: str, week_start: date, mode: str) -> int:
    """The generator's seed: a stable hash of (page, week, mode)."""
    digest = hashlib.sha256(f"{page_name}|{week_start.isoformat()}|{mode}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def unique_candidates(candidates: Sequence[CaptionCandidate]) -> list[CaptionCandidate]:
    """One candidate per caption_key; the page's own row wins over the shared one."""
    chosen: dict[str, CaptionCandidate] = {}
    for candidate in sorted(candidates, key=lambda item: (item.caption_key, item.owner == "")):
        chosen.setdefault(candidate.caption_key, candidate)
    return [chosen[key] for key in sorted(chosen)]


def trigger_caps(settings: Settings, pool_size: int, week_ppv_slots: int) -> dict[str, int]:
    """Most captions per trigger in a pool: the weekly budget scaled from slots to pool size."""
    scale = pool_size / max(week_ppv_slots, 1)
    return {
        key: math.ceil(budget * max(scale, 1.0)) for key, budget in settings.trigger_budgets.items()
    }


def _category_diversity(categories: list[str | None]) -> float:
    """Normalised Shannon entropy of the pool's content categories (0 = one category)."""
    counts = Counter(category or "" for category in categories)
    if len(counts) <= 1:
        return 0.0
    total = sum(counts.values())
    entropy = -sum(count / total * math.log(count / total) for count in counts.values())
    return round(entropy / math.log(len(counts)), 4)


def select_captions(
    *,
    page_name: str,
    week_start: date,
    week_start_utc: datetime,
    mode: str,
    candidates: Sequence[CaptionCandidate],
    evidence: CaptionEvidence,
    last_sent: dict[str, datetime],
    locks: Sequence[CaptionLock],
    report: PerformanceReport,
    settings: Settings,
    count: int | None = None,
    next_planned: dict[str, datetime] | None = None,
    elsewhere: dict[str, SharedSums] | None = None,
) -> CaptionSelection:
    """The PPV and bump pools of one page for the week starting `week_start` (local Monday).

    `last_sent` is each caption's newest use on this page before the week (sent, or planned in
    another saved week), `next_planned` its first planned use after the week; `locks` are other
    pages' holds (saved locks and the agency's allocation of shared captions)."""
    import numpy as np

    rng = np.random.default_rng(selection_seed(page_name, week_start, mode))
    unique = unique_candidates(candidates)
    parameters = report.optimization_parameters
    mode_rule = settings.mode(mode)
    week_ppv_slots = max(1, round(parameters.daily_ppv_target * 7 * mode_rule.volume_factor))
    target = count if count is not None else report.caption_target
    audience = report.account_classification.audience_size
    viewers_per_send = audience * report.account_classification.view_rate

    ppv, ppv_health, warnings = _pool(
        kind="ppv",
        candidates=[c for c in unique if c.message_type == "ppv"],
        evidence=evidence,
        eligible=Eligibility.of(
            page_name, last_sent, next_planned or {}, locks, week_start_utc, settings, "ppv"
        ),
        week_start_utc=week_start_utc,
        settings=settings,
        rng=rng,
        elsewhere=(elsewhere or {}).get("ppv"),
        size=target,
        trigger_cap=trigger_caps(settings, target, week_ppv_slots),
        category_cap=math.ceil(settings.max_category_share * target),
    )
    bump_slots = parameters.daily_bump_target * 7
    bumps, _, bump_warnings = _pool(
        kind="bump",
        candidates=[c for c in unique if c.message_type == "bump"],
        evidence=evidence,
        eligible=Eligibility.of(
            page_name, last_sent, next_planned or {}, locks, week_start_utc, settings, "bump"
        ),
        week_start_utc=week_start_utc,
        settings=settings,
        rng=rng,
        elsewhere=(elsewhere or {}).get("bump"),
        size=math.ceil(bump_slots * settings.bump_pool_factor),
        trigger_cap=None,
        category_cap=None,
    )
    best_week = sorted(ppv, key=lambda item: -item.posterior_mean * item.price)[:week_ppv_slots]
    metrics = SelectionMetrics(
        explore_share=_share(ppv, "explore"),
        new_share=_share(ppv, "new"),
        expected_revenue=round(
            sum(item.posterior_mean * item.price * viewers_per_send for item in best_week), 2
        ),
        mean_posterior=round(float(np.mean([item.posterior_mean for item in ppv])), 6)
        if ppv
        else 0.0,
        category_diversity=_category_diversity([item.content_category for item in ppv]),
    )
    return CaptionSelection(
        page_name=page_name,
        week_start=week_start.isoformat(),
        mode=mode,
        target_count=target,
        caption_pool=CaptionPool(ppv_captions=ppv, bump_captions=bumps),
        selection_metrics=metrics,
        pool_health=ppv_health,
        warnings=warnings + bump_warnings,
    )


def _share(pool: list[PooledCaption], strategy: Strategy) -> float:
    return round(sum(item.strategy == strategy for item in pool) / len(pool), 4) if pool else 0.0


@dataclass(frozen=True)
class Eligibility:
    """Which captions of one kind a page may use in a week: outside the cooldown on both sides of
    the week (sent or planned uses) and not held by another page in an overlapping window."""

    last_use: dict[str, datetime]
    next_use: dict[str, datetime]
    held_elsewhere: dict[str, str]  # caption -> the page holding it
    rested_before: datetime  # a use at or before this instant is out of the cooldown
    rested_after: datetime  # a use at or after this instant is out of the cooldown

    @classmethod
    def of(
        cls,
        page_name: str,
        last_sent: dict[str, datetime],
        next_planned: dict[str, datetime],
        locks: Sequence[CaptionLock],
        week_start_utc: datetime,
        settings: Settings,
        kind: str,
    ) -> Eligibility:
        cooldown = timedelta(days=cooldown_days(settings, kind))
        window_end = lock_expiry(week_start_utc, settings, kind)
        return cls(
            last_use=last_sent,
            next_use=next_planned,
            held_elsewhere=held_elsewhere(locks, page_name, week_start_utc, window_end),
            rested_before=week_start_utc - cooldown,
            rested_after=window_end,
        )

    def rested(self, caption_key: str) -> bool:
        last = self.last_use.get(caption_key)
        upcoming = self.next_use.get(caption_key)
        return (last is None or last <= self.rested_before) and (
            upcoming is None or upcoming >= self.rested_after
        )


def held_elsewhere(
    locks: Sequence[CaptionLock], page_name: str, start: datetime, end: datetime
) -> dict[str, str]:
    """Captions that another page holds in a window meeting [start, end), with the holder (the
    first by name when several do). Time-independent: the real clock plays no part."""
    held: dict[str, str] = {}
    for lock in sorted(locks, key=lambda lock: (lock.caption_key, lock.page_name)):
        if lock.page_name != page_name and lock.overlaps(start, end):
            held.setdefault(lock.caption_key, lock.page_name)
    return held


SharedSums = dict[
    str, tuple[float, float]
]  # shared caption -> (successes, failures) from elsewhere


def _kind_columns(evidence: CaptionEvidence, kind: str) -> tuple[Any, FloatArray, FloatArray]:
    """The sends that are evidence for a caption of `kind`, and their successes and trials: a
    PPV's fans who unlocked of those who viewed, a bump's fans who opened of those it reached."""
    if kind == "ppv":
        return evidence.is_ppv, evidence.purchased, evidence.viewed
    return ~evidence.is_ppv, evidence.viewed, evidence.sent


def page_overdispersion(evidence: CaptionEvidence, on_page: Any, kind: str) -> float:
    """ρ of one page's own sends of `kind` (between-send variation of a caption's rate)."""
    wanted, successes, trials = _kind_columns(evidence, kind)
    rows = wanted & on_page
    codes, _ = evidence.codes()
    return intra_class_correlation(successes[rows], trials[rows], codes[rows])


OVERDISPERSION_BIN = 1.05  # sends are summed in bins of 5 % of their effective viewers


def _viewer_bins(weighted_trials: FloatArray) -> npt.NDArray[np.int64]:
    import numpy as np

    bins: npt.NDArray[np.int64] = np.floor(
        np.log(np.maximum(weighted_trials, 1.0)) / np.log(OVERDISPERSION_BIN)
    ).astype(np.int64)
    return bins


@dataclass(frozen=True)
class SharedEvidence:
    """Every page's sends of the agency's shared captions, summed once per run: what one page's
    posterior borrows from the others (a quarter weight each, decayed). A send's weight also
    depends on the borrowing page's overdispersion ρ through its number of viewers, so the sums
    are kept per caption and per 5 % bin of viewers (the factor is exact to 2.5 %); the page's own
    part is taken back out so it never counts its own sends twice. Summing once keeps a page's
    work independent of the agency's size."""

    reference_s: float  # the instant the sums are decayed to
    half_life_days: float
    keys: tuple[str, ...]  # the shared captions, by position
    # kind -> (caption position, viewer bin, successes, failures) of each non-empty cell
    cells: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray, FloatArray]]

    def elsewhere(
        self, kind: str, week_start_s: float, own: CaptionEvidence, rho: float
    ) -> SharedSums:
        """Other pages' evidence of each shared caption for a page whose own sends are `own`
        and whose overdispersion is `rho`, decayed to `week_start_s`."""
        import numpy as np

        position, bins, successes, failures = self.cells[kind]
        if position.size == 0:
            return {}
        successes, failures = successes.copy(), failures.copy()
        own_cells = _binned(self, kind, own)
        if own_cells is not None:  # take the page's own part back out
            cells = zip(position.tolist(), bins.tolist(), strict=True)
            index = {cell: i for i, cell in enumerate(cells)}
            for p, b, s, f in zip(*(part.tolist() for part in own_cells), strict=True):
                i = index[(p, b)]
                successes[i] -= s
                failures[i] -= f
        viewers = np.power(OVERDISPERSION_BIN, bins + 0.5, dtype=np.float64)
        factor = effective_trials_factor(viewers, rho)
        shift = 2.0 ** (-(week_start_s - self.reference_s) / 86_400 / self.half_life_days)
        total_s = np.bincount(position, successes * factor, minlength=len(self.keys)) * shift
        total_f = np.bincount(position, failures * factor, minlength=len(self.keys)) * shift
        return {
            key: (float(total_s[i]), float(total_f[i]))
            for i, key in enumerate(self.keys)
            if total_s[i] > 1e-12 or total_f[i] > 1e-12
        }


def _binned(
    shared: SharedEvidence, kind: str, evidence: CaptionEvidence
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray, FloatArray] | None:
    """Sends of shared captions summed by (caption position, viewer bin), decayed to the
    reference instant, before the overdispersion factor (None when there are none)."""
    import numpy as np

    position_of = {key: i for i, key in enumerate(shared.keys)}
    positions = np.fromiter(
        (position_of.get(key, -1) for key in evidence.caption_key),
        dtype=np.int64,
        count=evidence.caption_key.size,
    )
    wanted, successes, trials = _kind_columns(evidence, kind)
    rows = wanted & (positions >= 0) & (evidence.sent_at < shared.reference_s)
    if not rows.any():
        return None
    weighted_trials = trials[rows] * SHARED_EVIDENCE_WEIGHT
    weighted_successes = successes[rows] * SHARED_EVIDENCE_WEIGHT
    decay = decay_weights(
        (shared.reference_s - evidence.sent_at[rows]) / 86_400, shared.half_life_days
    )
    bins = _viewer_bins(weighted_trials)
    cells, inverse = np.unique(np.stack([positions[rows], bins]), axis=1, return_inverse=True)
    inverse = inverse.reshape(-1)
    summed_s = np.bincount(inverse, decay * weighted_successes, minlength=cells.shape[1])
    summed_f = np.bincount(
        inverse, decay * (weighted_trials - weighted_successes), minlength=cells.shape[1]
    )
    return (
        cells[0].astype(np.int64),
        cells[1].astype(np.int64),
        summed_s.astype(np.float64),
        summed_f.astype(np.float64),
    )


def shared_evidence(
    snapshot: CaptionSnapshot, as_of: dict[str, datetime], settings: Settings
) -> SharedEvidence:
    """Sum the agency's sends of shared captions once (pure). Only sends before every page's
    `as_of` count, so no page borrows evidence from after its own week began."""
    import numpy as np

    until = min((instant.timestamp() for instant in as_of.values()), default=0.0)
    keys = tuple(sorted(snapshot.shared_keys))
    empty = SharedEvidence(until, settings.half_life_days, keys, {})
    rows = snapshot.shared_indexes
    evidence = snapshot.evidence
    shared_sends = CaptionEvidence(
        caption_key=evidence.caption_key[rows],
        on_this_page=np.zeros(rows.size, dtype=bool),
        is_ppv=evidence.is_ppv[rows],
        sent_at=evidence.sent_at[rows],
        sent=evidence.sent[rows],
        viewed=evidence.viewed[rows],
        purchased=evidence.purchased[rows],
        price=evidence.price[rows],
    )
    cells = {}
    for kind in ("ppv", "bump"):
        binned = _binned(empty, kind, shared_sends)
        if binned is None:
            none = np.empty(0, dtype=np.int64)
            binned = (none, none, np.empty(0), np.empty(0))
        cells[kind] = binned
    return SharedEvidence(until, settings.half_life_days, keys, cells)


@dataclass(frozen=True)
class _Scores:
    """The posterior of each free caption of one kind on one page."""

    successes: FloatArray
    failures: FloatArray
    mean: FloatArray
    prices: FloatArray
    sends_here: npt.NDArray[np.int64]
    bandit: CaptionBandit


def _score(
    kind: str,
    free: list[CaptionCandidate],
    evidence: CaptionEvidence,
    week_start_utc: datetime,
    settings: Settings,
    rng: np.random.Generator,
    elsewhere: SharedSums | None = None,
) -> _Scores:
    """Decayed, overdispersion-scaled evidence and the empirical-Bayes posterior of each caption."""
    import numpy as np

    # Evidence of each free caption on this page (and, down-weighted, of shared ones elsewhere).
    wanted = evidence.is_ppv if kind == "ppv" else ~evidence.is_ppv
    page_rows = wanted & evidence.on_this_page
    as_of_s = week_start_utc.timestamp()
    age_days = (as_of_s - evidence.sent_at) / 86_400
    if kind == "ppv":
        successes_raw, trials_raw = evidence.purchased, evidence.viewed
    else:  # engagement of a bump: did the fan open it
        successes_raw, trials_raw = evidence.viewed, evidence.sent
    # Each send's caption as a position in `free` (-1 if not a free caption), by integer codes.
    codes, code_of = evidence.codes()
    position_by_code = np.full(len(code_of) + 1, -1, dtype=np.int64)
    for i, candidate in enumerate(free):
        code = code_of.get(candidate.caption_key)
        if code is not None:
            position_by_code[code] = i
    send_position = position_by_code[codes]
    rho = intra_class_correlation(successes_raw[page_rows], trials_raw[page_rows], codes[page_rows])
    rows = wanted & (send_position >= 0)
    positions = send_position[rows]
    weight = np.where(evidence.on_this_page[rows], 1.0, SHARED_EVIDENCE_WEIGHT)
    successes, failures, _ = caption_evidence(
        positions,
        len(free),
        trials_raw[rows] * weight,
        successes_raw[rows] * weight,
        age_days[rows],
        settings.half_life_days,
        rho,
    )
    if elsewhere:  # other pages' sends of shared captions, summed once per run
        for i, candidate in enumerate(free):
            borrowed = elsewhere.get(candidate.caption_key)
            if borrowed is not None:
                successes[i] += borrowed[0]
                failures[i] += borrowed[1]
    here = rows & evidence.on_this_page
    sends_here = np.bincount(send_position[here], minlength=len(free))
    prices = (
        _prices(free, evidence, here, send_position, settings)
        if kind == "ppv"
        else np.zeros(len(free))
    )
    groups = np.array(
        [PRICE_TIERS.index(c.price_tier) if c.price_tier in PRICE_TIERS else 0 for c in free],
        dtype=np.int64,
    )
    bandit = CaptionBandit(rng, temperature=settings.thompson_temperature).fit(
        successes, failures, groups
    )
    return _Scores(successes, failures, bandit.posterior_mean, prices, sends_here, bandit)


def caption_values(
    kind: str,
    candidates: Sequence[CaptionCandidate],
    evidence: CaptionEvidence,
    eligibility: Eligibility,
    week_start_utc: datetime,
    settings: Settings,
    viewers_per_send: float,
    elsewhere: SharedSums | None = None,
) -> dict[str, float]:
    """The expected value of one send of each eligible caption of `kind` on a page: posterior
    mean × price × viewers for a PPV, posterior mean of engagement × viewers for a bump. What the
    agency's allocation of shared captions compares across pages."""
    import numpy as np

    free = [
        c
        for c in unique_candidates(candidates)
        if c.message_type == kind
        and c.active
        and eligibility.rested(c.caption_key)
        and c.caption_key not in eligibility.held_elsewhere
    ]
    if not free:
        return {}
    rng = np.random.default_rng(0)  # fitting draws nothing
    scores = _score(kind, free, evidence, week_start_utc, settings, rng, elsewhere)
    value = scores.mean * (scores.prices if kind == "ppv" else 1.0) * viewers_per_send
    return {c.caption_key: float(v) for c, v in zip(free, value, strict=True)}


def _pool(
    *,
    kind: str,
    candidates: list[CaptionCandidate],
    evidence: CaptionEvidence,
    eligible: Eligibility,
    week_start_utc: datetime,
    settings: Settings,
    rng: np.random.Generator,
    size: int,
    trigger_cap: dict[str, int] | None,
    category_cap: int | None,
    elsewhere: SharedSums | None = None,
) -> tuple[list[PooledCaption], PoolHealth, list[str]]:
    import numpy as np

    available = [c for c in candidates if c.active]
    rested = [c for c in available if eligible.rested(c.caption_key)]
    free = [c for c in rested if c.caption_key not in eligible.held_elsewhere]
    if not free:
        health = PoolHealth(len(available), len(rested), len(free), 0, 0, 0)
        return [], health, [f"no eligible {kind} caption: {_explain(health)}"]

    scores = _score(kind, free, evidence, week_start_utc, settings, rng, elsewhere)
    successes, failures, mean, prices = (
        scores.successes,
        scores.failures,
        scores.mean,
        scores.prices,
    )
    sends_here, bandit = scores.sends_here, scores.bandit
    low, high = wilson_bounds(successes, successes + failures)
    page_rate = successes.sum() / max((successes + failures).sum(), 1e-12)
    clearly_bad = (high < CLEARLY_BAD_SHARE * page_rate) & (
        successes + failures >= CLEARLY_BAD_MIN_TRIALS
    )
    theta = bandit.sample()
    score = theta * prices if kind == "ppv" else theta
    value = mean * prices if kind == "ppv" else mean
    exploit_rank = np.argsort(-value, kind="stable")
    exploit_set = {int(i) for i in exploit_rank[:size]}

    order = np.lexsort((np.arange(len(free)), -score))
    chosen: list[int] = []
    skipped_for_budgets = 0
    triggers: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for position in order:
        i = int(position)
        if clearly_bad[i]:
            continue
        caption = free[i]
        trigger = setting_key(caption.trigger) if caption.trigger else None
        over_budget = trigger_cap is not None and trigger is not None
        if over_budget and triggers[trigger or ""] >= (trigger_cap or {}).get(trigger or "", 0):
            skipped_for_budgets += 1
            continue
        category = caption.content_category or ""
        if category_cap is not None and categories[category] >= category_cap:
            skipped_for_budgets += 1
            continue
        if len(chosen) < size:
            chosen.append(i)
            if trigger is not None:
                triggers[trigger] += 1
            categories[category] += 1

    quality = len(free) - int(clearly_bad.sum())
    health = PoolHealth(
        total_available=len(available),
        after_cooldown=len(rested),
        after_locks=len(free),
        after_quality=quality,
        after_budgets=quality - skipped_for_budgets,
        final_selected=len(chosen),
    )
    warnings = []
    if len(chosen) < size:
        warnings.append(f"short {kind} pool: {len(chosen)} of {size} captions ({_explain(health)})")
    pooled = [
        PooledCaption(
            caption_key=free[i].caption_key,
            caption_text=free[i].caption_text,
            message_type=kind,
            price_tier=free[i].price_tier,
            price=round(float(prices[i]), 2),
            content_category=free[i].content_category,
            trigger=free[i].trigger,
            posterior_mean=round(float(mean[i]), 6),
            wilson_lower=round(float(low[i]), 6),
            wilson_upper=round(float(high[i]), 6),
            observations=int(sends_here[i]),
            sampled_score=round(float(score[i]), 6),
            strategy="new" if sends_here[i] == 0 else "exploit" if i in exploit_set else "explore",
        )
        for i in chosen
    ]
    return pooled, health, warnings


def _prices(
    free: list[CaptionCandidate],
    evidence: CaptionEvidence,
    here: npt.NDArray[np.bool_],
    send_position: npt.NDArray[np.int64],
    settings: Settings,
) -> FloatArray:
    """The caption's median price on this page, else its price tier's default price; kept inside
    the tier's price band."""
    import numpy as np

    prices = np.array(
        [settings.tier_price(c.price_tier) for c in free],
        dtype=np.float64,
    )
    priced = here & (evidence.price > 0)
    history: dict[int, list[float]] = {}
    for position, price in zip(send_position[priced], evidence.price[priced], strict=True):
        history.setdefault(int(position), []).append(float(price))
    for i, seen in history.items():
        prices[i] = median(seen)  # a handful of sends each: statistics beats numpy here
    for i, caption in enumerate(free):
        if caption.price_tier in PRICE_TIERS:
            low, high = settings.price_band(caption.price_tier)
            prices[i] = min(max(prices[i], low), high)
    return prices


def _explain(health: PoolHealth) -> str:
    return (
        f"{health.total_available} active, {health.after_cooldown} outside cooldown, "
        f"{health.after_locks} not locked elsewhere"
    )


def cooldown_days(settings: Settings, kind: str) -> int:
    return settings.cooldown_days.ppv if kind == "ppv" else settings.cooldown_days.bump


def lock_expiry(week_start_utc: datetime, settings: Settings, kind: str) -> datetime:
    """A lock lasts until the week's end plus the caption's cooldown."""
    return clock.as_utc(week_start_utc) + timedelta(days=7 + cooldown_days(settings, kind))


def lock_window(
    week_start_utc: datetime, settings: Settings, kind: str
) -> tuple[datetime, datetime]:
    """The window a caption of `kind` planned in the week starting `week_start_utc` is held for."""
    return clock.as_utc(week_start_utc), lock_expiry(week_start_utc, settings, kind)
