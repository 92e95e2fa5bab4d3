"""Alembic is the only source of the schema: it builds the tables on both backends, agrees with
the models, and can be undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.config import Settings
from app.db.migrate import downgrade, head_revision, upgrade
from app.db.session import Database
from app.db.tables import metadata
from tests.conftest import ScratchDatabases, database_url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_upgrade_matches_models_and_downgrade_removes_everything(
    kind: str, tmp_path: Path, scratch: ScratchDatabases
) -> None:
    db = Database(Settings(database_url=await database_url(kind, tmp_path, scratch)))
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
            revision = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        assert diff == [], f"models and migrations disagree: {diff}"
        assert revision == head_revision()

        await upgrade(db)  # idempotent: a second start does nothing
        await downgrade(db)
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert names <= {"alembic_version"}
    finally:
        await db.dispose()
