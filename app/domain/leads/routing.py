"""Lead routing: ordered rules send a new lead to a member or a team; within a team, round-robin
skips members who are inactive, away, outside their working hours or at capacity. Hot leads may
go straight to a sales team before any rule. Pure: the caller passes the members' state and now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Condition:
    """Every given part must hold (an empty condition matches every lead)."""

    countries: frozenset[str] = frozenset()
    provinces: frozenset[str] = frozenset()  # compared casefolded
    sources: frozenset[str] = frozenset()
    temperatures: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    score_min: float | None = None
    score_max: float | None = None
    tags_any: frozenset[str] = frozenset()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)  # field -> value it must equal

    def holds(self, lead: Mapping[str, Any], tags: Sequence[str]) -> bool:
        if self.countries and (lead.get("country") or "").upper() not in self.countries:
            return False
        if self.provinces and (lead.get("province") or "").casefold() not in self.provinces:
            return False
        if self.sources and lead.get("source") not in self.sources:
            return False
        if self.temperatures and lead.get("temperature") not in self.temperatures:
            return False
        if self.stages and (lead.get("stage") or "none") not in self.stages:  # `none`: no stage yet
            return False
        score = float(lead.get("score") or 0)
        if self.score_min is not None and score < self.score_min:
            return False
        if self.score_max is not None and score > self.score_max:
            return False
        if self.tags_any and not self.tags_any & set(tags):
            return False
        values = lead.get("custom_fields") or {}
        return all(values.get(k) == v for k, v in self.custom_fields.items())


@dataclass(frozen=True)
class Target:
    member_id: UUID | None = None
    team_id: UUID | None = None


@dataclass(frozen=True)
class Rule:
    when: Condition
    to: Target
    name: str = ""


@dataclass(frozen=True)
class Routing:
    rules: tuple[Rule, ...] = ()
    hot_team_id: UUID | None = None  # hot leads go here first

    @property
    def empty(self) -> bool:
        return not self.rules and self.hot_team_id is None


@dataclass(frozen=True)
class Decision:
    to: Target
    reason: str  # "hot_lead" or "rule"
    rule_index: int | None = None


def route(routing: Routing, lead: Mapping[str, Any], tags: Sequence[str] = ()) -> Decision | None:
    """Where a new lead goes, or None when no rule matches (it stays unassigned)."""
    if routing.hot_team_id is not None and lead.get("temperature") == "hot":
        return Decision(Target(team_id=routing.hot_team_id), "hot_lead")
    for index, rule in enumerate(routing.rules):
        if rule.when.holds(lead, tags):
            return Decision(rule.to, "rule", index)
    return None


@dataclass(frozen=True)
class WorkingHours:
    """A member's own hours (in their time zone); None on the member means always at work."""

    timezone: str
    days: frozenset[int]  # Monday = 0
    start: time
    end: time

    def at_work(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True)
class Member:
    id: UUID
    active: bool
    available: bool  # not away (holiday, sick leave): set by the member or a manager
    open_leads: int
    capacity: int | None  # most open leads at once; None: no limit
    hours: WorkingHours | None = None

    def can_take(self, now: datetime) -> bool:
        if not (self.active and self.available):
            return False
        if self.capacity is not None and self.open_leads >= self.capacity:
            return False
        return self.hours is None or self.hours.at_work(now)


def round_robin(
    order: Sequence[UUID], position: int, members: Mapping[UUID, Member], now: datetime, *, skip: UUID | None = None
) -> tuple[UUID | None, int]:
    """The next member in `order` from `position` who can take a lead (and is not `skip`), and the
    team's next position (just after them). Nobody can: (None, position unchanged)."""
    count = len(order)
    for step in range(count):
        index = (position + step) % count
        member = members.get(order[index])
        if member is not None and member.id != skip and member.can_take(now):
            return member.id, (index + 1) % count
    return None, position
