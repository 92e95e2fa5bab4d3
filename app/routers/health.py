"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from app.routers.problems import PROBLEM_JSON, problem
from app.services import health

router = APIRouter(tags=["Health"])


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    expected_migration: str
    outbox_backlog: int = Field(description="Events not yet dispatched plus webhook deliveries not yet delivered")
    oldest_undelivered_age_seconds: float | None


@router.get("/healthz", summary="Process is up", response_model=Liveness)
async def get_liveness() -> Liveness:
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="Database reachable and migrated to head",
    response_model=Readiness,
    responses={
        503: {
            "description": "Not ready",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
)
async def get_readiness(request: Request) -> Response:
    report = await health.readiness(request.app.state.database, request.app.state.migration_head)
    if not report.ready:
        return problem(request, 503, detail=report.reason)
    return JSONResponse(
        Readiness(
            status="ok",
            database="ok",
            migration=report.revision,
            expected_migration=report.expected,
            outbox_backlog=report.backlog,
            oldest_undelivered_age_seconds=report.oldest_age_seconds,
        ).model_dump()
    )
