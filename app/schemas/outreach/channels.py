"""Channels on the wire: how the workspace reaches people by email (SMTP), SMS (Kavenegar, Twilio)
and WhatsApp (the Cloud API). Secrets are write-only: a read shows `<name>_set` flags instead."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from app.domain.outreach.delivery import Outcome
from app.domain.outreach.vocabulary import ChannelType, Provider
from app.schemas.common import Actor, RequestModel, ResourceRead, UtcDatetime

Secret = Annotated[str, Field(min_length=1, max_length=2000, description="Write-only: never returned")]
ApiBaseUrl = Annotated[
    str,
    Field(
        max_length=2048,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Another address for the provider's API (a self-hosted gateway); default: the provider's own",
    ),
]
MaxPerSecond = Annotated[int, Field(ge=1, le=1000, description="At most this many messages a second through it")]
Phone = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +14155550100")]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    SECRETS: ClassVar[tuple[str, ...]] = ()


class SmtpSettings(_Settings):
    SECRETS = ("password",)
    host: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")]
    port: Annotated[int, Field(ge=1, le=65535)]
    username: Annotated[str, Field(max_length=500)] | None = None
    password: Secret | None = None
    security: Literal["none", "starttls", "tls"]
    from_email: EmailStr
    from_name: Annotated[str, Field(max_length=200)] | None = None
    reply_to: EmailStr | None = None
    unsubscribe_mailbox: EmailStr | None = Field(
        default=None, description="Where List-Unsubscribe mailto requests go (default: none)"
    )
    max_per_second: MaxPerSecond = 10


class KavenegarSettings(_Settings):
    SECRETS = ("api_key",)
    api_key: Secret
    sender: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9+]+$")]
    api_base_url: ApiBaseUrl | None = None
    max_per_second: MaxPerSecond = 10


class TwilioSettings(_Settings):
    SECRETS = ("auth_token",)
    account_sid: Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]
    auth_token: Secret
    from_: Phone | None = Field(default=None, alias="from")
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None
    api_base_url: ApiBaseUrl | None = None
    max_per_second: MaxPerSecond = 10

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @model_validator(mode="after")
    def _sender(self) -> TwilioSettings:
        if self.from_ is None and self.messaging_service_sid is None:
            raise ValueError("give `from` (an E.164 number) or `messaging_service_sid`")
        return self


class WhatsAppCloudSettings(_Settings):
    SECRETS = ("access_token", "app_secret", "verify_token")
    phone_number_id: Annotated[str, Field(pattern=r"^[0-9]{1,30}$")]
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    api_version: Annotated[str, Field(pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")] = "v21.0"
    api_base_url: ApiBaseUrl | None = None
    max_per_second: MaxPerSecond = 10


SETTINGS: dict[Provider, type[_Settings]] = {
    Provider.SMTP: SmtpSettings,
    Provider.KAVENEGAR: KavenegarSettings,
    Provider.TWILIO: TwilioSettings,
    Provider.WHATSAPP_CLOUD: WhatsAppCloudSettings,
}


class ChannelCreate(RequestModel):
    type: ChannelType
    provider: Provider = Field(description="email: smtp; sms: kavenegar or twilio; whatsapp: whatsapp_cloud")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    settings: dict[str, Any] = Field(
        description="The provider's settings. smtp: host, port, username, password, security (none | starttls | "
        "tls), from_email, from_name, reply_to, unsubscribe_mailbox, max_per_second. kavenegar: api_key, sender. "
        "twilio: account_sid, auth_token, from (E.164) or messaging_service_sid. whatsapp_cloud: phone_number_id, "
        "access_token, app_secret, verify_token, api_version. HTTP providers also take api_base_url; all take "
        "max_per_second (default 10). Secrets are write-only."
    )


class ChannelUpdate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Changed settings only, merged over the current ones; a secret left out is kept, `null` "
        "clears an optional setting",
    )
    is_default: Literal[True] | None = Field(
        default=None, description="true: make this its type's default channel (the previous default stops being it)"
    )


class ChannelRead(ResourceRead):
    id: UUID
    type: ChannelType
    provider: Provider
    name: str
    settings: dict[str, Any] = Field(description="The settings without secrets; `<secret>_set`: whether one is stored")
    is_default: bool
    secrets_readable: bool = Field(
        default=True,
        description="false: the stored secrets cannot be opened with this installation's SECRETS_KEY (it was "
        "changed or lost); every `<secret>_set` is null and the channel sends nothing until the key they were "
        "sealed with is set back or the secrets are entered again (PATCH)",
    )
    callback_url: str = Field(
        description="Where the provider reports deliveries and replies (configure it in the provider's console "
        "where it does not take it per message)"
    )
    archived_at: UtcDatetime | None = None
    created_by: Actor
    updated_by: Actor


class ChannelTest(RequestModel):
    to: Annotated[str, Field(min_length=3, max_length=320, description="An email address or an E.164 phone")]
    text: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class ChannelTestResult(BaseModel):
    outcome: Outcome
    detail: str
    provider_message_id: str | None = None
