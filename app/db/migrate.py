"""Apply Alembic migrations from code (serve, migrate, tests). On PostgreSQL the upgrade runs
under an advisory lock, so replicas starting together migrate once and the others wait."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

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
            await _migrate(conn, lambda sync: command.upgrade(alembic_config(sync), revision))
        finally:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
                await conn.commit()


async def downgrade(database: Database, revision: str = "base") -> None:
    async with database.engine.connect() as conn:
        await _migrate(conn, lambda sync: command.downgrade(alembic_config(sync), revision))


async def _migrate(conn: AsyncConnection, step: Callable[[Connection], None]) -> None:
    """Run migrations in one transaction. On SQLite with foreign keys off: changing a table there
    means copying it, dropping the old one and renaming the copy, and with foreign keys on the DROP
    deletes its rows first, cascading into every table that references it (rebuilding
    `webhook_endpoints` emptied `webhook_deliveries`). The keys are checked before the commit and
    turned back on after it (the pragma is ignored inside a transaction)."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        await conn.run_sync(_sqlite_pragma, "PRAGMA foreign_keys=OFF")
    try:
        await conn.run_sync(step)
        if sqlite:
            broken = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
            if broken:
                raise RuntimeError(f"migration left rows whose references are missing: {broken[:5]}")
        await conn.commit()
    finally:
        if sqlite:
            await conn.rollback()
            await conn.run_sync(_sqlite_pragma, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(sync: Connection, pragma: str) -> None:
    """On the driver's connection: through SQLAlchemy it would begin a transaction first."""
    cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(pragma)
    cursor.close()


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
