"""Liveness and readiness probes. Anyone may ask whether the service is up and ready; the details
behind readiness (migration revisions, outbox backlog) are for an admin secret key only
(`/readyz?verbose=1`), since they describe the deployment's internals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from app.domain.workspace.api_keys import ADMIN
from app.ids import utcnow
from app.routers.dependencies import Credentials, authenticate, enforce_rate_limit
from app.routers.problems import problem
from app.routers.route import problem_doc
from app.services import health

router = APIRouter(tags=["Health"])
NOT_READY = "not ready"


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str = Field(description="`ok`")


class ReadinessDetails(Readiness):
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
    summary="Ready to serve: database reachable and migrated to head (details with an admin key)",
    description=(
        'Without `verbose`, anyone gets 200 `{"status": "ok"}` or a 503 problem saying only `not ready`. '
        "With `verbose=1` and an admin secret key, the details: database, migration and expected migration, "
        "outbox backlog and the age of the oldest undelivered item (and, when not ready, why)."
    ),
    response_model=Readiness | ReadinessDetails,
    responses={
        200: {"description": "Ready; with `verbose=1`, the details"},
        401: problem_doc("`verbose=1` without a key, or with a missing, malformed, unknown, revoked or expired one"),
        403: problem_doc("`verbose=1` with a key that lacks the admin scope, or a publishable key"),
        422: problem_doc("`verbose` is not a boolean"),
        429: problem_doc("`verbose=1`: rate limited (requests, or failed authentications from this address)"),
        414: problem_doc("The request target (path and query) is longer than MAX_URL_BYTES (8 KiB by default)"),
        431: problem_doc("The header fields take more than MAX_HEADER_BYTES (32 KiB by default)"),
        500: problem_doc("Unexpected error; carries a request_id, never a stack trace"),
        503: problem_doc("Not ready (with `verbose=1` and an admin key, why)"),
    },
    openapi_extra={"security": [{}]},  # anonymous too; the key only for verbose=1
)
async def get_readiness(
    request: Request,
    credentials: Credentials,
    verbose: Annotated[bool, Query(description="Include the details (an admin secret key only)")] = False,
) -> Response:
    if not verbose:
        report = await health.readiness(request.app.state.database, request.app.state.migration_head, backlog=False)
        if not report.ready:
            return problem(request, 503, detail=NOT_READY)
        return JSONResponse(Readiness(status="ok").model_dump())
    caller = await authenticate(request, credentials.credentials if credentials else None, utcnow())
    caller.require(ADMIN)
    settings = request.app.state.settings
    await enforce_rate_limit(request, f"key:{caller.key_id}", settings.rate_limit_api_per_minute, "api")
    report = await health.readiness(request.app.state.database, request.app.state.migration_head)
    if not report.ready:
        return problem(request, 503, detail=report.reason)
    return JSONResponse(
        ReadinessDetails(
            status="ok",
            database="ok",
            migration=report.revision,
            expected_migration=report.expected,
            outbox_backlog=report.backlog,
            oldest_undelivered_age_seconds=report.oldest_age_seconds,
        ).model_dump()
    )
