"""The worker's queue of audit entries to chain (cross-workspace): the entries not stamped yet, in id
order, each workspace's chain head, and the stamps. One stamping pass at a time (a transaction-level
advisory lock on PostgreSQL; SQLite's writers are serialised), so a workspace's `seq` numbers are
handed out once, in the order the passes see entries committed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, text, update

from app.db import tables
from app.db.repositories.base import dialect_insert
from app.db.repositories.events.queue import CrossWorkspaceQueue

t = tables.audit_log
c = tables.audit_chains
STAMP_LOCK_ID = 0x43524D02  # beside the dispatcher's 0x43524D01

# Built once: the worker asks on every pass.
_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_id)")
_ANY_UNSTAMPED = select(t.c.id).where(t.c.seq.is_(None)).limit(1)
_UNSTAMPED = (
    select(t.c.workspace_id, t.c.id, t.c.digest).where(t.c.seq.is_(None)).order_by(t.c.id).limit(bindparam("_limit"))
)
_STAMP = (
    update(t)
    .where(t.c.workspace_id == bindparam("_ws"), t.c.id == bindparam("_id"), t.c.seq.is_(None))
    .values(seq=bindparam("_seq"), chain_hash=bindparam("_hash"))
)


class AuditQueue(CrossWorkspaceQueue):
    async def any_unstamped(self) -> bool:
        """Whether an entry waits to be chained (a read: an idle worker writes nothing)."""
        return (await self.uow.execute(_ANY_UNSTAMPED)).first() is not None

    async def lock(self) -> bool:
        """Take the stamping lock for this transaction (PostgreSQL); False: another worker holds it."""
        if not await self._postgres():
            return True
        return bool((await self.uow.execute(_LOCK, {"lock_id": STAMP_LOCK_ID})).scalar())

    async def unstamped(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` entries not chained yet, every workspace's, oldest id first."""
        return [dict(r) for r in (await self.uow.execute(_UNSTAMPED, {"_limit": limit})).mappings()]

    async def heads(self, workspace_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        """The chain heads of these workspaces (those that have one)."""
        statement = select(c.c.workspace_id, c.c.head_seq, c.c.head_hash).where(c.c.workspace_id.in_(workspace_ids))
        return {r.workspace_id: dict(r._mapping) for r in (await self.uow.execute(statement))}

    async def stamp(self, stamps: Sequence[dict[str, Any]]) -> None:
        """Give entries their place in the chain: {"workspace_id", "id", "seq", "chain_hash"} each."""
        if stamps:
            await self.uow.execute(
                _STAMP,
                [
                    {"_ws": s["workspace_id"], "_id": s["id"], "_seq": s["seq"], "_hash": s["chain_hash"]}
                    for s in stamps
                ],
            )

    async def move_heads(self, heads: Sequence[dict[str, Any]]) -> None:
        """Record each workspace's new head: {"workspace_id", "head_seq", "head_hash", "head_id"}."""
        if not heads:
            return
        insert = dialect_insert("postgresql" if await self._postgres() else "sqlite")(c)
        statement = insert.on_conflict_do_update(
            index_elements=[c.c.workspace_id],
            set_={
                "head_seq": insert.excluded.head_seq,
                "head_hash": insert.excluded.head_hash,
                "head_id": insert.excluded.head_id,
            },
        )
        await self.uow.execute(statement, list(heads))
