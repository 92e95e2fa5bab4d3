"""Contracts with a customer, and their renewals."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.service_records import ContractCreate, ContractFilters, ContractRead, ContractUpdate
from app.services.context import Context
from app.services.customers import records, service_records
from app.services.customers.service_records import CONTRACT

router = APIRouter(prefix="/v1/contracts", tags=["Contracts"], route_class=CrmRoute)
ContractsSort = sort_enum("ContractsSort", "created_at")


@router.post("", status_code=201, summary="Create a contract", response_model=ContractRead)
async def create_contract(
    body: ContractCreate, ctx: Annotated[Context, require_idempotent("contracts:write")]
) -> Answer:
    row = await records.create(ctx, CONTRACT, body.model_dump())
    return Answer(row, location=f"/v1/contracts/{row['id']}")


@router.get("", summary="List contracts", response_model=Page[ContractRead])
async def list_contracts(
    ctx: Annotated[Context, require("contracts:read")],
    page: Annotated[Paging, paging(ContractsSort)],
    filters: Annotated[ContractFilters, Query()],
) -> RowPage:
    return await service_records.list_contracts(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{contract_id}", summary="Get a contract", response_model=ContractRead, openapi_extra={"x-conditional": True}
)
async def get_contract(contract_id: UUID, ctx: Annotated[Context, require("contracts:read")]) -> Row:
    return await records.get(ctx, CONTRACT, contract_id)


@router.patch("/{contract_id}", summary="Update a contract", response_model=ContractRead)
async def update_contract(
    contract_id: UUID,
    body: ContractUpdate,
    ctx: Annotated[Context, require("contracts:write")],
    if_match: IfMatch = None,
) -> Row:
    _, row = await records.update(ctx, CONTRACT, contract_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{contract_id}", summary="Archive a contract (hidden from lists unless archived=true)", response_model=ContractRead
)
async def archive_contract(
    contract_id: UUID, ctx: Annotated[Context, require("contracts:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, CONTRACT, contract_id, if_match=if_match)
