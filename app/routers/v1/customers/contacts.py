"""Contacts: people, customers once they buy (a shop's customers are contacts), with their timeline."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.relationships import ContactCreate, ContactFilters, ContactRead, ContactUpdate
from app.schemas.leads.routing import TimelinePage
from app.services.context import Context
from app.services.customers import records, relationships
from app.services.customers.relationships import CONTACT
from app.services.leads import timeline

router = APIRouter(prefix="/v1/contacts", tags=["Contacts"], route_class=CrmRoute)
ContactsSort = sort_enum("ContactsSort", "created_at", "last_order_at")


@router.post("", status_code=201, summary="Create a contact", response_model=ContactRead)
async def create_contact(body: ContactCreate, ctx: Annotated[Context, require_idempotent("contacts:write")]) -> Answer:
    row = await relationships.create_contact(ctx, body.model_dump())
    return Answer(row, location=f"/v1/contacts/{row['id']}")


@router.get("", summary="List contacts", response_model=Page[ContactRead])
async def list_contacts(
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(ContactsSort)],
    filters: Annotated[ContactFilters, Query()],
) -> RowPage:
    return await relationships.list_contacts(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{contact_id}", summary="Get a contact", response_model=ContactRead, openapi_extra={"x-conditional": True})
async def get_contact(contact_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> Row:
    return await records.get(ctx, CONTACT, contact_id)


@router.patch("/{contact_id}", summary="Update a contact", response_model=ContactRead)
async def update_contact(
    contact_id: UUID, body: ContactUpdate, ctx: Annotated[Context, require("contacts:write")], if_match: IfMatch = None
) -> Row:
    return await relationships.update_contact(ctx, contact_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete(
    "/{contact_id}", summary="Archive a contact (hidden from lists unless archived=true)", response_model=ContactRead
)
async def archive_contact(
    contact_id: UUID, ctx: Annotated[Context, require("contacts:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, CONTACT, contact_id, if_match=if_match)


TimelineSort = sort_enum("ContactTimelineSort", "occurred_at")


@router.get(
    "/{contact_id}/timeline",
    summary="Everything that happened with a contact, in time order (its lead's engagements, activities and tasks too)",
    response_model=TimelinePage,
)
async def get_contact_timeline(
    contact_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(TimelineSort, "-occurred_at")],
) -> TimelinePage:
    data, next_cursor = await timeline.page(
        ctx, "contact", contact_id, sort=page.sort, cursor=page.cursor, limit=page.limit
    )
    return TimelinePage.model_validate(
        {"data": data, "next_cursor": next_cursor, "withheld": timeline.withheld_kinds(ctx, "contact")}
    )
