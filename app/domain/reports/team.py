"""The team report, from the figures the database aggregated per member: each member's figures
beside the team's median over the members listed, and the team's totals per period.

Medians over members are nearest rank (of n values, the one at rank ceil(n / 2): the lower middle
of an even count, always a member's own figure), over the members with a value (a rate with
nothing to divide by is null and left out). Rates are rounded to 4 places."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.domain.leads.sla import ActivityType

ACTIVITY_TYPES: tuple[str, ...] = tuple(t.value for t in ActivityType)
COUNTS: tuple[str, ...] = (
    "leads_assigned", "tasks_done", "tasks_overdue", "leads_qualified", "opportunities_won",
    "won_other_currency_count", "won_unconverted_count",
)  # fmt: skip
MEASURES: tuple[str, ...] = (
    "first_response_median_seconds", "first_response_p90_seconds", "sla_met_rate", "conversion_rate",
)  # fmt: skip
PERIOD_FIGURES: tuple[str, ...] = (
    "leads_assigned", "leads_qualified", "opportunities_won", "tasks_done", "activities",
)  # fmt: skip
Format = Callable[[int], str]


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def median(values: Iterable[float | int | None]) -> float | int | None:
    """The nearest-rank median of the values given (None left out; None when none is left)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    return known[math.ceil(len(known) / 2) - 1]


@dataclass
class Figures:
    """One member's raw figures over the range."""

    leads_assigned: int = 0
    first_response_median_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    sla_met: int = 0
    sla_breached: int = 0
    activities: dict[str, int] = field(default_factory=dict)
    tasks_done: int = 0
    tasks_overdue: int = 0
    leads_qualified: int = 0
    opportunities_won: int = 0
    won_minor: int = 0
    won_other_currency_count: int = 0
    won_unconverted_count: int = 0

    def any(self) -> bool:
        return bool(
            self.leads_assigned or self.sla_met or self.sla_breached or any(self.activities.values())
            or self.tasks_done or self.tasks_overdue or self.leads_qualified or self.opportunities_won
        )  # fmt: skip


@dataclass(frozen=True)
class Member:
    id: UUID
    name: str
    active: bool


def listed(members: Iterable[Member], figures: Mapping[UUID, Figures]) -> list[Member]:
    """The members the report lists, by name: the active ones, and those deactivated with anything
    to show in the range."""
    kept = [m for m in members if m.active or (m.id in figures and figures[m.id].any())]
    return sorted(kept, key=lambda m: (m.name.casefold(), str(m.id)))


def member_row(member: Member, figures: Figures, money: Format) -> dict[str, Any]:
    return {
        "member_id": member.id,
        "name": member.name,
        "leads_assigned": figures.leads_assigned,
        "first_response_median_seconds": figures.first_response_median_seconds,
        "first_response_p90_seconds": figures.first_response_p90_seconds,
        "sla_met_rate": rate(figures.sla_met, figures.sla_met + figures.sla_breached),
        "activities": {t: figures.activities.get(t, 0) for t in ACTIVITY_TYPES},
        "tasks_done": figures.tasks_done,
        "tasks_overdue": figures.tasks_overdue,
        "leads_qualified": figures.leads_qualified,
        "opportunities_won": figures.opportunities_won,
        "won_amount": money(figures.won_minor),
        "won_other_currency_count": figures.won_other_currency_count,
        "won_unconverted_count": figures.won_unconverted_count,
        "conversion_rate": rate(figures.leads_qualified, figures.leads_assigned),
        "_won_minor": figures.won_minor,
    }


def team_median(rows: Sequence[Mapping[str, Any]], money: Format) -> dict[str, Any]:
    """The median of each figure over the members' rows (activities per type)."""
    found: dict[str, Any] = {name: median(r[name] for r in rows) for name in (*COUNTS, *MEASURES)}
    found["activities"] = {t: median(r["activities"][t] for r in rows) for t in ACTIVITY_TYPES}
    won = median(r["_won_minor"] for r in rows)
    found["won_amount"] = money(int(won)) if won is not None else None
    return found


def assemble(
    members: Iterable[Member], figures: Mapping[UUID, Figures], money: Format
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the members' rows, the team's medians)."""
    rows = [member_row(m, figures.get(m.id, Figures()), money) for m in listed(members, figures)]
    medians = team_median(rows, money)
    for row in rows:
        del row["_won_minor"]
    return rows, medians


@dataclass(frozen=True)
class PeriodCount:
    """An aggregated row per member and period: how many of a figure (and the amount won)."""

    figure: str
    member_id: UUID
    period: int | None
    count: int
    amount_minor: int = 0


def periods(
    rows: Iterable[PeriodCount], period_count: int, members: Iterable[UUID], money: Format
) -> list[dict[str, Any]]:
    """The listed members' totals per period index."""
    wanted = set(members)
    totals: list[dict[str, int]] = [dict.fromkeys((*PERIOD_FIGURES, "won_minor"), 0) for _ in range(period_count)]
    for row in rows:
        if row.period is None or row.member_id not in wanted:
            continue
        totals[row.period][row.figure] += row.count
        if row.figure == "opportunities_won":
            totals[row.period]["won_minor"] += row.amount_minor
    return [{**{name: t[name] for name in PERIOD_FIGURES}, "won_amount": money(t["won_minor"])} for t in totals]
