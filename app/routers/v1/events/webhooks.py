from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from app.domain.events.webhooks import EndpointRules
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute, answers_secret
from app.schemas.common import Page
from app.schemas.events.webhooks import (
    DeliveryDetail,
    DeliveryRead,
    ReplayRequest,
    ReplayResult,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)
from app.services.context import Context
from app.services.events import webhooks


def endpoint_rules(request: Request) -> EndpointRules:
    settings = request.app.state.settings
    return EndpointRules(settings.webhook_endpoints_per_workspace, settings.outbound_allow_loopback)


router = APIRouter(prefix="/v1/webhook-endpoints", tags=["Webhooks"], route_class=CrmRoute)
EndpointSort = sort_enum("WebhookEndpointSort", "created_at")
DeliverySort = sort_enum("DeliverySort", "created_at")
# Deliveries name the events sent and keep the start of each reply (which can echo the payload).
COVERING = (
    "Needs a key that may read everything the endpoint's `scopes` may (403 naming the scopes it lacks "
    "otherwise): the endpoint itself is readable with `webhooks:read`, its deliveries are not."
)


@router.post(
    "",
    status_code=201,
    summary="Subscribe an endpoint (the signing secret is shown only here)",
    description="The endpoint records the creating key's scopes (`scopes`) and is delivered only the event types "
    "they may read; no `event_types` means all of those. A type the key may not read is a 422 naming it. "
    "A `url` whose host is an IP address in a refused range (private, loopback, link-local, "
    "shared, documentation and every other special-purpose range; 6to4 and Teredo by the IPv4 address "
    "they carry) is a 422 naming `url` (`address not allowed`); a host name is checked against the "
    "addresses it resolves to each time a delivery connects. A workspace has at most "
    "`WEBHOOK_ENDPOINTS_PER_WORKSPACE` endpoints (operator setting, default 50): over it, 409 "
    "`/problems/limit-exceeded` naming the limit.",
    response_model=WebhookEndpointCreated,
)
@answers_secret
async def create_webhook_endpoint(
    request: Request, body: WebhookEndpointCreate, ctx: Annotated[Context, require_idempotent("webhooks:write")]
) -> Answer:
    row = await webhooks.create(ctx, body.model_dump(), rules=endpoint_rules(request))
    return Answer(row, location=f"/v1/webhook-endpoints/{row['id']}")


@router.get("", summary="List webhook endpoints", response_model=Page[WebhookEndpointRead])
async def list_webhook_endpoints(
    ctx: Annotated[Context, require("webhooks:read")],
    page: Annotated[Paging, paging(EndpointSort)],
    enabled: Annotated[bool | None, Query()] = None,
) -> RowPage:
    return await webhooks.list_endpoints(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, enabled=enabled)


@router.get(
    "/{endpoint_id}",
    summary="Get a webhook endpoint",
    response_model=WebhookEndpointRead,
    openapi_extra={"x-conditional": True},
)
async def get_webhook_endpoint(endpoint_id: UUID, ctx: Annotated[Context, require("webhooks:read")]) -> Row:
    return await webhooks.get(ctx, endpoint_id)


@router.patch(
    "/{endpoint_id}",
    summary="Change or re-enable a webhook endpoint",
    description="Changing `url` or `event_types` needs a key that may read everything the endpoint's `scopes` "
    "may (403 otherwise); new `event_types` must be readable by those scopes (422).",
    response_model=WebhookEndpointRead,
)
async def update_webhook_endpoint(
    request: Request,
    endpoint_id: UUID,
    body: WebhookEndpointUpdate,
    ctx: Annotated[Context, require("webhooks:write")],
    if_match: IfMatch = None,
) -> Row:
    return await webhooks.update(
        ctx, endpoint_id, body.model_dump(exclude_unset=True), if_match=if_match, rules=endpoint_rules(request)
    )


@router.delete(
    "/{endpoint_id}",
    summary="Delete a webhook endpoint (its pending deliveries stop)",
    response_model=WebhookEndpointRead,
)
async def delete_webhook_endpoint(
    endpoint_id: UUID, ctx: Annotated[Context, require("webhooks:write")], if_match: IfMatch = None
) -> Row:
    return await webhooks.delete(ctx, endpoint_id, if_match=if_match)


@router.post(
    "/{endpoint_id}/test",
    status_code=202,
    summary="Send a webhook.test event to this endpoint",
    response_model=None,
    responses={202: {"description": "Queued; watch its deliveries"}},
)
async def test_webhook_endpoint(
    endpoint_id: UUID, ctx: Annotated[Context, require_idempotent("webhooks:write")]
) -> None:
    await webhooks.send_test(ctx, endpoint_id)


@router.get(
    "/{endpoint_id}/deliveries",
    summary="List an endpoint's deliveries",
    description=COVERING,
    response_model=Page[DeliveryRead],
)
async def list_deliveries(
    endpoint_id: UUID,
    ctx: Annotated[Context, require("webhooks:read")],
    page: Annotated[Paging, paging(DeliverySort)],
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, Query()] = None,
) -> RowPage:
    return await webhooks.deliveries(
        ctx, endpoint_id, sort=page.sort, cursor=page.cursor, limit=page.limit, status=status
    )


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    summary="Get a delivery with its attempts",
    description=COVERING,
    response_model=DeliveryDetail,
)
async def get_delivery(endpoint_id: UUID, delivery_id: UUID, ctx: Annotated[Context, require("webhooks:read")]) -> Row:
    row, attempts = await webhooks.delivery(ctx, endpoint_id, delivery_id)
    return {**row, "attempts_log": attempts}


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    summary="Send a delivery again now",
    description=COVERING,
    response_model=DeliveryRead,
)
async def retry_delivery(
    endpoint_id: UUID, delivery_id: UUID, ctx: Annotated[Context, require_idempotent("webhooks:write")]
) -> Row:
    return await webhooks.retry(ctx, endpoint_id, delivery_id)


@router.post(
    "/{endpoint_id}/replay",
    summary="Deliver again the events since a time or sequence number",
    description="Exactly the events the dispatcher would have sent it: those it subscribes to (none listed: every "
    "type, historic ones included) that its `scopes` may read. " + COVERING,
    response_model=ReplayResult,
)
async def replay_events(
    endpoint_id: UUID, body: ReplayRequest, ctx: Annotated[Context, require_idempotent("webhooks:write")]
) -> ReplayResult:
    count = await webhooks.replay(ctx, endpoint_id, since=body.since, since_sequence=body.since_sequence)
    return ReplayResult(deliveries_created=count)
