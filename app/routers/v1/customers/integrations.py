"""Shop integrations (admin) and the webhook URLs Shopify and WooCommerce deliver to (no API key:
each delivery is verified by its HMAC signature with the integration's secret)."""

from types import TracebackType
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from app.domain.customers.shops import Platform
from app.domain.errors import NotFound, TooManyRequests, Unauthorized
from app.ids import utcnow
from app.ratelimit import Verdict
from app.routers.answers import Answer, RowPage
from app.routers.dependencies import IfMatch, Paging, enforce_rate_limit, paging, require, require_idempotent, sort_enum
from app.routers.problems import PayloadTooLarge, UnsupportedMediaType
from app.routers.route import CrmRoute, is_json, problem_doc, read_body
from app.schemas.common import Page
from app.schemas.customers.integrations import (
    IntegrationCreate,
    IntegrationFailureRead,
    IntegrationRead,
    IntegrationUpdate,
    WebhookReceipt,
)
from app.services.context import SERVICE_SCOPES, Context
from app.services.customers import integrations, records
from app.services.customers.integrations import INTEGRATION, Delivery

router = APIRouter(prefix="/v1/integrations", tags=["Integrations"], route_class=CrmRoute)
webhook_router = APIRouter(prefix="/v1/integrations", tags=["Integrations"], route_class=CrmRoute)
IntegrationSort = sort_enum("IntegrationSort", "created_at")
FailureSort = sort_enum("IntegrationFailureSort", "received_at")
# The most a webhook body may be, read before its signature is checked (so an unverified sender
# can make this process hold at most this much). Neither platform documents a cap for HTTPS
# deliveries; what they do say: Shopify sends webhook payloads of up to 1,000,000 bytes inline
# through Amazon EventBridge and falls back to {"id": ...} beyond (shopify.dev changelog,
# "Amazon EventBridge webhook payload size limit increased to 1 MB", 2026-11-17), and its staff
# answer that bodies "can be upwards of a megabyte depending on the customer/order"
# (community.shopify.com, "Webhook requests exceed max size"); an order takes at most 500 lines
# (draft orders: 499, shopify.dev changelog 2025-07), each about 1 KB in the published
# orders/create sample, repeated in its fulfillments and refunds: about 1.5 MB at worst, 4 MB with
# every line's taxes, discounts and properties. WooCommerce sends the order as its REST API
# returns it (WC_Webhook::build_payload), a few hundred bytes a line. 8 MiB holds twice the worst
# of those.
WEBHOOK_BODY_LIMIT = 8 * 1024 * 1024


class IntegrationFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only disconnected (archived) integrations")
    platform: Platform | None = None
    status: str | None = Field(default=None, pattern="^(active|paused)$")


def _read(request: Request, row: dict) -> IntegrationRead:  # type: ignore[type-arg]
    read = IntegrationRead.model_validate(row)
    read.webhook_url = str(request.base_url).rstrip("/") + read.webhook_path
    return read


@router.post(
    "",
    status_code=201,
    summary="Connect a Shopify shop or a WooCommerce store",
    description="Answers the integration with its `webhook_url`: register that URL in the shop for the order, "
    "refund and customer topics, signed with `webhook_secret`.",
    response_model=IntegrationRead,
)
async def create_integration(
    request: Request, body: IntegrationCreate, ctx: Annotated[Context, require_idempotent("admin")]
) -> Answer:
    row = await records.create(ctx, INTEGRATION, body.model_dump())
    return Answer(_read(request, row), location=f"/v1/integrations/{row['id']}")


@router.get("", summary="List shop integrations", response_model=Page[IntegrationRead])
async def list_integrations(
    request: Request,
    ctx: Annotated[Context, require("admin")],
    page: Annotated[Paging, paging(IntegrationSort)],
    filters: Annotated[IntegrationFilters, Query()],
) -> RowPage:
    values = filters.model_dump()
    result = await records.list_records(
        ctx, INTEGRATION, sort=page.sort, cursor=page.cursor, limit=page.limit, **values
    )
    return RowPage([_read(request, row).model_dump() for row in result.rows], result.next_cursor)


@router.get(
    "/{integration_id}",
    summary="Get a shop integration (status, counters, webhook URL)",
    response_model=IntegrationRead,
    openapi_extra={"x-conditional": True},
)
async def get_integration(
    request: Request, integration_id: UUID, ctx: Annotated[Context, require("admin")]
) -> IntegrationRead:
    return _read(request, await records.get(ctx, INTEGRATION, integration_id))


@router.patch(
    "/{integration_id}",
    summary="Rename, pause/resume or rotate the secret of a shop integration",
    response_model=IntegrationRead,
)
async def update_integration(
    request: Request,
    integration_id: UUID,
    body: IntegrationUpdate,
    ctx: Annotated[Context, require("admin")],
    if_match: IfMatch = None,
) -> IntegrationRead:
    changes = body.model_dump(exclude_unset=True)
    _, row = await records.update(ctx, INTEGRATION, integration_id, changes, if_match=if_match)
    return _read(request, row)


@router.delete(
    "/{integration_id}",
    summary="Disconnect a shop integration (archived; its webhook URL answers 404 from now on)",
    response_model=IntegrationRead,
)
async def archive_integration(
    request: Request, integration_id: UUID, ctx: Annotated[Context, require("admin")], if_match: IfMatch = None
) -> IntegrationRead:
    return _read(request, await records.archive(ctx, INTEGRATION, integration_id, if_match=if_match))


@router.get(
    "/{integration_id}/failures",
    summary="Verified deliveries that could not be applied, with the payload and why",
    response_model=Page[IntegrationFailureRead],
)
async def list_integration_failures(
    integration_id: UUID,
    ctx: Annotated[Context, require("admin")],
    page: Annotated[Paging, paging(FailureSort, "-received_at")],
) -> RowPage:
    return await integrations.failures(ctx, integration_id, sort=page.sort, cursor=page.cursor, limit=page.limit)


shopify_signature = APIKeyHeader(
    name="X-Shopify-Hmac-Sha256",
    scheme_name="ShopifyHmac",
    description="Base64 HMAC-SHA256 of the raw body with the integration's webhook secret (Shopify signs it)",
    auto_error=False,
)
woocommerce_signature = APIKeyHeader(
    name="X-WC-Webhook-Signature",
    scheme_name="WooCommerceSignature",
    description="Base64 HMAC-SHA256 of the raw body with the integration's webhook secret (WooCommerce signs it)",
    auto_error=False,
)
_WEBHOOK_RESPONSES = {
    401: problem_doc(
        "The signature is missing or does not match the integration's secret, or (Shopify) "
        "X-Shopify-Shop-Domain is not the integration's shop; nothing was stored"
    ),
    404: problem_doc("No live integration of this platform with this id (answered before the body is read)"),
    413: problem_doc(f"The body is larger than {WEBHOOK_BODY_LIMIT} bytes: refused as it streams, unverified"),
    415: problem_doc("The body is not JSON (WooCommerce: nor its form-encoded ping)"),
    429: problem_doc(
        "More verified deliveries this minute than the integration's limit "
        "(RATE_LIMIT_SHOP_WEBHOOK_PER_MINUTE, policy `shop-webhook`), or more unverified requests from this "
        "address to this URL than RATE_LIMIT_SHOP_WEBHOOK_UNVERIFIED_PER_MINUTE (policy `shop-webhook-unverified`, "
        "refused before the body is read): deliver again after Retry-After"
    ),
    503: problem_doc("The integration is paused: deliver again later (Retry-After)"),
}
_ANY_JSON = {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}}
# The endpoint reads the body itself, once the sending address is not refused and the URL names a
# live integration.
_WEBHOOK_EXTRA = {"x-max-body-bytes": WEBHOOK_BODY_LIMIT, "x-streamed-body": True, "requestBody": _ANY_JSON}

UNVERIFIED = "shop-webhook-unverified"
# What a request that is not a verified delivery is answered: each counts against its address.
_UNVERIFIED_ANSWERS = (PayloadTooLarge, UnsupportedMediaType, NotFound, Unauthorized)


class _Unverified:
    """Requests to a webhook URL that are not verified deliveries, counted per client IP and URL
    (RATE_LIMIT_SHOP_WEBHOOK_UNVERIFIED_PER_MINUTE). An address over the limit is refused on
    entry, before its body is read; leaving with a refusal (404, 413, 415, 401) counts one more,
    and the refusal that passes the limit is answered 429. Verified deliveries are never counted
    here: the platforms send every shop's webhooks from shared addresses, so a per-address limit
    on them would refuse one shop's deliveries for another's traffic."""

    def __init__(self, request: Request, integration_id: UUID) -> None:
        self.limiter = request.app.state.rate_limiter
        self.limit: int = request.app.state.settings.rate_limit_shop_webhook_unverified_per_minute
        address = request.client.host if request.client else "unknown"
        # Per URL as well as per address: a shop with a wrong secret, whose refused deliveries come
        # from the platform's shared addresses, must not get other shops' deliveries refused.
        self.bucket = f"{UNVERIFIED}:{address}:{integration_id}"

    async def __aenter__(self) -> "_Unverified":
        if self.limiter is not None:
            verdict = await self.limiter.peek(self.bucket, self.limit)
            if not verdict.allowed:
                raise self._refused(verdict)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.limiter is not None and isinstance(exc, _UNVERIFIED_ANSWERS):
            verdict = await self.limiter.hit(self.bucket, self.limit)
            if not verdict.allowed:
                raise self._refused(verdict) from exc

    async def count(self) -> None:
        """Count a request that was answered without a signature (WooCommerce's ping)."""
        if self.limiter is not None:
            await self.limiter.hit(self.bucket, self.limit)

    def _refused(self, verdict: Verdict) -> TooManyRequests:
        return TooManyRequests(
            f"more than {self.limit} unverified requests a minute from this address to this webhook URL "
            f"({UNVERIFIED}); retry in {verdict.reset_seconds} s",
            headers=verdict.headers(UNVERIFIED),
        )


async def _count_verified(request: Request, integration_id: UUID) -> None:
    """Count a verified delivery against its integration's limit (once: a rerun after a lost race
    is the same delivery)."""
    if not getattr(request.state, "shop_webhook_counted", False):
        settings = request.app.state.settings
        await enforce_rate_limit(
            request, f"shop-webhook:{integration_id}", settings.rate_limit_shop_webhook_per_minute, "shop-webhook"
        )
        request.state.shop_webhook_counted = True


async def _verified(request: Request, integration_id: UUID, platform: Platform, delivery: Delivery) -> dict[str, Any]:
    """The integration the delivery (its body already read) is for, once its signature is verified."""
    if not is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("platforms send webhooks as JSON with Content-Type: application/json")
    return await integrations.authenticate(request.state.uow, integration_id, platform, delivery)


async def _receive(request: Request, integration: dict[str, Any], delivery: Delivery) -> WebhookReceipt:
    """Count a verified delivery against its integration's limit, then apply it."""
    await _count_verified(request, integration["id"])
    ctx = Context(
        request.state.uow,
        integration["workspace_id"],
        integrations.actor_of(integration),
        utcnow(),
        scopes=SERVICE_SCOPES,
    )
    return WebhookReceipt.model_validate(await integrations.receive(ctx, integration, delivery))


@webhook_router.post(
    "/{integration_id}/shopify/webhooks",
    summary="Receive a Shopify webhook (orders, refunds, customers, privacy topics)",
    description="Verifies `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with the integration's "
    "secret) and that `X-Shopify-Shop-Domain` is the integration's shop before anything else; applies each "
    "`X-Shopify-Webhook-Id` once, however late a retry comes (no delivery is refused for its age). Topics: "
    "orders/create, orders/updated, orders/paid, orders/cancelled, orders/fulfilled, orders/partially_fulfilled, "
    "refunds/create, customers/create, customers/update, and the privacy topics customers/data_request, "
    "customers/redact, shop/redact (recorded and announced as `integration.privacy_request`). Other topics are "
    "acknowledged and ignored. A verified payload that cannot be applied is answered 200 and kept under `/failures`.",
    response_model=WebhookReceipt,
    responses=_WEBHOOK_RESPONSES,
    openapi_extra=_WEBHOOK_EXTRA,
)
async def receive_shopify_webhook(
    request: Request,
    integration_id: UUID,
    topic: Annotated[str, Header(alias="X-Shopify-Topic", max_length=100)] = "",
    hmac_signature: Annotated[str | None, Security(shopify_signature)] = None,
    webhook_id: Annotated[str | None, Header(alias="X-Shopify-Webhook-Id", max_length=255)] = None,
    shop_domain: Annotated[str | None, Header(alias="X-Shopify-Shop-Domain", max_length=255)] = None,
) -> WebhookReceipt:
    async with _Unverified(request, integration_id):
        await integrations.require_live(request.app.state.database, integration_id, Platform.SHOPIFY)
        body = await read_body(request, WEBHOOK_BODY_LIMIT)  # a rerun reads the body kept by the first run
        delivery = Delivery(topic, webhook_id, hmac_signature, body, shop_domain)
        integration = await _verified(request, integration_id, Platform.SHOPIFY, delivery)
    return await _receive(request, integration, delivery)


@webhook_router.post(
    "/{integration_id}/woocommerce/webhooks",
    summary="Receive a WooCommerce webhook (orders, customers; the creation ping)",
    description="Verifies `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body with the webhook's "
    "secret); applies each `X-WC-Webhook-Delivery-ID` once. Topics: order.created, order.updated, "
    "order.restored (refunds arrive inside the order), customer.created, customer.updated; others are "
    "acknowledged and ignored. The unsigned ping WooCommerce sends when a webhook is saved "
    "(`webhook_id=N`, form-encoded) is answered 200 and changes nothing.",
    response_model=WebhookReceipt,
    responses=_WEBHOOK_RESPONSES,
    openapi_extra=_WEBHOOK_EXTRA,
)
async def receive_woocommerce_webhook(
    request: Request,
    integration_id: UUID,
    topic: Annotated[str, Header(alias="X-WC-Webhook-Topic", max_length=100)] = "",
    wc_signature: Annotated[str | None, Security(woocommerce_signature)] = None,
    delivery_id: Annotated[str | None, Header(alias="X-WC-Webhook-Delivery-ID", max_length=255)] = None,
    source: Annotated[str | None, Header(alias="X-WC-Webhook-Source", max_length=2048)] = None,
) -> WebhookReceipt:
    async with _Unverified(request, integration_id) as unverified:
        await integrations.require_live(request.app.state.database, integration_id, Platform.WOOCOMMERCE)
        body = await read_body(request, WEBHOOK_BODY_LIMIT)  # a rerun reads the body kept by the first run
        if wc_signature is None and not topic and integrations.is_woocommerce_ping(body):
            await unverified.count()  # unsigned, so it counts as any unverified request
            return WebhookReceipt(status="pong")
        delivery = Delivery(topic, delivery_id, wc_signature, body, source)
        integration = await _verified(request, integration_id, Platform.WOOCOMMERCE, delivery)
    return await _receive(request, integration, delivery)
