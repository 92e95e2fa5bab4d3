"""The customer 360 view of a contact or an account."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.routers.dependencies import require
from app.routers.route import CrmRoute
from app.schemas.customers.customer_view import Customer360
from app.services.context import Context
from app.services.customers import customer_view

router = APIRouter(prefix="/v1", tags=["Customer 360"], route_class=CrmRoute)
DESCRIPTION = (
    "Profile, order summary, loyalty, referrals, tickets and satisfaction, contracts and renewals, open quotes, "
    "unpaid invoices, value-added deals and the latest timeline, in one request of a fixed number of queries. "
    "Each section shows only when the key holds its resource's read scope (orders: `orders:read`, tickets: "
    "`tickets:read`, contracts: `contracts:read`, quotes: `quotes:read`, invoices with their payments: "
    "`invoices:read`, value-added deals: `opportunities:read`); the others are named in `withheld`."
)


@router.get(
    "/contacts/{contact_id}/360",
    summary="Everything about a customer in one answer",
    description=DESCRIPTION,
    response_model=Customer360,
)
async def get_contact_360(contact_id: UUID, ctx: Annotated[Context, require("contacts:read")]) -> bytes:
    return Customer360.model_validate(await customer_view.view(ctx, "contact", contact_id)).to_json().encode()


@router.get(
    "/accounts/{account_id}/360",
    summary="Everything about an account (its contacts' orders and points summed) in one answer",
    description=DESCRIPTION,
    response_model=Customer360,
)
async def get_account_360(account_id: UUID, ctx: Annotated[Context, require("accounts:read")]) -> bytes:
    return Customer360.model_validate(await customer_view.view(ctx, "account", account_id)).to_json().encode()
