"""Whether the ids a report's filters name exist in the workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from app.db import tables
from app.db.repositories.base import TenantRepository
from app.domain.reports.scope import ReportFilters

mb, tm, fm, cp = tables.members, tables.teams, tables.forms, tables.campaigns


class ReportFilterRepository(TenantRepository[dict[str, Any]]):
    table = mb

    async def unknown(self, filters: ReportFilters) -> list[str]:
        """The filters naming an id the workspace has not: `owner_id` (a member, active or not),
        `team_id` (a team not deleted), `form_id` (a form, archived or not: its leads stay
        reportable), `campaign_id` (a campaign); one statement."""
        checks: dict[str, Any] = {}
        if filters.owner_id is not None:
            checks["owner_id"] = exists().where(mb.c.workspace_id == self.workspace_id, mb.c.id == filters.owner_id)
        if filters.team_id is not None:
            checks["team_id"] = exists().where(
                tm.c.workspace_id == self.workspace_id, tm.c.id == filters.team_id, tm.c.deleted_at.is_(None)
            )
        if filters.form_id is not None:
            checks["form_id"] = exists().where(fm.c.workspace_id == self.workspace_id, fm.c.id == filters.form_id)
        if filters.campaign_id is not None:
            checks["campaign_id"] = exists().where(
                cp.c.workspace_id == self.workspace_id, cp.c.id == filters.campaign_id
            )
        if not checks:
            return []
        row = (await self.uow.execute(select(*(c.label(n) for n, c in checks.items())))).mappings().one()
        return [name for name in checks if not row[name]]
