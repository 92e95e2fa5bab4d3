"""Accounts: the companies customers and deals belong to."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.domain.leads.lifecycle import CompanySize
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Country, Page
from app.schemas.customers.relationships import AccountCreate, AccountRead, AccountUpdate
from app.services.context import Context
from app.services.customers import records
from app.services.customers.relationships import ACCOUNT

router = APIRouter(prefix="/v1/accounts", tags=["Accounts"], route_class=CrmRoute)
AccountsSort = sort_enum("AccountsSort", "created_at", "name")


class AccountFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")
    owner_id: UUID | None = None
    domain: str | None = Field(default=None, max_length=255)
    country: Country | None = None
    industry: str | None = Field(default=None, max_length=200)
    company_size: CompanySize | None = None


@router.post("", status_code=201, summary="Create an account", response_model=AccountRead)
async def create_account(body: AccountCreate, ctx: Annotated[Context, require_idempotent("accounts:write")]) -> Answer:
    row = await records.create(ctx, ACCOUNT, body.model_dump())
    return Answer(row, location=f"/v1/accounts/{row['id']}")


@router.get("", summary="List accounts", response_model=Page[AccountRead])
async def list_accounts(
    ctx: Annotated[Context, require("accounts:read")],
    page: Annotated[Paging, paging(AccountsSort)],
    filters: Annotated[AccountFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, ACCOUNT, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{account_id}", summary="Get an account", response_model=AccountRead, openapi_extra={"x-conditional": True}
)
async def get_account(account_id: UUID, ctx: Annotated[Context, require("accounts:read")]) -> Row:
    return await records.get(ctx, ACCOUNT, account_id)


@router.patch("/{account_id}", summary="Update an account", response_model=AccountRead)
async def update_account(
    account_id: UUID, body: AccountUpdate, ctx: Annotated[Context, require("accounts:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, ACCOUNT, account_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{account_id}", summary="Archive an account (hidden from lists unless archived=true)", response_model=AccountRead
)
async def archive_account(
    account_id: UUID, ctx: Annotated[Context, require("accounts:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, ACCOUNT, account_id, if_match=if_match)
