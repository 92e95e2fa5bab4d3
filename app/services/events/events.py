"""Recording events in the use case's transaction (the outbox), and reading the log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from app.db.repositories.base import Page, Row
from app.domain.errors import Forbidden, NotFound
from app.domain.events import events as types
from app.domain.pagination import Sort
from app.domain.workspace.api_keys import ADMIN
from app.ids import new_id
from app.schemas.events.events import CATALOGUE
from app.services.context import Context
from app.services.leads import sensitive
from app.services.privacy import subjects


async def record(
    ctx: Context,
    event_type: str,
    resource: BaseModel,
    *,
    resource_id: Any = None,
    previous: BaseModel | None = None,
) -> None:
    """Write the event beside the change it describes: both commit, or neither does. A lead's
    sensitive custom field values are left out of `data` and `previous_attributes`."""
    if event_type in ctx.quiet:
        return
    data = resource.model_dump(mode="json")
    before = previous.model_dump(mode="json") if previous is not None else None
    data, before = await sensitive.event_payload(ctx, event_type, data, before)
    record_data(ctx, event_type, data, resource_id=resource_id, previous=before)


def record_data(
    ctx: Context,
    event_type: str,
    data: dict[str, Any],
    *,
    resource_id: Any = None,
    previous: dict[str, Any] | None = None,
) -> None:
    """`record` for data already in its JSON form (hot batch paths build it without a model; a
    test compares it with the API's own answer). It carries no lead custom fields: `lead.*`
    events go through `record`, which leaves sensitive values out.

    Every event is written here, so here it gets its refs (`personal_refs`): the people its data
    names besides its resource (an order's contact, a submission's lead), written behind with it."""
    if event_type in ctx.quiet:
        return
    before = previous
    if resource_id is None:
        resource_id = data.get("id")
    event_id = new_id()
    about = str(resource_id) if resource_id is not None else None
    changes = types.previous_attributes(before, data) if before is not None else None
    ctx.events.record(
        {
            "id": event_id,
            "type": event_type,
            "occurred_at": ctx.now,
            "api_version": types.API_VERSION,
            "actor": str(ctx.actor),
            "resource_id": about,
            "data": data,
            "previous_attributes": changes,
        }
    )
    people = subjects.event_person_ids(event_type, data, changes, about)
    if people:
        ctx.personal_refs.add(people, subjects.EVENTS, str(event_id))


def readable_types(ctx: Context) -> list[str] | None:
    """The catalogued event types the caller may read; None when it may read every type."""
    if ADMIN in ctx.scopes:
        return None
    return types.readable(ctx.scopes, CATALOGUE)


def redaction_params(ctx: Context, resource_id: str) -> dict[str, Any]:
    """What an `events.redact` job needs: the resource, and the scopes of the key that asks (just
    `admin` when it holds it), since the job erases only the types those scopes may read."""
    scopes = [ADMIN] if ADMIN in ctx.scopes else sorted(ctx.scopes)
    return {"resource_id": resource_id, "scopes": scopes}


async def redact(ctx: Context, resource_id: str, limit: int) -> int:
    """Erase the data of up to `limit` events about a resource whose types `ctx.scopes` may read
    (every type with `admin`); how many it erased. A key may not erase, nor count, what it may not
    read: the admin-only audit trail (`api_key.*`, `settings.updated`) stays whole."""
    repo = ctx.events
    kinds = None if ADMIN in ctx.scopes else types.readable(ctx.scopes, await repo.types_to_redact(resource_id))
    if kinds == []:
        return 0
    return await repo.redact(resource_id, ctx.now, limit, types=kinds)


def _forbidden(event_type: str) -> Forbidden:
    return Forbidden(f"{event_type} events need the {types.required_scope(event_type)!r} scope, which this key lacks")


async def get(ctx: Context, event_id: UUID) -> Row:
    row = await ctx.events.get(event_id)
    if row is None:
        raise NotFound("no event with this id")
    if not types.may_read(ctx.scopes, row["type"]):
        raise _forbidden(row["type"])
    return (await sensitive.stored_events(ctx, [row]))[0]


async def list_events(
    ctx: Context,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    types_: list[str] | None,
    resource_id: str | None,
    occurred_after: datetime | None,
    occurred_before: datetime | None,
    after_sequence: int | None,
) -> Page:
    """Only the types the caller's scopes may read; asking for another type by name is a 403
    (an empty page would look like nothing happened)."""
    for requested in types_ or ():
        if not types.may_read(ctx.scopes, requested):
            raise _forbidden(requested)
    if types_:
        wanted: list[str] | None = types_
    else:
        wanted = readable_types(ctx)
    page = await ctx.events.list(
        sort=sort,
        cursor=cursor,
        limit=limit,
        types=wanted,
        resource_id=resource_id,
        occurred_after=occurred_after,
        occurred_before=occurred_before,
        after_sequence=after_sequence,
    )
    return Page(await sensitive.stored_events(ctx, page.rows), page.next_cursor)
