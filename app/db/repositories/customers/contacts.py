"""Contacts (the people a workspace sells to) of one workspace: the customer filters, referrals, and
matching by email or phone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, String, Uuid, bindparam, exists, func, or_, select, text, update

from app.db import tables
from app.db.repositories.base import (
    Page,
    RecordRepository,
    SortKey,
    aware_datetime,
    datetime_key,
    equal_conditions,
    next_version,
    range_conditions,
    where_equal,
)
from app.db.repositories.customers.rows import ContactRow

co = tables.contacts
cv = tables.customer_values
_ANY_CONTACT = (
    text("SELECT 1 AS one FROM contacts WHERE workspace_id = :ws LIMIT 1")
    .bindparams(bindparam("ws", type_=Uuid))
    .columns(one=Integer)
)


def _json_list_has(column: Any, value: str, postgres: bool) -> Any:
    """A JSON array column holds `value`: JSONB containment on PostgreSQL, json_each on SQLite."""
    if postgres:
        return column.op("@>")(func.jsonb_build_array(bindparam(None, value, type_=String)))
    items = func.json_each(column).table_valued("value")
    return exists().select_from(items).where(items.c.value == value)


class ContactRepository(RecordRepository[ContactRow]):
    table = co
    sortable = {
        "created_at": datetime_key(co.c.created_at),
        "last_order_at": SortKey(
            co.c.last_order_at, lambda v: v.isoformat(), aware_datetime, only=co.c.last_order_at.is_not(None)
        ),
    }

    async def segment_conditions(
        self,
        *,
        now: datetime,
        active: bool | None = None,
        has_orders: bool | None = None,
        tag: str | None = None,
        interest: str | None = None,
        last_order_after: datetime | None = None,
        last_order_before: datetime | None = None,
        revenue_min_minor: int | None = None,
        revenue_max_minor: int | None = None,
        snapshot_id: UUID | None = None,
        rfm_segment: str | None = None,
        churn_level: str | None = None,
        clv_min_minor: int | None = None,
        clv_max_minor: int | None = None,
    ) -> list[Any]:
        """The conditions of the customer filters (lists and saved segments share them)."""
        conditions: list[Any] = []
        if active is True:
            conditions.append(co.c.active_until > now)
        elif active is False:
            conditions.append(or_(co.c.active_until.is_(None), co.c.active_until <= now))
        if has_orders is not None:
            conditions.append(co.c.orders_count > 0 if has_orders else co.c.orders_count == 0)
        postgres = await self._dialect() == "postgresql"
        for column, value in ((co.c.tags, tag), (co.c.interests, interest)):
            if value is not None:
                conditions.append(_json_list_has(column, value, postgres))
        conditions += range_conditions([(co.c.last_order_at, last_order_after, last_order_before)])
        conditions += range_conditions([(co.c.revenue_minor, revenue_min_minor, revenue_max_minor)], closed=True)
        valued = [
            *equal_conditions({cv.c.rfm_segment: rfm_segment, cv.c.churn_level: churn_level}),
            *range_conditions([(cv.c.predicted_clv_minor, clv_min_minor, clv_max_minor)], closed=True),
        ]
        if valued:
            # The latest analytics snapshot's values (none yet: nothing matches).
            conditions.append(co.c.id.in_(select(cv.c.contact_id).where(
                cv.c.workspace_id == self.workspace_id, cv.c.snapshot_id == snapshot_id, *valued,
            )))  # fmt: skip
        return conditions

    async def list_contacts(self, *, now: datetime, segment: dict[str, Any], **kwargs: Any) -> Page[ContactRow]:
        """Contacts with the customer filters (`segment`) and the equality filters."""
        conditions = await self.segment_conditions(now=now, **segment)
        return await self.list(conditions=conditions, **kwargs)

    async def count_contacts(self, *, now: datetime, segment: dict[str, Any], **equal: Any) -> int:
        """How many live contacts a filter matches (a saved segment's count)."""
        conditions = await self.segment_conditions(now=now, **segment)
        statement = select(func.count()).select_from(co).where(self.scope, co.c.archived_at.is_(None), *conditions)
        statement = where_equal(statement, {co.c[column]: value for column, value in equal.items()})
        return int((await self.uow.execute(statement)).scalar_one())

    async def matching_ids(self, *, now: datetime, segment: dict[str, Any], **equal: Any) -> set[UUID]:
        """The ids of the live contacts a filter matches (a saved segment's members now)."""
        conditions = await self.segment_conditions(now=now, **segment)
        statement = select(co.c.id).where(self.scope, co.c.archived_at.is_(None), *conditions)
        statement = where_equal(statement, {co.c[column]: value for column, value in equal.items()})
        return set((await self.uow.execute(statement)).scalars())

    async def add_referrals(self, contact_id: UUID, delta: int) -> None:
        """Move a contact's referral count (no new version: a count kept for reads)."""
        statement = (
            update(co).where(self.scope, co.c.id == contact_id).values(referrals_count=co.c.referrals_count + delta)
        )
        await self.uow.execute(statement)

    async def take_referrers(self, referrers: Mapping[UUID, UUID], audit: Mapping[str, Any]) -> set[UUID]:
        """Make each contact ({contact id: referrer}) name its referrer when it names none yet, in
        id order (a new version); the contacts that took theirs. The condition is checked on the
        row as it is now: a contact a concurrent write made name someone keeps that referrer."""
        taken: set[UUID] = set()
        for contact_id in sorted(referrers, key=lambda i: i.int):
            statement = (
                update(co)
                .where(self.scope, co.c.id == contact_id, co.c.referred_by_contact_id.is_(None))
                .values(referred_by_contact_id=referrers[contact_id], version=next_version(co), **audit)
                .returning(co.c.id)
            )
            if (await self.uow.execute(statement)).first() is not None:
                taken.add(contact_id)
        return taken

    async def referrers(self, contact_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """{contact id: the contact it names as its referrer} of these contacts that name one."""
        out: dict[UUID, UUID] = {}
        ordered = sorted(set(contact_ids), key=lambda i: i.int)
        for start in range(0, len(ordered), 1000):
            statement = select(co.c.id, co.c.referred_by_contact_id).where(
                self.scope, co.c.id.in_(ordered[start : start + 1000]), co.c.referred_by_contact_id.is_not(None)
            )
            out.update({r[0]: r[1] for r in (await self.uow.execute(statement)).all()})
        return out

    async def by_ids(self, contact_ids: Sequence[UUID]) -> dict[UUID, ContactRow]:
        """These contacts (those that exist)."""
        if not contact_ids:
            return {}
        statement = select(co).where(self.scope, co.c.id.in_(list(contact_ids)))
        return {r["id"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}  # type: ignore[misc]

    async def any(self) -> bool:
        """Whether the workspace has a contact (a read outside the write transaction)."""
        return bool(await self.uow.fetch_read(_ANY_CONTACT, {"ws": self.workspace_id}))

    async def by_email_or_phone(self, email_key: str | None, phone_e164: str | None) -> ContactRow | None:
        """The oldest live contact with this email, else with this phone."""
        for column, value in ((co.c.email_key, email_key), (co.c.phone_e164, phone_e164)):
            if value:
                statement = (
                    select(co)
                    .where(self.scope, co.c.archived_at.is_(None), column == value)
                    .order_by(co.c.created_at)
                    .limit(1)
                )
                row = await self._row(statement)
                if row is not None:
                    return row
        return None
