"""Scoring use cases: score a new lead (and record the engagement it arrives with), rescore on
engagements and changes with the history of what changed, rescore a whole workspace (a job, and
nightly so behaviour fades without new engagements). Recording engagements: leads/engagements.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.repositories.leads.rows import LeadRow
from app.domain.concurrency import LostUpdate
from app.domain.errors import ErrorList, NotFound
from app.domain.events import events as types
from app.domain.leads import scoring
from app.domain.leads.scoring import Engagement, Rules
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.leads.leads import LeadRead
from app.schemas.workspace.settings import ScoringSettings
from app.services.context import Context
from app.services.events import events, jobs
from app.services.leads import custom_fields, lookups
from app.services.workspace import settings

# Engagements older than this many half-lives are worth < 0.1% of their points: not read.
LOOKBACK_HALF_LIVES = 10
RESCORE_JOB = "leads.rescore"
# The lead columns the fit rules read: a change of one rescores the lead (`referral` reads three).
FIT_FIELDS = frozenset(
    scoring.FIT_FIELDS - {"referral"} | {"referred_by_lead_id", "referred_by_contact_id", "custom_fields"}
)


async def rules(ctx: Context) -> Rules:
    async def load() -> Rules:
        values = (await settings.get(ctx, "scoring", ScoringSettings))["values"]
        return scoring.rules_from_settings(values)

    return await lookups.cached(("scoring", ctx.workspace_id), load)


def columns(result: scoring.Score, lead: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The lead's score columns for a result (last_engaged_at never moves back)."""
    last = result.last_engaged_at
    if (
        lead is not None
        and lead.get("last_engaged_at") is not None
        and (last is None or lead["last_engaged_at"] > last)
    ):
        last = lead["last_engaged_at"]
    return {
        "score": float(result.score),
        "fit_score": float(result.fit),
        "behavior_score": float(result.behavior),
        "scored_at": result.computed_at,
        "temperature": result.temperature.value,
        "stage": None if result.stage is None else result.stage.value,
        "mql_candidate": result.mql_candidate,
        "stage_verdict": None if result.verdict is None else result.verdict.value,
        "last_engaged_at": last,
    }


async def initial(
    ctx: Context, values: Mapping[str, Any], engagement: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new lead's score: its fit, and the engagement it arrives with (a form's), if any (recorded
    by `created`)."""
    done = [] if engagement is None else [Engagement(str(engagement["type"]), ctx.now)]
    return columns(scoring.score(await rules(ctx), values, done, ctx.now))


def _since(r: Rules, now: datetime) -> datetime:
    days = max(r.half_life_days * LOOKBACK_HALF_LIVES, r.intent_days, r.engagement_window_days)
    return now - timedelta(days=days)


async def evaluate(
    ctx: Context,
    lead: Mapping[str, Any],
    extra: Sequence[Engagement] = (),
    *,
    stored: Sequence[Engagement] | None = None,
) -> scoring.Score:
    """The lead's score now, from its stored engagements (`stored`: as `engagements_of` read them
    already) plus `extra` (ones not written yet); its stored stage decides what the rules may
    change of it."""
    r = await rules(ctx)
    if stored is None:
        facts = await ctx.engagements.facts([lead["id"]], _since(r, ctx.now))
        stored = [Engagement(f["type"], f["occurred_at"]) for f in facts]
    return scoring.score(r, lead, [*stored, *extra], ctx.now, scoring.StageState.of(lead))


async def engagements_of(ctx: Context, lead_ids: Sequence[UUID]) -> dict[UUID, list[Engagement]]:
    """The stored engagements scoring reads of each of these leads (those in its window), in one query."""
    facts = await ctx.engagements.facts(list(lead_ids), _since(await rules(ctx), ctx.now))
    found: dict[UUID, list[Engagement]] = {lead_id: [] for lead_id in lead_ids}
    for f in facts:
        found.setdefault(f["lead_id"], []).append(Engagement(f["type"], f["occurred_at"]))
    return found


async def created(ctx: Context, lead: LeadRow, engagement: Mapping[str, Any] | None = None) -> None:
    """After a new lead is written: the engagement it arrived with is recorded (after the lead: the
    inserts run in order), and a lead whose score reached MQL waits for marketing from the start."""
    if engagement is not None:
        ctx.engagements.add([engagement_row(ctx, lead["id"], engagement, ctx.now, "api")])
    if lead.get("mql_candidate"):
        await events.record(ctx, types.LEAD_MQL_CANDIDATE_FLAGGED, LeadRead.model_validate(lead))


def engagement_row(
    ctx: Context, lead_id: UUID | None, item: Mapping[str, Any], occurred_at: datetime, origin: str
) -> Row:
    """An engagement as stored: of a lead, or of an anonymous visitor (`lead_id` None)."""
    return {
        "id": new_id(),
        "lead_id": lead_id,
        "visitor_id": item.get("visitor_id"),
        "type": str(item["type"]),
        "occurred_at": occurred_at,
        "properties": item.get("properties") or {},
        "origin": origin,
        "created_at": ctx.now,
    }


MANUAL = "manual"  # the cause of a change a person made


def manual_stage(stage: str | None) -> dict[str, Any]:
    """The columns a person's choice of stage sets: the stage, kept from automatic lowering, and
    no longer waiting for acceptance (the person decided)."""
    return {
        "stage": None if stage is None else scoring.Stage(stage).value,
        "stage_manual": True,
        "mql_candidate": False,
    }


async def record_changes(
    ctx: Context,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    result: scoring.Score | None,
    cause: str,
    *,
    manual: bool = False,
    stage_reason: str | None = None,
) -> None:
    """History rows and events for a temperature, stage, MQL-candidate or threshold-band change.
    `manual`: a person set the stage (cause MANUAL, with their `stage_reason`); other changes carry
    `cause` and the rules' reasons. A person's decision is history even when the stage stays what
    it was (marketing turning a candidate down, or keeping the stage the rules gave): the row then
    goes from and to the same stage, and no `lead.stage_changed` is sent."""
    r = await rules(ctx)
    rows = []
    decided = manual and any(before.get(k) != after.get(k) for k in ("stage", "stage_manual", "mql_candidate"))
    for kind, event_type in (("temperature", types.LEAD_TEMPERATURE_CHANGED), ("stage", types.LEAD_STAGE_CHANGED)):
        by_person = decided and kind == "stage"
        if before[kind] != after[kind] or by_person:
            why = "" if result is None else result.reasons.get(kind, "")
            rows.append(
                {
                    "id": new_id(),
                    "lead_id": after["id"],
                    "kind": kind,
                    "from_value": before[kind],
                    "to_value": after[kind],
                    "cause": MANUAL if by_person else f"{cause}: {why}"[:200],
                    "reason": stage_reason if by_person else None,
                    "score": after["score"],
                    "occurred_at": ctx.now,
                    "changed_by": str(ctx.actor),
                }
            )
            if before[kind] != after[kind]:
                await events.record(
                    ctx, event_type, LeadRead.model_validate(after), previous=LeadRead.model_validate(before)
                )
    ctx.state_changes.add(rows)
    if after.get("mql_candidate") and not before.get("mql_candidate"):
        await events.record(
            ctx,
            types.LEAD_MQL_CANDIDATE_FLAGGED,
            LeadRead.model_validate(after),
            previous=LeadRead.model_validate(before),
        )
    old_band = scoring.band(r, Decimal(str(before["score"])))
    if old_band != scoring.band(r, Decimal(str(after["score"]))):
        await events.record(
            ctx, types.LEAD_SCORE_CHANGED, LeadRead.model_validate(after), previous=LeadRead.model_validate(before)
        )


def _unchanged(lead: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Nothing but the time of scoring would change."""
    return all(lead.get(k) == v for k, v in values.items() if k != "scored_at")


async def rescore(ctx: Context, lead: LeadRow, *, cause: str, extra: Sequence[Engagement] = ()) -> LeadRow:
    """The lead rescored as it was read. Its new stage is worked out from the stage it had then:
    when a person (or another rescore) changed the stage since, nothing is written and the
    request runs again on the lead as it is now (LostUpdate), so their choice stands."""
    result = await evaluate(ctx, lead, extra)
    values = columns(result, lead)
    if _unchanged(lead, values):
        return lead
    updated = await ctx.leads.set_scores(lead["id"], values, lead)
    if updated is None:
        raise LostUpdate("the lead's stage changed while it was rescored; retry")
    await record_changes(ctx, lead, updated, result, cause)
    return updated


async def state_changes_of(ctx: Context, lead_id: UUID, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    await _lead(ctx, lead_id)
    return await ctx.state_changes.list(lead_id, sort=sort, cursor=cursor, limit=limit)


async def _lead(ctx: Context, lead_id: UUID) -> LeadRow:
    lead = await ctx.leads.get(lead_id)
    if lead is None:
        raise NotFound("no lead with this id")
    return lead


async def score_of(ctx: Context, lead_id: UUID) -> tuple[LeadRow, scoring.Score]:
    lead = await _lead(ctx, lead_id)
    return lead, await evaluate(ctx, lead)


# -- settings and rescoring everything ---------------------------------------------------------------


async def _check_settings(ctx: Context, values: dict[str, Any]) -> None:
    errors = ErrorList()
    keys = [d.key for d in await custom_fields.definitions(ctx)]
    scoring.validate_settings(values, keys, errors)
    errors.raise_if_any()


async def _after_settings_change(ctx: Context, values: dict[str, Any]) -> None:
    lookups.forget(("scoring", ctx.workspace_id))
    await jobs.enqueue(ctx, RESCORE_JOB, {"cause": "scoring settings changed"})


settings.CHECKS["scoring"] = _check_settings
settings.AFTER_CHANGE["scoring"] = _after_settings_change


# Times a page rereads the leads whose stage changed while it rescored them (each reread rescores
# them from their new stage); past that, they wait for the next rescore.
RESCORE_REREADS = 3


async def rescore_page(ctx: Context, *, after: UUID | None, limit: int, cause: str) -> tuple[UUID | None, int, int]:
    """Rescore one page of leads (by id): (last id or None at the end, leads seen, leads changed).
    A lead whose stage columns changed between the page's read and its write (a person set its
    stage) is not overwritten: it is read again and rescored from its new state."""
    lookups.forget(("scoring", ctx.workspace_id))
    r = await rules(ctx)
    repo = ctx.leads
    page = await repo.scoring_inputs(after=after, limit=limit)
    if not page:
        return None, 0, 0
    changed = 0
    leads = page
    for _ in range(1 + RESCORE_REREADS):
        written, missed = await _rescore_leads(ctx, r, leads, cause)
        changed += written
        if not missed:
            break
        again = (await repo.by_ids(sorted(missed))).values()
        leads = [lead for lead in again if lead["archived_at"] is None and lead["merged_into_id"] is None]
    return page[-1]["id"], len(page), changed


async def _rescore_leads(ctx: Context, r: Rules, leads: Sequence[LeadRow], cause: str) -> tuple[int, set[UUID]]:
    """Rescore these leads in one batched write: (how many were written, the ids of those that
    changed since they were read and were not)."""
    by_lead = await engagements_of(ctx, [lead["id"] for lead in leads])
    updates: list[tuple[LeadRow, dict[str, Any]]] = []
    changes: list[tuple[LeadRow, dict[str, Any], scoring.Score]] = []
    for lead in leads:
        result = scoring.score(r, lead, by_lead.get(lead["id"], ()), ctx.now, scoring.StageState.of(lead))
        values = columns(result, lead)
        if _unchanged(lead, values):
            continue
        updates.append((lead, values))
        changes.append((lead, {**lead, **values, "version": lead["version"] + 1}, result))
    missed = await ctx.leads.set_scores_many(updates)
    for before, after, result in changes:
        if before["id"] not in missed:
            await record_changes(ctx, before, after, result, cause)
    return len(updates) - len(missed), missed


async def enqueue_rescore(ctx: Context, cause: str) -> Row:
    return await jobs.enqueue(ctx, RESCORE_JOB, {"cause": cause})
