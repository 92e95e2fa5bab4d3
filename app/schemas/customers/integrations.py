"""Shop integrations (Shopify, WooCommerce) on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from app.domain.customers.shops import Platform
from app.schemas.common import Actor, RequestModel, ResourceRead, Unset, UtcDatetime

ShopDomain = Annotated[
    str,
    Field(
        max_length=255,
        pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
        description="The shop's myshopify.com domain (what Shopify sends in X-Shopify-Shop-Domain)",
        examples=["example-shop.myshopify.com"],
    ),
]
StoreUrl = Annotated[
    str,
    Field(
        max_length=2048,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="The store's address (what WooCommerce sends in X-WC-Webhook-Source)",
        examples=["https://shop.example"],
    ),
]
Secret = Annotated[
    str,
    Field(
        min_length=8,
        max_length=500,
        description="The secret the platform signs webhooks with (Shopify: the app's client secret or the "
        "store's webhook signing key; WooCommerce: the webhook's Secret). Write-only: never returned.",
    ),
]
Status = Literal["active", "paused"]


class IntegrationCreate(RequestModel):
    platform: Platform
    name: Annotated[str, Field(max_length=200)] | None = None
    shop_domain: ShopDomain | None = Field(default=None, description="Shopify only (required)")
    store_url: StoreUrl | None = Field(default=None, description="WooCommerce only (required)")
    webhook_secret: Secret

    @field_validator("shop_domain", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class IntegrationUpdate(RequestModel):
    name: Annotated[str, Field(max_length=200)] | None = None
    webhook_secret: Secret = Field(default=Unset, description="Rotate the signing secret")
    status: Status = Field(
        default=Unset,
        description="paused: deliveries are answered 503 (the platform retries them later); nothing is applied",
    )


class IntegrationRead(ResourceRead):
    id: UUID
    platform: Platform
    name: str | None
    shop_domain: str | None
    store_url: str | None
    status: Status
    last_received_at: UtcDatetime | None
    received_count: int = Field(description="Verified deliveries received (redeliveries included)")
    failure_count: int = Field(description="Verified deliveries that could not be applied (see /failures)")
    last_failure_at: UtcDatetime | None
    archived_at: UtcDatetime | None
    webhook_url: str | None = Field(
        default=None,
        description="Where the platform sends webhooks: this server's address + webhook_path (in API responses)",
    )
    created_by: Actor
    updated_by: Actor

    @computed_field(description="The integration's webhook path, relative to this server")  # type: ignore[prop-decorator]
    @property
    def webhook_path(self) -> str:
        return f"/v1/integrations/{self.id}/{self.platform.value}/webhooks"


class IntegrationFailureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    integration_id: UUID
    delivery_id: str | None = Field(description="The platform's webhook (delivery) id")
    topic: str
    error: dict[str, Any] = Field(description="A problem document: why the payload could not be applied")
    payload: Any = Field(description="The body as received (null when it was not JSON)")
    received_at: UtcDatetime


class WebhookReceipt(BaseModel):
    status: Literal["applied", "duplicate", "ignored", "failed", "recorded", "pong"] = Field(
        description="applied: mapped and stored; duplicate: this delivery id was received before (nothing "
        "changed); ignored: a topic the CRM does not use; failed: verified but not applicable, kept under "
        "/failures; recorded: a privacy request, announced as integration.privacy_request; pong: a ping"
    )
    results: list[dict[str, Any]] = Field(default_factory=list, description="The orders/customers batch results")


class PrivacyRequest(BaseModel):
    integration_id: UUID
    platform: Platform
    topic: str = Field(examples=["customers/redact"])
    shop_domain: str | None
    customer: dict[str, Any] | None = Field(
        description='The customer named by the request, by the shop\'s customer id only (`{"id"}`)'
    )
    orders: list[Any] = Field(default_factory=list, description="Order ids requested or to redact")
    privacy_request_id: UUID | None = Field(
        default=None,
        description="The privacy request it started: an erasure for `customers/redact` "
        "(`GET /v1/privacy/erasures/{id}`), an export for `customers/data_request` (`GET /v1/privacy/exports/{id}`)",
    )
    job_id: UUID | None = Field(
        default=None,
        description="`shop/redact`: the `privacy.shop_redact` job erasing every contact that came only from that "
        "shop (`GET /v1/jobs/{id}`), each by an erasure request of its own",
    )
    received_at: UtcDatetime
