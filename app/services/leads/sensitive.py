"""Sensitive custom fields (a person's religion, ethnicity): what each reader sees of them.

A sensitive value is shown only in a single lead's GET, and only to a key with `sensitive:read`
(`admin` has it). Answers to writes, lists, CSV exports, the timeline, events and webhooks never
carry it, whatever the key. Writing one needs only the write scope.

The workspace's sensitive keys come from its custom field definitions, which the capture path
caches per process (`app/services/leads/lookups.py`, `FORM_CACHE_SECONDS`): reading them costs no
query on a hot path, and a change reaches the other processes within that TTL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from app.domain.errors import FieldError, Forbidden
from app.domain.events import events as types
from app.domain.leads import sensitive as rules
from app.domain.pagination import Page
from app.domain.workspace.api_keys import SENSITIVE_READ
from app.services.context import Context
from app.services.leads import custom_fields, lookups

RowT = TypeVar("RowT", bound=Mapping[str, Any])
T = TypeVar("T")

# The entities whose custom fields may be sensitive (contacts, accounts and opportunities have none).
LEADS = "leads"
# The events that carry a form submission's posted values.
FORM_SUBMISSION_EVENTS = frozenset({types.FORM_SUBMISSION_RECEIVED, types.FORM_SUBMISSION_SPAM})


async def keys(ctx: Context) -> frozenset[str]:
    """The workspace's sensitive lead field keys (cached per process, like the definitions)."""
    return rules.sensitive_keys(await custom_fields.definitions(ctx))


async def sensitive_field_keys(ctx: Context) -> dict[str, frozenset[str]]:
    """Per entity, the keys of the workspace's sensitive custom fields, read from the database now
    (not from a cache): what an erasure must erase whatever else it keeps. Today only leads have
    custom fields."""
    return {LEADS: rules.sensitive_keys(custom_fields.definition(r) for r in await ctx.custom_fields.all())}


async def lead(ctx: Context, row: RowT) -> RowT:
    """A single lead as this caller may read it (`GET /v1/leads/{id}`): its sensitive values only
    with `sensitive:read`."""
    if ctx.allows(SENSITIVE_READ):
        return row
    return rules.without_sensitive(row, await keys(ctx))


async def written(ctx: Context, row: RowT) -> RowT:
    """A lead as the answer to a write shows it: without sensitive values, whatever the caller's
    scopes. The answer to a POST is kept for Idempotency-Key replays, which any key of the
    workspace may ask for, so no answer to a write carries them: they are read with a GET."""
    return rules.without_sensitive(row, await keys(ctx))


async def listed(ctx: Context, page: Page[RowT]) -> Page[RowT]:
    """A page of leads without sensitive values, whatever the caller's scopes."""
    hidden = await keys(ctx)
    if not hidden:
        return page
    return Page([rules.without_sensitive(r, hidden) for r in page.rows], page.next_cursor)


async def scrubbed(ctx: Context, document: T) -> T:
    """Any document with lead custom fields in it (a list of duplicates, timeline entries, an
    engagement's `properties.filled_fields`) without sensitive values, whatever the caller's scopes.
    A document without any is not looked at further (no definitions read)."""
    if not rules.carries_custom_fields(document):
        return document
    return rules.scrub(document, await keys(ctx))


async def without(ctx: Context, values: Mapping[str, Any]) -> dict[str, Any]:
    """A lead's `custom_fields` without the sensitive ones, whatever the caller's scopes."""
    hidden = await keys(ctx)
    return {k: v for k, v in values.items() if k not in hidden}


async def event_payload(
    ctx: Context, event_type: str, data: dict[str, Any], previous: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An event's data and previous state without sensitive values (`lead.*` types only: the
    others carry no lead custom fields, and a workspace is not looked up for them)."""
    if not event_type.startswith(rules.LEAD_EVENT_PREFIX):
        return data, previous
    return rules.event_payload(event_type, data, previous, await keys(ctx))


async def stored_events(ctx: Context, rows: list[RowT]) -> list[RowT]:
    """Events as the log shows them: without the sensitive values of `lead.*` events recorded
    before their field was marked sensitive (the workspace is not looked up for other types)."""
    if not any(str(r["type"]).startswith(rules.LEAD_EVENT_PREFIX) for r in rows):
        return rows
    hidden = await keys(ctx)
    return [rules.stored_event(r, hidden) for r in rows] if hidden else rows


async def delivered(ctx: Context, event: RowT) -> RowT:
    """An event as a webhook delivers it (a first delivery, a retry or a replay): recorded without
    sensitive values, but one recorded before its field was marked sensitive, or by another process
    within FORM_CACHE_SECONDS of the marking, still has them: left out here as the log leaves them
    out (`data` and `previous_attributes` of `lead.*` events; a form submission's posted values of
    the fields its form sends to a sensitive custom field). Other types look nothing up."""
    event_type = str(event.get("type", ""))
    if event_type.startswith(rules.LEAD_EVENT_PREFIX):
        return rules.stored_event(event, await keys(ctx))
    if event_type in FORM_SUBMISSION_EVENTS:
        data = event.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("fields"), Mapping):
            return event
        hidden = await keys(ctx)
        form = await _form(ctx, data.get("form_id")) if hidden else None
        if form is None:
            return event
        names = rules.sensitive_form_fields(form.get("field_mapping") or {}, hidden)
        shown = rules.without_form_fields(data, names)
        return event if shown is data else {**event, "data": shown}  # type: ignore[return-value]
    return event


async def _form(ctx: Context, form_id: Any) -> Mapping[str, Any] | None:
    """A form by the id an event names, from the capture path's per-process cache."""
    try:
        found = UUID(str(form_id))
    except ValueError:
        return None

    async def load() -> Mapping[str, Any] | None:
        return await ctx.forms.get(found)

    return await lookups.cached(("form", ctx.workspace_id, found), load)


async def submissions(ctx: Context, form: Mapping[str, Any], rows: Iterable[RowT]) -> list[RowT]:
    """Form submissions without the posted values of the fields the form sends to a sensitive
    custom field."""
    names = rules.sensitive_form_fields(form.get("field_mapping") or {}, await keys(ctx))
    return [rules.without_form_fields(r, names) for r in rows]


async def check_filters(ctx: Context, asked: Iterable[str]) -> None:
    """Finding leads by a sensitive value (`cf.<key>=`) needs `sensitive:read`: the list would tell
    whose value it is (403 naming the parameter, as a missing scope is)."""
    if ctx.allows(SENSITIVE_READ):
        return
    hidden = await keys(ctx)
    refused = [f"cf.{key}" for key in asked if key in hidden]
    if refused:
        message = f"a sensitive custom field: filtering by it needs the {SENSITIVE_READ!r} scope, which this key lacks"
        raise Forbidden(
            f"{', '.join(refused)}: {message}",
            errors=[FieldError("query", name, message, "forbidden") for name in refused],
        )


async def check_conditions(ctx: Context, document: Any) -> None:
    """Picking people by a sensitive value (a journey's or a campaign's condition on
    `custom_fields.<key>`) needs `sensitive:read`, as filtering a list by it does: who is picked
    tells whose value it is (403 naming each condition's field by its path in the body)."""
    if ctx.allows(SENSITIVE_READ) or not _mentions_custom_fields(document):
        return
    refused = rules.sensitive_conditions(document, await keys(ctx))
    if refused:
        message = (
            f"a sensitive custom field: a condition on it needs the {SENSITIVE_READ!r} scope, which this key lacks"
        )
        raise Forbidden(
            f"{', '.join(refused)}: {message}",
            errors=[FieldError("body", path, message, "forbidden") for path in refused],
        )


def _mentions_custom_fields(document: Any) -> bool:
    """Whether a JSON document names a custom field anywhere (else no definitions are read)."""
    if isinstance(document, str):
        return document.startswith(rules.CUSTOM_PREFIX)
    if isinstance(document, Mapping):
        return any(_mentions_custom_fields(v) for v in document.values())
    if isinstance(document, list):
        return any(_mentions_custom_fields(v) for v in document)
    return False
