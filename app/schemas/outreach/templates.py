"""Message templates on the wire: what a client writes, what it reads back, the variable
catalogue, and a preview for one person."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from app.domain.outreach.vocabulary import ChannelType
from app.schemas.common import Actor, Name, RequestModel, ResourceRead, Unset, UtcDatetime

Locale = Annotated[
    str,
    Field(
        min_length=2,
        max_length=16,
        pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        examples=["fa"],
        description="The language the template is written in (BCP 47: `fa`, `en`, `fa-IR`). "
        "Default: `fa` when the workspace's default region is IR, else `en`. "
        'A right-to-left language\'s HTML carries `dir="rtl"` and `lang`.',
    ),
]
Subject = Annotated[str, Field(min_length=1, max_length=1000)]
BodyText = Annotated[str, Field(min_length=1, max_length=100_000)]
BodyHtml = Annotated[str, Field(min_length=1, max_length=500_000)]


class WhatsAppTemplateFields(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=512)] = Field(
        description="The name of the template Meta approved", examples=["order_ready"]
    )
    language: Annotated[str, Field(min_length=2, max_length=16)] = Field(
        description="Its language code at Meta", examples=["fa"]
    )
    parameters: Annotated[list[Annotated[str, Field(min_length=1, max_length=2000)]], Field(max_length=50)] = Field(
        default_factory=list,
        description="Its body parameters in order, each a Jinja expression rendered to text "
        "(`person.first_name`, `person.custom_fields.code | fa_digits`)",
        examples=[["person.first_name", "person.custom_fields.order_code | fa_digits"]],
    )


class WhatsAppTemplateRead(BaseModel):
    name: str
    language: str
    parameters: list[str]


_CONTENT = (
    "Jinja2 (sandboxed) over the variables of GET /v1/templates/variables; checked on save: a syntax error "
    "or a variable outside the catalogue is a 422 naming the field and the line"
)


class TemplateCreate(RequestModel):
    name: Name
    channel: ChannelType
    locale: Locale | None = None
    subject: Subject | None = Field(default=None, description=f"Email only, required there. {_CONTENT}")
    body_text: BodyText = Field(description=f"The text (an email's plain-text part). {_CONTENT}")
    body_html: BodyHtml | None = Field(default=None, description=f"Email only, optional; escaped. {_CONTENT}")
    whatsapp_template: WhatsAppTemplateFields | None = Field(default=None, description="WhatsApp only, required there")


class TemplateUpdate(RequestModel):
    """A change of content (subject, bodies, WhatsApp template, locale) is kept as a version."""

    name: Name = Unset
    locale: Locale = Unset
    subject: Subject | None = Unset
    body_text: BodyText = Unset
    body_html: BodyHtml | None = Unset
    whatsapp_template: WhatsAppTemplateFields | None = Unset


class TemplateContentRead(BaseModel):
    locale: str
    subject: str | None
    body_text: str
    body_html: str | None
    whatsapp_template: WhatsAppTemplateRead | None
    sms_parts: int | None = Field(
        default=None, description="SMS only: the parts the raw text takes (an estimate before variables)"
    )


class TemplateRead(ResourceRead, TemplateContentRead):
    id: UUID
    name: str
    channel: ChannelType
    version: int = Field(description="The template's version: +1 on every change, each kept (GET …/versions/{n})")
    archived_at: UtcDatetime | None
    created_by: Actor
    updated_by: Actor


class TemplateVersionRead(ResourceRead, TemplateContentRead):
    """A version as it was written; it never changes (`updated_at` is `created_at`), so its ETag
    (the version number) stays current."""

    template_id: UUID
    version: int = Field(description="The template's version this content was")
    created_by: Actor


class VariableRead(BaseModel):
    name: str = Field(examples=["person.first_name"])
    description: str
    example: str


class VariablesRead(BaseModel):
    variables: list[VariableRead]
    filters: list[VariableRead] = Field(description="Filters beyond Jinja's own (`upper`, `default`, …)")


class PreviewRequest(RequestModel):
    """Exactly one of `lead_id` and `contact_id`: whom to render the template for."""

    lead_id: UUID | None = None
    contact_id: UUID | None = None
    version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="An earlier version (default: current)"
    )


class PreviewRead(BaseModel):
    subject: str | None
    body_text: str
    body_html: str | None
    sms_parts: int | None = Field(description="SMS only: the parts the rendered text takes")
    encoding: str | None = Field(description="SMS only: gsm7 | ucs2")
    whatsapp_parameters: list[str] | None
