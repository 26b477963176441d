"""Jobs: repeat-safe maintenance commands. Each works out what is missing and does only that, so
running it twice changes nothing; the daemon only triggers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from eros import clock
from eros.bandit import caption_evidence, intra_class_correlation
from eros.models import CaptionStats, JobRun
from eros.settings import Settings
from eros.store import Store

STATS_LOOKBACK_DAYS = 3_650  # all of a page's history: old sends fade by decay, not by a cut


@dataclass(frozen=True)
class JobResult:
    job: str
    pages_processed: int
    changed: int
    detail: str


def caption_stats_for_page(
    store: Store, page_name: str, settings: Settings, now: datetime, loaded: datetime
) -> list[CaptionStats]:
    """Each caption's evidence on one page, decayed to `now`; recomputed whole, never re-counted."""
    import numpy as np

    evidence = store.caption_evidence(page_name, now, STATS_LOOKBACK_DAYS)
    here = evidence.on_this_page & evidence.is_ppv
    keys, codes = np.unique(evidence.caption_key[here], return_inverse=True)
    if keys.size == 0:
        return []
    codes = codes.astype(np.int64)
    viewed, purchased = evidence.viewed[here], evidence.purchased[here]
    rho = intra_class_correlation(purchased, viewed, codes)
    age_days = (now.timestamp() - evidence.sent_at[here]) / 86_400
    successes, failures, sends = caption_evidence(
        codes, keys.size, viewed, purchased, age_days, settings.half_life_days, rho
    )
    views = np.bincount(codes, viewed, minlength=keys.size)
    purchases = np.bincount(codes, purchased, minlength=keys.size)
    last = np.full(keys.size, -np.inf)
    np.maximum.at(last, codes, evidence.sent_at[here])
    return [
        CaptionStats(
            caption_key=str(key),
            successes=float(successes[i]),
            failures=float(failures[i]),
            sends=int(sends[i]),
            views=int(views[i]),
            purchases=int(purchases[i]),
            last_sent_at=datetime.fromtimestamp(float(last[i]), UTC),
            reference_at=now,
            source_loaded_at=loaded,
            updated_at=now,
        )
        for i, key in enumerate(keys)
    ]


def update_stats(store: Store, settings: Settings) -> JobResult:
    """Refresh caption_bandit_stats for the pages whose messages changed since the last refresh."""
    started = clock.now()
    pages = store.pages_needing_stats()
    rows = 0
    for page_name in pages:
        loaded = store.newest_load(page_name) or started
        stats = caption_stats_for_page(store, page_name, settings, started, loaded)
        store.replace_caption_stats(page_name, stats, loaded, started)
        rows += len(stats)
    store.record_job_run(JobRun("update-stats", started, clock.now(), "ok", len(pages), 0, None))
    detail = f"refreshed {rows} caption stats on {len(pages)} page(s)" if pages else "up to date"
    return JobResult("update-stats", len(pages), rows, detail)


def sweep_locks(store: Store) -> JobResult:
    """Free expired caption locks and those of superseded schedules."""
    started = clock.now()
    freed = store.sweep_locks(started)
    store.record_job_run(JobRun("sweep-locks", started, clock.now(), "ok", 0, 0, None))
    return JobResult("sweep-locks", 0, freed, f"freed {freed} lock(s)")
