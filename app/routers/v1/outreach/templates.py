"""Message templates for email, SMS and WhatsApp: versions, the variable catalogue, previews."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.domain.outreach.templates import CATALOGUE, FILTERS_DOC
from app.domain.outreach.vocabulary import ChannelType
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.outreach.templates import (
    PreviewRead,
    PreviewRequest,
    TemplateCreate,
    TemplateRead,
    TemplateUpdate,
    TemplateVersionRead,
    VariableRead,
    VariablesRead,
)
from app.services.context import Context
from app.services.outreach import templates

router = APIRouter(prefix="/v1/templates", tags=["Templates"], route_class=CrmRoute)
TemplatesSort = sort_enum("TemplatesSort", "created_at", "name")

_VARIABLES = VariablesRead(
    variables=[VariableRead(name=v.name, description=v.description, example=v.example) for v in CATALOGUE],
    filters=[VariableRead(name=v.name, description=v.description, example=v.example) for v in FILTERS_DOC],
)


class TemplateFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived templates")
    channel: ChannelType | None = None


@router.get("/variables", summary="The variables and filters a template may use", response_model=VariablesRead)
async def list_template_variables(ctx: Annotated[Context, require("templates:read")]) -> VariablesRead:
    return _VARIABLES


@router.post("", status_code=201, summary="Create a template", response_model=TemplateRead)
async def create_template(
    body: TemplateCreate, ctx: Annotated[Context, require_idempotent("templates:write")]
) -> Answer:
    row = await templates.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/templates/{row['id']}")


@router.get("", summary="List templates", response_model=Page[TemplateRead])
async def list_templates(
    ctx: Annotated[Context, require("templates:read")],
    page: Annotated[Paging, paging(TemplatesSort)],
    filters: Annotated[TemplateFilters, Query()],
) -> RowPage:
    return await templates.list_templates(
        ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get(
    "/{template_id}", summary="Get a template", response_model=TemplateRead, openapi_extra={"x-conditional": True}
)
async def get_template(template_id: UUID, ctx: Annotated[Context, require("templates:read")]) -> Row:
    return await templates.get_shown(ctx, template_id)


@router.patch("/{template_id}", summary="Update a template (a new version)", response_model=TemplateRead)
async def update_template(
    template_id: UUID,
    body: TemplateUpdate,
    ctx: Annotated[Context, require("templates:write")],
    if_match: IfMatch = None,
) -> Row:
    return await templates.update(ctx, template_id, body.model_dump(exclude_unset=True), if_match=if_match)


@router.delete(
    "/{template_id}", summary="Archive a template (hidden from lists unless archived=true)", response_model=TemplateRead
)
async def archive_template(
    template_id: UUID, ctx: Annotated[Context, require("templates:write")], if_match: IfMatch = None
) -> Row:
    return await templates.archive(ctx, template_id, if_match=if_match)


@router.get(
    "/{template_id}/versions/{version}",
    summary="Get a version of a template as it was",
    response_model=TemplateVersionRead,
    openapi_extra={"x-conditional": True},
)
async def get_template_version(
    template_id: UUID,
    version: Annotated[int, Path(ge=1, le=2_147_483_647)],
    ctx: Annotated[Context, require("templates:read")],
) -> Row:
    return await templates.version(ctx, template_id, version)


@router.post(
    "/{template_id}/preview",
    summary="Render a template for a lead or a contact (needs leads:read or contacts:read too)",
    response_model=PreviewRead,
)
async def get_template_preview(
    template_id: UUID, body: PreviewRequest, ctx: Annotated[Context, require("templates:read")]
) -> PreviewRead:
    return await templates.preview(
        ctx, template_id, lead_id=body.lead_id, contact_id=body.contact_id, version=body.version
    )
