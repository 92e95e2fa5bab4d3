"""What the worker's named cross-workspace queues share: the unit of work they run in, and how
they lock the rows they claim. On PostgreSQL claims use `FOR UPDATE SKIP LOCKED` and leases, so any
number of workers share the work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork


class CrossWorkspaceQueue:
    """Not a tenant repository: a queue's claims take due work of every workspace."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _postgres(self) -> bool:
        return (await self.uow.connection()).dialect.name == "postgresql"

    async def _lock_rows(self, statement: Any) -> Any:
        if await self._postgres():
            return statement.with_for_update(skip_locked=True)
        return statement  # SQLite: a single process, whose writers are serialised by BEGIN IMMEDIATE
