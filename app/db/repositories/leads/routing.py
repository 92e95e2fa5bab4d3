"""Lead assignments of one workspace: who a lead was routed to, when and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.db import tables
from app.db.repositories.base import Row, TenantRepository

asg = tables.lead_assignments


class AssignmentRepository(TenantRepository):
    table = asg

    def add(self, values: Mapping[str, Any]) -> None:
        """Written at commit with the use case's other rows (the lead may be written behind too)."""
        self.uow.defer_insert(asg, [{"workspace_id": self.workspace_id, **values}])

    async def of_lead(self, lead_id: UUID) -> list[Row]:
        statement = (
            select(asg).where(self.scope, asg.c.lead_id == lead_id).order_by(asg.c.assigned_at, asg.c.id).limit(1000)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]
