"""Products of one workspace, by SKU (created on first sight by order sync)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key, dialect_insert, text_key
from app.db.repositories.customers.keys import among_values, chunks

pr = tables.products


class ProductRepository(RecordRepository):
    table = pr
    sortable = {"created_at": datetime_key(pr.c.created_at), "sku": text_key(pr.c.sku)}

    async def ensure(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, UUID]:
        """Products by SKU, created on first sight (a SKU seen again keeps its product); {sku: id}."""
        if not rows:
            return {}
        known = await self.ids_by_sku([r["sku"] for r in rows])
        missing = sorted((r for r in rows if r["sku"] not in known), key=lambda r: r["sku"])
        if missing:  # only SKUs not seen before are inserted (most of a catalogue is known by then)
            insert_ = dialect_insert(await self._dialect())
            await self.uow.execute(
                insert_(pr).on_conflict_do_nothing(), [{"workspace_id": self.workspace_id, **r} for r in missing]
            )
            known.update(await self.ids_by_sku([r["sku"] for r in missing]))
        return known

    async def ids_by_sku(self, skus: Sequence[str]) -> dict[str, UUID]:
        out: dict[str, UUID] = {}
        dialect = await self._dialect()
        for chunk in chunks(sorted(set(skus)), 5000):
            source, among = among_values(pr, pr.c.sku, chunk, dialect)
            statement = select(pr.c.sku, pr.c.id).select_from(source).where(self.scope, among)
            out.update({r[0]: r[1] for r in (await self.uow.execute(statement)).all()})
        return out
