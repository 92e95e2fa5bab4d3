"""Accounts, contacts, opportunities and tasks share one shape of routes: create, list with
filters, get, update, archive (tasks: no archive). Each resource states its models and filters."""

# No `from __future__ import annotations` here: the routes are built in a function and FastAPI
# must see their parameter types as objects, not as names it cannot resolve.
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.domain.customers.opportunities import OpportunityStage, OpportunityType
from app.domain.leads.lifecycle import CompanySize
from app.routers.dependencies import (
    JSON,
    IfMatch,
    Paging,
    page_response,
    paging,
    require,
    require_idempotent,
    resource_response,
    sort_enum,
)
from app.routers.route import CrmRoute
from app.schemas.common import Country, Page, ResourceRead
from app.schemas.customers.relationships import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    ContactCreate,
    ContactFilters,
    ContactRead,
    ContactUpdate,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    Priority,
    TaskCreate,
    TaskRead,
    TaskStatus,
    TaskUpdate,
)
from app.schemas.leads.routing import TimelinePage
from app.services.context import Context
from app.services.customers import records, relationships
from app.services.leads import tasks, timeline


class Filters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived records")


class AccountFilters(Filters):
    owner_id: UUID | None = None
    domain: str | None = Field(default=None, max_length=255)
    country: Country | None = None
    industry: str | None = Field(default=None, max_length=200)
    company_size: CompanySize | None = None


class OpportunityFilters(Filters):
    account_id: UUID | None = None
    contact_id: UUID | None = None
    owner_id: UUID | None = None
    stage: OpportunityStage | None = None
    type: OpportunityType | None = None


class TaskFilters(BaseModel):
    assignee_id: UUID | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    lead_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    opportunity_id: UUID | None = None
    overdue: bool | None = Field(default=None, description="true: open tasks whose due time has passed")
    due_after: datetime | None = None
    due_before: datetime | None = None


def _equal(filters: BaseModel) -> dict[str, Any]:
    values = filters.model_dump()
    if values.get("email"):
        values["email_key"] = values.pop("email").casefold()
    else:
        values.pop("email", None)
    return values


def record_routes(
    *,
    prefix: str,
    tag: str,
    scope: str,
    kind: records.Kind,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
    read_model: type[ResourceRead],
    filters_model: type[BaseModel],
    create: Callable[[Context, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    update: Callable[..., Awaitable[dict[str, Any]]] | None = None,
    list_records: Callable[..., Awaitable[Any]] | None = None,
    archive: bool = True,
    sortable: tuple[str, ...] = ("created_at",),
) -> APIRouter:
    router = APIRouter(prefix=f"/{prefix}", tags=[tag], route_class=CrmRoute)
    noun = kind.name
    sort = sort_enum(f"{tag.replace(' ', '')}Sort", *sortable)
    id_path = f"/{{{noun}_id}}"

    async def create_record(
        request: Request,
        body: create_model,
        ctx: Annotated[Context, require_idempotent(f"{scope}:write")],  # type: ignore[valid-type]
    ) -> Response:
        values = body.model_dump()  # type: ignore[attr-defined]
        row = await (create(ctx, values) if create else records.create(ctx, kind, values))
        return resource_response(
            request, read_model.model_validate(row), status_code=201, location=f"/v1/{prefix}/{row['id']}"
        )

    async def list_(
        ctx: Annotated[Context, require(f"{scope}:read")],
        page: Annotated[Paging, paging(sort)],
        filters: Annotated[filters_model, Query()],  # type: ignore[valid-type]
    ) -> Response:
        if list_records is not None:
            result = await list_records(
                ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
            )  # type: ignore[attr-defined]
        else:
            result = await records.list_records(
                ctx, kind, sort=page.sort, cursor=page.cursor, limit=page.limit, **_equal(filters)
            )
        return page_response(read_model, result.rows, result.next_cursor)

    async def get_(request: Request, record_id: UUID, ctx: Annotated[Context, require(f"{scope}:read")]) -> Response:
        return resource_response(request, read_model.model_validate(await records.get(ctx, kind, record_id)))

    async def update_(
        request: Request,
        record_id: UUID,
        body: update_model,  # type: ignore[valid-type]
        ctx: Annotated[Context, require(f"{scope}:write")],
        if_match: IfMatch = None,
    ) -> Response:
        changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        if update is not None:
            row = await update(ctx, record_id, changes, if_match=if_match)
        else:
            row = (await records.update(ctx, kind, record_id, changes, if_match=if_match))[1]
        return resource_response(request, read_model.model_validate(row))

    async def archive_(
        request: Request, record_id: UUID, ctx: Annotated[Context, require(f"{scope}:write")], if_match: IfMatch = None
    ) -> Response:
        row = await records.archive(ctx, kind, record_id, if_match=if_match)
        return resource_response(request, read_model.model_validate(row))

    get_, update_, archive_ = (_with_id(f, f"{noun}_id") for f in (get_, update_, archive_))
    article = "an" if noun[0] in "aeiou" else "a"
    router.add_api_route(
        "", create_record, methods=["POST"], status_code=201, summary=f"Create {article} {noun}",
        response_model=read_model, name=f"create_{noun}",
    )  # fmt: skip
    router.add_api_route(
        "", list_, methods=["GET"], summary=f"List {prefix}", response_model=Page[read_model],
        name=f"list_{prefix.replace('-', '_')}",
    )
    router.add_api_route(
        id_path, get_, methods=["GET"], summary=f"Get {article} {noun}", response_model=read_model,
        openapi_extra={"x-conditional": True}, name=f"get_{noun}",
    )  # fmt: skip
    router.add_api_route(
        id_path, update_, methods=["PATCH"], summary=f"Update {article} {noun}", response_model=read_model,
        name=f"update_{noun}",
    )  # fmt: skip
    if archive:
        router.add_api_route(
            id_path, archive_, methods=["DELETE"], response_model=read_model, name=f"archive_{noun}",
            summary=f"Archive {article} {noun} (hidden from lists unless archived=true)",
        )  # fmt: skip
    return router


def _with_id(function: Callable[..., Awaitable[Response]], name: str) -> Callable[..., Awaitable[Response]]:
    """The endpoint with its `record_id` parameter named `name` (e.g. `account_id`): FastAPI takes
    path parameter names from the signature."""

    async def endpoint(**kwargs: Any) -> Response:
        kwargs["record_id"] = kwargs.pop(name)
        return await function(**kwargs)

    signature = inspect.signature(function)
    parameters = [p.replace(name=name) if p.name == "record_id" else p for p in signature.parameters.values()]
    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = function.__name__
    return endpoint


accounts = record_routes(
    prefix="accounts", tag="Accounts", scope="accounts", kind=relationships.ACCOUNT, create_model=AccountCreate,
    update_model=AccountUpdate, read_model=AccountRead, filters_model=AccountFilters, sortable=("created_at", "name"),
)  # fmt: skip
contacts = record_routes(
    prefix="contacts", tag="Contacts", scope="contacts", kind=relationships.CONTACT, create_model=ContactCreate,
    update_model=ContactUpdate, read_model=ContactRead, filters_model=ContactFilters,
    create=relationships.create_contact, update=relationships.update_contact,
    list_records=relationships.list_contacts, sortable=("created_at", "last_order_at"),
)  # fmt: skip
opportunities = record_routes(
    prefix="opportunities", tag="Opportunities", scope="opportunities", kind=relationships.OPPORTUNITY,
    create_model=OpportunityCreate, update_model=OpportunityUpdate, read_model=OpportunityRead,
    filters_model=OpportunityFilters, create=relationships.create_opportunity, update=relationships.update_opportunity,
)  # fmt: skip
task_routes = record_routes(
    prefix="tasks", tag="Tasks", scope="tasks", kind=tasks.TASK, create_model=TaskCreate, update_model=TaskUpdate,
    read_model=TaskRead, filters_model=TaskFilters, create=tasks.create, update=tasks.update,
    list_records=tasks.list_tasks, archive=False,
)  # fmt: skip


contact_timeline = APIRouter(prefix="/contacts", tags=["Contacts"], route_class=CrmRoute)
TimelineSort = sort_enum("ContactTimelineSort", "occurred_at")


@contact_timeline.get(
    "/{contact_id}/timeline",
    summary="Everything that happened with a contact, in time order (its lead's engagements, activities and tasks too)",
    response_model=TimelinePage,
)
async def get_contact_timeline(
    contact_id: UUID,
    ctx: Annotated[Context, require("contacts:read")],
    page: Annotated[Paging, paging(TimelineSort, "-occurred_at")],
) -> Response:
    data, next_cursor = await timeline.page(
        ctx, "contact", contact_id, sort=page.sort, cursor=page.cursor, limit=page.limit
    )
    return Response(
        TimelinePage.model_validate(
            {"data": data, "next_cursor": next_cursor, "withheld": timeline.withheld_kinds(ctx, "contact")}
        ).model_dump_json(),
        media_type=JSON,
    )
