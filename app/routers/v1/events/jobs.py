from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from app.routers.answers import Row, RowPage
from app.routers.dependencies import Paging, paging, require, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.events.jobs import JobRead
from app.services.context import Context
from app.services.events import jobs

router = APIRouter(prefix="/v1/jobs", tags=["Jobs"], route_class=CrmRoute)
JobSort = sort_enum("JobSort", "created_at")


@router.get("", summary="List jobs", response_model=Page[JobRead])
async def list_jobs(
    ctx: Annotated[Context, require("jobs:read")],
    page: Annotated[Paging, paging(JobSort)],
    status: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
) -> RowPage:
    return await jobs.list_jobs(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, status=status, kind=kind)


@router.get(
    "/{job_id}",
    summary="Get a job: status, progress, result or problem",
    response_model=JobRead,
    openapi_extra={"x-conditional": True},
)
async def get_job(job_id: UUID, ctx: Annotated[Context, require("jobs:read")]) -> Row:
    return await jobs.get(ctx, job_id)
