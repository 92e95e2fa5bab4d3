"""CSV imports of one workspace: the import, its stored upload chunks and its failed rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, text, update

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, datetime_key

im, ch, er = tables.imports, tables.import_chunks, tables.import_errors
# What an import may tag with its id (the list filter `import_id`).
IMPORTED = {"leads": tables.leads, "contacts": tables.contacts, "orders": tables.orders}
_GROWN = {
    "leads": ("leads", "lead_tags"),
    "contacts": ("contacts",),
    "orders": ("orders", "order_lines", "contacts", "contact_identities", "products"),
}


class ImportRepository(RecordRepository):
    table = im
    sortable = {"created_at": datetime_key(im.c.created_at)}

    async def set(self, import_id: UUID, values: Mapping[str, Any]) -> None:
        """Progress and state (no new version: the import's own bookkeeping)."""
        await self.uow.execute(update(im).where(self.scope, im.c.id == import_id).values(**values))

    async def finish(self, import_id: UUID, values: Mapping[str, Any]) -> bool:
        """End a running (or queued) import; False when it had ended already."""
        statement = (
            update(im).where(self.scope, im.c.id == import_id, im.c.status.in_(("queued", "running"))).values(**values)
        )
        return bool((await self.uow.execute(statement)).rowcount)

    async def advance(self, import_id: UUID, rows_done: int, counts: Mapping[str, int], at: Any) -> bool:
        """Move the import from `rows_done` rows on by these counts; False when another runner
        moved it first (a job taken over after its lease: only one of them goes on)."""
        values: dict[str, Any] = {key: im.c[key] + value for key, value in counts.items()}
        values["updated_at"] = at
        statement = update(im).where(self.scope, im.c.id == import_id, im.c.rows_done == rows_done).values(**values)
        return bool((await self.uow.execute(statement)).rowcount)

    async def discard_uploading(self, before: Any) -> int:
        """Imports still uploading since before `before` (their upload died with its server), with
        their pieces; how many."""
        statement = select(im.c.id).where(self.scope, im.c.status == "uploading", im.c.created_at < before)
        ids = list((await self.uow.execute(statement)).scalars())
        for import_id in ids:
            await self.drop_chunks(import_id)
            await self.remove(import_id)
        return len(ids)

    async def remove(self, import_id: UUID) -> None:
        await self.uow.execute(delete(im).where(self.scope, im.c.id == import_id))

    async def add_chunk(self, import_id: UUID, seq: int, data: bytes, at: Any = None) -> None:
        """Store a piece and count its bytes on the import (what the stored-bytes quota sums); `at`:
        when, the upload's sign of life (`updated_at`)."""
        await self.uow.execute(ch.insert().values(workspace_id=self.workspace_id, import_id=import_id, seq=seq,
                                                  data=data))  # fmt: skip
        await self.uow.execute(
            update(im)
            .where(self.scope, im.c.id == import_id)
            .values(bytes=im.c.bytes + len(data), **({"updated_at": at} if at is not None else {}))
        )

    async def lock_uploads(self) -> None:
        """PostgreSQL: serialise the workspace's upload bookkeeping until commit (a transaction-level
        advisory lock), so two uploads cannot both pass a cap. SQLite: writers are serialised already
        (BEGIN IMMEDIATE)."""
        if await self._dialect() == "postgresql":
            await self.uow.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('crm.imports'), hashtext(:ws))"),
                {"ws": str(self.workspace_id)},
            )

    async def streaming(self, *, since: Any) -> int:
        """Uploads of the workspace streaming in: `uploading`, with a piece stored (or begun) since `since`."""
        statement = select(func.count()).where(self.scope, im.c.status == "uploading", im.c.updated_at >= since)
        return int((await self.uow.execute(statement)).scalar_one())

    async def stored_bytes(self) -> int:
        """Bytes of the workspace's stored upload pieces: imports that have not ended keep theirs
        (`bytes` counts each piece as it is stored; an ended import's pieces are deleted)."""
        statement = select(func.coalesce(func.sum(im.c.bytes), 0)).where(
            self.scope, im.c.status.in_(("uploading", "queued", "running"))
        )
        return int((await self.uow.execute(statement)).scalar_one())

    async def chunk(self, import_id: UUID, seq: int) -> bytes | None:
        statement = select(ch.c.data).where(ch.c.workspace_id == self.workspace_id, ch.c.import_id == import_id,
                                            ch.c.seq == seq)  # fmt: skip
        value = (await self.uow.execute(statement)).scalar_one_or_none()
        return bytes(value) if value is not None else None

    async def drop_chunks(self, import_id: UUID) -> None:
        await self.uow.execute(delete(ch).where(ch.c.workspace_id == self.workspace_id, ch.c.import_id == import_id))

    async def add_errors(self, import_id: UUID, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self.uow.execute(
                er.insert(), [{"workspace_id": self.workspace_id, "import_id": import_id, **row} for row in rows]
            )

    async def errors(self, import_id: UUID, *, after: int, limit: int) -> list[Row]:
        """Failed rows by row number, after `after` (keyset)."""
        statement = (
            select(er.c.row_number, er.c.errors, er.c["values"])
            .where(er.c.workspace_id == self.workspace_id, er.c.import_id == import_id, er.c.row_number > after)
            .order_by(er.c.row_number)
            .limit(limit)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def count_errors(self, import_id: UUID) -> int:
        statement = select(func.count()).where(er.c.workspace_id == self.workspace_id, er.c.import_id == import_id)
        return int((await self.uow.execute(statement)).scalar_one())

    async def refresh_statistics(self, entity: str) -> None:
        """PostgreSQL: ANALYZE the tables an import of `entity` grows. Plans are made from table
        statistics; without fresh ones (a fresh workspace, autovacuum late or off) a lookup by
        email planned while `leads` was empty scans it (slower with every row). The
        new statistics also replace the plans prepared statements cached."""
        if await self._dialect() == "postgresql":
            for table in _GROWN[entity]:
                await self.uow.execute(text(f"ANALYZE {table}"))

    async def tag(self, entity: str, import_id: UUID, ids: Sequence[UUID]) -> None:
        """Mark what this import created (`import_id`), for the lists' `import_id` filter."""
        if ids:
            table = IMPORTED[entity]
            statement = (
                update(table)
                .where(table.c.workspace_id == self.workspace_id, table.c.id.in_(list(ids)))
                .values(import_id=import_id)
            )
            await self.uow.execute(statement)
