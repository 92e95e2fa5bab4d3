"""Saved segments: named filters of the contacts list, counted when read (campaigns, analytics)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.domain.pagination import Sort
from app.schemas.customers.relationships import ContactFilters
from app.schemas.customers.segments import SegmentRead
from app.services.context import Context
from app.services.customers import records, relationships


async def _segment(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    prepared = dict(values)
    if values.get("filters") is not None:
        filters = ContactFilters.model_validate(values["filters"]).model_dump(mode="json", exclude_defaults=True)
        await relationships.contact_filters(ctx, dict(filters))  # a bad amount is a 422 now, not on every read
        prepared["filters"] = filters
    elif "filters" in values:
        prepared.pop("filters")
    return prepared


SEGMENT = records.Kind("segment", lambda repos: repos.segments, SegmentRead, _segment)


def query_of(row: Row) -> dict[str, Any]:
    return ContactFilters.model_validate(row["filters"]).model_dump()


async def count(ctx: Context, row: Row) -> int:
    """How many live contacts match the segment now: one COUNT."""
    query = query_of(row)
    query.pop("archived", None)
    segment, equal = await relationships.contact_filters(ctx, query)
    return await ctx.contacts.count_contacts(now=ctx.now, segment=segment, **equal)


async def contacts(ctx: Context, segment_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    row = await records.get(ctx, SEGMENT, segment_id)
    return await relationships.list_contacts(ctx, sort=sort, cursor=cursor, limit=limit, **query_of(row))
