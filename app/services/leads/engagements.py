"""Engagement use cases: record a lead's engagements one at a time or in batches (matched to leads
by id, email or external_id; each touched lead rescored once), track an anonymous visitor's
page-level engagements (publishable key) and give them to the lead a form submission names them
for, and list a lead's engagements. Their rows and the rescoring: leads/scoring.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from app.db.repositories.base import Page, Row
from app.db.repositories.leads.rows import LeadRow
from app.domain.errors import ErrorList, InvalidInput, NotFound
from app.domain.leads.contact import parse_email
from app.domain.leads.scoring import TRACKABLE, Engagement
from app.domain.outreach.vocabulary import PersonRef
from app.domain.pagination import Sort
from app.schemas.common import invalid_input
from app.schemas.leads.engagements import EngagementBatchItem
from app.services.batches import item_error
from app.services.context import Context
from app.services.leads import leads, sensitive
from app.services.leads.scoring import engagement_row, rescore

# Engagements reported more than this far in the future are refused (clock skew allowed).
FUTURE_SLACK = timedelta(minutes=5)


def _occurred_at(ctx: Context, given: datetime | None, errors: ErrorList, field: str) -> datetime:
    if given is None:
        return ctx.now
    if given.tzinfo is None:
        errors.add(field, "give a time zone (e.g. Z or +03:30)")
        return ctx.now
    if given - ctx.now > FUTURE_SLACK:
        errors.add(field, "is in the future")
    return given


async def engage(ctx: Context, lead_id: UUID, item: Mapping[str, Any]) -> tuple[Row, LeadRow]:
    """Record one engagement of a lead and rescore it: (the engagement, the lead)."""
    lead = await ctx.leads.get(lead_id)
    if lead is None or lead["merged_into_id"] is not None:
        raise NotFound("no lead with this id")
    errors = ErrorList()
    occurred_at = _occurred_at(ctx, item.get("occurred_at"), errors, "occurred_at")
    errors.raise_if_any()
    row = engagement_row(ctx, lead_id, item, occurred_at, "api")
    ctx.engagements.add([row])
    updated = await rescore(ctx, lead, cause=f"engagement {row['type']}", extra=[Engagement(row["type"], occurred_at)])
    await _judge_exits(ctx, [lead_id])
    return row, updated


async def _judge_exits(ctx: Context, lead_ids: Sequence[UUID]) -> None:
    """Journeys that exit on conditions (an `engagements.<type>` count, say) judge them now: an
    engagement emits no event for the journeys' event reader to see."""
    from app.services.journeys import exits  # journeys read leads: imported when used

    await exits.after_engagement(ctx, [PersonRef("lead", lead_id) for lead_id in lead_ids])


async def engage_batch(ctx: Context, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Many engagements, matched to leads by id, email or external_id; one bad item never rejects
    the others. Each touched lead is rescored once."""
    results: list[dict[str, Any]] = [{}] * len(items)
    parsed: list[tuple[int, EngagementBatchItem, str | None]] = []
    for index, raw in enumerate(items):
        try:
            item = EngagementBatchItem.model_validate(raw)
            key = None
            if item.lead_id is None and item.email is not None:
                key = parse_email(item.email).key
            if item.lead_id is None and key is None and item.external_id is None:
                raise InvalidInput.field("lead_id", "give lead_id, email or external_id")
            errors = ErrorList()
            _occurred_at(ctx, item.occurred_at, errors, "occurred_at")
            errors.raise_if_any()
            parsed.append((index, item, key))
        except ValidationError as exc:
            results[index] = item_error(index, invalid_input(exc))
        except ValueError as exc:  # an unusable email
            results[index] = item_error(index, InvalidInput.field("email", str(exc)))
        except InvalidInput as exc:
            results[index] = item_error(index, exc)
    repo = ctx.leads
    by_id = await repo.by_ids([i.lead_id for _, i, _ in parsed if i.lead_id is not None])
    by_email = await repo.by_email_keys([k for _, i, k in parsed if i.lead_id is None and k is not None])
    by_external = await repo.by_external_ids(
        [i.external_id for _, i, k in parsed if i.lead_id is None and k is None and i.external_id is not None]
    )
    rows: list[Row] = []
    touched: dict[UUID, list[Engagement]] = {}
    found: dict[UUID, LeadRow] = {}
    for index, item, key in parsed:
        if item.lead_id is not None:
            lead = by_id.get(item.lead_id)
        elif key is not None:
            lead = by_email.get(key)
        else:
            lead = by_external.get(item.external_id or "")
        if lead is None or lead["merged_into_id"] is not None:
            results[index] = item_error(index, NotFound("no lead matches this item"))
            continue
        occurred_at = item.occurred_at or ctx.now
        row = engagement_row(ctx, lead["id"], item.model_dump(), occurred_at, "api")
        rows.append(row)
        found[lead["id"]] = lead
        touched.setdefault(lead["id"], []).append(Engagement(row["type"], occurred_at))
        results[index] = {"index": index, "status": "recorded", "id": row["id"], "lead_id": lead["id"]}
    ctx.engagements.add(rows)
    for lead_id, extra in touched.items():
        await rescore(ctx, found[lead_id], cause=f"{len(extra)} engagement(s)", extra=extra)
    await _judge_exits(ctx, list(touched))
    return results


async def track(ctx: Context, item: Mapping[str, Any]) -> Row:
    """An anonymous visitor's page-level engagement (publishable key): kept for the visitor, and
    counted for a lead once a form submission carries the same visitor_id."""
    errors = ErrorList()
    occurred_at = _occurred_at(ctx, item.get("occurred_at"), errors, "occurred_at")
    errors.raise_if_any()
    if item["type"] not in TRACKABLE:
        raise InvalidInput.field("type", "the tracking snippet may report page_view, content_download, video_view")
    row = engagement_row(ctx, None, item, occurred_at, "tracking")
    ctx.engagements.add([row])
    return row


async def link_visitor(ctx: Context, lead: LeadRow, visitor_id: str, *, created: bool) -> LeadRow:
    """A form submission names its visitor: their anonymous engagements become the lead's, when
    the submission created this lead (`created`) or the lead already carries this visitor id.
    Anyone may post engagements under any visitor id and then a stranger's email: linking them to
    that person's existing lead would let a stranger raise (or shape) a real lead's score."""
    repo = ctx.engagements
    facts = await repo.link_visitor(visitor_id, lead["id"], only_if_carried=not created)
    if not facts:
        return lead
    return await rescore(ctx, lead, cause="visitor engagements linked")


async def engagements_of(ctx: Context, lead_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    await leads.get(ctx, lead_id)
    page = await ctx.engagements.list(lead_id, sort=sort, cursor=cursor, limit=limit)
    return Page(await sensitive.scrubbed(ctx, page.rows), page.next_cursor)  # filled fields: no sensitive value
