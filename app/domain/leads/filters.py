"""The leads list's filters: what `GET /v1/leads` (and its CSV export) asks for, read by the leads
repository. Each filter left None (or empty) filters nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from app.domain.leads.lifecycle import LeadStatus, Source
from app.domain.leads.scoring import StageFilter, Temperature
from app.domain.leads.search import query
from app.domain.leads.sla import SlaStatus


@dataclass(frozen=True)
class LeadFilters:
    """Equality filters match the column; `*_after` bounds are inclusive, `*_before` exclusive;
    the score range is closed."""

    q: str | None = None  # name, email, company or phone, as typed (Persian-aware: see `search`)
    custom_fields: Mapping[str, str] = field(default_factory=dict)  # `cf.<key>=<value>`: key -> value as sent
    archived: bool = False  # True: only archived leads; False: only live ones
    status: LeadStatus | None = None
    source: Source | None = None
    owner_id: UUID | None = None
    tag: str | None = None
    country: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    temperature: Temperature | None = None
    stage: StageFilter | None = None  # `none`: leads with no stage yet
    mql_candidate: bool | None = None
    score_min: float | None = None
    score_max: float | None = None
    engaged_after: datetime | None = None  # the last engagement
    engaged_before: datetime | None = None
    sla_status: SlaStatus | None = None
    first_response_due_before: datetime | None = None
    team_id: UUID | None = None
    last_activity_after: datetime | None = None
    last_activity_before: datetime | None = None
    import_id: UUID | None = None  # created by this CSV import

    @property
    def search(self) -> str | None:
        """`q` normalised like the stored search text; None when it leaves nothing to search for."""
        return (query(self.q) if self.q else None) or None
