"""Tasks (follow-ups on leads and the records they became) of one workspace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import update

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key
from app.db.repositories.leads.rows import TaskRow

tk = tables.tasks


class TaskRepository(RecordRepository[TaskRow]):
    table = tk
    sortable = {"created_at": datetime_key(tk.c.created_at)}

    async def relink(self, lead_id: UUID, values: Mapping[str, Any]) -> int:
        """Point a lead's tasks at the records it became; how many."""
        statement = update(tk).where(self.scope, tk.c.lead_id == lead_id).values(**values)
        return int((await self.uow.execute(statement)).rowcount or 0)
