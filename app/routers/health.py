"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
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


@router.get("/healthz", summary="Process is up", response_model=Liveness)
async def healthz() -> Liveness:
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
async def readyz(request: Request) -> Response:
    report = await health.readiness(request.app.state.database, request.app.state.migration_head)
    if not report.ready:
        return problem(request, 503, detail=report.reason)
    return JSONResponse(
        Readiness(
            status="ok", database="ok", migration=report.revision, expected_migration=report.expected
        ).model_dump()
    )
