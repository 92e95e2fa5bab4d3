"""Accounts (the companies customers belong to) of one workspace."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key, text_key
from app.db.repositories.customers.rows import AccountRow

ac = tables.accounts


class AccountRepository(RecordRepository[AccountRow]):
    table = ac
    sortable = {"created_at": datetime_key(ac.c.created_at), "name": text_key(ac.c.name)}

    async def by_domain_or_name(self, domain: str | None, name: str) -> AccountRow | None:
        """An account to link a qualified lead to: same domain, else same name (case-insensitive)."""
        live = (self.scope, ac.c.archived_at.is_(None))
        if domain:
            row = await self._row(select(ac).where(*live, ac.c.domain == domain).order_by(ac.c.created_at).limit(1))
            if row is not None:
                return row
        statement = select(ac).where(*live, func.lower(ac.c.name) == name.lower()).order_by(ac.c.created_at).limit(1)
        return await self._row(statement)
