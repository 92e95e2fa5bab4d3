from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from app.domain.leads.lifecycle import Source
from app.domain.leads.scoring import FormEngagement
from app.domain.outreach.vocabulary import ChannelType
from app.domain.workspace.api_keys import normalize_origin
from app.schemas.common import Actor, RequestModel, ResourceRead, Unset, UtcDatetime

Url = Annotated[str, Field(max_length=2048, examples=["https://www.example.com/thanks"])]
Origins = list[Annotated[str, Field(max_length=300)]]


def _origins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    clean = []
    for value in values:
        origin = normalize_origin(value)
        if origin is None:
            raise ValueError(f"{value!r} is not an origin such as https://www.example.com")
        if origin not in clean:
            clean.append(origin)
    return clean


class FormConsent(RequestModel):
    """A checkbox of the form that gives consent on a channel, and the words it showed."""

    field: Annotated[str, Field(min_length=1, max_length=100, description="The form field of the checkbox")]
    channel: ChannelType
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=5000,
            description="The consent text the form shows beside the checkbox, kept as the consent's proof",
            examples=["Send me the newsletter and offers by email. I can unsubscribe at any time."],
        ),
    ]


def _consents(values: list[FormConsent] | None) -> list[FormConsent] | None:
    if values is None:
        return None
    fields, channels = set(), set()
    for item in values:
        if item.field in fields:
            raise ValueError(f"the field {item.field!r} is mapped twice")
        if item.channel in channels:
            raise ValueError(f"the channel {item.channel.value!r} is given twice")
        fields.add(item.field)
        channels.add(item.channel)
    return values


Consents = Annotated[
    list[FormConsent],
    Field(
        max_length=3,
        description="Checkboxes that give a channel's consent to a new person: ticked (`on`, `true`, `yes`, `1`), "
        "email consent is `pending_confirmation` until the person clicks the confirmation email's link (the "
        "workspace's `double_opt_in`, default on; off: `opted_in`), SMS and WhatsApp consent `opted_in`; the "
        "proof is the submission id, IP, user agent and this text. A post never changes the consent of someone "
        "already known; a known person whose email consent is not settled (`unknown` or `pending_confirmation`) "
        "gets the confirmation email, and only its link changes their consent",
    ),
]


class FormFields(RequestModel):
    field_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Form field -> lead field (`email`, `first_name`, ...) or `custom_fields.<key>`. Fields named "
        "like a lead field map to it without an entry.",
        examples=[{"your-email": "email", "budget": "custom_fields.budget"}],
    )
    allowed_origins: Origins = Field(
        default_factory=list, description="Origins whose pages may post this form; empty = any (narrowed by the key's)"
    )
    redirect_url: Url | None = Field(default=None, description="Plain HTML forms are sent here (303) on success")
    error_redirect_url: Url | None = Field(
        default=None, description="...and here on invalid input, with `error` and `fields` query parameters"
    )
    honeypot_field: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="A hidden field people leave empty and bots fill in"
    )
    min_fill_seconds: int = Field(default=0, ge=0, le=3600, description="Faster submissions (by `_ts`) are spam")
    default_source: Source = Source.WEB_FORM
    default_tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    default_owner_id: UUID | None = None
    engagement_type: FormEngagement | None = Field(
        default=None,
        description="What a submission records on its lead, new or known: `newsletter_signup` or "
        "`content_download` (free information: an IAL), `demo_request`, `quote_request` or `meeting_booked` (a "
        "buying signal: the new lead is hot and an SQL at capture, and is routed as one), `form_submit`. Null: a "
        "new lead records nothing and a known one a `form_submit`",
    )
    consents: Consents = Field(default_factory=list)

    _clean_origins = field_validator("allowed_origins")(_origins)
    _unique_consents = field_validator("consents")(_consents)


class FormCreate(FormFields):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class FormUpdate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] = Unset
    field_mapping: dict[str, str] = Unset
    allowed_origins: Origins = Unset
    redirect_url: Url | None = None
    error_redirect_url: Url | None = None
    honeypot_field: Annotated[str, Field(max_length=100)] | None = None
    min_fill_seconds: int = Field(default=Unset, ge=0, le=3600)
    default_source: Source = Unset
    default_tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Unset
    default_owner_id: UUID | None = None
    engagement_type: FormEngagement | None = None
    consents: Consents = Unset

    _clean_origins = field_validator("allowed_origins")(_origins)
    _unique_consents = field_validator("consents")(_consents)


class FormRead(ResourceRead):
    id: UUID
    name: str
    field_mapping: dict[str, str]
    allowed_origins: list[str]
    redirect_url: str | None
    error_redirect_url: str | None
    honeypot_field: str | None
    min_fill_seconds: int
    default_source: Source
    default_tags: list[str]
    default_owner_id: UUID | None
    engagement_type: FormEngagement | None = None
    consents: list[FormConsent] = Field(default_factory=list)
    created_by: Actor

    @field_validator("consents", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class SubmissionRead(BaseModel):
    id: UUID
    form_id: UUID
    lead_id: UUID | None
    contact_id: UUID | None = Field(default=None, description="A returning customer's submission: no new lead")
    merged: bool = Field(default=False, description="It matched an open lead (same email or phone) and counts there")
    spam: bool
    spam_reason: str | None
    fields: dict[str, Any] = Field(
        description="The fields as sent; {} once the workspace's `retention.form_submission_days` passed"
    )
    meta: dict[str, Any] = Field(
        description="ip, user_agent, origin, referrer, utm_*, visitor_id, consents (the texts of the ticked "
        "consent boxes); ip and user_agent are removed once `retention.form_submission_days` passed"
    )
    created_at: UtcDatetime


class SubmissionAccepted(BaseModel):
    """The public answer to a submission: the same shape for a new person, a known one, a returning
    customer and spam, so a form tells a stranger nothing about who is already known."""

    submission_id: UUID = Field(
        description="The submission's id. A secret key finds the lead it became in "
        "`GET /v1/forms/{id}/submissions` (`lead_id`)."
    )
