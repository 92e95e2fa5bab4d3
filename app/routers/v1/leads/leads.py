from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.domain.leads.filters import LeadFilters
from app.domain.leads.lifecycle import LeadStatus, Source
from app.domain.leads.scoring import StageFilter, Temperature
from app.domain.leads.sla import SlaStatus
from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Country, Page
from app.schemas.customers.relationships import DisqualifyRequest, Qualification, QualifyRequest
from app.schemas.events.jobs import JobRead
from app.schemas.leads.engagements import EngagementCreate, EngagementRead, ScoreLine, ScoreRead, StateChangeRead
from app.schemas.leads.leads import (
    BatchResult,
    DuplicateCandidateRead,
    DuplicateList,
    LeadBatch,
    LeadCreate,
    LeadRead,
    LeadUpdate,
    MergeRequest,
)
from app.schemas.leads.routing import AssignmentList, AssignRequest, TimelinePage
from app.services.context import Context
from app.services.leads import duplicates, engagements, leads, qualification, routing, scoring, sensitive, timeline

router = APIRouter(prefix="/v1/leads", tags=["Leads"], route_class=CrmRoute)
CandidateSort = sort_enum("CandidateSort", "found_at")
TimelineSort = sort_enum("TimelineSort", "occurred_at")
LeadSort = sort_enum("LeadSort", "created_at", "updated_at", "score", "last_activity_at")
EngagementSort = sort_enum("EngagementSort", "occurred_at")
StateChangeSort = sort_enum("StateChangeSort", "occurred_at")
BATCH_BODY_LIMIT = 5 * 1024 * 1024


OnDuplicateQuery = Annotated[
    Literal["reject", "merge"] | None,
    Query(
        description="A new lead whose email or phone an open lead has: `merge` it into that lead (its empty "
        "fields filled, tags and custom fields added, nothing overwritten; lead.merged with source `request`), or "
        "`reject` it (409 with `existing_lead_id`). Default: /v1/settings/deduplication `on_duplicate`"
    ),
]


async def _on_duplicate(ctx: Context, asked: str | None) -> str:
    return asked or str((await duplicates.policy(ctx))["on_duplicate"])


@router.post(
    "",
    status_code=201,
    summary="Create a lead, or merge it into the open lead with the same email or phone (on_duplicate=merge)",
    response_model=LeadRead,
    responses={200: {"model": LeadRead, "description": "Merged into the open lead with this email or phone"}},
)
async def create_lead(
    body: LeadCreate,
    ctx: Annotated[Context, require_idempotent("leads:write")],
    on_duplicate: OnDuplicateQuery = None,
) -> Answer:
    asked = await _on_duplicate(ctx, on_duplicate)
    row, merged = await leads.create_or_merge(ctx, body.model_dump(), on_duplicate=asked)
    row = await sensitive.written(ctx, row)
    if merged:
        return Answer(row, status_code=200)
    return Answer(row, location=f"/v1/leads/{row['id']}")


@router.post(
    "/batch",
    summary="Create or update up to 500 leads (matched by external_id); per-item results",
    response_model=BatchResult,
    openapi_extra={"x-max-body-bytes": BATCH_BODY_LIMIT},
)
async def upsert_leads(
    body: LeadBatch,
    ctx: Annotated[Context, require_idempotent("leads:write")],
    apply_sla: Annotated[
        bool, Query(description="Give new leads a first-response deadline (batches load history: off by default)")
    ] = False,
    on_duplicate: OnDuplicateQuery = None,
) -> BatchResult:
    results = await leads.batch_upsert(
        ctx, body.leads, apply_sla=apply_sla, on_duplicate=await _on_duplicate(ctx, on_duplicate)
    )
    return BatchResult.model_validate({"results": results})


# The leads list's filters, validated as one model (one pass instead of one per parameter).
class LeadQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200, description="Name, email, company or phone; Persian-aware")
    temperature: Temperature | None = None
    stage: StageFilter | None = Field(default=None, description="`none`: leads with no stage yet")
    mql_candidate: bool | None = Field(
        default=None, description="true: leads whose score reached MQL, waiting for marketing to accept them"
    )
    score_min: float | None = Field(default=None, ge=0, le=100)
    score_max: float | None = Field(default=None, ge=0, le=100)
    engaged_after: datetime | None = Field(default=None, description="Last engagement at or after")
    engaged_before: datetime | None = Field(default=None, description="Last engagement before")
    status: LeadStatus | None = None
    source: Source | None = None
    owner_id: UUID | None = None
    tag: str | None = Field(default=None, max_length=100)
    country: Country | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    archived: bool = Field(default=False, description="true: only archived leads")
    sla_status: SlaStatus | None = Field(default=None, description="First-response SLA status")
    first_response_due_before: datetime | None = Field(
        default=None, description="First response due before (e.g. pending leads about to breach)"
    )
    team_id: UUID | None = None
    last_activity_after: datetime | None = Field(default=None, description="Last activity at or after")
    last_activity_before: datetime | None = Field(default=None, description="Last activity before")
    import_id: UUID | None = Field(default=None, description="Created by this CSV import")


async def lead_filters(request: Request, query: Annotated[LeadQuery, Query()]) -> LeadFilters:
    """The leads list's filters from its query (shared by the CSV export), with the custom field
    filters (`cf.<key>=<value>`)."""
    custom = {k[3:]: v for k, v in request.query_params.items() if k.startswith("cf.") and len(k) > 3}
    return LeadFilters(**dict(query), custom_fields=custom)


LeadFiltersQuery = Annotated[LeadFilters, Depends(lead_filters)]


@router.get(
    "",
    summary="List leads",
    description="Filter by custom fields with `cf.<key>=<value>` (equality, typed by the field's definition; a "
    "sensitive field needs `sensitive:read`, else 403). Sensitive custom field values are never listed.",
    response_model=Page[LeadRead],
)
async def list_leads(
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(LeadSort)],
    filters: LeadFiltersQuery,
) -> RowPage:
    return await leads.list_leads(ctx, filters, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.post(
    "/rescore",
    status_code=202,
    summary="Rescore every lead now (a job; scores are also refreshed nightly and on every engagement)",
    response_model=JobRead,
    responses={202: {"description": "Accepted: poll the job at Location"}},
)
async def rescore_leads(ctx: Annotated[Context, require_idempotent("leads:write")]) -> Answer:
    job = await scoring.enqueue_rescore(ctx, "requested")
    return Answer(job, location=f"/v1/jobs/{job['id']}")


@router.get("/{lead_id}/score", summary="A lead's score now, every point explained", response_model=ScoreRead)
async def get_lead_score(lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> ScoreRead:
    lead, result = await scoring.score_of(ctx, lead_id)
    return ScoreRead(
        lead_id=lead_id,
        score=float(result.score),
        fit_score=float(result.fit),
        behavior_score=float(result.behavior),
        temperature=result.temperature,
        stage=result.stage,
        mql_candidate=result.mql_candidate,
        reasons=dict(result.reasons),
        lines=[
            ScoreLine(
                part=line.part,  # type: ignore[arg-type]
                label=line.label,
                points=float(line.points),
                rule=line.rule,
                engagement_type=line.engagement_type,  # type: ignore[arg-type]
                count=line.count,
                last_occurred_at=line.last_occurred_at,
            )
            for line in result.lines
        ],
        computed_at=result.computed_at,
        stored_score=lead["score"],
        scored_at=lead["scored_at"],
    )


@router.post(
    "/{lead_id}/engagements",
    status_code=201,
    summary="Record what a lead did (rescored at once)",
    response_model=EngagementRead,
)
async def create_lead_engagement(
    lead_id: UUID, body: EngagementCreate, ctx: Annotated[Context, require_idempotent("leads:write")]
) -> Row:
    row, _ = await engagements.engage(ctx, lead_id, body.model_dump())
    return row


@router.get("/{lead_id}/engagements", summary="A lead's engagements", response_model=Page[EngagementRead])
async def list_lead_engagements(
    lead_id: UUID,
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(EngagementSort, "-occurred_at")],
) -> RowPage:
    return await engagements.engagements_of(ctx, lead_id, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.get(
    "/{lead_id}/state-changes",
    summary="A lead's temperature and stage history (time, from, to, cause)",
    response_model=Page[StateChangeRead],
)
async def list_lead_state_changes(
    lead_id: UUID,
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(StateChangeSort, "-occurred_at")],
) -> RowPage:
    return await scoring.state_changes_of(ctx, lead_id, sort=page.sort, cursor=page.cursor, limit=page.limit)


@router.get(
    "/{lead_id}/timeline",
    summary="Everything that happened to a lead, in time order: engagements, activities, tasks, "
    "temperature/stage and owner changes, status actions",
    response_model=TimelinePage,
)
async def get_lead_timeline(
    lead_id: UUID,
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(TimelineSort, "-occurred_at")],
) -> TimelinePage:
    data, next_cursor = await timeline.page(ctx, "lead", lead_id, sort=page.sort, cursor=page.cursor, limit=page.limit)
    return TimelinePage.model_validate(
        {"data": data, "next_cursor": next_cursor, "withheld": timeline.withheld_kinds(ctx, "lead")}
    )


@router.get(
    "/duplicate-candidates",
    summary="Likely duplicates the worker found for new leads after they were created (a review queue; merged "
    "automatically only at or above /v1/settings/deduplication auto_merge_threshold), newest first",
    response_model=Page[DuplicateCandidateRead],
)
async def list_duplicate_candidates(
    ctx: Annotated[Context, require("leads:read")],
    page: Annotated[Paging, paging(CandidateSort, "-found_at")],
    lead_id: Annotated[UUID | None, Query(description="Found for this new lead")] = None,
) -> RowPage:
    return await duplicates.list_found(ctx, sort=page.sort, cursor=page.cursor, limit=page.limit, lead_id=lead_id)


@router.get(
    "/{lead_id}/duplicates",
    summary="Likely duplicates of a lead: the same email or phone (score 100), or the same person at the same "
    "company by name similarity (at least /v1/settings/deduplication fuzzy_threshold); at most 10, best first",
    response_model=DuplicateList,
)
async def list_lead_duplicates(lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> DuplicateList:
    found = await sensitive.scrubbed(ctx, await duplicates.candidates(ctx, lead_id))
    return DuplicateList.model_validate({"data": found})


@router.post(
    "/{lead_id}/merge",
    summary="Merge duplicates into this lead (one transaction; merging again changes nothing)",
    description="Keeps each field's newest non-empty value, unites tags and custom fields, keeps the earliest "
    "created_at; the duplicates' engagements, activities, tasks and submissions move here and they are archived "
    "with `merged_into_id`. Emits `lead.merged` (source `manual`). A manual merge is not undone by "
    "/unmerge.",
    response_model=LeadRead,
)
async def merge_leads(
    lead_id: UUID,
    body: MergeRequest,
    ctx: Annotated[Context, require_idempotent("leads:write")],
    if_match: IfMatch = None,
) -> Row:
    return await sensitive.written(ctx, await duplicates.merge(ctx, lead_id, body.lead_ids, if_match=if_match))


@router.post(
    "/{lead_id}/unmerge",
    summary="Undo an automatic merge of this lead (within 30 days): it comes back with its own history",
    description="For a lead the worker merged automatically (a fuzzy match at or above "
    "/v1/settings/deduplication `auto_merge_threshold`). The lead is open again with its fields, tags and "
    "external_id; the engagements, activities, tasks and submissions the merge moved come back to it; the fields, "
    "tags and custom fields the merge filled on the lead it was merged into are emptied again unless changed "
    "since. Both are rescored. Emits `lead.unmerged`. 409 after 30 days, for a manual merge or a request merge, "
    "when the other lead was qualified or merged since, or when an open lead now has this lead's email or phone "
    "(`existing_lead_id`). Undoing again answers the lead as it is.",
    response_model=LeadRead,
)
async def unmerge_lead(
    lead_id: UUID, ctx: Annotated[Context, require_idempotent("leads:write")], if_match: IfMatch = None
) -> Row:
    return await sensitive.written(ctx, await duplicates.unmerge(ctx, lead_id, if_match=if_match))


@router.post(
    "/{lead_id}/qualify",
    summary="Qualify a lead into an account, a contact and an opportunity (one transaction)",
    description="Links to an existing account (same email domain, else same name) and contact (same email, "
    "else same phone) when there is one, filling only their empty fields; otherwise creates them. The lead's "
    "engagements, activities and tasks move to them. A lead qualified already answers 409 with its references "
    "(`account_id`, `contact_id`, `opportunity_id` in the problem).",
    response_model=Qualification,
)
async def qualify_lead(
    lead_id: UUID, body: QualifyRequest, ctx: Annotated[Context, require_idempotent("leads:write")]
) -> Qualification:
    return Qualification.model_validate(await qualification.qualify(ctx, lead_id, body.model_dump()))


@router.post(
    "/{lead_id}/disqualify",
    summary="Disqualify a lead with a reason (one of /v1/settings/disqualification-reasons) and a note",
    response_model=LeadRead,
)
async def disqualify_lead(
    lead_id: UUID, body: DisqualifyRequest, ctx: Annotated[Context, require("leads:write")], if_match: IfMatch = None
) -> Row:
    return await sensitive.written(
        ctx, await qualification.disqualify(ctx, lead_id, body.reason, body.note, if_match=if_match)
    )


@router.post(
    "/{lead_id}/reactivate",
    summary="Bring a disqualified or archived lead back to nurturing, with its history",
    response_model=LeadRead,
)
async def reactivate_lead(
    lead_id: UUID, ctx: Annotated[Context, require("leads:write")], if_match: IfMatch = None
) -> Row:
    return await sensitive.written(ctx, await qualification.reactivate(ctx, lead_id, if_match=if_match))


@router.post(
    "/{lead_id}/assign",
    summary="Assign a lead to a member, or to the member whose turn it is in a team",
    response_model=LeadRead,
)
async def assign_lead(lead_id: UUID, body: AssignRequest, ctx: Annotated[Context, require("leads:write")]) -> Row:
    return await sensitive.written(
        ctx, await routing.assign_lead(ctx, lead_id, member_id=body.member_id, team_id=body.team_id)
    )


@router.get(
    "/{lead_id}/assignments",
    summary="A lead's owners over time (who, when, why: rule, hot lead, manual, SLA escalation)",
    response_model=AssignmentList,
)
async def list_lead_assignments(lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> AssignmentList:
    return AssignmentList.model_validate({"data": await routing.history(ctx, lead_id)})


@router.get("/{lead_id}", summary="Get a lead", response_model=LeadRead, openapi_extra={"x-conditional": True})
async def get_lead(lead_id: UUID, ctx: Annotated[Context, require("leads:read")]) -> Row:
    return await sensitive.lead(ctx, await leads.get(ctx, lead_id))


@router.patch(
    "/{lead_id}",
    summary="Update a lead",
    description="Send only what changes. `stage` (`ial`, `mql`, `sql` or null) sets the stage by hand, with an "
    "optional `stage_reason`: marketing accepts an MQL candidate with `stage: mql`. The change is in the stage "
    "history (`cause: manual`, who made it) and emits `lead.stage_changed`; automatic changes never lower it.",
    response_model=LeadRead,
)
async def update_lead(
    lead_id: UUID, body: LeadUpdate, ctx: Annotated[Context, require("leads:write")], if_match: IfMatch = None
) -> Row:
    return await sensitive.written(
        ctx, await leads.update(ctx, lead_id, body.model_dump(exclude_unset=True), if_match=if_match)
    )


@router.delete("/{lead_id}", summary="Archive a lead (hidden from lists unless archived=true)", response_model=LeadRead)
async def archive_lead(lead_id: UUID, ctx: Annotated[Context, require("leads:write")], if_match: IfMatch = None) -> Row:
    return await sensitive.written(ctx, await leads.archive(ctx, lead_id, if_match=if_match))
