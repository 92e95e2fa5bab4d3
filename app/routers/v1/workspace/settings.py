"""`/v1/settings/{section}`: GET, PUT (replace) and PATCH (merge) per registered section (unknown
sections 404)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from app.routers.dependencies import IfMatch, require
from app.routers.route import CrmRoute
from app.schemas.common import ResourceRead
from app.schemas.workspace.settings import SECTIONS
from app.services.context import Context
from app.services.workspace import settings

router = APIRouter(prefix="/v1/settings", tags=["Settings"], route_class=CrmRoute)


def _add_section(section: str, model: type[BaseModel], update: type[BaseModel], read: type[ResourceRead]) -> None:
    def to_read(row: dict[str, Any]) -> ResourceRead:
        return read.model_validate({**row["values"], **{k: row[k] for k in ("version", "created_at", "updated_at")}})

    async def get_section(ctx: Annotated[Context, require("settings:read")]) -> ResourceRead:
        return to_read(await settings.get(ctx, section, model))

    async def update_section(
        body: Annotated[update, Body()],  # type: ignore[valid-type]
        ctx: Annotated[Context, require("settings:write")],
        if_match: IfMatch = None,
    ) -> ResourceRead:
        changes = body.model_dump(exclude_unset=True)
        return to_read(await settings.update(ctx, section, model, changes, if_match=if_match))

    router.add_api_route(
        f"/{section}",
        get_section,
        methods=["GET"],
        response_model=read,
        summary=f"Get the {section} settings",
        name=f"get_{section.replace('-', '_')}_settings",
        openapi_extra={"x-conditional": True},
    )

    async def replace_section(
        body: Annotated[model, Body()],  # type: ignore[valid-type]
        ctx: Annotated[Context, require("settings:write")],
        if_match: IfMatch = None,
    ) -> ResourceRead:
        values = body.model_dump(mode="json")
        return to_read(await settings.update(ctx, section, model, values, if_match=if_match))

    router.add_api_route(
        f"/{section}",
        replace_section,
        methods=["PUT"],
        response_model=read,
        summary=f"Replace the {section} settings (fields left out take their defaults)",
        name=f"replace_{section.replace('-', '_')}_settings",
    )
    router.add_api_route(
        f"/{section}",
        update_section,
        methods=["PATCH"],
        response_model=read,
        summary=f"Change the {section} settings",
        name=f"update_{section.replace('-', '_')}_settings",
    )


for _section, (_model, _update, _read) in SECTIONS.items():
    _add_section(_section, _model, _update, _read)
