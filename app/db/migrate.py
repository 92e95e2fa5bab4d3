"""Apply Alembic migrations from code (serve, migrate, tests). On PostgreSQL the upgrade runs
under an advisory lock, so replicas starting together migrate once and the others wait."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.session import Database

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
ADVISORY_LOCK_ID = 0x43524D  # "CRM"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(database: Database, revision: str = "head") -> None:
    async with database.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
            await conn.commit()
        try:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            await conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
                await conn.commit()


async def downgrade(database: Database, revision: str = "base") -> None:
    async with database.engine.connect() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
        await conn.commit()


async def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: never migrated). Raises DatabaseUnavailable."""
    from app.db.unit_of_work import UnitOfWork

    try:
        async with UnitOfWork(database, write=False) as uow:
            return await uow.system().migration_revision()
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(f"database unreachable: {type(exc).__name__}") from exc


class DatabaseUnavailable(Exception):
    pass
