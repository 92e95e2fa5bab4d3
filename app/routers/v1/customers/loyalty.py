"""A contact's loyalty points: the ledger (earn, redeem, expire, adjust) and its balance."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.routers.answers import Answer, RowPage
from app.routers.dependencies import Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.loyalty import LoyaltyEntryCreate, LoyaltyEntryRead
from app.services.context import Context
from app.services.customers import loyalty

router = APIRouter(prefix="/v1/contacts", tags=["Loyalty"], route_class=CrmRoute)
EntrySort = sort_enum("LoyaltyEntrySort", "created_at")


@router.post(
    "/{contact_id}/loyalty",
    status_code=201,
    summary="Earn, redeem, expire or adjust a contact's loyalty points",
    description="The balance never goes below zero: a redemption beyond it is a 409 with the balance, and "
    "concurrent redemptions cannot overdraw it. With a `reference` an entry is recorded once: sending it again "
    "answers the recorded entry with 200.",
    response_model=LoyaltyEntryRead,
    responses={200: {"description": "This reference was recorded before: the entry as recorded"}},
)
async def add_loyalty_entry(
    contact_id: UUID, body: LoyaltyEntryCreate, ctx: Annotated[Context, require_idempotent("contacts:write")]
) -> Answer:
    row, created = await loyalty.record(ctx, contact_id, body)
    return Answer(row, status_code=201 if created else 200)


@router.get(
    "/{contact_id}/loyalty",
    summary="A contact's loyalty ledger, newest first (the balance is the contact's loyalty_points)",
    response_model=Page[LoyaltyEntryRead],
)
async def list_loyalty_entries(
    contact_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(EntrySort, "-created_at")],
) -> RowPage:
    return await loyalty.entries(ctx, contact_id, sort=page.sort, cursor=page.cursor, limit=page.limit)
