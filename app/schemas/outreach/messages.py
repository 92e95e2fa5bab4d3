"""Messages: what a client sends (`POST /v1/messages`, its batch) and reads back."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.domain.outreach.vocabulary import BlockReason, ChannelType, MessageStatus, Purpose
from app.schemas.common import Actor, BatchRequest, RequestModel, ResourceRead, UtcDatetime

MAX_BATCH = 1000


class MessageCreate(RequestModel):
    lead_id: UUID | None = Field(default=None, description="The recipient: a lead, or")
    contact_id: UUID | None = Field(default=None, description="a contact (exactly one of the two)")
    channel: ChannelType
    channel_id: UUID | None = Field(default=None, description="Which channel of that type; default: its default")
    template_id: UUID | None = Field(default=None, description="A template of the same channel, or inline content")
    subject: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="Inline content (email)"
    )
    body_text: Annotated[str, Field(min_length=1, max_length=100_000)] | None = Field(
        default=None, description="Inline content; rendered with the template variables like a template"
    )
    body_html: Annotated[str, Field(min_length=1, max_length=500_000)] | None = Field(
        default=None, description="Inline content (email)"
    )
    purpose: Purpose = Field(
        description="`marketing` needs the person's consent (per the messaging settings) and waits for quiet "
        "hours and the frequency cap; `transactional` (a receipt, a booked meeting) is stopped only by a suppression"
    )
    send_at: UtcDatetime | None = Field(default=None, description="Not before this instant; default: now")

    @model_validator(mode="after")
    def _one_recipient_and_content(self) -> MessageCreate:
        if (self.lead_id is None) == (self.contact_id is None):
            raise ValueError("give exactly one of lead_id and contact_id")
        if self.template_id is None and self.body_text is None:
            raise ValueError("give template_id or inline body_text")
        if self.template_id is not None and any(v is not None for v in (self.subject, self.body_text, self.body_html)):
            raise ValueError("give template_id or inline content, not both")
        return self


class MessageBatch(BatchRequest):
    messages: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Each item as for POST /v1/messages"
    )


class MessageBatchItemResult(BaseModel):
    index: int
    status: Literal["queued", "blocked", "error"]
    id: UUID | None = None
    block_reason: BlockReason | None = None
    problem: dict[str, Any] | None = None


class MessageBatchResult(BaseModel):
    results: list[MessageBatchItemResult]


class MessageStatusChange(BaseModel):
    status: MessageStatus
    detail: str | None
    at: UtcDatetime


class MessageRead(ResourceRead):
    id: UUID
    lead_id: UUID | None
    contact_id: UUID | None
    channel: ChannelType
    channel_id: UUID | None
    purpose: Purpose
    status: MessageStatus
    block_reason: BlockReason | None
    to_address: str | None
    template_id: UUID | None
    template_version: int | None
    subject: str | None
    body_text: str | None
    body_html: str | None
    sms_parts: int | None = Field(description="SMS: the parts the network bills (GSM-7 or UCS-2)")
    email_message_id: str | None = Field(description="Email: its Message-ID header")
    provider_message_id: str | None
    send_at: UtcDatetime = Field(description="When it is (or was) due: asked for, or moved by quiet hours or the cap")
    attempts: int
    last_error: str | None
    automated: bool = Field(description="Sent by a journey, a campaign or a key bound to no member")
    campaign_id: UUID | None = Field(default=None, description="The campaign that sent it")
    sent_at: UtcDatetime | None
    delivered_at: UtcDatetime | None
    opened_at: UtcDatetime | None
    clicked_at: UtcDatetime | None
    replied_at: UtcDatetime | None
    failed_at: UtcDatetime | None
    unsubscribed_at: UtcDatetime | None = Field(
        default=None, description="Its unsubscribe link, List-Unsubscribe or a STOP reply to it was used (first time)"
    )
    complained_at: UtcDatetime | None = Field(default=None, description="Reported as spam (first time)")
    created_by: Actor


class MessageDetail(MessageRead):
    history: list[MessageStatusChange] = Field(description="Every status it went through, oldest first")
