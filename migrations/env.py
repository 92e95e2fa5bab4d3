"""Alembic environment. Migrations are run from code (app/migrate.py) on a connection we pass in;
`alembic` on the command line works too, reading DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.db.tables import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from app.config import get_settings
    from app.db.session import Database

    database = Database(get_settings())
    async with database.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()
    await database.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(_run_standalone())
