"""Leads and custom fields: the public contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.domain.leads.custom_fields import FieldType
from app.domain.leads.lifecycle import CompanySize, LeadStatus, Source
from app.domain.leads.scoring import Stage, Temperature
from app.domain.leads.sla import SlaStatus
from app.schemas.common import Actor, BatchRequest, Country, RequestModel, ResourceRead, TimeZone, Unset, UtcDatetime

Text = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=300)]
Url = Annotated[str, Field(max_length=2048)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
EditableStatus = Literal["new", "contacted", "nurturing"]


def _tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    seen: list[str] = []
    for tag in (v.strip() for v in value):
        if tag and tag not in seen:
            seen.append(tag)
    return seen


class LeadFields(RequestModel):
    """What a caller may set on a lead (all optional; at least an email or a phone on creation)."""

    first_name: Text | None = None
    last_name: Text | None = None
    email: Annotated[str, Field(max_length=320)] | None = Field(default=None, examples=["sara@example.com"])
    phone: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="As typed; national numbers use the workspace's default_region",
        examples=["0912 345 6789"],
    )
    company: LongText | None = None
    job_title: Text | None = None
    industry: Text | None = None
    company_size: CompanySize | None = None
    country: Country | None = None
    province: Text | None = None
    city: Text | None = None
    timezone: TimeZone | None = Field(
        default=None, description="IANA time zone (quiet hours, local send times); null = the workspace's"
    )
    referred_by_lead_id: UUID | None = Field(default=None, description="The lead who referred this one")
    referred_by_contact_id: UUID | None = Field(
        default=None, description="The customer (contact) who referred this one: a referral lead"
    )
    utm_source: Text | None = None
    utm_medium: Text | None = None
    utm_campaign: Text | None = None
    utm_term: Text | None = None
    utm_content: Text | None = None
    referrer_url: Url | None = None
    landing_page: Url | None = None
    owner_id: UUID | None = Field(default=None, description="The member who owns the lead")
    custom_fields: dict[str, Any] | None = Field(default=None, description="Keys defined under /v1/custom-fields")


class LeadCreate(LeadFields):
    source: Source = Source.OTHER
    channel: Literal["online", "offline"] | None = Field(
        default=None, description="Defaults from the source: web_form, landing_page, chat, social are online"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Your id for the lead: batch upserts match on it"
    )
    status: EditableStatus = "new"

    _clean_tags = field_validator("tags")(_tags)


class LeadUpdate(LeadFields):
    """Send only what changes. `status` moves new → contacted → nurturing; qualifying and
    disqualifying have their own actions."""

    source: Source = Unset
    channel: Literal["online", "offline"] = Unset
    tags: list[Tag] = Field(default=Unset, max_length=50)
    external_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: LeadStatus = Unset
    stage: Stage | None = Field(
        default=None,
        description="Set the stage by hand (`ial`, `mql`, `sql`, or null for none): marketing accepts an MQL "
        "candidate with `mql`. Recorded in the stage history with `cause: manual`; automatic changes never lower "
        "a stage a person set",
    )
    stage_reason: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Why the stage was set, kept in the stage history (only with `stage`)"
    )

    _clean_tags = field_validator("tags")(_tags)


class LeadRead(ResourceRead):
    id: UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    email_key: str | None = Field(description="Casefolded email: what duplicates are matched on")
    phone: str | None
    phone_e164: str | None = Field(description="E.164 when the phone is a possible number, else null")
    phone_valid: bool
    company: str | None
    job_title: str | None
    industry: str | None
    company_size: CompanySize | None
    country: str | None
    province: str | None
    city: str | None
    timezone: str | None = Field(default=None, description="IANA time zone; null = the workspace's")
    source: Source
    channel: str
    referred_by_lead_id: UUID | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    referrer_url: str | None
    landing_page: str | None
    owner_id: UUID | None
    tags: list[str]
    external_id: str | None
    status: LeadStatus
    custom_fields: dict[str, Any] = Field(
        description="Sensitive fields' values only in `GET /v1/leads/{id}` to a key with `sensitive:read` "
        "(never in answers to writes, lists, exports, events or webhooks)"
    )
    archived_at: UtcDatetime | None
    erased_at: UtcDatetime | None = Field(
        default=None,
        description="Set when a privacy erasure left this lead a tombstone: same id, its personal data gone",
    )
    merged_into_id: UUID | None
    score: float = Field(description="0-100, fit + behaviour; see GET /v1/leads/{id}/score for the explanation")
    fit_score: float
    behavior_score: float
    scored_at: UtcDatetime | None
    temperature: Temperature = Field(
        description="From behaviour: hot on a recent buying signal, warm on repeated engagement, else cold"
    )
    stage: Stage | None = Field(
        description="ial (only sought free information), mql (accepted by marketing), sql (sales can follow up), "
        "or null: no qualifying signal yet"
    )
    mql_candidate: bool = Field(
        default=False,
        description="The score reached the MQL threshold and the lead waits for marketing to accept it "
        "(`PATCH stage: mql`); only while /v1/settings/scoring mql_requires_acceptance is true",
    )
    stage_manual: bool = Field(
        default=False,
        description="A person set the stage: automatic changes then only raise it, on a new signal, never lower it",
    )
    last_engaged_at: UtcDatetime | None
    sla_status: SlaStatus = Field(description="First-response SLA: pending, met, breached or not_applicable")
    first_response_due_at: UtcDatetime | None = Field(description="When the first response is due (working time)")
    first_responded_at: UtcDatetime | None
    first_response_seconds: float | None = Field(description="Working seconds from capture to the first response")
    team_id: UUID | None = Field(description="The team the lead was routed through, if any")
    assigned_at: UtcDatetime | None
    qualified_at: UtcDatetime | None = None
    account_id: UUID | None = Field(default=None, description="Set when qualified: the account it became")
    contact_id: UUID | None = Field(default=None, description="Set when qualified: the contact it became")
    opportunity_id: UUID | None = Field(default=None, description="Set when qualified: the opportunity opened")
    disqualified_at: UtcDatetime | None = None
    disqualification_reason: str | None = None
    disqualification_note: str | None = None
    referred_by_contact_id: UUID | None = Field(default=None, description="The customer who referred this lead")
    last_activity_at: UtcDatetime | None = Field(default=None, description="The latest activity logged about it")
    created_by: Actor
    updated_by: Actor


class LeadBatch(BatchRequest):
    leads: list[dict[str, Any]] = Field(min_length=1, max_length=500, description="Each item as for POST /v1/leads")


class BatchItemResult(BaseModel):
    index: int
    status: Literal["created", "updated", "unchanged", "merged", "error"] = Field(
        description="`merged`: a new lead whose email or phone an open lead has, merged into it with "
        "on_duplicate=merge (`id` is that lead's)"
    )
    id: UUID | None = None
    reason: str | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    results: list[BatchItemResult]


Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class CustomFieldCreate(RequestModel):
    key: Key = Field(examples=["budget"])
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: FieldType
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="For enum fields: the allowed values"
    )
    required: bool = False
    sensitive: bool = Field(
        default=False,
        description="A person's sensitive data (religion, ethnicity): its value is shown only by "
        "`GET /v1/leads/{id}` to a key with `sensitive:read`; never in answers to writes, lists, exports, events "
        "or webhooks",
    )


class CustomFieldUpdate(RequestModel):
    label: Annotated[str, Field(min_length=1, max_length=200)] = Unset
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Unset
    required: bool = Unset
    sensitive: bool = Field(
        default=Unset,
        description="Marking a field sensitive hides its values from then on, in the event log's earlier events "
        "too (stored, they are erased with `POST /v1/events/redactions`); unmarking shows them everywhere again",
    )


class CustomFieldRead(ResourceRead):
    id: UUID
    key: str
    label: str
    type: FieldType
    options: list[str]
    required: bool
    sensitive: bool = Field(
        description="A person's sensitive data (religion, ethnicity): its value is shown only by "
        "`GET /v1/leads/{id}` to a key with `sensitive:read`; never in answers to writes, lists, exports, events "
        "or webhooks"
    )


class DuplicateCandidate(BaseModel):
    lead: LeadRead
    score: float = Field(description="0-100: 100 for the same email or phone, else name and company similarity")
    matched: list[str] = Field(description="What matched: email, phone, name, company")


class DuplicateList(BaseModel):
    data: list[DuplicateCandidate]


class MergeRequest(RequestModel):
    lead_ids: list[UUID] = Field(
        min_length=1, max_length=20, description="The duplicates to merge into this lead (the survivor)"
    )


MergeSource = Literal["request", "manual", "automatic"]


class LeadMerged(BaseModel):
    survivor: LeadRead = Field(description="The lead that was kept, as it is after the merge")
    merged_lead_ids: list[UUID] = Field(
        description="The leads merged into it (archived with `merged_into_id`); empty when a request for a new "
        "lead was merged into it (source `request`)"
    )
    moved: dict[str, int] = Field(description="Engagements, activities, tasks and submissions moved to the survivor")
    source: MergeSource = Field(
        description="`request`: POST /v1/leads, its batch or a lead import with on_duplicate=merge; `manual`: POST "
        "/v1/leads/{id}/merge; `automatic`: a fuzzy match at or above auto_merge_threshold, merged by the worker "
        "(lead.merged events recorded before sources existed have none: they were manual)"
    )
    filled_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of the survivor this merge set, as the survivor now shows them (request and automatic "
        "merges fill only empty fields; a manual merge takes each field's newest non-empty value)",
    )
    added_tags: list[str] = Field(default_factory=list, description="Tags this merge added to the survivor")
    confidence: float | None = Field(
        default=None, description="Automatic merges: the similarity (0-100) that reached auto_merge_threshold"
    )
    undo_until: UtcDatetime | None = Field(
        default=None, description="Automatic merges: until when POST /v1/leads/{id}/unmerge can undo it (30 days)"
    )


class LeadUnmerged(BaseModel):
    lead: LeadRead = Field(description="The lead restored, with its own history back")
    survivor: LeadRead = Field(description="The lead it had been merged into, as it is after the undo")
    merged_at: UtcDatetime = Field(description="When the automatic merge being undone happened")
    moved: dict[str, int] = Field(
        description="Engagements, activities, tasks and submissions moved back (those the merge moved)"
    )
    restored_fields: list[str] = Field(
        description="Fields of the survivor the merge had filled that went back to what they were"
    )
    kept_fields: list[str] = Field(
        description="Fields the merge had filled that were changed since: they keep their new value"
    )


class DuplicateCandidateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    lead_id: UUID = Field(description="The new lead")
    candidate_id: UUID = Field(description="An open lead that is likely the same person")
    score: float
    matched: list[str]
    found_at: UtcDatetime


class DuplicatesFound(BaseModel):
    lead_id: UUID
    candidates: list[DuplicateCandidateRead]
