"""What happened to a lead or a contact, from every table that records it, one keyset page per
source (the service merges them): engagements, activities, tasks, temperature/stage changes,
owner changes and status actions (from the event log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, select, tuple_

from app.db import tables
from app.db.repositories.base import Row, TenantRepository, decode_after
from app.db.repositories.events.events import STAMPED
from app.domain.pagination import Sort

# Status actions shown on a lead's timeline, from the event log.
STATUS_EVENTS = (
    "lead.created",
    "lead.qualified",
    "lead.disqualified",
    "lead.reactivated",
    "lead.archived",
    "lead.first_responded",
    "lead.sla_breached",
    "lead.merged",  # on the lead kept: what a merge (a request, by hand, automatic) brought into it
    "lead.unmerged",  # on the lead restored
)
# kind -> (table, time column); which subject columns each source has.
SOURCES: dict[str, tuple[Table, str]] = {
    "engagement": (tables.engagements, "occurred_at"),
    "activity": (tables.activities, "occurred_at"),
    "task": (tables.tasks, "created_at"),
    "state_change": (tables.lead_state_changes, "occurred_at"),
    "assignment": (tables.lead_assignments, "assigned_at"),
    "status": (tables.events, "occurred_at"),
    "journey_step": (tables.enrolment_steps, "started_at"),  # each step a journey ran for the person
}


def kinds_of(subject: str) -> list[str]:
    """The kinds of entry a lead's or a contact's timeline can hold."""
    if subject == "lead":
        return list(SOURCES)
    return [kind for kind, (table, _) in SOURCES.items() if kind != "status" and f"{subject}_id" in table.c]


class TimelineRepository(TenantRepository):
    table = tables.events  # scope column only; every source is filtered by workspace below

    async def page(
        self, subject: str, subject_id: UUID, sort: Sort, cursor: str | None, limit: int, *, kinds: list[str]
    ) -> list[tuple[str, datetime, Row]]:
        """Up to `limit` entries of each of the sources `kinds` past the cursor, as (kind, time, row)."""
        after = decode_after(cursor, sort, datetime.fromisoformat) if cursor is not None else None
        descending = sort.descending
        found: list[tuple[str, datetime, Row]] = []
        for kind in kinds_of(subject):
            if kind not in kinds:
                continue
            table, time_column = SOURCES[kind]
            if kind == "status":
                condition = [table.c.resource_id == str(subject_id), table.c.type.in_(STATUS_EVENTS)]
            else:
                condition = [table.c[f"{subject}_id"] == subject_id]
            when = table.c[time_column]
            statement = select(table).where(table.c.workspace_id == self.workspace_id, *condition)
            if kind == "status":  # events as the event log shows them, with their sequence
                statement = statement.add_columns(tables.event_stamps.c.sequence).select_from(STAMPED)
            if after is not None:
                pair = tuple_(when, table.c.id)
                statement = statement.where(pair < after if descending else pair > after)
            order = (when.desc(), table.c.id.desc()) if descending else (when.asc(), table.c.id.asc())
            rows = (await self.uow.execute(statement.order_by(*order).limit(limit))).mappings()
            found.extend((kind, r[time_column], dict(r)) for r in rows)
        return found

    async def subject_exists(self, subject: str, subject_id: UUID) -> bool:
        table: Any = tables.leads if subject == "lead" else tables.contacts
        statement = select(table.c.id).where(table.c.workspace_id == self.workspace_id, table.c.id == subject_id)
        return (await self.uow.execute(statement)).first() is not None
