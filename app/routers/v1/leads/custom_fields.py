from typing import Annotated
from uuid import UUID

from fastapi import APIRouter

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, require, require_idempotent
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.leads.leads import CustomFieldCreate, CustomFieldRead, CustomFieldUpdate
from app.services.context import Context
from app.services.leads import custom_fields

router = APIRouter(prefix="/v1/custom-fields", tags=["Custom fields"], route_class=CrmRoute)


@router.post("", status_code=201, summary="Define a custom lead field", response_model=CustomFieldRead)
async def create_custom_field(body: CustomFieldCreate, ctx: Annotated[Context, require_idempotent("admin")]) -> Answer:
    row = await custom_fields.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/custom-fields/{row['id']}")


@router.get("", summary="List custom lead fields (all of them, oldest first)", response_model=Page[CustomFieldRead])
async def list_custom_fields(ctx: Annotated[Context, require("leads:read")]) -> RowPage:
    return RowPage(await custom_fields.list_all(ctx), None)


@router.get(
    "/{field_id}",
    summary="Get a custom lead field",
    response_model=CustomFieldRead,
    openapi_extra={"x-conditional": True},
)
async def get_custom_field(field_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> Row:
    return await custom_fields.get(ctx, field_id)


@router.patch(
    "/{field_id}",
    summary="Change a custom field's label, options, requiredness or sensitivity",
    response_model=CustomFieldRead,
)
async def update_custom_field(
    field_id: UUID, body: CustomFieldUpdate, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None
) -> Row:
    return await custom_fields.update(ctx, field_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete(
    "/{field_id}",
    status_code=204,
    summary="Delete a custom field definition (stored values stay; a sensitive field's definition cannot go: 409)",
    response_model=None,
    responses={204: {"description": "Deleted"}},
)
async def delete_custom_field(field_id: UUID, ctx: Annotated[Context, require("admin")]) -> None:
    await custom_fields.delete(ctx, field_id)
