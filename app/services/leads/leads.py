"""Leads: create, change, archive, list, and batch upsert by external id."""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from app.db.conflicts import is_open_identity_conflict
from app.db.repositories.base import Page
from app.db.repositories.leads.rows import LeadRow
from app.domain.concurrency import LostUpdate, check_if_match
from app.domain.errors import Conflict, DomainError, ErrorList, InvalidInput, NotFound
from app.domain.events import events as types
from app.domain.leads import custom_fields as custom
from app.domain.leads import dedupe
from app.domain.leads import sla as sla_rules
from app.domain.leads.contact import contact_details
from app.domain.leads.filters import LeadFilters
from app.domain.leads.lifecycle import LeadStatus, Source, check_status_change, default_channel, is_open
from app.domain.leads.scoring import Engagement
from app.domain.leads.search import digits, search_text
from app.domain.outreach.vocabulary import PersonRef
from app.domain.pagination import Sort
from app.ids import new_id
from app.schemas.common import invalid_input
from app.schemas.leads.leads import LeadCreate, LeadMerged, LeadRead
from app.services import reruns
from app.services.batches import item_error
from app.services.context import Context, changed_fields, write_changes
from app.services.events import events
from app.services.leads import custom_fields, lookups, routing, scoring, sensitive, sla
from app.services.leads.scoring import FIT_FIELDS
from app.services.outreach import consents, suppressions
from app.services.workspace import workspaces

CONTACT_FIELDS = ("email", "phone")


async def _prepare(ctx: Context, data: dict[str, Any], current: LeadRow | None) -> dict[str, Any]:
    """Validated, normalised column values for a new lead (`current` None) or for a change."""
    errors = ErrorList()
    merged = {**current, **data} if current is not None else dict(data)
    values = dict(data)
    if current is None or any(f in data for f in CONTACT_FIELDS):
        region = await workspaces.default_region(ctx)
        details = contact_details(merged.get("email"), merged.get("phone"), region, errors)
        values["email"] = details.email.address if details.email else None
        values["email_key"] = details.email.key if details.email else None
        values["phone"] = details.phone.raw if details.phone else None
        values["phone_e164"] = details.phone.e164 if details.phone else None
        values["phone_valid"] = details.phone.valid if details.phone else False
    if current is None or "custom_fields" in data:
        definitions = await custom_fields.definitions(ctx)
        given = data.get("custom_fields") or {}
        clean = custom.validate(definitions, given, errors, require_all=current is None)
        stored = {**(current["custom_fields"] if current else {}), **clean}
        values["custom_fields"] = {k: v for k, v in stored.items() if v is not None}
    if data.get("owner_id") is not None and await ctx.members.get(data["owner_id"]) is None:
        errors.add("owner_id", "no member with this id in the workspace")
    referrer = data.get("referred_by_lead_id")
    if referrer is not None and (current and referrer == current["id"]):
        errors.add("referred_by_lead_id", "a lead cannot refer itself")
    elif referrer is not None and not await ctx.leads.exists(referrer):
        errors.add("referred_by_lead_id", "no lead with this id in the workspace")
    customer = data.get("referred_by_contact_id")
    if customer is not None and not await ctx.contacts.existing([customer]):
        errors.add("referred_by_contact_id", "no contact with this id in the workspace")
    errors.raise_if_any()
    values.update(derived_columns({**merged, **values}))
    return values


def derived_columns(lead: dict[str, Any]) -> dict[str, Any]:
    """What is computed from a lead's fields once, on write: its search text and duplicate keys."""
    return {
        "search_text": search_text(
            " ".join(filter(None, (lead.get("first_name"), lead.get("last_name")))),
            lead.get("email"),
            lead.get("company"),
            lead.get("phone"),
            digits(lead.get("phone") or ""),
            (lead.get("phone_e164") or "").lstrip("+"),
        ),
        "name_key": dedupe.name_key(lead.get("first_name"), lead.get("last_name")),
        "company_key": dedupe.company_key(lead.get("company")),
    }


class DuplicateLead(Conflict):
    """An open lead has this email or phone (merge into it, or say so), or, when the caller asked
    about returning customers, a contact has it."""

    def __init__(self, existing: LeadRow | None, *, contact_id: UUID | None) -> None:
        if existing is not None:
            detail = (
                "an open lead with this email or phone exists: update it, send the lead with on_duplicate=merge "
                "to merge it into that lead, or merge leads with POST /v1/leads/{id}/merge"
            )
            extensions = {"existing_lead_id": str(existing["id"])}
        else:
            detail = "a contact with this email or phone exists"
            extensions = {"existing_contact_id": str(contact_id)}
        super().__init__(detail, extensions=extensions)
        self.existing = existing
        self.contact_id = contact_id


async def create(
    ctx: Context, data: dict[str, Any], *, apply_sla: bool = True, erased: suppressions.Erased | None = None
) -> LeadRow:
    """A new lead, scored on its fit, given its first-response deadline (unless `apply_sla` is
    false: imports and batches carry history) and routed to an owner. Its email and phone are looked
    up first: DuplicateLead (409) when an open lead has either. Written at commit with its events;
    with an external_id (which another lead may hold) at once. `erased`: the batch's addresses
    an erasure suppressed, looked up together (else this lead's are looked up)."""
    return await _create(ctx, data, look_up=True, customers=False, write_now=False, apply_sla=apply_sla, erased=erased)


async def create_for_capture(
    ctx: Context,
    data: dict[str, Any],
    *,
    engagement: dict[str, Any] | None,
    visitor_id: str | None,
    returning_customers: bool,
) -> LeadRow:
    """A website form's new lead (app/services/leads/capture.py), arriving with the form's
    `engagement` (counted before it is routed). The open leads are not searched for its email and
    phone first: a submission for someone new is one statement. The capture writes it at the end of
    its run, where the identity index refuses it when the person has an open lead after all, and
    the capture runs again having looked them up. Contacts are searched first when
    `returning_customers` (the deduplication policy's link_existing_contacts) and the workspace has
    any: DuplicateLead naming the contact (or, found on the way, the open lead). With a `visitor_id`
    the lead is written at once, so that the capture can make that visitor's anonymous engagements
    its own (app/services/leads/engagements.py: link_visitor)."""
    lead = await _create(
        ctx, data, look_up=False, customers=returning_customers, write_now=visitor_id is not None,
        apply_sla=True, engagement=engagement,
    )  # fmt: skip
    return lead


async def open_lead_like(ctx: Context, data: dict[str, Any]) -> LeadRow | None:
    """The open lead with the email or phone of `data` (not yet validated: an email or phone that
    does not parse matches nothing)."""
    region = await workspaces.default_region(ctx)
    details = contact_details(data.get("email"), data.get("phone"), region, ErrorList())
    email_key = details.email.key if details.email else None
    existing, _ = await ctx.leads.identity_match(email_key, details.phone.e164 if details.phone else None)
    return existing


async def _create(
    ctx: Context,
    data: dict[str, Any],
    *,
    look_up: bool,
    customers: bool,
    write_now: bool,
    apply_sla: bool,
    engagement: dict[str, Any] | None = None,
    erased: suppressions.Erased | None = None,
) -> LeadRow:
    """`look_up`: search the open leads for its email and phone first (else the identity index
    refuses a duplicate when the lead is written); `customers`: a contact with them is a returning
    customer (DuplicateLead naming it; searched only in a workspace with contacts); `write_now`:
    insert it at once (a later statement of the use case refers to it), else a lead without
    external_id is written at commit.

    A new person at an address an erasure suppressed starts opted out on its channel (one indexed
    lookup, unless the caller's `erased` answered for a whole batch): such a lead is written at
    once, for its consent refers to it. A capture's own ticked consent boxes, recorded after,
    are their new opt-in."""
    values = await _prepare(ctx, data, None)
    email_key, phone_e164 = values.get("email_key"), values.get("phone_e164")
    if erased is None:
        erased = await suppressions.erased(ctx, [(email_key, phone_e164)])
    opted_out = erased.channels(email_key, phone_e164)
    write_now = write_now or bool(opted_out)
    values["channel"] = values.get("channel") or default_channel(Source(values["source"]))
    repo = ctx.leads
    values = {"id": new_id(), **values, **ctx.audit_new()}
    if look_up or (customers and await _has_contacts(ctx)):
        existing, contact_id = await repo.identity_match(values.get("email_key"), values.get("phone_e164"))
        if existing is not None:
            raise DuplicateLead(existing, contact_id=None)
        if contact_id is not None and customers:
            raise DuplicateLead(None, contact_id=contact_id)
    values.update(await scoring.initial(ctx, values, engagement))
    values.update(await sla.columns_for_new(ctx, values, exempt=not apply_sla))
    assignment = await routing.route_new(ctx, values)
    if assignment is not None:
        reason, rule_index = assignment.pop("_reason"), assignment.pop("_rule_index", None)
        values.update(assignment)
    # Without an external_id nothing can conflict: the lead is written at commit with its events.
    write_behind = values.get("external_id") is None and not write_now
    row = repo.add(values) if write_behind else await repo.create(values)
    if row is None:
        existing, _ = await repo.identity_match(values.get("email_key"), values.get("phone_e164"))
        if existing is not None:  # an open lead with this email or phone was written meanwhile
            raise DuplicateLead(existing, contact_id=None)
        raise Conflict(
            f"a lead with external_id {values.get('external_id')!r} exists; "
            "PATCH it, or upsert with POST /v1/leads/batch"
        )
    await events.record(ctx, types.LEAD_CREATED, LeadRead.model_validate(row))
    if opted_out:
        await consents.start_erased(ctx, PersonRef("lead", row["id"]), opted_out)
    await scoring.created(ctx, row, engagement)
    if assignment is not None:
        await routing.record(ctx, row["id"], None, row["owner_id"], row["team_id"], reason, rule_index)
    return row


# What `on_duplicate` asks of a new lead whose email or phone an open lead has.
MERGE, REJECT = "merge", "reject"
# What a request may fill on the open lead it is merged into: every field a new lead takes, except
# how the existing lead came in (source, channel) and where it stands (status).
REQUEST_FILLABLE = (*(f for f in LeadCreate.model_fields if f not in ("source", "channel", "status")),)
# A filled value another lead holds (an open lead's email or phone, any lead's external_id) is
# left out rather than failing the merge.
CONTESTED = ("email", "phone", "external_id")


async def create_or_merge(ctx: Context, data: dict[str, Any], *, on_duplicate: str) -> tuple[LeadRow, bool]:
    """`POST /v1/leads`: a new lead (`create`), or, when an open lead has its email or phone and
    `on_duplicate` is `merge`, that lead with the request merged into it; whether it merged.
    `reject`: the DuplicateLead (409 with `existing_lead_id`). Two requests for one new person race:
    the identity index refuses the later one's lead as it is written, and that request runs again
    (`reruns`), finding the winner's lead, which it merges into or names in its 409."""

    async def attempt(again: bool) -> tuple[LeadRow, bool]:
        result = await _create_or_merge(ctx, data, on_duplicate=on_duplicate, apply_sla=True)
        await reruns.written(ctx)
        return result

    return await reruns.run(ctx, attempt, lost=is_open_identity_conflict)


async def _create_or_merge(
    ctx: Context,
    data: dict[str, Any],
    *,
    on_duplicate: str,
    apply_sla: bool,
    erased: suppressions.Erased | None = None,
) -> tuple[LeadRow, bool]:
    """A new lead, or the open lead with its email or phone with `data` merged into it (`merge`).
    A lead closed between the lookup and the merge is not merged into: the request is looked up
    again (and then creates its lead)."""
    for _ in range(MERGE_ATTEMPTS):
        try:
            return await create(ctx, data, apply_sla=apply_sla, erased=erased), False
        except DuplicateLead as duplicate:
            if on_duplicate != MERGE or duplicate.existing is None:
                raise
            merged = await merge_request(ctx, duplicate.existing, data)
        if merged is not None:
            return merged, True
    raise LostUpdate("the open lead with this email or phone kept closing while the request merged into it")


MERGE_ATTEMPTS = 3  # lookups of a request's open lead, each of which may close before it is merged into


async def merge_request(ctx: Context, lead: LeadRow, data: dict[str, Any]) -> LeadRow | None:
    """A request for someone who has an open lead, merged into it by the rule every automatic merge
    follows (`dedupe.filled_values`: empty fields filled, tags and custom fields added, nothing
    overwritten); `lead.merged` with source `request` says what it filled. The lead is locked and
    read again first (held until commit), so it is still open when the merge commits, even when
    the request fills nothing; None, merging nothing, when it closed since it was found (a closed
    lead is never merged into)."""
    current = await ctx.leads.lock(lead["id"])
    if current is None or not is_open(current):
        return None
    lead = current
    updated, applied = await fill_open_lead(ctx, lead, data, REQUEST_FILLABLE)
    shown = LeadRead.model_validate(updated)
    await events.record(
        ctx,
        types.LEAD_MERGED,
        LeadMerged(
            survivor=shown,
            merged_lead_ids=[],
            moved=dict.fromkeys(HISTORY, 0),
            source="request",
            **filled_and_added(shown, applied, lead),
        ),
        resource_id=lead["id"],
    )
    return updated


HISTORY = ("engagements", "activities", "tasks", "submissions")  # what a merge of two leads moves


def filled_and_added(shown: LeadRead, applied: dict[str, Any], before: LeadRow) -> dict[str, Any]:
    """A merge's `filled_fields` (as the lead now shows them) and `added_tags`."""
    values = shown.model_dump(mode="json")
    return {
        "filled_fields": {
            k: values[k] for k in sorted(applied) if k in values and k != "tags" and k not in dedupe.DERIVED_FIELDS
        },
        "added_tags": [t for t in applied.get("tags", []) if t not in before["tags"]],
    }


async def fill_open_lead(
    ctx: Context, lead: LeadRow, data: dict[str, Any], fields: tuple[str, ...] | frozenset[str]
) -> tuple[LeadRow, dict[str, Any]]:
    """The lead with what it lacked filled in from `data` (`dedupe.filled_values` over `fields`),
    and what was applied. Written against the lead as read: a concurrent write makes the request
    run again on the new state. A new email, phone or external id another lead holds is left out."""
    changes = dedupe.filled_values(lead, data, fields)
    if changes.get("referred_by_lead_id") == lead["id"]:  # the lead a request merges into cannot refer itself
        del changes["referred_by_lead_id"]
    if not changes:
        return lead, {}
    written = dict(changes)
    if "custom_fields" in written:  # only the added ones are validated and stored beside the lead's own
        current = lead.get("custom_fields") or {}
        written["custom_fields"] = {k: v for k, v in written["custom_fields"].items() if current.get(k) != v}
    try:
        return await update_as_read(ctx, lead, written), changes
    except LostUpdate:  # a concurrent write changed the lead: the request runs again on its new state
        raise
    except Conflict:  # the new email, phone or external id belongs to another lead: leave those out
        applied = {k: v for k, v in changes.items() if k not in CONTESTED}
        written = {k: v for k, v in written.items() if k not in CONTESTED}
        return (await update_as_read(ctx, lead, written) if written else lead), applied


async def _has_contacts(ctx: Context) -> bool:
    """Whether the workspace has any contact (cached briefly; creating one here drops the entry)."""

    async def load() -> bool:
        return await ctx.contacts.any()

    return await lookups.cached(("has-contacts", ctx.workspace_id), load)


async def get(ctx: Context, lead_id: UUID, *, lock: bool = False) -> LeadRow:
    """The lead; `lock`: held until commit, for a use case that writes it last."""
    repo = ctx.leads
    row = await (repo.lock(lead_id) if lock else repo.get(lead_id))
    if row is None:
        raise NotFound("no lead with this id")
    return row


async def update(ctx: Context, lead_id: UUID, changes: dict[str, Any], *, if_match: str | None) -> LeadRow:
    row = await get(ctx, lead_id)
    check_if_match(if_match, row["version"])
    return await _apply(ctx, row, changes, if_match=if_match)


class LaterWrites(Protocol):
    """A caller that writes many leads' changes together, at its end (the journeys engine's batch)."""

    async def write(self, ctx: Context, row: LeadRow, values: dict[str, Any]) -> LeadRow:
        """Keep the change, to be written against the version of `row` (the unit of work fails
        when the lead changed meanwhile); the row as it will be."""
        ...

    def engagements(self, lead_id: UUID) -> list[Engagement] | None:
        """The lead's stored engagements as scoring reads them, when read already (None: read them)."""
        ...


async def update_as_read(
    ctx: Context, row: LeadRow, changes: dict[str, Any], *, later: LaterWrites | None = None
) -> LeadRow:
    """Changes a use case worked out from `row` as it read it (e.g. "fill what is empty"): written
    against that row's version, so a concurrent write in between is a lost update and the request
    runs again on the new state, instead of the stale changes overwriting it. `later`: the UPDATE
    itself is left to the caller, who writes many leads' together; everything else (rescoring,
    events) happens here."""
    return await _apply(ctx, row, changes, if_match=None, later=later)


async def _apply(
    ctx: Context, row: LeadRow, changes: dict[str, Any], *, if_match: str | None, later: LaterWrites | None = None
) -> LeadRow:
    if "status" in changes:
        check_status_change(LeadStatus(row["status"]), LeadStatus(changes["status"]))
    changes, chosen, stage_reason = _stage_choice(changes)
    changes = changed_fields(row, {**changes, **chosen})
    if not changes:
        return row
    values = changed_fields(row, await _prepare(ctx, changes, row))
    if not values:
        return row
    result = None
    if FIT_FIELDS & values.keys():  # who the lead is changed: so may its fit, temperature, stage
        stored = later.engagements(row["id"]) if later is not None else None
        result = await scoring.evaluate(ctx, {**row, **values}, stored=stored)
        rescored = changed_fields(row, {**scoring.columns(result, row), **chosen})  # a person's stage stands
        if rescored.keys() - {"scored_at"}:
            values.update(rescored)
    if "owner_id" in values:
        values["assigned_at"] = ctx.now if values["owner_id"] is not None else None
    repo = ctx.leads
    if later is not None:
        updated = await later.write(ctx, row, {**values, **ctx.audit_change()})
    else:
        updated = await write_changes(ctx, row, values, partial(repo.update, row["id"]), if_match=if_match)
    await events.record(
        ctx, types.LEAD_UPDATED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(row)
    )
    if result is not None or chosen:
        await scoring.record_changes(
            ctx, row, updated, result, "lead changed", manual=bool(chosen), stage_reason=stage_reason
        )
    if "owner_id" in values:
        await routing.record(ctx, row["id"], row["owner_id"], updated["owner_id"], updated["team_id"], routing.MANUAL)
    if values.get("status") == LeadStatus.CONTACTED and updated["first_responded_at"] is None:
        # Moving a lead to `contacted` is a first response (the member says they reached it).
        updated = await sla.record_response(ctx, updated, ctx.now) or updated
    return updated


def _stage_choice(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """A person's `stage` (with its optional `stage_reason`) out of a PATCH: (the other changes,
    the stage columns it sets, the reason)."""
    if "stage" not in changes:
        if changes.get("stage_reason") is not None:
            raise InvalidInput.field("stage_reason", "give it with the stage it explains")
        return {k: v for k, v in changes.items() if k != "stage_reason"}, {}, None
    rest = {k: v for k, v in changes.items() if k not in ("stage", "stage_reason")}
    return rest, scoring.manual_stage(changes["stage"]), changes.get("stage_reason")


async def archive(ctx: Context, lead_id: UUID, *, if_match: str | None) -> LeadRow:
    row = await get(ctx, lead_id)
    check_if_match(if_match, row["version"])
    if row["archived_at"] is not None:
        return row
    repo = ctx.leads
    # Nobody acts on an archived lead: a pending first-response clock has nothing left to breach.
    archived = {"archived_at": ctx.now, **sla_rules.closed(row["sla_status"])}
    updated = await write_changes(ctx, row, archived, partial(repo.update, lead_id), if_match=if_match)
    await events.record(
        ctx, types.LEAD_ARCHIVED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(row)
    )
    return updated


async def list_leads(
    ctx: Context, filters: LeadFilters, *, sort: Sort, cursor: str | None, limit: int
) -> Page[LeadRow]:
    """A page of the leads matching `filters`, without sensitive custom field values (a list
    never carries them); a `cf.` filter names a defined custom field and gives a value of its type
    (422 otherwise), a sensitive one only with `sensitive:read` (403)."""
    asked = filters.custom_fields
    if asked:
        await sensitive.check_filters(ctx, asked)
    definitions = {d.key: d for d in await custom_fields.definitions(ctx)} if asked else {}
    errors = ErrorList()
    typed = []
    for key, raw in asked.items():
        definition = definitions.get(key)
        if definition is None:
            errors.add(f"cf.{key}", "no such custom field", location="query")
            continue
        try:
            typed.append((key, definition.type.value, custom.coerce(definition, raw)))
        except ValueError as exc:
            errors.add(f"cf.{key}", str(exc), location="query")
    errors.raise_if_any()
    return await sensitive.listed(
        ctx, await ctx.leads.list(filters, custom=typed, sort=sort, cursor=cursor, limit=limit)
    )


async def batch_upsert(
    ctx: Context, items: list[dict[str, Any]], *, apply_sla: bool = False, on_duplicate: str = REJECT
) -> list[dict[str, Any]]:
    """Create or update each item (matched by `external_id` when it has one); one bad item is
    reported in its result and never rejects the others. Batches load history, so new leads are
    exempt from the first-response SLA unless `apply_sla`. A new item whose email or phone an open
    lead has (one stored, or one an earlier item created) is merged into it with `on_duplicate`
    `merge` (status `merged`), else it is an error."""
    given = (i.get("external_id") for i in items if isinstance(i, dict))
    external_ids = [external_id for external_id in given if isinstance(external_id, str)]
    known = await ctx.leads.by_external_ids(external_ids)
    results: list[dict[str, Any]] = []
    region = await workspaces.default_region(ctx)
    erased = await suppressions.erased(ctx, _addresses(items, known, region))
    created_with: dict[str, int] = {}  # email key / phone of leads this batch creates -> item index
    for index, item in enumerate(items):
        try:
            data = LeadCreate.model_validate(item).model_dump(exclude_unset=True)
            data.setdefault("source", Source.OTHER.value)
            current = known.get(data.get("external_id", ""))
            if current is None:
                # New leads are written at commit: a second item with the same email or phone is
                # found here, not by the database's identity index at commit (one open lead each).
                details = contact_details(data.get("email"), data.get("phone"), region, ErrorList())
                keys = details.identity_keys
                earlier = next((created_with[k] for k in keys if k in created_with), None)
                if earlier is not None and on_duplicate != MERGE:
                    raise Conflict(
                        f"item {earlier} of this batch has the same email or phone (one open lead per person)",
                        extensions={"duplicate_of_index": earlier},
                    )
                if earlier is not None:  # that item's lead is written behind: write it now, to merge into it
                    await ctx.uow.flush()
            async with ctx.uow.savepoint():  # a failed item leaves nothing behind
                if current is None:
                    row, merged = await _create_or_merge(
                        ctx,
                        {"tags": [], "status": "new", **data},
                        on_duplicate=on_duplicate,
                        apply_sla=apply_sla,
                        erased=erased,
                    )
                    status = "merged" if merged else "created"
                    if not merged:
                        created_with.update(dict.fromkeys(keys, index))
                else:
                    row = await _apply(ctx, current, data, if_match=None)
                    status = "updated" if row["version"] != current["version"] else "unchanged"
            external_id = row["external_id"]
            if external_id:
                known[external_id] = row
            results.append({"index": index, "status": status, "id": row["id"]})
        except ValidationError as exc:
            results.append(item_error(index, invalid_input(exc)))
        except DomainError as exc:
            results.append(item_error(index, exc))
    return results


def _addresses(
    items: list[dict[str, Any]], known: dict[str, LeadRow], region: str | None
) -> list[tuple[str | None, str | None]]:
    """The (email key, E.164 phone) of a batch's items that may be new leads (as typed: one that
    does not parse is no address), to look their erased suppressions up at once."""
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        external_id = item.get("external_id")
        if isinstance(external_id, str) and external_id in known:
            continue
        email, phone = item.get("email"), item.get("phone")
        details = contact_details(
            email if isinstance(email, str) else None, phone if isinstance(phone, str) else None, region, ErrorList()
        )
        found.append((details.email_key, details.phone_e164))
    return found
