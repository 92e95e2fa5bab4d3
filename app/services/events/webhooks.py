"""Webhook endpoints: subscribe, test, inspect deliveries, retry and replay."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.concurrency import check_if_match
from app.domain.errors import ErrorList, Forbidden, InvalidInput, LimitExceeded, NotFound
from app.domain.events import events as types
from app.domain.events.webhooks import (
    EndpointRules,
    covers,
    delivers,
    endpoint_scopes,
    validate_event_types,
    validate_url,
)
from app.domain.pagination import Sort
from app.domain.workspace.retention import Swept, Window, cursor, position
from app.ids import new_id
from app.schemas.events.events import CATALOGUE
from app.schemas.events.webhooks import WebhookEndpointRead, WebhookTestData
from app.services.context import Context, changed_fields, write_changes
from app.services.events import events


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _validate(values: dict[str, Any], scopes: list[str], rules: EndpointRules) -> None:
    errors = ErrorList()
    if "url" in values:
        validate_url(values["url"], errors, allow_loopback=rules.allow_loopback)
    if "event_types" in values:
        validate_event_types(values["event_types"], list(CATALOGUE), errors, scopes=scopes)
    errors.raise_if_any()


def _read(row: Row) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(row)


async def _within_endpoint_cap(ctx: Context, rules: EndpointRules) -> None:
    """The operator's cap on a workspace's endpoints (WEBHOOK_ENDPOINTS_PER_WORKSPACE)."""
    if await ctx.webhook_endpoints.count_before_adding() >= rules.max_per_workspace:
        raise LimitExceeded(
            f"this workspace has the {rules.max_per_workspace} webhook endpoints it may have; delete one first",
            limit="WEBHOOK_ENDPOINTS_PER_WORKSPACE",
            value=rules.max_per_workspace,
        )


async def create(ctx: Context, values: dict[str, Any], *, rules: EndpointRules) -> Row:
    """The endpoint records the creating key's scopes and is delivered only what they may read."""
    scopes = endpoint_scopes(ctx.scopes)
    _validate(values, scopes, rules)
    await _within_endpoint_cap(ctx, rules)
    row = await ctx.webhook_endpoints.create(
        {
            "id": new_id(),
            "secret": new_secret(),
            "scopes": scopes,
            **values,
            "event_types": sorted(set(values["event_types"])),
            **ctx.audit_new(),
        }
    )
    await events.record(ctx, types.WEBHOOK_ENDPOINT_CREATED, _read(row))
    return row


async def get(ctx: Context, endpoint_id: UUID) -> Row:
    row = await ctx.webhook_endpoints.get(endpoint_id)
    if row is None:
        raise NotFound("no webhook endpoint with this id")
    return row


async def list_endpoints(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, enabled: bool | None) -> Page:
    return await ctx.webhook_endpoints.list(sort=sort, cursor=cursor, limit=limit, enabled=enabled)


async def update(
    ctx: Context, endpoint_id: UUID, changes: dict[str, Any], *, if_match: str | None, rules: EndpointRules
) -> Row:
    row = await get(ctx, endpoint_id)
    check_if_match(if_match, row["version"])
    _validate(changes, row["scopes"], rules)
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    changes = changed_fields(row, changes)
    if ("url" in changes or "event_types" in changes) and not covers(ctx.scopes, row["scopes"]):
        # Otherwise a key could point an endpoint of a broader key at itself, or widen what it asks for.
        raise Forbidden(
            "changing an endpoint's url or event_types needs a key that may read all it may: "
            + ", ".join(row["scopes"])
        )
    if not changes:
        return row
    if changes.get("enabled"):  # re-enabled by hand: start afresh; waiting deliveries resume
        changes.update(disabled_reason=None, failing_since=None)
    repo = ctx.webhook_endpoints
    updated = await write_changes(ctx, row, changes, partial(repo.update, endpoint_id), if_match=if_match)
    await events.record(ctx, types.WEBHOOK_ENDPOINT_UPDATED, _read(updated), previous=_read(row))
    return updated


async def delete(ctx: Context, endpoint_id: UUID, *, if_match: str | None) -> Row:
    row = await get(ctx, endpoint_id)
    check_if_match(if_match, row["version"])
    repo = ctx.webhook_endpoints
    deleted = await write_changes(
        ctx, row, {"deleted_at": ctx.now, "enabled": False}, partial(repo.update, endpoint_id), if_match=if_match
    )
    await ctx.deliveries.abandon_pending(endpoint_id, ctx.now, "endpoint deleted")
    await events.record(ctx, types.WEBHOOK_ENDPOINT_DELETED, _read(deleted))
    return deleted


async def send_test(ctx: Context, endpoint_id: UUID) -> None:
    """A `webhook.test` event delivered to this endpoint only."""
    endpoint = await get(ctx, endpoint_id)
    await events.record(
        ctx,
        types.WEBHOOK_TEST,
        WebhookTestData(endpoint_id=endpoint["id"], message="A test event from the CRM API."),
        resource_id=endpoint["id"],
    )


async def _covered(ctx: Context, endpoint_id: UUID) -> Row:
    """The endpoint, when the caller may read everything it is delivered. Its deliveries name the
    events sent (type, id, when) and keep the start of each reply, which can echo the payload: a
    key that may not read all the endpoint's scopes would learn of events it may not read, so it
    is a 403 naming what it lacks. (The endpoint itself needs only `webhooks:read`.)"""
    endpoint = await get(ctx, endpoint_id)
    if not covers(ctx.scopes, endpoint["scopes"]):
        missing = [s for s in endpoint["scopes"] if not covers(ctx.scopes, [s])]
        raise Forbidden(
            "this endpoint's deliveries are of events its scopes may read: reading, retrying or replaying them "
            f"needs a key that may read all of them; this key lacks {', '.join(missing)}"
        )
    return endpoint


async def deliveries(
    ctx: Context, endpoint_id: UUID, *, sort: Sort, cursor: str | None, limit: int, status: str | None
) -> Page:
    await _covered(ctx, endpoint_id)
    return await ctx.deliveries.list(endpoint_id, sort=sort, cursor=cursor, limit=limit, status=status)


async def delivery(ctx: Context, endpoint_id: UUID, delivery_id: UUID) -> tuple[Row, list[Row]]:
    """A delivery with its attempts, both as of one moment (a worker may record an attempt between
    the two reads)."""
    await ctx.uow.snapshot()
    await _covered(ctx, endpoint_id)
    repo = ctx.deliveries
    row = await repo.get(endpoint_id, delivery_id)
    if row is None:
        raise NotFound("no delivery with this id for this endpoint")
    return row, await repo.attempts(delivery_id)


async def retry(ctx: Context, endpoint_id: UUID, delivery_id: UUID) -> Row:
    """Send a delivery again now (failed ones included); keeps its webhook-id."""
    row, _ = await delivery(ctx, endpoint_id, delivery_id)
    updated = await ctx.deliveries.retry_now(row["id"], ctx.now)
    assert updated is not None
    return updated


async def replay(ctx: Context, endpoint_id: UUID, *, since: datetime | None, since_sequence: int | None) -> int:
    """New deliveries, to this endpoint, of the events it subscribes to and its scopes may read,
    since a time or sequence: exactly the dispatcher's rule (`delivers`), so an endpoint with no
    `event_types` replays every type its scopes may read, historic types no longer catalogued
    included, as it was sent them."""
    if since is None and since_sequence is None:
        raise InvalidInput.field("since", "give `since` (a time) or `since_sequence`")
    endpoint = await _covered(ctx, endpoint_id)
    # Narrowed in the query when the endpoint lists its types; otherwise every type is read and
    # `delivers` below decides, as the dispatcher does (a catalogue would miss historic types).
    wanted = (
        [t for t in endpoint["event_types"] if delivers(endpoint["event_types"], endpoint["scopes"], t)]
        if endpoint["event_types"]
        else None
    )
    found = await ctx.events.dispatched_since(since=since, since_sequence=since_sequence, types=wanted)
    rows = [
        {
            "id": new_id(),
            "endpoint_id": endpoint_id,
            "event_id": e["id"],
            "event_type": e["type"],
            "sequence": e["sequence"],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": ctx.now,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        for e in found
        if delivers(endpoint["event_types"], endpoint["scopes"], e["type"]) and e["type"] != types.WEBHOOK_TEST
    ]
    await ctx.deliveries.add(rows)
    return len(rows)


async def forget_response_excerpts(ctx: Context, window: Window, after: list[Any] | None, limit: int) -> Swept:
    """One page of the nightly retention of receivers' replies (`retention.webhook_response_excerpt_days`):
    the delivery attempts made in the window lose their response excerpt; status code, duration and
    error stay."""
    rows = await ctx.deliveries.aging_attempts(start=window.start, end=window.end, after=position(after), limit=limit)
    if not rows:
        return Swept(0, None)
    removed = await ctx.deliveries.forget_response_excerpts([row["id"] for row in rows if row["holds"]])
    last = rows[-1]
    return Swept(removed, cursor(last["attempted_at"], last["id"]))
