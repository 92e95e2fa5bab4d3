"""The audit log of one workspace: entries queued for the request's commit, read in keyset pages
(each with its place in the chain once stamped), walked by `seq` for verification, purged from the
start of the chain, their personal values erased. The worker's cross-workspace side (stamping the
chain) is in queue.py."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, delete, func, select, update

from app.db import tables
from app.db.repositories.base import Page, Row, SortKey, TenantRepository, datetime_key, where_between, where_equal

t = tables.audit_log
s = tables.audit_stamps
c = tables.audit_chains
SORTABLE: dict[str, SortKey] = {"occurred_at": datetime_key(t.c.occurred_at)}
ERASE_PAGE = 500  # resource ids a statement erasing personal values names

# An entry with its stamp (null `seq` and `chain_hash` until the worker chained it).
_STAMPED = t.outerjoin(s, and_(s.c.workspace_id == t.c.workspace_id, s.c.entry_id == t.c.id))
_ENTRY = select(t, s.c.seq, s.c.chain_hash).select_from(_STAMPED)
# Built once: verification reads page after page of the chain, along the stamps' primary key.
_CHAINED = (
    select(t, s.c.seq, s.c.chain_hash)
    .select_from(s.join(t, and_(t.c.workspace_id == s.c.workspace_id, t.c.id == s.c.entry_id)))
    .where(s.c.workspace_id == bindparam("_ws"), s.c.seq > bindparam("_after"), s.c.seq <= bindparam("_through"))
    .order_by(s.c.seq)
    .limit(bindparam("_limit"))
)
_CHAIN = select(c).where(c.c.workspace_id == bindparam("_ws"))


class AuditRepository(TenantRepository[Row]):
    table = t

    def add(self, row: Mapping[str, Any]) -> None:
        """Queue an entry on the unit of work: inserted with the use case's other rows right before
        its commit (on PostgreSQL in the same single statement), so it exists iff the change does;
        queued for the worker's chain with it."""
        self.uow.defer_insert(t, [{"workspace_id": self.workspace_id, **row}])
        self.uow.defer_insert(
            tables.audit_queue, [{"workspace_id": self.workspace_id, "id": row["id"], "digest": row["digest"]}]
        )
        self.uow.audited = True

    async def get(self, entry_id: UUID) -> Row | None:
        return await self._one(_ENTRY.where(self.scope, t.c.id == entry_id))

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        member_id: UUID | None = None,
        key_id: UUID | None = None,
        resource: str | None = None,
        resource_id: str | None = None,
        action: str | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
    ) -> Page[Row]:
        statement = _ENTRY.where(self.scope)
        statement = where_equal(
            statement,
            {
                t.c.member_id: member_id,
                t.c.key_id: key_id,
                t.c.resource: resource,
                t.c.resource_id: resource_id,
                t.c.action: action,
            },
        )
        statement = where_between(statement, [(t.c.occurred_at, occurred_after, occurred_before)])
        return await self._page(statement, sortable=SORTABLE, sort=sort, cursor=cursor, limit=limit)

    # -- the chain ---------------------------------------------------------------------------------
    async def chain(self) -> Row | None:
        """The workspace's chain: its head (last stamped) and anchor (last purged); None before any."""
        rows = await self.uow.fetch_rows(_CHAIN, {"_ws": self.workspace_id})
        return rows[0] if rows else None

    async def chained(
        self, after_seq: int, through_seq: int, limit: int
    ) -> builtins.list[Row]:  # `list`: the method above
        """Up to `limit` stamped entries with `after_seq < seq <= through_seq`, in `seq` order."""
        params = {"_ws": self.workspace_id, "_after": after_seq, "_through": through_seq, "_limit": limit}
        return [dict(r) for r in (await self.uow.execute(_CHAINED, params)).mappings()]

    # -- retention ---------------------------------------------------------------------------------
    async def first_kept(self, before: datetime) -> int | None:
        """The lowest `seq` of a stamped entry at or after `before` (None: none is)."""
        statement = (
            select(func.min(s.c.seq))
            .select_from(t.join(s, and_(s.c.workspace_id == t.c.workspace_id, s.c.entry_id == t.c.id)))
            .where(self.scope, t.c.occurred_at >= before)
        )
        value = (await self.uow.execute(statement)).scalar()
        return None if value is None else int(value)

    async def chain_hash_at(self, seq: int) -> str | None:
        """The chain hash stamped at `seq` (None: no entry there, or its entry is gone)."""
        statement = (
            select(s.c.chain_hash)
            .select_from(s.join(t, and_(t.c.workspace_id == s.c.workspace_id, t.c.id == s.c.entry_id)))
            .where(s.c.workspace_id == self.workspace_id, s.c.seq == seq)
        )
        value: str | None = (await self.uow.execute(statement)).scalar()
        return value

    async def purge_through(self, seq: int, chain_hash: str, now: datetime, *, after_seq: int = 0) -> int:
        """Delete the stamped entries after `after_seq` (the anchor: the start of the chain) up to
        `seq`, and their stamps, and make that entry the chain's anchor, in this transaction; how
        many entries were deleted. The range bounds the statements along the stamps' primary key."""
        in_range = and_(s.c.workspace_id == self.workspace_id, s.c.seq > after_seq, s.c.seq <= seq)
        deleted = await self.uow.execute(delete(t).where(self.scope, t.c.id.in_(select(s.c.entry_id).where(in_range))))
        await self.uow.execute(delete(s).where(in_range))
        await self.uow.execute(
            update(c)
            .where(c.c.workspace_id == self.workspace_id, c.c.anchor_seq < seq)
            .values(anchor_seq=seq, anchor_hash=chain_hash, anchored_at=now)
        )
        return int(deleted.rowcount or 0)

    # -- erasure -----------------------------------------------------------------------------------
    async def erase_personal(self, resource: str, resource_id: str) -> int:
        """Null the personal values of every entry about a resource: the digests, taken when the
        entries were written, and the chain stay as they are. How many entries still had some."""
        statement = (
            update(t)
            .where(self.scope, t.c.resource == resource, t.c.resource_id == resource_id, t.c.personal.is_not(None))
            .values(personal=None)
        )
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def erase_personal_of(self, resource: str, resource_ids: Sequence[str]) -> int:
        """`erase_personal` for many resources at once, `ERASE_PAGE` ids a statement, along the
        entries' (resource, resource id) index."""
        erased = 0
        for start in range(0, len(resource_ids), ERASE_PAGE):
            ids = list(resource_ids[start : start + ERASE_PAGE])
            statement = (
                update(t)
                .where(self.scope, t.c.resource == resource, t.c.resource_id.in_(ids), t.c.personal.is_not(None))
                .values(personal=None)
            )
            erased += int((await self.uow.execute(statement)).rowcount or 0)
        return erased

    async def count_personal_of(self, resource: str, resource_ids: Sequence[str]) -> int:
        """How many entries about these resources still hold personal values (an erasure's dry run)."""
        counted = 0
        for start in range(0, len(resource_ids), ERASE_PAGE):
            ids = list(resource_ids[start : start + ERASE_PAGE])
            statement = select(func.count()).where(
                self.scope, t.c.resource == resource, t.c.resource_id.in_(ids), t.c.personal.is_not(None)
            )
            counted += int((await self.uow.execute(statement)).scalar_one())
        return counted
