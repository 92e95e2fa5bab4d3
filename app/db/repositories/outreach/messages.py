"""Messages of one workspace: what was sent or blocked, its status history, the marketing already
due to an address (the frequency cap), and the messages a provider's report names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, func, insert, select, text, update

from app.db import tables
from app.db.repositories.base import Page, RecordRepository, Row, aging_page, datetime_key, next_version
from app.ids import new_id

ms = tables.messages
hs = tables.message_status_changes

# Messages that count against the frequency cap: marketing that went, or will go.
_COUNTED = ("queued", "sending", "sent", "delivered", "unknown")


class MessageRepository(RecordRepository):
    table = ms
    sortable = {"created_at": datetime_key(ms.c.created_at)}

    async def page(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        of_leads: bool,
        of_contacts: bool,
        created: tuple[datetime | None, datetime | None],
        of_members: bool = True,
        **equal: Any,
    ) -> Page[Row]:
        """Messages matching `equal` and the created range, to leads only when `of_leads`, to
        contacts only when `of_contacts`, to members (neither a lead nor a contact) only when
        `of_members`."""
        conditions = []
        if not of_leads:
            conditions.append(ms.c.lead_id.is_(None))
        if not of_contacts:
            conditions.append(ms.c.contact_id.is_(None))
        if not of_members:
            conditions.append(ms.c.lead_id.is_not(None) | ms.c.contact_id.is_not(None))
        return await self.list(
            sort=sort, cursor=cursor, limit=limit, archived=None, conditions=conditions,
            ranges=[("created_at", *created)], **equal,
        )  # fmt: skip

    async def aging(
        self, *, start: datetime | None, end: datetime, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[Row]:
        """A page of the messages created in [start, end), oldest first, with their status, lookup
        time and whether they still hold a rendered subject or body: along the index (workspace_id,
        created_at, id)."""
        holds = (ms.c.subject.is_not(None) | ms.c.body_text.is_not(None) | ms.c.body_html.is_not(None)).label("holds")
        statement = aging_page(
            ms, ms.c.created_at, ms.c.status, ms.c.lookup_at, holds, workspace_id=self.workspace_id, start=start,
            end=end, after=after, limit=limit,
        )  # fmt: skip
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def forget_bodies(self, message_ids: Sequence[UUID]) -> int:
        """Clear the rendered subject and bodies of these messages, each only if it will not be sent
        again (any status but queued and sending, and not `unknown` with a lookup to come: one that
        changed since it was read is left); what was sent, to whom and when, and the tracked links'
        targets (clicks still redirect) stay. How many messages changed."""
        if not message_ids:
            return 0
        statement = (
            update(ms)
            .where(
                ms.c.workspace_id == self.workspace_id,
                ms.c.id.in_(message_ids),
                ms.c.status.not_in(("queued", "sending")),
                ~and_(ms.c.status == "unknown", ms.c.lookup_at.is_not(None)),  # may still be sent again
                (ms.c.body_text.is_not(None) | ms.c.body_html.is_not(None) | ms.c.subject.is_not(None)),
            )
            .values(subject=None, body_text=None, body_html=None)
        )
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def create_many(self, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """Insert messages (all with the same keys) in as few statements as the driver allows; the
        stored rows, in the order given."""
        if not rows:
            return []
        statement = insert(ms).returning(*ms.c, sort_by_parameter_order=True)
        values = [{**row, "workspace_id": self.workspace_id} for row in rows]
        if len(values) == 1:
            return [dict((await self.uow.execute(statement.values(values[0]))).mappings().one())]
        return [dict(r) for r in (await self.uow.execute(statement, values)).mappings()]

    async def record_statuses(self, changes: Sequence[tuple[UUID, str, datetime, str | None]]) -> None:
        """`record_status` for many messages: (message id, status, at, detail) each."""
        rows = [
            {"id": new_id(), "message_id": message_id, "status": status, "at": at,
             "detail": (detail or None) and detail[:1000]}
            for message_id, status, at, detail in changes
        ]  # fmt: skip
        await self.uow.insert_rows(hs, rows, {"workspace_id": self.workspace_id})

    async def record_status(self, message_id: UUID, status: str, at: datetime, detail: str | None = None) -> None:
        row = {"workspace_id": self.workspace_id, "message_id": message_id, "status": status, "at": at}
        await self.uow.execute(insert(hs).values(id=new_id(), detail=(detail or None) and detail[:1000], **row))

    async def history(self, message_id: UUID) -> list[Row]:
        statement = (
            select(hs.c.status, hs.c.detail, hs.c.at)
            .where(hs.c.workspace_id == self.workspace_id, hs.c.message_id == message_id)
            .order_by(hs.c.at, hs.c.id)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def set_fields(self, message_id: UUID, values: Mapping[str, Any]) -> Row | None:
        """Change a message's delivery fields (status, times, provider ids), a new version each time."""
        statement = (
            update(ms).where(self.scope, ms.c.id == message_id).values(version=next_version(ms), **values).returning(ms)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def settle(self, message_id: UUID, attempt: int, values: Mapping[str, Any]) -> Row | None:
        """Record how the send of claim `attempt` ended; None when that claim is no longer the
        message's (a worker whose lease ran out: another one has settled it since)."""
        statement = (
            update(ms)
            .where(self.scope, ms.c.id == message_id, ms.c.status == "sending", ms.c.attempts == attempt)
            .values(version=next_version(ms), **values)
            .returning(ms)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def settle_lookup(self, message_id: UUID, held: datetime, values: Mapping[str, Any]) -> Row | None:
        """Record what the lookup of an unknown message held until `held` found; None when that
        hold is no longer the message's (a report settled it meanwhile, or the hold ran out and
        another worker looked it up since)."""
        statement = (
            update(ms)
            .where(self.scope, ms.c.id == message_id, ms.c.status == "unknown", ms.c.lookup_at == held)
            # the next lookup's time alone is bookkeeping, not a change of the message
            .values(**({"version": next_version(ms)} if set(values) - {"lookup_at"} else {}), **values)
            .returning(ms)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def became(self, message_id: UUID, status: str) -> datetime | None:
        """When the message last changed to `status` (its status history)."""
        statement = select(func.max(hs.c.at)).where(
            hs.c.workspace_id == self.workspace_id, hs.c.message_id == message_id, hs.c.status == status
        )
        value: datetime | None = (await self.uow.execute(statement)).scalar()
        return value

    async def settle_sent(self, sent: Sequence[tuple[UUID, int, str | None]], at: datetime, actor: str) -> list[Row]:
        """`settle` for many sends that went, in one statement: (message id, claim attempt, the
        provider's id) each; the rows their claims still held, as updated (a claim whose lease ran
        out meanwhile is another worker's to settle, and left alone)."""
        if not sent:
            return []
        attempts = case({message_id: attempt for message_id, attempt, _ in sent}, value=ms.c.id)
        provider_ids = case({message_id: provider_id for message_id, _, provider_id in sent}, value=ms.c.id)
        values = {"status": "sent", "sent_at": at, "provider_message_id": provider_ids, "last_error": None,
                  "lease_until": None, "updated_at": at, "updated_by": actor, "version": next_version(ms)}  # fmt: skip
        statement = (
            update(ms)
            .where(self.scope, ms.c.id.in_([s[0] for s in sent]), ms.c.status == "sending", ms.c.attempts == attempts)
            .values(values)
            .returning(ms)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def release(self, message_id: UUID, attempt: int, at: datetime) -> bool:
        """Give back claim `attempt` of a message that was never handed off (the worker is stopping,
        or its lease would run out before the send could end): queued again, the attempt not counted."""
        statement = (
            update(ms)
            .where(self.scope, ms.c.id == message_id, ms.c.status == "sending", ms.c.attempts == attempt)
            .values(status="queued", attempts=attempt - 1, lease_until=None, updated_at=at)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def lock_address(self, address_key: str) -> None:
        """Serialise sends to one address until commit (PostgreSQL; SQLite's writers are serialised
        already), so concurrent sends count each other against the frequency cap."""
        if (await self.uow.connection()).dialect.name == "postgresql":
            key = f"message-cap:{self.workspace_id}:{address_key}"
            await self.uow.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    async def marketing_times(self, address_key: str, after: datetime) -> list[datetime]:
        """When marketing to this address went or is due, from `after` on (blocked, failed and
        bounced messages never reached the person and do not count)."""
        statement = select(ms.c.send_at).where(
            self.scope,
            ms.c.address_key == address_key,
            ms.c.purpose == "marketing",
            ms.c.status.in_(_COUNTED),
            ms.c.send_at > after,
        )
        return list((await self.uow.execute(statement)).scalars())

    async def by_provider_ids(self, channel_id: UUID, provider_ids: Sequence[str]) -> dict[str, Row]:
        if not provider_ids:
            return {}
        statement = select(ms).where(
            self.scope, ms.c.channel_id == channel_id, ms.c.provider_message_id.in_(list(provider_ids))
        )
        return {r["provider_message_id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}

    async def on_channel(self, channel_id: UUID, message_ids: Sequence[UUID]) -> dict[UUID, Row]:
        """Messages of this channel by our own ids (a provider's report may carry ours)."""
        if not message_ids:
            return {}
        statement = select(ms).where(self.scope, ms.c.channel_id == channel_id, ms.c.id.in_(list(message_ids)))
        return {r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}

    async def hold_report(self, message_id: UUID, report: Mapping[str, Any]) -> bool:
        """Keep a delivery report for a message still `sending` (its hand-off not recorded yet):
        the worker's settle applies it. False when the message is no longer `sending` (settled
        meanwhile: apply the report now)."""
        statement = (
            update(ms)
            .where(self.scope, ms.c.id == message_id, ms.c.status == "sending")
            .values(early_report=dict(report))
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def latest_to(self, address_key: str, channels: Sequence[str]) -> Row | None:
        """The last message sent to an address on these channels (whom a reply answers)."""
        statement = (
            select(ms)
            .where(self.scope, ms.c.address_key == address_key, ms.c.channel.in_(list(channels)))
            .where(ms.c.sent_at.is_not(None))
            .order_by(ms.c.sent_at.desc(), ms.c.id.desc())
            .limit(1)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def count_by_status(self) -> dict[str, int]:
        statement = select(ms.c.status, func.count()).where(self.scope).group_by(ms.c.status)
        return {status: int(n) for status, n in (await self.uow.execute(statement)).all()}
