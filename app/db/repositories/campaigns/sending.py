"""A launched campaign's recipients (its frozen audience), what was sent to them, and what its
report counts: the people an audience names, their messages' outcomes by arm, and the goal's
occurrences and the orders in a time range."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, case, func, select, update

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

cr = tables.campaign_recipients
c = tables.campaigns
m = tables.messages
leads = tables.leads
contacts = tables.contacts
sm = tables.segment_members

# Message statuses that mean it went out (a bounce went out too); `unknown` may have.
WENT = ("sent", "delivered", "bounced", "unknown")
FINAL = ("sent", "delivered", "bounced", "failed", "blocked", "unknown")
CHUNK = 1000


class RecipientRepository(TenantRepository[Row]):
    table = cr

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 5000):
            await self.uow.insert_rows(cr, rows[start : start + 5000], {"workspace_id": self.workspace_id})

    async def pending(self, campaign_id: UUID, *, pilot: bool | None, limit: int) -> list[Row]:
        """Pending recipients (the pilot's first when `pilot` is None), in the index's order: a
        pass reads its batch without sorting what is left."""
        if pilot is None:
            first = await self.pending(campaign_id, pilot=True, limit=limit)
            if len(first) == limit:
                return first
            return first + await self.pending(campaign_id, pilot=False, limit=limit - len(first))
        statement = (
            select(cr)
            .where(self.scope, cr.c.campaign_id == campaign_id, cr.c.status == "pending", cr.c.pilot.is_(pilot))
            .order_by(cr.c.person_id)
            .limit(limit)
        )
        return await self._rows(statement)

    async def pilot_last_due(self, campaign_id: UUID) -> datetime | None:
        """The latest due time of the pilot's recipients (None: no pilot)."""
        statement = select(func.max(cr.c.send_at)).where(self.scope, cr.c.campaign_id == campaign_id,
                                                         cr.c.pilot.is_(True))  # fmt: skip
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value

    async def any_pending(self, campaign_id: UUID, *, pilot: bool | None) -> bool:
        return bool(await self.pending(campaign_id, pilot=pilot, limit=1))

    async def messaged(self, campaign_id: UUID, done: Sequence[tuple[UUID, str, UUID | None, str | None, str]]) -> None:
        """Recipients handed on: (person, status, message, block reason, the arm whose content they
        got) each."""
        if not done:
            return
        statement = (
            update(cr)
            .where(cr.c.workspace_id == self.workspace_id, cr.c.campaign_id == campaign_id,
                   cr.c.person_id == bindparam("p_person"), cr.c.status == "pending")
            .values(status=bindparam("p_status"), message_id=bindparam("p_message"), block_reason=bindparam("p_block"),
                    arm=bindparam("p_arm"))
        )  # fmt: skip
        result = await self.uow.execute(
            statement,
            [{"p_person": p, "p_status": s, "p_message": mid, "p_block": b, "p_arm": a} for p, s, mid, b, a in done],
        )
        # Passes are serialised by the campaign's lock; should one still find a recipient taken
        # (where the driver counts an executemany's rows), it rolls back whole.
        if 0 <= result.rowcount != len(done):
            raise RuntimeError(f"campaign {campaign_id}: {len(done) - result.rowcount} recipients handed out already")

    async def skip_pending(self, campaign_id: UUID) -> None:
        """A cancelled campaign: recipients not yet messaged never will be."""
        await self.uow.execute(
            update(cr)
            .where(self.scope, cr.c.campaign_id == campaign_id, cr.c.status == "pending")
            .values(status="skipped")
        )

    async def arms(self, campaign_id: UUID) -> dict[str, dict[str, int]]:
        """Per arm: recipients, pilot recipients, still pending."""
        statement = (
            select(
                cr.c.arm,
                func.count(),
                func.sum(case((cr.c.pilot.is_(True), 1), else_=0)),
                func.sum(case((cr.c.status == "pending", 1), else_=0)),
                func.sum(case((cr.c.status == "failed", 1), else_=0)),
            )
            .where(self.scope, cr.c.campaign_id == campaign_id)
            .group_by(cr.c.arm)
        )
        return {
            arm: {"recipients": int(n), "pilot": int(p or 0), "pending": int(q or 0), "failed": int(f or 0)}
            for arm, n, p, q, f in (await self.uow.execute(statement)).all()
        }

    async def by_status(self, campaign_id: UUID) -> tuple[dict[str, int], dict[str, int]]:
        """(recipients by status, the campaign's messages by status): two counts the indexes
        answer alone, cheap enough for every read of a sending campaign."""
        recipients = select(cr.c.status, func.count()).where(self.scope, cr.c.campaign_id == campaign_id)
        sent = select(m.c.status, func.count()).where(m.c.workspace_id == self.workspace_id,
                                                       m.c.campaign_id == campaign_id)  # fmt: skip
        return (
            {s: int(n) for s, n in (await self.uow.execute(recipients.group_by(cr.c.status))).all()},
            {s: int(n) for s, n in (await self.uow.execute(sent.group_by(m.c.status))).all()},
        )

    async def outcomes(self, campaign_id: UUID, *, pilot: bool | None = None) -> list[Row]:
        """Per arm, message status and block reason: how many, and how many were delivered,
        opened, clicked, replied to, unsubscribed from and complained about."""
        joined = cr.join(m, and_(m.c.workspace_id == cr.c.workspace_id, m.c.id == cr.c.message_id))
        statement = (
            select(
                cr.c.arm,
                m.c.status,
                m.c.block_reason,
                func.count().label("messages"),
                func.count(m.c.delivered_at).label("delivered"),
                func.count(m.c.opened_at).label("opened"),
                func.count(m.c.clicked_at).label("clicked"),
                func.count(m.c.replied_at).label("replied"),
                func.count(m.c.unsubscribed_at).label("unsubscribed"),
                func.count(m.c.complained_at).label("complained"),
            )
            .select_from(joined)
            .where(cr.c.workspace_id == self.workspace_id, cr.c.campaign_id == campaign_id)
            .group_by(cr.c.arm, m.c.status, m.c.block_reason)
        )
        if pilot is not None:
            statement = statement.where(cr.c.pilot.is_(pilot))
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def in_flight(self, campaign_id: UUID, due_by: datetime | None) -> int:
        """The campaign's messages not yet at a final status (queued or being sent); with
        `due_by`, only those due by then (not one waiting for its recipient's local time)."""
        statement = select(func.count()).where(
            m.c.workspace_id == self.workspace_id, m.c.campaign_id == campaign_id, m.c.status.in_(("queued", "sending"))
        )
        if due_by is not None:
            statement = statement.where(m.c.send_at <= due_by)
        return int((await self.uow.execute(statement)).scalar_one())

    async def timings(
        self, campaign_id: UUID, *, pilot: bool | None = None
    ) -> list[tuple[UUID, str, datetime | None, datetime | None]]:
        """Every recipient (of the pilot only, or none of it): (person, arm, their message's sent
        time, their own due time)."""
        joined = cr.outerjoin(m, and_(m.c.workspace_id == cr.c.workspace_id, m.c.id == cr.c.message_id))
        statement = (
            select(cr.c.person_id, cr.c.arm, m.c.sent_at, cr.c.send_at)
            .select_from(joined)
            .where(cr.c.workspace_id == self.workspace_id, cr.c.campaign_id == campaign_id)
        )
        if pilot is not None:
            statement = statement.where(cr.c.pilot.is_(pilot))
        return [(p, a, s, d) for p, a, s, d in (await self.uow.execute(statement)).all()]

    # -- audiences -----------------------------------------------------------------------------------

    async def segment_members(self, segment_id: UUID) -> set[UUID]:
        statement = select(sm.c.contact_id).where(sm.c.workspace_id == self.workspace_id, sm.c.segment_id == segment_id)
        return set((await self.uow.execute(statement)).scalars())

    async def people(self, kind: str, ids: Iterable[UUID] | None) -> list[Row]:
        """Whole rows of the people an audience may hold: contacts not archived, or leads not
        merged or archived (all, or these)."""
        table = leads if kind == "leads" else contacts
        base = select(table).where(table.c.workspace_id == self.workspace_id)
        base = base.where(table.c.archived_at.is_(None))
        if kind == "leads":
            base = base.where(table.c.merged_into_id.is_(None))
        if ids is None:
            return [dict(r) for r in (await self.uow.execute(base)).mappings()]
        wanted = sorted(ids)
        out: list[Row] = []
        for start in range(0, len(wanted), CHUNK):
            statement = base.where(table.c.id.in_(wanted[start : start + CHUNK]))
            out += [dict(r) for r in (await self.uow.execute(statement)).mappings()]
        return out

    # -- the goal and revenue --------------------------------------------------------------------------

    async def orders_between(self, since: datetime, until: datetime) -> list[tuple[UUID, datetime, int]]:
        """Orders placed in [since, until], not cancelled: (contact, placed at, net total in the
        reporting currency, minor units; 0 when its conversion is missing)."""
        o = tables.orders
        statement = select(
            o.c.contact_id, o.c.placed_at, o.c.reporting_total_minor, o.c.reporting_refunded_minor
        ).where(
            o.c.workspace_id == self.workspace_id,
            o.c.contact_id.is_not(None),
            o.c.placed_at >= since,
            o.c.placed_at <= until,
            o.c.status != "cancelled",
        )
        return [
            (contact, at, int(total) - int(refunded or 0) if total is not None else 0)
            for contact, at, total, refunded in (await self.uow.execute(statement)).all()
        ]

    async def first_orders(self, contact_ids: Sequence[UUID]) -> dict[UUID, datetime]:
        """Each contact's first order (not cancelled), when they have one."""
        o = tables.orders
        out: dict[UUID, datetime] = {}
        for start in range(0, len(contact_ids), CHUNK):
            statement = (
                select(o.c.contact_id, func.min(o.c.placed_at))
                .where(o.c.workspace_id == self.workspace_id, o.c.contact_id.in_(contact_ids[start : start + CHUNK]),
                       o.c.status != "cancelled")
                .group_by(o.c.contact_id)
            )  # fmt: skip
            out |= {contact: at for contact, at in (await self.uow.execute(statement)).all()}
        return out

    async def qualified_between(self, since: datetime, until: datetime) -> list[tuple[UUID, datetime]]:
        statement = select(leads.c.id, leads.c.qualified_at).where(
            leads.c.workspace_id == self.workspace_id, leads.c.qualified_at >= since, leads.c.qualified_at <= until
        )
        return [(p, at) for p, at in (await self.uow.execute(statement)).all()]

    async def engagements_between(
        self, kind: str, engagement: str, since: datetime, until: datetime
    ) -> list[tuple[UUID, datetime]]:
        e = tables.engagements
        column = e.c.lead_id if kind == "leads" else e.c.contact_id
        statement = select(column, e.c.occurred_at).where(
            e.c.workspace_id == self.workspace_id,
            e.c.type == engagement,
            column.is_not(None),
            e.c.occurred_at >= since,
            e.c.occurred_at <= until,
        )
        return [(p, at) for p, at in (await self.uow.execute(statement)).all()]

    async def events_between(self, event_type: str, since: datetime, until: datetime) -> list[tuple[str, datetime]]:
        """Events of a type in the range, by the resource they are about (its id as text)."""
        ev = tables.events
        statement = select(ev.c.resource_id, ev.c.occurred_at).where(
            ev.c.workspace_id == self.workspace_id,
            ev.c.type == event_type,
            ev.c.resource_id.is_not(None),
            ev.c.occurred_at >= since,
            ev.c.occurred_at <= until,
        )
        return [(str(r), at) for r, at in (await self.uow.execute(statement)).all()]

    async def lead_contacts(self, lead_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """The contact each of these leads became (qualified), when one did."""
        out: dict[UUID, UUID] = {}
        for start in range(0, len(lead_ids), CHUNK):
            statement = select(leads.c.id, leads.c.contact_id).where(
                leads.c.workspace_id == self.workspace_id,
                leads.c.id.in_(lead_ids[start : start + CHUNK]),
                leads.c.contact_id.is_not(None),
            )
            out |= {lead: contact for lead, contact in (await self.uow.execute(statement)).all()}
        return out
