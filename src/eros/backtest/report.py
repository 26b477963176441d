"""Figures of a backtest: totals per policy, per page and per week; JSON; rich tables; the chart.

Metrics (per policy, per page and in total): revenue (USD, realised by the simulator), messages
sent (PPVs + bumps + follow-ups), revenue per message, end-of-run fatigue (the simulator's fatigue
level at the end, in "days of excess volume"; 0 = rested), regret = 1 − revenue / oracle revenue.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eros.backtest.harness import BacktestResult, PageWeekOutcome

if TYPE_CHECKING:
    from rich.table import Table

ORACLE = "oracle"
BAR_POLICY, BAR_BASELINE, BAR_LIFT = (
    "eros",
    "seed",
    0.15,
)  # the bar: +15 %, no more messages


def _totals(outcomes: Iterable[PageWeekOutcome]) -> dict[str, float]:
    rows = list(outcomes)
    revenue = round(sum(o.revenue for o in rows), 2)
    messages = sum(o.messages for o in rows)
    return {
        "revenue": revenue,
        "messages": messages,
        "revenue_per_message": round(revenue / messages, 2) if messages else 0.0,
        "ppv": sum(o.ppv for o in rows),
        "bumps": sum(o.bumps for o in rows),
        "followups": sum(o.followups for o in rows),
        "ppv_revenue": round(sum(o.ppv_revenue for o in rows), 2),
        "followup_revenue": round(sum(o.followup_revenue for o in rows), 2),
    }


def _regret(revenue: float, oracle: float | None) -> float | None:
    return round(1.0 - revenue / oracle, 4) if oracle else None


def policy_totals(result: BacktestResult) -> dict[str, dict[str, Any]]:
    """Per policy over every page and week, with mean end-of-run fatigue and regret."""
    oracle = (
        sum(o.revenue for o in result.outcomes if o.policy == ORACLE)
        if ORACLE in result.policies
        else None
    )
    totals: dict[str, dict[str, Any]] = {}
    for policy in result.policies:
        figures: dict[str, Any] = _totals(o for o in result.outcomes if o.policy == policy)
        fatigue = result.end_fatigue.get(policy, {})
        figures["end_fatigue_mean"] = (
            round(sum(fatigue.values()) / len(fatigue), 4) if fatigue else 0.0
        )
        figures["end_fatigue_max"] = round(max(fatigue.values()), 4) if fatigue else 0.0
        figures["regret"] = _regret(figures["revenue"], oracle)
        totals[policy] = figures
    return totals


def page_totals(result: BacktestResult) -> dict[str, dict[str, dict[str, Any]]]:
    """page -> policy -> figures over the run (end fatigue and regret of that page)."""
    pages: dict[str, dict[str, dict[str, Any]]] = {}
    for page in result.pages:
        rows = [o for o in result.outcomes if o.page_name == page]
        oracle = (
            sum(o.revenue for o in rows if o.policy == ORACLE)
            if ORACLE in result.policies
            else None
        )
        pages[page] = {}
        for policy in result.policies:
            figures: dict[str, Any] = _totals(o for o in rows if o.policy == policy)
            figures["end_fatigue"] = result.end_fatigue.get(policy, {}).get(page, 0.0)
            figures["regret"] = _regret(figures["revenue"], oracle)
            zones = [o.zone for o in rows if o.policy == policy and o.zone]
            figures["red_weeks"] = zones.count("RED")
            figures["yellow_weeks"] = zones.count("YELLOW")
            pages[page][policy] = figures
    return pages


def weekly_revenue(result: BacktestResult) -> dict[str, list[float]]:
    """policy -> total revenue of each week, in week order."""
    return {
        policy: [
            round(
                sum(o.revenue for o in result.outcomes if o.policy == policy and o.week_start == w),
                2,
            )
            for w in result.weeks
        ]
        for policy in result.policies
    }


def bar(result: BacktestResult) -> dict[str, Any] | None:
    """The issue's bar: eros earns at least 15 % more than seed while sending no more messages."""
    if BAR_POLICY not in result.policies or BAR_BASELINE not in result.policies:
        return None
    totals = policy_totals(result)
    ours, theirs = totals[BAR_POLICY], totals[BAR_BASELINE]
    lift = ours["revenue"] / theirs["revenue"] - 1 if theirs["revenue"] else 0.0
    more_messages = ours["messages"] - theirs["messages"]
    return {
        "policy": BAR_POLICY,
        "baseline": BAR_BASELINE,
        "revenue_lift": round(lift, 4),
        "message_difference": more_messages,
        "lift_met": lift >= BAR_LIFT,
        "messages_met": more_messages <= 0,
        "met": lift >= BAR_LIFT and more_messages <= 0,
    }


def summary(result: BacktestResult) -> dict[str, Any]:
    """The whole result as JSON-ready data (what `eros backtest --json` prints)."""
    return {
        "config": {
            "seed": result.seed,
            "start": result.start.isoformat(),
            "weeks": [week.isoformat() for week in result.weeks],
            "pages": list(result.pages),
            "policies": list(result.policies),
        },
        "totals": policy_totals(result),
        "bar": bar(result),
        "weekly_revenue": weekly_revenue(result),
        "pages": page_totals(result),
        "end_fatigue": result.end_fatigue,
        "notes": list(result.notes),
        "seconds": result.seconds,
        "policy_seconds": result.policy_seconds,
    }


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def totals_table(result: BacktestResult) -> Table:
    from rich.table import Table

    table = Table(
        title=(
            f"backtest: {len(result.pages)} pages × {len(result.weeks)} weeks from "
            f"{result.start.isoformat()}, seed {result.seed}"
        )
    )
    for column in (
        "policy",
        "revenue (USD)",
        "messages",
        "PPV / bump / follow-up",
        "revenue / message",
        "end fatigue (mean / max)",
        "regret vs oracle",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for policy, figures in policy_totals(result).items():
        table.add_row(
            policy,
            _money(figures["revenue"]),
            f"{figures['messages']:,}",
            f"{figures['ppv']:,} / {figures['bumps']:,} / {figures['followups']:,}",
            f"{figures['revenue_per_message']:,.2f}",
            f"{figures['end_fatigue_mean']:.2f} / {figures['end_fatigue_max']:.2f}",
            _percent(figures["regret"]),
        )
    return table


def pages_table(result: BacktestResult) -> Table:
    """One row per page: each policy's revenue and messages, eros's lift over seed and regret."""
    from rich.table import Table

    table = Table(title="per page: revenue (messages)")
    table.add_column("page")
    for policy in result.policies:
        table.add_column(policy, justify="right")
    has_bar = BAR_POLICY in result.policies and BAR_BASELINE in result.policies
    if has_bar:
        table.add_column("eros vs seed", justify="right")
    main = BAR_POLICY if BAR_POLICY in result.policies else result.policies[0]
    table.add_column(f"regret ({main})", justify="right")
    table.add_column(f"end fatigue ({' / '.join(result.policies)})", justify="right")
    for page, by_policy in page_totals(result).items():
        cells = [page]
        for policy in result.policies:
            figures = by_policy[policy]
            cells.append(f"{_money(figures['revenue'])} ({figures['messages']:,})")
        if has_bar:
            seed = by_policy[BAR_BASELINE]["revenue"]
            lift = by_policy[BAR_POLICY]["revenue"] / seed - 1 if seed else None
            cells.append("–" if lift is None else f"{lift:+.1%}")
        cells.append(_percent(by_policy[main]["regret"]))
        cells.append(
            " / ".join(f"{by_policy[policy]['end_fatigue']:.1f}" for policy in result.policies)
        )
        table.add_row(*cells)
    return table


def bar_line(result: BacktestResult) -> str | None:
    """One line on the issue's bar, or None when eros or seed did not run."""
    verdict = bar(result)
    if verdict is None:
        return None
    return (
        f"eros vs seed: revenue {verdict['revenue_lift']:+.1%} (bar +{BAR_LIFT:.0%}), "
        f"messages {verdict['message_difference']:+,} (bar ≤ 0): "
        + ("met" if verdict["met"] else "NOT met")
    )


def plot_weekly_revenue(result: BacktestResult, path: Path) -> Path:
    """A PNG line chart of each policy's total revenue per week (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weekly = weekly_revenue(result)
    labels = [week.strftime("%d %b") for week in result.weeks]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    styles = {"eros": "-o", "seed": "-s", "random": "--^", "oracle": ":D"}
    for policy, values in weekly.items():
        axes.plot(
            labels, [v / 1e6 for v in values], styles.get(policy, "-"), label=policy, linewidth=1.8
        )
    axes.set_xlabel("week starting (local Monday)")
    axes.set_ylabel("revenue (million USD)")
    axes.set_title(f"Weekly revenue per policy: {len(result.pages)} demo pages, seed {result.seed}")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
