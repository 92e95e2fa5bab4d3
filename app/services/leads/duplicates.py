"""Duplicate leads: candidates for a lead (the same email or phone for certain; the same person at
the same company by name similarity as suggestions) and merging duplicates into a survivor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypedDict
from uuid import UUID

from pydantic_core import to_jsonable_python

from app.db.repositories.base import Page, Row
from app.db.repositories.leads.leads import BLOCKING_KEYS, COMPARED
from app.db.repositories.leads.rows import LeadRow
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.concurrency import LostUpdate, check_if_match
from app.domain.errors import Conflict, DomainError, ErrorList
from app.domain.events import events as types
from app.domain.leads import dedupe
from app.domain.leads import sla as sla_rules
from app.domain.leads.lifecycle import LeadStatus, is_open
from app.domain.outreach.vocabulary import PersonRef
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.leads.leads import DuplicateCandidateRead, DuplicatesFound, LeadMerged, LeadRead, LeadUnmerged
from app.schemas.workspace.settings import DeduplicationSettings
from app.services.context import SERVICE_SCOPES, SYSTEM, Context, write_changes
from app.services.events import events
from app.services.leads import leads, lookups, scoring
from app.services.outreach import consents
from app.services.workspace import settings

MAX_CANDIDATES = 10
COMPARED_WITH_KEYS = tuple(dict.fromkeys((*COMPARED, *BLOCKING_KEYS)))  # what a pass reads of a new lead


class Candidate(TypedDict):
    """A likely duplicate of a lead: the other lead, how alike they are (0-100) and what matched."""

    lead: Row
    score: float
    matched: list[str]


async def candidates(ctx: Context, lead_id: UUID) -> list[Candidate]:
    """Up to 10 likely duplicates, best first: exact email/phone matches, then name + company
    matches scoring at least the workspace's `fuzzy_threshold`."""
    lead = await leads.get(ctx, lead_id)
    return (await candidates_of(ctx, [lead]))[lead_id]


async def candidates_of(
    ctx: Context, batch: Sequence[Mapping[str, Any]], *, whole: bool = True
) -> dict[UUID, list[Candidate]]:
    """`candidates` for each lead of `batch` (one lookup for all of them); with `whole=False` each
    candidate lead has only the compared columns (LeadRepository COMPARED)."""
    threshold = (await policy(ctx))["fuzzy_threshold"]
    others = await ctx.leads.duplicate_candidates(batch, whole=whole)
    result = {}
    for lead in batch:
        found: list[Candidate] = []
        for other in others[lead["id"]]:
            match = dedupe.similarity(lead, other)
            if match.score >= threshold:
                found.append({"lead": other, "score": match.score, "matched": list(match.fields)})
        found.sort(key=lambda c: (-c["score"], str(c["lead"]["id"])))
        result[lead["id"]] = found[:MAX_CANDIDATES]
    return result


async def policy(ctx: Context) -> dict[str, Any]:
    """The workspace's deduplication settings (cached; read on every capture)."""

    async def load() -> dict[str, Any]:
        return dict((await settings.get(ctx, "deduplication", DeduplicationSettings))["values"])

    return await lookups.cached(("deduplication", ctx.workspace_id), load)


async def merge(ctx: Context, survivor_id: UUID, loser_ids: list[UUID], *, if_match: str | None) -> LeadRow:
    """Merge `loser_ids` into the survivor: one transaction; merging the same leads again changes
    nothing (idempotent)."""
    survivor = await leads.get(ctx, survivor_id)
    check_if_match(if_match, survivor["version"])
    if survivor["merged_into_id"] is not None:
        raise Conflict("this lead was merged into another; merge into that one", extensions={
            "merged_into_id": str(survivor["merged_into_id"])})  # fmt: skip
    repo = ctx.leads
    rows = await repo.by_ids(loser_ids)
    errors = ErrorList()
    losers = []
    for index, loser_id in enumerate(dict.fromkeys(loser_ids)):
        loser = rows.get(loser_id)
        if loser is None or loser_id == survivor_id:
            errors.add(f"lead_ids.{index}", "not another lead of this workspace")
        elif loser["merged_into_id"] == survivor_id:
            continue  # merged already: nothing to do again
        elif loser["merged_into_id"] is not None:
            errors.add(f"lead_ids.{index}", "this lead was merged into another lead already")
        elif loser["status"] == LeadStatus.QUALIFIED:
            errors.add(f"lead_ids.{index}", "a qualified lead cannot be merged away")
        else:
            losers.append(loser)
    errors.raise_if_any()
    if not losers:
        return survivor
    values = dedupe.merged_values(survivor, losers)
    if values:
        derived = leads.derived_columns({**survivor, **values})
        values.update({k: v for k, v in derived.items() if survivor.get(k) != v})
    for loser in losers:  # first free what moves (an external_id is unique)
        retired = _retired(ctx, loser, survivor_id)
        await write_changes(ctx, loser, retired, partial(repo.update, loser["id"]), if_match=None)
    moved = await repo.move_history([loser["id"] for loser in losers], survivor_id)
    for loser in losers:  # the kept lead's consent is both leads' (an opt-out of either wins)
        await consents.carry(ctx, PersonRef("lead", loser["id"]), PersonRef("lead", survivor_id))
    updated = survivor
    if values:
        updated = await write_changes(ctx, survivor, values, partial(repo.update, survivor_id), if_match=if_match)
    updated = await scoring.rescore(ctx, updated, cause="leads merged")  # their engagements count now
    merged_ids = [loser["id"] for loser in losers]
    shown = LeadRead.model_validate(updated)
    data = LeadMerged(
        survivor=shown,
        merged_lead_ids=merged_ids,
        moved=moved,
        source="manual",
        **leads.filled_and_added(shown, values, survivor),
    )
    await events.record(ctx, types.LEAD_MERGED, data, resource_id=survivor_id)
    return updated


# -- automatic merges of two leads, and undoing them ---------------------------------------------------

_UUID_FIELDS = frozenset({"owner_id", "referred_by_lead_id", "referred_by_contact_id", "merged_into_id"})


def _retired(ctx: Context, lead: LeadRow, survivor_id: UUID) -> dict[str, Any]:
    """What a merge changes on the lead merged away: archived with `merged_into_id`, its external id
    freed, and a pending first-response clock closed (nobody acts on a merged lead: the lead kept
    is the one to answer)."""
    return {
        "merged_into_id": survivor_id,
        "archived_at": ctx.now,
        "external_id": None,
        **sla_rules.closed(lead["sla_status"]),
    }


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Column values as a JSON document (ids and times as text)."""
    return {k: to_jsonable_python(v) for k, v in values.items()}


def _loaded(document: dict[str, Any]) -> dict[str, Any]:
    """`_stored` values back as columns hold them."""
    values = dict(document)
    for key, value in document.items():
        if value is not None and key in _UUID_FIELDS:
            values[key] = UUID(value)
        elif value is not None and key == "archived_at":
            values[key] = datetime.fromisoformat(value)
    return values


async def merge_automatically(ctx: Context, lead_id: UUID, survivor_id: UUID, confidence: float) -> LeadRow | None:
    """Merge the new lead `lead_id` into the older open lead `survivor_id` (a fuzzy match at or
    above the workspace's `auto_merge_threshold`): the survivor's empty fields are filled from it,
    tags and custom fields it lacks are added (`dedupe.absorbed_values`; nothing overwritten), the
    lead's history moves, the lead is archived with `merged_into_id`. What it changed is kept (a
    `lead_merges` row) so POST /v1/leads/{id}/unmerge can undo it for 30 days (a pending SLA the
    merge closed on the lead included). None, changing nothing, when either lead is no longer open
    or they now have conflicting emails or phones; LostUpdate when the survivor stops being so
    between the read and the write (run in a savepoint: `_merge_found`)."""
    repo = ctx.leads
    rows = await repo.by_ids([lead_id, survivor_id])
    lead, survivor = rows.get(lead_id), rows.get(survivor_id)
    if lead is None or survivor is None or not (is_open(lead) and is_open(survivor)):
        return None
    if dedupe.conflicting(lead, survivor):
        return None
    retired = _retired(ctx, lead, survivor_id)
    lead_before: Mapping[str, Any] = lead  # read by the retired columns' names
    await write_changes(ctx, lead, retired, partial(repo.update, lead_id), if_match=None)
    # The lead kept is locked and read again (held until commit): it is still open when the merge
    # commits, even when nothing is filled on it. Closed or changed into a conflict meanwhile:
    # LostUpdate, and the caller's savepoint takes the merged lead's change back.
    locked = await repo.lock(survivor_id)
    if locked is None or not is_open(locked) or dedupe.conflicting(lead, locked):
        raise LostUpdate("the lead to keep changed meanwhile")
    survivor = locked
    moved = await repo.move_history_of([lead_id], survivor_id)
    await consents.carry(ctx, PersonRef("lead", lead_id), PersonRef("lead", survivor_id))
    values = dedupe.absorbed_values(survivor, lead)
    updated = survivor
    if values:
        derived = leads.derived_columns({**survivor, **values})
        written = {**values, **{k: v for k, v in derived.items() if survivor.get(k) != v}}
        updated = await write_changes(ctx, survivor, written, partial(repo.update, survivor_id), if_match=None)
    updated = await scoring.rescore(ctx, updated, cause="leads merged")
    undo_until = ctx.now + timedelta(days=dedupe.UNDO_DAYS)
    await ctx.lead_merges.add({
        "id": new_id(), "lead_id": lead_id, "survivor_id": survivor_id, "source": "automatic",
        "confidence": confidence, "merged_at": ctx.now, "merged_by": str(ctx.actor), "undo_until": undo_until,
        "lead_before": _stored({k: lead_before[k] for k in retired}),
        "survivor_before": _stored({k: survivor.get(k) for k in values}), "survivor_after": _stored(values),
        "moved": {name: [str(i) for i in ids] for name, ids in moved.items()},
    })  # fmt: skip
    shown = LeadRead.model_validate(updated)
    data = LeadMerged(
        survivor=shown,
        merged_lead_ids=[lead_id],
        moved={name: len(ids) for name, ids in moved.items()},
        source="automatic",
        confidence=confidence,
        undo_until=undo_until,
        **leads.filled_and_added(shown, values, survivor),
    )
    await events.record(ctx, types.LEAD_MERGED, data, resource_id=survivor_id)
    return updated


async def unmerge(ctx: Context, lead_id: UUID, *, if_match: str | None) -> LeadRow:
    """Undo the automatic merge of this lead (within 30 days): it is open again with its own
    fields, tags and external id, and the history the merge moved comes back to it; each field,
    tag and custom field the merge filled on the survivor is emptied again while it still holds
    what the merge put there. Both are rescored; `lead.unmerged`. Undoing again answers the lead."""
    lead = await leads.get(ctx, lead_id)
    check_if_match(if_match, lead["version"])
    record = await ctx.lead_merges.latest_for(lead_id)
    if lead["merged_into_id"] is None:
        if record is not None and record["undone_at"] is not None:
            return lead  # undone already
        raise Conflict("this lead is not merged into another lead: there is nothing to undo")
    if record is None or record["undone_at"] is not None or record["survivor_id"] != lead["merged_into_id"]:
        raise Conflict(
            "only an automatic merge can be undone, and this lead was merged with POST /v1/leads/{id}/merge",
            extensions={"merged_into_id": str(lead["merged_into_id"])},
        )
    if ctx.now > record["undo_until"]:
        raise Conflict(
            f"an automatic merge can be undone for {dedupe.UNDO_DAYS} days; this one's ended at "
            f"{record['undo_until'].isoformat().replace('+00:00', 'Z')}",
            extensions={"undo_until": record["undo_until"].isoformat().replace("+00:00", "Z")},
        )
    survivor = await leads.get(ctx, record["survivor_id"])
    if survivor["merged_into_id"] is not None:
        raise Conflict(
            "the lead this one was merged into has since been merged into another lead: undo or split that first",
            extensions={"merged_into_id": str(survivor["merged_into_id"])},
        )
    if survivor["status"] == LeadStatus.QUALIFIED:
        raise Conflict(
            "the lead this one was merged into has since been qualified: its history belongs to the account, "
            "contact and opportunity it became",
            extensions={"survivor_id": str(survivor["id"])},
        )
    repo = ctx.leads
    undo = dedupe.unmerged_values(survivor, _loaded(record["survivor_before"]), _loaded(record["survivor_after"]))
    restored_survivor = survivor
    if undo.changes:
        written = dict(undo.changes)
        derived = leads.derived_columns({**survivor, **written})
        written.update({k: v for k, v in derived.items() if survivor.get(k) != v})
        update = partial(repo.update, survivor["id"])
        restored_survivor = await write_changes(ctx, survivor, written, update, if_match=None)
    before = _loaded(record["lead_before"])
    holder, _ = await repo.identity_match(lead["email_key"], lead["phone_e164"])
    if holder is not None and holder["id"] != lead_id:
        raise Conflict(
            "an open lead now has this lead's email or phone: change or merge that lead first",
            extensions={"existing_lead_id": str(holder["id"])},
        )
    if before.get("external_id") is not None:
        taken = (await repo.by_external_ids([before["external_id"]])).get(before["external_id"])
        if taken is not None and taken["id"] != lead_id:
            raise Conflict(
                "another lead now has this lead's external_id: change it there first",
                extensions={"existing_lead_id": str(taken["id"])},
            )
    restored = await write_changes(ctx, lead, before, partial(repo.update, lead_id), if_match=if_match)
    moved = await repo.move_back(
        {name: [UUID(i) for i in ids] for name, ids in record["moved"].items()}, survivor["id"], lead_id
    )
    restored = await scoring.rescore(ctx, restored, cause="merge undone")
    restored_survivor = await scoring.rescore(ctx, restored_survivor, cause="merge undone")
    if not await ctx.lead_merges.mark_undone(record["id"], ctx.now, str(ctx.actor)):
        raise LostUpdate("the merge was undone by a concurrent request; retry")
    data = LeadUnmerged(
        lead=LeadRead.model_validate(restored),
        survivor=LeadRead.model_validate(restored_survivor),
        merged_at=record["merged_at"],
        moved=moved,
        restored_fields=sorted(k for k in undo.changes if k not in dedupe.DERIVED_FIELDS),
        kept_fields=list(undo.kept),
    )
    await events.record(ctx, types.LEAD_UNMERGED, data, resource_id=lead_id)
    return restored


DEDUPE_BATCH = 100


async def find_for_new_leads(database: Database, now: datetime, *, limit: int = DEDUPE_BATCH) -> int:
    """The worker's duplicate search, after commit: for each queued new lead still open, store its
    likely duplicates (at most 10, at or above the workspace's threshold). A lead whose best
    candidate reaches the workspace's `auto_merge_threshold` (`dedupe.auto_merge_target`) is merged
    into it (`merge_automatically`); the others' candidates are announced with
    `lead.duplicates_found` for review. One transaction per batch; how many leads it took."""
    async with UnitOfWork(database, write=False) as reader:  # no write transaction while idle
        if not await reader.event_queue().dedupe_pending():
            return 0
    async with UnitOfWork(database, write=True) as uow:
        queued = await uow.event_queue().claim_dedupe(limit)
        by_workspace: dict[UUID, list[UUID]] = {}
        for workspace_id, lead_id in queued:
            by_workspace.setdefault(workspace_id, []).append(lead_id)
        for workspace_id, lead_ids in by_workspace.items():
            ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            # Only what the comparison reads, of the new leads and of their candidates (whole rows
            # were most of this pass's CPU).
            rows = await WorkspaceRepositories(uow, workspace_id).leads.by_ids(lead_ids, columns=COMPARED_WITH_KEYS)
            # Oldest first (ids are time-ordered): a lead merged automatically goes into an older one,
            # so the earlier of two new leads is settled before the later one is compared with it.
            batch = [rows[lead_id] for lead_id in sorted(lead_ids) if lead_id in rows]  # (gone since: nothing to do)
            found = await candidates_of(ctx, batch, whole=False)
            threshold = (await policy(ctx))["auto_merge_threshold"]
            stored = []
            for lead in batch:
                lead_id = lead["id"]
                candidate_rows = [
                    {"id": new_id(), "lead_id": lead_id, "candidate_id": c["lead"]["id"], "score": c["score"],
                     "matched": c["matched"], "found_at": now}
                    for c in found[lead_id]
                ]  # fmt: skip
                target = dedupe.auto_merge_target(lead, found[lead_id], threshold)
                if target is not None and await _merge_found(ctx, lead_id, target):
                    stored += candidate_rows  # kept as found; merged, so not announced for review
                elif candidate_rows:  # a lead is queued once, when created: nothing stored for it yet
                    stored += candidate_rows
                    data = DuplicatesFound(
                        lead_id=lead_id,
                        candidates=[DuplicateCandidateRead.model_validate(r) for r in candidate_rows],
                    )
                    await events.record(ctx, types.LEAD_DUPLICATES_FOUND, data, resource_id=lead_id)
            if stored:
                await WorkspaceRepositories(uow, workspace_id).duplicate_candidates.add(stored)
        await uow.commit()
    return len(queued)


async def _merge_found(ctx: Context, lead_id: UUID, target: Mapping[str, Any]) -> bool:
    """Merge a new lead into the candidate it matched automatically, in a savepoint: a lead changed
    meanwhile (no longer open, a concurrent write) stays a suggestion instead of failing the pass."""
    try:
        async with ctx.uow.savepoint():
            merged = await merge_automatically(ctx, lead_id, target["lead"]["id"], float(target["score"]))
    except DomainError:
        return False
    return merged is not None


async def list_found(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, lead_id: UUID | None) -> Page:
    return await ctx.duplicate_candidates.list(sort=sort, cursor=cursor, limit=limit, lead_id=lead_id)
