"""The worker's queue of audit entries to chain (cross-workspace): the entries queued and not
stamped yet, in id order, each workspace's chain head, and the stamps. One stamping pass at a time
(a transaction-level advisory lock on PostgreSQL; SQLite's writers are serialised), so a
workspace's `seq` numbers are handed out once, in the order the passes see entries committed. A
pass inserts the stamps and deletes the queue rows it took: entries are never rewritten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, select, text

from app.db import tables
from app.db.repositories.base import dialect_insert
from app.db.repositories.events.queue import CrossWorkspaceQueue

q = tables.audit_queue
w = tables.workspaces
s = tables.audit_stamps
c = tables.audit_chains
STAMP_LOCK_ID = 0x43524D02  # beside the dispatcher's 0x43524D01

# Built once: the worker asks on every pass.
_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_id)")
_ANY_UNSTAMPED = select(q.c.id).limit(1)
# Only entries of workspaces that exist: the queue has no foreign key (a row of a workspace since
# removed would otherwise fail every pass's stamps, which have one); those are forgotten instead.
_UNSTAMPED = (
    select(q.c.workspace_id, q.c.id, q.c.digest)
    .join(w, w.c.id == q.c.workspace_id)
    .order_by(q.c.id)
    .limit(bindparam("_limit"))
)
_ORPHANS = delete(q).where(~select(w.c.id).where(w.c.id == q.c.workspace_id).exists())
_INSERT_STAMP = s.insert().values(
    workspace_id=bindparam("_ws"), seq=bindparam("_seq"), entry_id=bindparam("_id"), chain_hash=bindparam("_hash")
)
_STAMP_MANY = text(
    "INSERT INTO audit_stamps (workspace_id, seq, entry_id, chain_hash) "
    "SELECT * FROM unnest(CAST(:ws AS uuid[]), CAST(:seq AS bigint[]), CAST(:id AS uuid[]), CAST(:hash AS varchar[]))"
)
_UNQUEUE = delete(q).where(q.c.workspace_id == bindparam("_ws"), q.c.id == bindparam("_id"))
_UNQUEUE_MANY = text(
    "DELETE FROM audit_queue AS q USING unnest(CAST(:ws AS uuid[]), CAST(:id AS uuid[])) AS v(ws, id) "
    "WHERE q.workspace_id = v.ws AND q.id = v.id"
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
        """Up to `limit` queued entries (workspace, id, digest), every workspace's, oldest id first."""
        return [dict(r) for r in (await self.uow.execute(_UNSTAMPED, {"_limit": limit})).mappings()]

    async def forget_orphans(self) -> int:
        """Delete queued entries of workspaces that no longer exist (their entries went with them)."""
        return int((await self.uow.execute(_ORPHANS)).rowcount or 0)

    async def heads(self, workspace_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        """The chain heads of these workspaces (those that have one)."""
        statement = select(c.c.workspace_id, c.c.head_seq, c.c.head_hash).where(c.c.workspace_id.in_(workspace_ids))
        return {r.workspace_id: dict(r._mapping) for r in (await self.uow.execute(statement))}

    async def stamp(self, stamps: Sequence[dict[str, Any]]) -> None:
        """Give entries their place in the chain ({"workspace_id", "id", "seq", "chain_hash"} each):
        their stamps inserted in one statement, their queue rows deleted (on PostgreSQL in one
        statement over unnested arrays)."""
        if not stamps:
            return
        # Statements built once: a pass of hundreds of entries is one plan, not a VALUES list
        # compiled anew for each pass's size.
        if await self._postgres():
            await self.uow.execute(
                _STAMP_MANY,
                {
                    "ws": [x["workspace_id"] for x in stamps],
                    "seq": [x["seq"] for x in stamps],
                    "id": [x["id"] for x in stamps],
                    "hash": [x["chain_hash"] for x in stamps],
                },
            )
            await self.uow.execute(
                _UNQUEUE_MANY, {"ws": [x["workspace_id"] for x in stamps], "id": [x["id"] for x in stamps]}
            )
        else:
            await self.uow.execute(
                _INSERT_STAMP,
                [
                    {"_ws": x["workspace_id"], "_seq": x["seq"], "_id": x["id"], "_hash": x["chain_hash"]}
                    for x in stamps
                ],
            )
            await self.uow.execute(_UNQUEUE, [{"_ws": x["workspace_id"], "_id": x["id"]} for x in stamps])

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
