"""Lead-capture forms: define them (admin) and read what they received."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page
from app.db.repositories.leads.rows import FormRow
from app.domain.concurrency import check_if_match
from app.domain.errors import ErrorList, NotFound
from app.domain.leads.capture import CUSTOM_PREFIX
from app.domain.pagination import Sort
from app.ids import new_id
from app.services.context import Context, changed_fields, write_changes
from app.services.leads import custom_fields, lookups, sensitive

LEAD_TARGETS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "job_title",
        "industry",
        "company_size",
        "country",
        "province",
        "city",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "referrer_url",
        "landing_page",
    }
)


async def _validate(ctx: Context, values: dict[str, Any], current: FormRow | None = None) -> None:
    errors = ErrorList()
    if "field_mapping" in values:
        keys = {d.key for d in await custom_fields.definitions(ctx)}
        for name, target in values["field_mapping"].items():
            custom = target[len(CUSTOM_PREFIX) :] if target.startswith(CUSTOM_PREFIX) else None
            if (custom is None and target not in LEAD_TARGETS) or (custom is not None and custom not in keys):
                errors.add(f"field_mapping.{name}", f"{target!r} is neither a lead field nor a defined custom field")
    merged: dict[str, Any] = {**dict(current or {}), **values}  # a change is checked against what it keeps of the form
    honeypot = merged.get("honeypot_field")
    for number, box in enumerate(merged.get("consents") or ()):
        if honeypot is not None and box["field"] == honeypot:
            errors.add(f"consents.{number}.field", "is the honeypot field, which people leave empty")
    owner = values.get("default_owner_id")
    if owner is not None and await ctx.members.get(owner) is None:
        errors.add("default_owner_id", "no member with this id in the workspace")
    errors.raise_if_any()


async def create(ctx: Context, values: dict[str, Any]) -> FormRow:
    await _validate(ctx, values)
    return await ctx.forms.create({"id": new_id(), **values, **ctx.audit_new()})


async def get(ctx: Context, form_id: UUID) -> FormRow:
    row = await ctx.forms.get(form_id)
    if row is None:
        raise NotFound("no form with this id")
    return row


async def list_forms(ctx: Context, *, sort: Sort, cursor: str | None, limit: int) -> Page[FormRow]:
    return await ctx.forms.list(sort=sort, cursor=cursor, limit=limit)


async def update(ctx: Context, form_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> FormRow:
    row = await get(ctx, form_id)
    check_if_match(if_match, row["version"])
    await _validate(ctx, changes, row)
    changes = changed_fields(row, changes)
    if not changes:
        return row
    lookups.forget(("form", ctx.workspace_id, form_id))
    return await write_changes(ctx, row, changes, partial(ctx.forms.update, form_id), if_match=if_match)


async def archive(ctx: Context, form_id: UUID, *, if_match: str | None) -> FormRow:
    """An archived form stops accepting submissions and leaves the API; its leads stay."""
    row = await get(ctx, form_id)
    check_if_match(if_match, row["version"])
    lookups.forget(("form", ctx.workspace_id, form_id))
    return await write_changes(
        ctx, row, {"archived_at": ctx.now}, partial(ctx.forms.update, form_id), if_match=if_match
    )


async def submissions(ctx: Context, form_id: UUID, *, spam: bool, sort: Sort, cursor: str | None, limit: int) -> Page:
    """A page of the form's submissions, without the posted values of fields it sends to a
    sensitive custom field (a list never carries them)."""
    form = await get(ctx, form_id)
    page = await ctx.submissions.list(form_id, spam=spam, sort=sort, cursor=cursor, limit=limit)
    return Page(await sensitive.submissions(ctx, form, page.rows), page.next_cursor)
