"""Reading a whole list for an export, page by page: each page in a short read transaction of its
own (nothing held open while the client downloads), keyset cursors between them, so memory stays
flat however long the list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

from app.db.repositories.base import Row
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.audit import entries
from app.ids import utcnow
from app.services.audit import audit
from app.services.context import Context
from app.services.leads import sensitive

PAGE = 500
CUSTOM_FIELD = "cf."  # a list's filter by a custom field's value: `cf.<key>=`
# (context, cursor) -> a Page (rows, next_cursor)
Fetch = Callable[[Context, str | None], Awaitable[Any]]


async def record(ctx: Context, entity: str, query: dict[str, str]) -> None:
    """An export is a bulk read of personal data: it is audited (`<entity>` `export`) with the
    filters it was asked with (personal ones, such as an email, a search or a custom field's value,
    masked and kept apart; a sensitive custom field's value masked and kept nowhere)."""
    filters = dict(query)
    if entity == sensitive.LEADS and any(k.startswith(CUSTOM_FIELD) for k in filters):
        hidden = await sensitive.keys(ctx)
        for name in filters:
            if name.startswith(CUSTOM_FIELD) and name[len(CUSTOM_FIELD) :] in hidden:
                filters[name] = entries.MASK
    audit.record(ctx, resource=entity, action="export", detail={"filters": filters} if filters else None)


async def pages(
    database: Database, caller: Context, fetch: Fetch, *, cursor: str | None = None
) -> AsyncIterator[list[Row]]:
    """The pages from `cursor` (the start when None) to the end, each read as `caller` (the
    request's context: its workspace, actor and scopes) in a transaction of its own."""
    while True:
        async with UnitOfWork(database, write=False) as uow:
            page = await fetch(caller.derive(uow, utcnow()), cursor)
        yield page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def import_errors(database: Database, caller: Context, import_id: UUID) -> AsyncIterator[list[Row]]:
    """An import's failed rows, by row number, read as `caller`."""
    from app.services.customers import imports

    after = 0
    while True:
        async with UnitOfWork(database, write=False) as uow:
            rows = await imports.errors(caller.derive(uow, utcnow()), import_id, after=after, limit=PAGE)
        if not rows:
            return
        yield rows
        after = rows[-1]["row_number"]
