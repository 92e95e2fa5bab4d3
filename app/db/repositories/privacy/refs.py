"""`personal_refs`: where a person's data lives when no indexed column names them
(app/services/privacy/subjects.py). Written with the data (deferred into the unit of work's
write-behind statement), read and forgotten by privacy requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select

from app.db import tables
from app.db.repositories.base import TenantRepository, dialect_insert

t = tables.personal_refs


class PersonalRefRepository(TenantRepository[dict[str, Any]]):
    table = t

    def add(self, subjects: Iterable[str], place: str, row_key: str) -> None:
        """Record that the row `row_key` of `place` holds data of these subjects (written at commit
        with the unit of work's other rows; nothing for no subject)."""
        rows = [
            {"workspace_id": self.workspace_id, "subject": s, "place": place, "row_key": row_key}
            for s in sorted(set(subjects))
        ]
        if rows:
            self.uow.defer_insert(t, rows)

    async def add_now(self, subjects: Iterable[str], place: str, row_key: str) -> None:
        """`add`, written at once and idempotent (a ref that exists is kept): for writers outside
        the write-behind path whose row may be written again (an upsert)."""
        rows = [
            {"workspace_id": self.workspace_id, "subject": s, "place": place, "row_key": row_key}
            for s in sorted(set(subjects))
        ]
        if rows:
            statement = dialect_insert(await self._dialect())(t).on_conflict_do_nothing()
            await self.uow.execute(statement, rows)

    async def find(self, subjects: Sequence[str], place: str) -> list[str]:
        """The row keys of `place` that hold data of any of these subjects."""
        if not subjects:
            return []
        statement = (
            select(t.c.row_key)
            .where(self.scope, t.c.subject.in_(list(subjects)), t.c.place == place)
            .distinct()
            .order_by(t.c.row_key)
        )
        return list((await self.uow.execute(statement)).scalars())

    async def find_all(self, subjects: Sequence[str]) -> dict[str, list[str]]:
        """The row keys that hold data of any of these subjects, per place, in one statement."""
        if not subjects:
            return {}
        statement = (
            select(t.c.place, t.c.row_key)
            .where(self.scope, t.c.subject.in_(list(subjects)))
            .distinct()
            .order_by(t.c.place, t.c.row_key)
        )
        found: dict[str, list[str]] = {}
        for place, row_key in (await self.uow.execute(statement)).all():
            found.setdefault(place, []).append(row_key)
        return found

    async def forget(self, subjects: Sequence[str]) -> int:
        """Remove every ref of these subjects (once their rows are erased); how many."""
        if not subjects:
            return 0
        statement = delete(t).where(self.scope, t.c.subject.in_(list(subjects)))
        return int((await self.uow.execute(statement)).rowcount or 0)

    async def forget_rows(self, place: str, row_keys: Sequence[str]) -> int:
        """Remove the refs to rows of `place` that are gone (a purged row)."""
        done = 0
        for start in range(0, len(row_keys), 500):
            chunk = list(row_keys[start : start + 500])
            statement = delete(t).where(self.scope, t.c.place == place, t.c.row_key.in_(chunk))
            done += int((await self.uow.execute(statement)).rowcount or 0)
        return done
