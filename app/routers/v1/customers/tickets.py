"""Support tickets about a customer (a contact or an account)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.service_records import TicketCreate, TicketFilters, TicketRead, TicketUpdate
from app.services.context import Context
from app.services.customers import records
from app.services.customers.service_records import TICKET

router = APIRouter(prefix="/v1/tickets", tags=["Tickets"], route_class=CrmRoute)
TicketsSort = sort_enum("TicketsSort", "created_at")


@router.post("", status_code=201, summary="Create a ticket", response_model=TicketRead)
async def create_ticket(body: TicketCreate, ctx: Annotated[Context, require_idempotent("tickets:write")]) -> Answer:
    row = await records.create(ctx, TICKET, body.model_dump())
    return Answer(row, location=f"/v1/tickets/{row['id']}")


@router.get("", summary="List tickets", response_model=Page[TicketRead])
async def list_tickets(
    ctx: Annotated[Context, require("tickets:read")],
    page: Annotated[Paging, paging(TicketsSort)],
    filters: Annotated[TicketFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, TICKET, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{ticket_id}", summary="Get a ticket", response_model=TicketRead, openapi_extra={"x-conditional": True})
async def get_ticket(ticket_id: UUID, ctx: Annotated[Context, require("tickets:read")]) -> Row:
    return await records.get(ctx, TICKET, ticket_id)


@router.patch("/{ticket_id}", summary="Update a ticket", response_model=TicketRead)
async def update_ticket(
    ticket_id: UUID, body: TicketUpdate, ctx: Annotated[Context, require("tickets:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, TICKET, ticket_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{ticket_id}", summary="Archive a ticket (hidden from lists unless archived=true)", response_model=TicketRead
)
async def archive_ticket(
    ticket_id: UUID, ctx: Annotated[Context, require("tickets:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, TICKET, ticket_id, if_match=if_match)
