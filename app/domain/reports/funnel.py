"""The funnel, from the counts the database aggregated: stages in order, each with its count, its
rate from the previous stage and the time it took (median and p90 seconds, nearest rank), per
period and per group; and the workspace's lead-to-customer rate beside the sources' figures
(under 5% of leads become customers in general, 20-35% with good lead management)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STAGES: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "won", "customer")
MODES = ("cohort", "activity")
TYPICAL_RATE = 0.05  # "under 5% of leads become customers"
GOOD_RATE = (0.20, 0.35)  # "20-35% with good lead management"
MEDIAN, P90 = 0.5, 0.9


def rate(count: int, previous: int) -> float | None:
    return round(count / previous, 4) if previous else None


def stages(counts: Mapping[str, int], times: Mapping[str, Mapping[float, float]] | None = None) -> list[dict[str, Any]]:
    """The stages in order: count, rate from the previous stage, and (with `times`) the median and
    p90 seconds from it."""
    found = []
    previous: int | None = None
    for stage in STAGES:
        count = int(counts.get(stage, 0))
        row: dict[str, Any] = {
            "stage": stage,
            "count": count,
            "rate_from_previous": rate(count, previous) if previous is not None else None,
        }
        if times is not None:
            gap = times.get(stage, {})
            row["median_seconds_from_previous"] = gap.get(MEDIAN)
            row["p90_seconds_from_previous"] = gap.get(P90)
        found.append(row)
        previous = count
    return found


def verdict(leads: int, customers: int) -> dict[str, Any]:
    """The lead-to-customer rate beside the sources' figures."""
    value = rate(customers, leads)
    if value is None:
        standing = "no_leads"
    elif value < TYPICAL_RATE:
        standing = "below_typical"
    elif value < GOOD_RATE[0]:
        standing = "typical"
    elif value <= GOOD_RATE[1]:
        standing = "good"
    else:
        standing = "above_good"
    return {"rate": value, "typical": TYPICAL_RATE, "good_low": GOOD_RATE[0], "good_high": GOOD_RATE[1],
            "standing": standing}  # fmt: skip


@dataclass(frozen=True)
class Counted:
    stage: str
    group_key: Any
    period: int | None
    leads: int


def assemble(rows: Iterable[Counted], period_count: int, times: Mapping[str, Mapping[float, float]]) -> dict[str, Any]:
    """Totals and per period (index → stage → count) from the aggregated rows of the ungrouped
    query (a lead counts once)."""
    total: dict[str, int] = dict.fromkeys(STAGES, 0)
    per_period: list[dict[str, int]] = [dict.fromkeys(STAGES, 0) for _ in range(period_count)]
    for row in rows:
        if row.period is None:
            continue
        total[row.stage] += row.leads
        per_period[row.period][row.stage] += row.leads
    return {"stages": stages(total, times), "periods": per_period,
            "conversion": verdict(total["lead"], total["customer"])}  # fmt: skip


def by_group(rows: Iterable[Counted]) -> dict[Any, dict[str, int]]:
    """Group key → stage → count (a lead in two groups, two forms or campaigns, counts in each)."""
    found: dict[Any, dict[str, int]] = {}
    for row in rows:
        if row.period is not None:
            found.setdefault(row.group_key, dict.fromkeys(STAGES, 0))[row.stage] += row.leads
    return found


def group_rows(groups: Mapping[Any, Mapping[str, int]], names: Mapping[Any, str]) -> list[dict[str, Any]]:
    """Groups, the largest first: key, name, stages (count and rate), lead-to-customer rate."""
    ordered: Sequence[tuple[Any, Mapping[str, int]]] = sorted(
        groups.items(), key=lambda item: (-item[1]["lead"], str(item[0]))
    )
    return [
        {
            "key": None if key is None else str(key),
            "name": names.get(key),
            "stages": stages(counts),
            "lead_to_customer_rate": rate(counts["customer"], counts["lead"]),
        }
        for key, counts in ordered
    ]
