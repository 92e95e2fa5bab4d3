"""Engagements in bulk (email tools, tracking back ends) and from the browser tracking snippet."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from app.domain.errors import Forbidden, InvalidInput
from app.domain.leads.capture import origin_allowed
from app.domain.workspace.api_keys import KeyKind
from app.ids import utcnow
from app.routers.answers import Answer
from app.routers.dependencies import Credentials, authenticate, enforce_rate_limit, require_idempotent
from app.routers.problems import UnsupportedMediaType
from app.routers.route import CrmRoute, problem_doc
from app.schemas.common import invalid_input
from app.schemas.leads.engagements import EngagementBatch, EngagementBatchResults, TrackedEngagement, TrackingAccepted
from app.services.context import Context
from app.services.leads import engagements

router = APIRouter(prefix="/v1/engagements", tags=["Engagements"], route_class=CrmRoute)
tracking_router = APIRouter(prefix="/v1/tracking", tags=["Engagements"], route_class=CrmRoute)
BATCH_BODY_LIMIT = 5 * 1024 * 1024
TRACKING_BODY_LIMIT = 8 * 1024


@router.post(
    "",
    summary="Record up to 1,000 engagements, matched to leads by lead_id, email or external_id; per-item results",
    response_model=EngagementBatchResults,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
async def record_engagements(
    body: EngagementBatch, ctx: Annotated[Context, require_idempotent("leads:write")]
) -> EngagementBatchResults:
    return EngagementBatchResults.model_validate({"results": await engagements.engage_batch(ctx, body.engagements)})


@tracking_router.post(
    "/engagements",
    status_code=201,
    summary="Browser tracking snippet: an anonymous visitor's page view, download or video view",
    description="Publishable key in `Authorization` or `?key=`. Send JSON, or the same JSON as `text/plain` "
    "(what `navigator.sendBeacon` does, with no CORS preflight). Only `page_view`, `content_download` and "
    "`video_view`, for a `visitor_id`, never for a lead: they count for a lead once a form submission "
    "carries the same `visitor_id`. When the key has allowed origins, the page's Origin must be one of them.",
    response_model=TrackingAccepted,
    responses={
        413: problem_doc("Request body larger than this operation accepts"),
        415: problem_doc("Not JSON or text/plain"),
    },
    openapi_extra={
        "x-max-body-bytes": TRACKING_BODY_LIMIT,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/TrackedEngagement"}},
                "text/plain": {"schema": {"type": "string", "description": "The same JSON document"}},
            },
        },
    },
)
async def track_engagement(
    request: Request,
    credentials: Credentials,
    key: Annotated[str | None, Query(description="The publishable key, for beacons that cannot set headers")] = None,
) -> Answer:
    now = utcnow()
    origin = request.headers.get("origin")
    caller = await authenticate(request, credentials.credentials if credentials else key, now)
    if caller.kind is not KeyKind.PUBLISHABLE:
        raise Forbidden("track with a publishable key (pk_…); secret keys never belong in a web page")
    allowed = frozenset(o.rstrip("/").lower() for o in caller.allowed_origins) or None
    if not origin_allowed(origin, allowed):
        raise Forbidden(f"origin {origin} may not use this key")
    settings = request.app.state.settings
    client_ip = request.client.host if request.client else "unknown"
    await enforce_rate_limit(request, f"form-ip:{client_ip}", settings.rate_limit_form_per_minute, "form")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("application/json", "text/plain"):
        raise UnsupportedMediaType("send JSON, as application/json or text/plain")
    try:
        item: dict[str, Any] = TrackedEngagement.model_validate_json(await request.body()).model_dump()
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    except ValueError as exc:
        raise InvalidInput.field("body", "malformed JSON") from exc
    ctx = Context(request.state.uow, caller.workspace_id, caller.actor, now, scopes=caller.scopes)
    row = await engagements.track(ctx, item)
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}
    return Answer(TrackingAccepted(id=row["id"]), headers=headers)
