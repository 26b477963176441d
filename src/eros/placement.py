"""Placement: which PPV caption goes in which PPV slot of the week.

Maximise Σ slot_value × caption_value under: each caption at most once, each slot at most one
caption, no two consecutive PPVs in one content category, no three consecutive PPVs in one price
tier, and the weekly trigger budgets; filling every slot comes first. The exact solver is scipy's
MILP (HiGHS). Before calling it, a greedy pass is checked against the unconstrained optimum (the
best slots paired with the best captions, which bounds every constrained answer from above): when
the greedy reaches that bound it is optimal and the solver is skipped. A feasibility-keeping greedy
is also the answer when the instance is too large for the solver or the solver finds nothing.

No limit here is a time limit: the answer depends on the instance alone, never on the machine's
speed or load (DESIGN §4). The solver's work is bounded by problem size (it runs only up to
MILP_MAX_VARIABLES) and by HiGHS's deterministic work limits (nodes, cut pool size).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

Method = Literal["greedy-optimal", "milp", "greedy-fallback", "greedy-large"]
# The relative optimality gap accepted (1 %, the quality bar of the issue), as a MILP solver's
# mip_rel_gap: a greedy answer this close to the upper bound is provably this close to the
# optimum, and the solver stops at this gap too.
OPTIMALITY_TOLERANCE = 1e-2
# Instances with more slot × caption variables than this are not given to the solver: they keep the
# greedy + local search answer ("greedy-large"). Every demo instance that needed the solver had at
# most 29 × 60 = 1,740 variables (bench/bench_placement.py), where HiGHS finishes at its root node.
MILP_MAX_VARIABLES = 2_500
# Branch-and-bound nodes HiGHS may explore. Every demo instance closes the gap at the root node;
# this bounds the rare instance that would branch.
MILP_NODE_LIMIT = 1_000
# HiGHS's soft cap on its cut pool (default 10,000). The root's cut separation is most of the
# solver's time on these assignment models; a small pool halves the worst solves measured and
# changed no answer (bench/bench_placement.py).
MILP_CUT_POOL_LIMIT = 30


@dataclass(frozen=True)
class PlacementCaption:
    value: float  # expected revenue of one send at an average slot
    category: str
    price_tier: str
    trigger: str | None  # settings key (snake_case), or None


@dataclass(frozen=True)
class Placement:
    caption_by_slot: list[int | None]  # caption index per slot, None = left empty
    objective: float
    upper_bound: float
    method: Method


def objective(
    slot_values: Sequence[float], captions: Sequence[PlacementCaption], chosen: list[int | None]
) -> float:
    return sum(
        slot_values[slot] * captions[index].value
        for slot, index in enumerate(chosen)
        if index is not None
    )


def upper_bound(
    slot_values: Sequence[float],
    captions: Sequence[PlacementCaption],
    budgets: dict[str, int] | None = None,
) -> float:
    """An upper bound of every feasible objective: the best captions that the trigger budgets allow
    (greedy is exact for these per-trigger caps), paired best with best slots (rearrangement),
    ignoring the order rules."""
    remaining = dict(budgets or {})
    allowed = []
    for caption in sorted(captions, key=lambda item: -item.value):
        if caption.trigger is not None and budgets is not None:
            if remaining.get(caption.trigger, 0) <= 0:
                continue
            remaining[caption.trigger] -= 1
        allowed.append(caption.value)
    slots = sorted(slot_values, reverse=True)
    return sum(slot * value for slot, value in zip(slots, allowed, strict=False))


def violates(
    chosen: list[int | None],
    captions: Sequence[PlacementCaption],
    slot: int,
    index: int,
    budgets: dict[str, int],
    used_triggers: dict[str, int],
) -> bool:
    """Would putting caption `index` in `slot` break a rule with the slots already filled?"""
    caption = captions[index]
    if caption.trigger is not None and used_triggers.get(caption.trigger, 0) >= budgets.get(
        caption.trigger, 0
    ):
        return True
    neighbours = [
        captions[other]
        for other in (
            chosen[slot - 1] if slot >= 1 else None,
            chosen[slot + 1] if slot + 1 < len(chosen) else None,
        )
        if other is not None
    ]
    if any(neighbour.category == caption.category for neighbour in neighbours):
        return True
    for start in range(max(0, slot - 2), min(slot, len(chosen) - 3) + 1):
        tiers = []
        for position in range(start, start + 3):
            other = chosen[position]
            if position == slot:
                tiers.append(caption.price_tier)
            elif other is not None:
                tiers.append(captions[other].price_tier)
        if len(tiers) == 3 and len(set(tiers)) == 1:
            return True
    return False


def greedy(
    slot_values: Sequence[float], captions: Sequence[PlacementCaption], budgets: dict[str, int]
) -> list[int | None]:
    """Best slots first, each taking the best caption that keeps every rule."""
    chosen: list[int | None] = [None] * len(slot_values)
    used: set[int] = set()
    used_triggers: dict[str, int] = {}
    by_value = sorted(range(len(captions)), key=lambda i: (-captions[i].value, i))
    for slot in sorted(range(len(slot_values)), key=lambda s: (-slot_values[s], s)):
        for index in by_value:
            if index in used or violates(chosen, captions, slot, index, budgets, used_triggers):
                continue
            chosen[slot] = index
            used.add(index)
            trigger = captions[index].trigger
            if trigger is not None:
                used_triggers[trigger] = used_triggers.get(trigger, 0) + 1
            break
    return chosen


def improve(
    slot_values: Sequence[float],
    captions: Sequence[PlacementCaption],
    budgets: dict[str, int],
    chosen: list[int | None],
) -> list[int | None]:
    """Local search: swap two placed captions, or replace one with an unused caption, while that
    raises the objective (judged by its change alone) and keeps every rule."""
    current = list(chosen)

    def value(index: int | None) -> float:
        return 0.0 if index is None else captions[index].value

    improved = True
    while improved:
        improved = False
        placed = set(current)
        unused = [i for i in range(len(captions)) if i not in placed]
        for slot in range(len(current)):
            here = value(current[slot])
            for other in range(slot + 1, len(current)):
                gain = (slot_values[slot] - slot_values[other]) * (value(current[other]) - here)
                if gain > 1e-9:
                    trial = list(current)
                    trial[slot], trial[other] = trial[other], trial[slot]
                    if feasible(trial, captions, budgets):
                        current, improved = trial, True
                        break
            if improved:
                break
            for candidate in unused:
                if slot_values[slot] * (captions[candidate].value - here) > 1e-9:
                    trial = list(current)
                    trial[slot] = candidate
                    if feasible(trial, captions, budgets):
                        current, improved = trial, True
                        break
            if improved:
                break
    return current


def feasible(
    chosen: list[int | None], captions: Sequence[PlacementCaption], budgets: dict[str, int]
) -> bool:
    """Every rule holds for a full or partial placement (empty slots break no run)."""
    placed = [index for index in chosen if index is not None]
    if len(placed) != len(set(placed)):
        return False
    used: dict[str, int] = {}
    for index in placed:
        trigger = captions[index].trigger
        if trigger is not None:
            used[trigger] = used.get(trigger, 0) + 1
            if used[trigger] > budgets.get(trigger, 0):
                return False
    for a, b in pairwise(chosen):
        if a is not None and b is not None and captions[a].category == captions[b].category:
            return False
    for a, b, c in zip(chosen, chosen[1:], chosen[2:], strict=False):
        if a is None or b is None or c is None:
            continue
        if captions[a].price_tier == captions[b].price_tier == captions[c].price_tier:
            return False
    return True


def place(
    slot_values: Sequence[float],
    captions: Sequence[PlacementCaption],
    budgets: dict[str, int],
) -> Placement:
    """The placement of `captions` into chronologically ordered PPV slots; a pure function of its
    arguments."""
    bound = upper_bound(slot_values, captions, budgets)
    first = improve(slot_values, captions, budgets, greedy(slot_values, captions, budgets))
    first_value = objective(slot_values, captions, first)
    filled = sum(index is not None for index in first)
    if filled == min(len(slot_values), len(captions)) and first_value >= bound * (
        1 - OPTIMALITY_TOLERANCE
    ):
        return Placement(first, first_value, bound, "greedy-optimal")
    if len(slot_values) * len(captions) > MILP_MAX_VARIABLES:
        return Placement(first, first_value, bound, "greedy-large")
    solved = solve_milp(slot_values, captions, budgets)
    if solved is not None:
        solved_filled = sum(index is not None for index in solved)
        solved_value = objective(slot_values, captions, solved)
        if (solved_filled, solved_value) >= (filled, first_value):
            return Placement(solved, solved_value, bound, "milp")
    return Placement(first, first_value, bound, "greedy-fallback")


def place_filled(
    slot_values: Sequence[float],
    captions: Sequence[PlacementCaption],
    budgets: dict[str, int],
) -> tuple[list[int], Placement]:
    """Place, then drop the slots left empty and place again until every kept slot is filled, so
    the rules hold between the PPVs that are actually sent. Returns the kept slots' positions."""
    capacity = len(captions) - sum(
        max(0, count - budgets.get(trigger, 0))
        for trigger, count in Counter(c.trigger for c in captions if c.trigger).items()
    )
    # The budgets cap how many slots can ever be filled: keep the most valuable ones.
    best_first = sorted(range(len(slot_values)), key=lambda slot: (-slot_values[slot], slot))
    kept = sorted(best_first[: max(0, capacity)])
    while True:
        placement = place([slot_values[slot] for slot in kept], captions, budgets)
        filled = [k for k, index in enumerate(placement.caption_by_slot) if index is not None]
        if len(filled) == len(kept):
            return kept, placement
        kept = [kept[k] for k in filled]


def solve_milp(
    slot_values: Sequence[float],
    captions: Sequence[PlacementCaption],
    budgets: dict[str, int],
    node_limit: int = MILP_NODE_LIMIT,
) -> list[int | None] | None:
    """The exact placement by HiGHS (the best found within `node_limit` nodes), or None when it
    finds no solution."""
    import warnings

    import numpy as np
    from scipy.optimize import LinearConstraint, milp
    from scipy.sparse import coo_matrix

    slots, count = len(slot_values), len(captions)
    if slots == 0 or count == 0:
        return [None] * slots
    variables = slots * count

    def var(caption: int, slot: int) -> int:
        return caption * slots + slot

    values = np.array([caption.value for caption in captions])
    scale = float(np.max(np.abs(values)) * max(slot_values) or 1.0)
    fill_bonus = 10.0 * scale * slots  # filling one more slot beats any revenue difference
    cost = np.empty(variables)
    for caption in range(count):
        for slot in range(slots):
            cost[var(caption, slot)] = -(slot_values[slot] * values[caption] + fill_bonus) / scale
    rows: list[tuple[list[int], float]] = []
    rows += [([var(c, s) for c in range(count)], 1) for s in range(slots)]
    rows += [([var(c, s) for s in range(slots)], 1) for c in range(count)]
    # Sorted: the constraint order (and so HiGHS's answer) must not follow the string-hash seed.
    for category in sorted({caption.category for caption in captions}):
        members = [c for c in range(count) if captions[c].category == category]
        for s in range(slots - 1):
            rows.append(([var(c, s) for c in members] + [var(c, s + 1) for c in members], 1))
    for tier in sorted({caption.price_tier for caption in captions}):
        members = [c for c in range(count) if captions[c].price_tier == tier]
        if len(members) < 3:
            continue
        for s in range(slots - 2):
            rows.append(([var(c, s + k) for c in members for k in range(3)], 2))
    for trigger in sorted({c.trigger for c in captions if c.trigger is not None}):
        members = [c for c in range(count) if captions[c].trigger == trigger]
        rows.append(([var(c, s) for c in members for s in range(slots)], budgets.get(trigger, 0)))
    row_index = np.concatenate(
        [np.full(len(columns), row, dtype=np.int64) for row, (columns, _) in enumerate(rows)]
    )
    column_index = np.concatenate([np.asarray(columns, dtype=np.int64) for columns, _ in rows])
    matrix = coo_matrix(
        (np.ones(row_index.size), (row_index, column_index)), shape=(len(rows), variables)
    )
    upper = np.array([limit for _, limit in rows], dtype=float)
    with warnings.catch_warnings():
        # scipy passes HiGHS options it does not know to HiGHS as they are, with this warning.
        warnings.filterwarnings("ignore", "Unrecognized options detected", RuntimeWarning)
        result = milp(
            cost,
            integrality=np.ones(variables),
            bounds=(0, 1),
            constraints=LinearConstraint(matrix.tocsr(), -np.inf, upper),
            options={
                "node_limit": node_limit,
                "mip_rel_gap": OPTIMALITY_TOLERANCE,
                "mip_pool_soft_limit": MILP_CUT_POOL_LIMIT,
            },
        )
    if result.x is None:
        return None
    chosen: list[int | None] = [None] * slots
    solution = np.round(result.x).astype(int)
    for caption in range(count):
        for slot in range(slots):
            if solution[var(caption, slot)]:
                chosen[slot] = caption
    return chosen
