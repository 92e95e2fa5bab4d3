"""Message templates of one workspace and every version of their content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select

from app.db import tables
from app.db.repositories.base import RecordRepository, Row, datetime_key, text_key

tp = tables.templates
tv = tables.template_versions

# What a version keeps: the content as it was (the template's name is not content).
CONTENT_COLUMNS = ("locale", "subject", "body_text", "body_html", "whatsapp_template")


class TemplateRepository(RecordRepository[Row]):
    table = tp
    sortable = {"created_at": datetime_key(tp.c.created_at), "name": text_key(tp.c.name)}

    async def add_version(self, row: Mapping[str, Any]) -> None:
        """Keep the content of `row` (a template as just written) as its version."""
        values = {column: row[column] for column in CONTENT_COLUMNS}
        await self.uow.execute(
            insert(tv).values(
                workspace_id=self.workspace_id,
                template_id=row["id"],
                version=row["version"],
                created_at=row["updated_at"],
                created_by=row["updated_by"],
                **values,
            )
        )

    async def version(self, template_id: UUID, version: int) -> Row | None:
        """The template's content as it was at `version`."""
        statement = select(tv).where(
            tv.c.workspace_id == self.workspace_id, tv.c.template_id == template_id, tv.c.version == version
        )
        return await self._one(statement)
