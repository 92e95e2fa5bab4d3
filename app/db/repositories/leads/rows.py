"""The columns of the leads context's core rows, as repositories return them: `LeadRow`, `TaskRow`,
`FormRow`. One key per column of app/db/tables.py with its Python type (a nullable column's may be
None; a JSON column's is Any); tests/unit/test_rows.py keeps them equal to the tables. Types only:
at run time a row is the dict the database answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID


class LeadRow(TypedDict):
    """A row of `leads`."""

    workspace_id: UUID
    id: UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    email_key: str | None
    phone: str | None
    phone_e164: str | None
    phone_valid: bool
    company: str | None
    job_title: str | None
    industry: str | None
    company_size: str | None
    country: str | None
    province: str | None
    city: str | None
    timezone: str | None
    source: str
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
    tags: Any
    external_id: str | None
    status: str
    custom_fields: Any
    search_text: str
    archived_at: datetime | None
    merged_into_id: UUID | None
    score: float
    fit_score: float
    behavior_score: float
    scored_at: datetime | None
    temperature: str
    stage: str | None
    last_engaged_at: datetime | None
    stage_manual: bool
    mql_candidate: bool
    stage_verdict: str | None
    sla_status: str
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    first_response_seconds: float | None
    team_id: UUID | None
    assigned_at: datetime | None
    qualified_at: datetime | None
    account_id: UUID | None
    contact_id: UUID | None
    opportunity_id: UUID | None
    disqualified_at: datetime | None
    disqualification_reason: str | None
    disqualification_note: str | None
    referred_by_contact_id: UUID | None
    last_activity_at: datetime | None
    name_key: str | None
    company_key: str | None
    import_id: UUID | None
    erased_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class TaskRow(TypedDict):
    """A row of `tasks`."""

    workspace_id: UUID
    id: UUID
    title: str
    notes: str | None
    due_at: datetime | None
    assignee_id: UUID | None
    lead_id: UUID | None
    contact_id: UUID | None
    account_id: UUID | None
    opportunity_id: UUID | None
    status: str
    priority: str
    completed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str


class FormRow(TypedDict):
    """A row of `forms`."""

    workspace_id: UUID
    id: UUID
    name: str
    field_mapping: Any
    allowed_origins: Any
    redirect_url: str | None
    error_redirect_url: str | None
    honeypot_field: str | None
    min_fill_seconds: int
    default_source: str
    default_tags: Any
    default_owner_id: UUID | None
    archived_at: datetime | None
    engagement_type: str | None
    consents: Any
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
