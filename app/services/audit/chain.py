"""The worker's side of the audit log: stamping new entries into their workspace's chain, in the
order the passes see them committed (as the dispatcher numbers events). A pass takes up to `BATCH`
unstamped entries (every workspace's, oldest id first), gives each the next `seq` of its workspace
and `chain_hash = SHA-256(previous chain hash || its digest)`, and moves each workspace's head, in
one transaction. Requests only insert entries; none waits for this."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.audit import entries

BATCH = 500


async def stamp(database: Database, limit: int = BATCH) -> int:
    """One stamping pass; how many entries it chained (0: none waiting, or another worker's pass
    holds the lock)."""
    async with UnitOfWork(database, write=False) as reader:  # an idle worker writes nothing
        if not await reader.audit_queue().any_unstamped():
            return 0
    async with UnitOfWork(database, write=True) as uow:
        queue = uow.audit_queue()
        if not await queue.lock():
            return 0
        pending = await queue.unstamped(limit)
        if not pending:  # something waited, but none of a workspace that exists
            await queue.forget_orphans()
            await uow.commit()
            return 0
        by_workspace: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        for entry in pending:
            by_workspace[entry["workspace_id"]].append(entry)
        heads = await queue.heads(list(by_workspace))
        stamps, moved = [], []
        for workspace_id, batch in by_workspace.items():
            head = heads.get(workspace_id) or {}
            linked = entries.link(
                head.get("head_hash") or entries.GENESIS, int(head.get("head_seq") or 0), [e["digest"] for e in batch]
            )
            for entry, (seq, chain_hash) in zip(batch, linked, strict=True):
                stamps.append({"workspace_id": workspace_id, "id": entry["id"], "seq": seq, "chain_hash": chain_hash})
            last_seq, last_hash = linked[-1]
            moved.append(
                {"workspace_id": workspace_id, "head_seq": last_seq, "head_hash": last_hash, "head_id": batch[-1]["id"]}
            )
        await queue.stamp(stamps)
        await queue.move_heads(moved)
        await uow.commit()
        return len(stamps)
