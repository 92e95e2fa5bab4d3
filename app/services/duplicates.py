"""Duplicate leads: candidates for a lead (the same email or phone for certain; the same person at
the same company by name similarity as suggestions) and merging duplicates into a survivor."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.base import Page, Row
from app.db.repositories.leads import BLOCKING_KEYS, COMPARED
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import events as types
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList
from app.domain.leads import dedupe
from app.domain.leads.lifecycle import LeadStatus
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.leads import DuplicateCandidateRead, DuplicatesFound, LeadMerged, LeadRead
from app.schemas.settings import DeduplicationSettings
from app.services import events, leads, lookups, scoring, settings
from app.services.context import SERVICE_SCOPES, SYSTEM, Context, write_changes

MAX_CANDIDATES = 10
COMPARED_WITH_KEYS = tuple(dict.fromkeys((*COMPARED, *BLOCKING_KEYS)))  # what a pass reads of a new lead


async def candidates(ctx: Context, lead_id: UUID) -> list[dict[str, Any]]:
    """Up to 10 likely duplicates, best first: exact email/phone matches, then name + company
    matches scoring at least the workspace's `fuzzy_threshold`."""
    lead = await leads.get(ctx, lead_id)
    return (await candidates_of(ctx, [lead]))[lead_id]


async def candidates_of(ctx: Context, batch: list[Row], *, whole: bool = True) -> dict[UUID, list[dict[str, Any]]]:
    """`candidates` for each lead of `batch` (one lookup for all of them); with `whole=False` each
    candidate lead has only the compared columns (LeadRepository COMPARED)."""
    threshold = (await policy(ctx))["fuzzy_threshold"]
    others = await ctx.uow.leads(ctx.workspace_id).duplicate_candidates(batch, whole=whole)
    result = {}
    for lead in batch:
        found = []
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


async def merge(ctx: Context, survivor_id: UUID, loser_ids: list[UUID], *, if_match: str | None) -> Row:
    """Merge `loser_ids` into the survivor: one transaction; merging the same leads again changes
    nothing (idempotent)."""
    survivor = await leads.get(ctx, survivor_id)
    check_if_match(if_match, survivor["version"])
    if survivor["merged_into_id"] is not None:
        raise Conflict("this lead was merged into another; merge into that one", extensions={
            "merged_into_id": str(survivor["merged_into_id"])})  # fmt: skip
    repo = ctx.uow.leads(ctx.workspace_id)
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
        retired = {"merged_into_id": survivor_id, "archived_at": ctx.now, "external_id": None}
        await write_changes(ctx, loser, retired, partial(repo.update, loser["id"]), if_match=None)
    moved = await repo.move_history([loser["id"] for loser in losers], survivor_id)
    updated = survivor
    if values:
        updated = await write_changes(ctx, survivor, values, partial(repo.update, survivor_id), if_match=if_match)
    updated = await scoring.rescore(ctx, updated, cause="leads merged")  # their engagements count now
    merged_ids = [loser["id"] for loser in losers]
    data = LeadMerged(survivor=LeadRead.model_validate(updated), merged_lead_ids=merged_ids, moved=moved)
    await events.record(ctx, types.LEAD_MERGED, data, resource_id=survivor_id)
    return updated


DEDUPE_BATCH = 100


async def find_for_new_leads(database: Database, now: datetime, *, limit: int = DEDUPE_BATCH) -> int:
    """The worker's duplicate search, after commit: for each queued new lead still open, store its
    likely duplicates (at most 10, at or above the workspace's threshold) and announce them with
    `lead.duplicates_found`. Never merges. One transaction per batch; how many leads it took."""
    async with UnitOfWork(database, write=False) as reader:  # no write transaction while idle
        if not await reader.outbox().dedupe_pending():
            return 0
    async with UnitOfWork(database, write=True) as uow:
        queued = await uow.outbox().claim_dedupe(limit)
        by_workspace: dict[UUID, list[UUID]] = {}
        for workspace_id, lead_id in queued:
            by_workspace.setdefault(workspace_id, []).append(lead_id)
        for workspace_id, lead_ids in by_workspace.items():
            ctx = Context(uow, workspace_id, SYSTEM, now, scopes=SERVICE_SCOPES)
            # Only what the comparison reads, of the new leads and of their candidates (whole rows
            # were most of this pass's CPU).
            rows = await uow.leads(workspace_id).by_ids(lead_ids, columns=COMPARED_WITH_KEYS)
            batch = [rows[lead_id] for lead_id in lead_ids if lead_id in rows]  # (gone since: nothing to do)
            found = await candidates_of(ctx, batch, whole=False)
            stored = []
            for lead in batch:
                lead_id = lead["id"]
                candidate_rows = [
                    {"id": new_id(), "lead_id": lead_id, "candidate_id": c["lead"]["id"], "score": c["score"],
                     "matched": c["matched"], "found_at": now}
                    for c in found[lead_id]
                ]  # fmt: skip
                if candidate_rows:  # a lead is queued once, when created: nothing stored for it yet
                    stored += candidate_rows
                    data = DuplicatesFound(
                        lead_id=lead_id,
                        candidates=[DuplicateCandidateRead.model_validate(r) for r in candidate_rows],
                    )
                    await events.record(ctx, types.LEAD_DUPLICATES_FOUND, data, resource_id=lead_id)
            if stored:
                await uow.duplicate_candidates(workspace_id).add(stored)
        await uow.commit()
    return len(queued)


async def list_found(ctx: Context, *, sort: Sort, cursor: str | None, limit: int, lead_id: UUID | None) -> Page:
    return await ctx.uow.duplicate_candidates(ctx.workspace_id).list(
        sort=sort, cursor=cursor, limit=limit, lead_id=lead_id
    )
