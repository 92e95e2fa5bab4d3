"""Tasks: follow-ups for a member, about a lead, a contact, an account or a deal."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.relationships import Priority, TaskCreate, TaskRead, TaskStatus, TaskUpdate
from app.services.context import Context
from app.services.customers import records
from app.services.leads import tasks
from app.services.leads.tasks import TASK

router = APIRouter(prefix="/v1/tasks", tags=["Tasks"], route_class=CrmRoute)
TasksSort = sort_enum("TasksSort", "created_at")


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


@router.post("", status_code=201, summary="Create a task", response_model=TaskRead)
async def create_task(body: TaskCreate, ctx: Annotated[Context, require_idempotent("tasks:write")]) -> Answer:
    row = await tasks.create(ctx, body.model_dump())
    return Answer(row, location=f"/v1/tasks/{row['id']}")


@router.get("", summary="List tasks", response_model=Page[TaskRead])
async def list_tasks(
    ctx: Annotated[Context, require("tasks:read")],
    page: Annotated[Paging, paging(TasksSort)],
    filters: Annotated[TaskFilters, Query()],
) -> RowPage:
    return await tasks.list_tasks(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump())


@router.get("/{task_id}", summary="Get a task", response_model=TaskRead, openapi_extra={"x-conditional": True})
async def get_task(task_id: UUID, ctx: Annotated[Context, require("tasks:read")]) -> Row:
    return await records.get(ctx, TASK, task_id)


@router.patch("/{task_id}", summary="Update a task", response_model=TaskRead)
async def update_task(
    task_id: UUID, body: TaskUpdate, ctx: Annotated[Context, require("tasks:write")], if_match: IfMatch = None
) -> Row:
    return await tasks.update(ctx, task_id, body.model_dump(exclude_unset=True), if_match=if_match)
