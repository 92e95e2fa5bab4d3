"""Qualify a lead into an account, a contact and an opportunity in one transaction; disqualify it
with a reason; reactivate it later (also when archived)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any
from uuid import UUID

from app.db.repositories.leads.rows import LeadRow
from app.domain.concurrency import check_if_match
from app.domain.errors import Conflict, ErrorList, InvalidInput
from app.domain.events import events as types
from app.domain.leads import sla
from app.domain.leads.lifecycle import EDITABLE, LeadStatus
from app.domain.leads.qualification import account_from_lead, contact_from_lead, fill_empty
from app.domain.outreach.vocabulary import PersonRef
from app.schemas.leads.leads import LeadRead
from app.schemas.workspace.settings import DisqualificationReasons
from app.services.context import Context, RowT, write_changes
from app.services.customers import records, referrals, relationships
from app.services.events import events
from app.services.leads import leads
from app.services.outreach import consents
from app.services.workspace import settings


async def _link_or_create(
    ctx: Context,
    kind: records.Kind[RowT],
    given: UUID | None,
    found: RowT | None,
    proposed: dict[str, Any],
    field: str,
    lead_id: UUID,
) -> tuple[RowT, RowT | None]:
    """(the record to qualify into, as it was before or None when new): the one asked for, else the
    one found by the duplicate rules (both only get their empty fields filled), else a new one."""
    if given is not None:
        found = await kind.repo(ctx).get(given)
        if found is None or found.get("archived_at") is not None:
            raise InvalidInput.field(field, f"no {kind.name} with this id in the workspace")
    if found is None:  # a new record remembers the lead it came from
        return await records.create(ctx, kind, {**proposed, "lead_id": lead_id}), None
    if proposed.get("referred_by_contact_id") == found["id"]:  # a contact never refers itself
        proposed = {k: v for k, v in proposed.items() if k != "referred_by_contact_id"}
    changes = fill_empty(found, proposed)
    if not changes:
        return found, found
    # Only the empty fields of the record as read here are filled (a referrer among them, counted
    # and announced): a concurrent write since then runs the qualification again on a fresh read.
    _, updated = await records.update(ctx, kind, found["id"], changes, if_match=None, read_version=found["version"])
    return updated, found


async def qualify(ctx: Context, lead_id: UUID, request: dict[str, Any]) -> dict[str, Any]:
    # The lead is locked before the contact is written, in the order a first purchase converting
    # it takes them (lead, then contact): the two wait for each other instead of deadlocking.
    lead = await leads.get(ctx, lead_id, lock=True)
    if lead["status"] == LeadStatus.QUALIFIED:
        references = {k: str(lead[k]) if lead[k] else None for k in ("account_id", "contact_id", "opportunity_id")}
        raise Conflict("the lead is qualified already", extensions=references)
    if lead["status"] not in EDITABLE or lead["archived_at"] is not None or lead["merged_into_id"] is not None:
        raise Conflict(f"the lead is {'archived' if lead['archived_at'] else lead['status']}; reactivate it first")
    proposed_account = {k: v for k, v in account_from_lead(lead).items() if k != "owner_id" or v is not None}
    account_match = None
    if request.get("account_id") is None:
        account_match = await ctx.accounts.by_domain_or_name(proposed_account["domain"], proposed_account["name"])
    account, account_before = await _link_or_create(
        ctx, relationships.ACCOUNT, request.get("account_id"), account_match, proposed_account, "account_id", lead_id
    )
    proposed_contact = {**contact_from_lead(lead), "account_id": account["id"]}
    referrer = proposed_contact["referred_by_contact_id"]
    if referrer is not None and not await ctx.contacts.existing([referrer]):
        del proposed_contact["referred_by_contact_id"]  # the referrer is gone: nothing to carry over
    contact_match = None
    if request.get("contact_id") is None:
        contact_match = await ctx.contacts.by_email_or_phone(lead["email_key"], lead["phone_e164"])
    contact, contact_before = await _link_or_create(
        ctx, relationships.CONTACT, request.get("contact_id"), contact_match, proposed_contact, "contact_id", lead_id
    )
    await referrals.announce(ctx, contact_before, contact, "qualification", lead_id=lead["id"])
    await consents.carry(ctx, PersonRef("lead", lead["id"]), PersonRef("contact", contact["id"]))
    opportunity = None
    wanted = request.get("opportunity")
    if wanted is not None:
        values = {
            "name": wanted.get("name") or f"{account['name']} - {wanted['type'].replace('_', ' ')}",
            "account_id": account["id"],
            "contact_id": contact["id"],
            "owner_id": lead["owner_id"],
            "amount": wanted.get("amount"),
            "currency": wanted.get("currency"),
            "stage": wanted["stage"],
            "expected_close_date": wanted.get("expected_close_date"),
            "type": wanted["type"],
            "lead_id": lead["id"],
        }
        try:
            opportunity = await relationships.create_opportunity(ctx, values)
        except InvalidInput as exc:  # name the fields as the caller sent them
            errors = [replace(e, field=f"opportunity.{e.field}") for e in exc.errors]
            raise InvalidInput(exc.detail, errors=errors) from exc
    links = {"contact_id": contact["id"], "account_id": account["id"]}
    if opportunity is not None:
        links["opportunity_id"] = opportunity["id"]
    moved = {
        "engagements": await ctx.engagements.relink(lead["id"], contact["id"]),
        "activities": await ctx.activities.relink(lead["id"], links),
        "tasks": await ctx.tasks.relink(lead["id"], links),
    }
    changes = {
        "status": LeadStatus.QUALIFIED.value,
        "qualified_at": ctx.now,
        **links,
        "opportunity_id": opportunity["id"] if opportunity is not None else None,
    }
    changes.update(sla.closed(lead["sla_status"]))
    repo = ctx.leads
    updated = await write_changes(ctx, lead, changes, partial(repo.update, lead["id"]), if_match=None)
    await events.record(
        ctx, types.LEAD_QUALIFIED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
    )
    return {
        "lead_id": lead["id"],
        "account_id": account["id"],
        "contact_id": contact["id"],
        "opportunity_id": opportunity["id"] if opportunity is not None else None,
        "account_created": account_before is None,
        "contact_created": contact_before is None,
        "moved": moved,
    }


async def disqualify(ctx: Context, lead_id: UUID, reason: str, note: str | None, *, if_match: str | None) -> LeadRow:
    lead = await leads.get(ctx, lead_id)
    check_if_match(if_match, lead["version"])
    allowed = (await settings.get(ctx, "disqualification-reasons", DisqualificationReasons))["values"]["reasons"]
    errors = ErrorList()
    if reason not in allowed:
        errors.add("reason", f"use one of: {', '.join(allowed)} (/v1/settings/disqualification-reasons)")
    errors.raise_if_any()
    if lead["status"] not in EDITABLE:
        raise Conflict(f"the lead is {lead['status']}; only new, contacted or nurturing leads are disqualified")
    changes: dict[str, Any] = {
        "status": LeadStatus.DISQUALIFIED.value,
        "disqualified_at": ctx.now,
        "disqualification_reason": reason,
        "disqualification_note": note,
    }
    changes.update(sla.closed(lead["sla_status"]))
    repo = ctx.leads
    updated = await write_changes(ctx, lead, changes, partial(repo.update, lead_id), if_match=if_match)
    await events.record(
        ctx, types.LEAD_DISQUALIFIED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
    )
    return updated


async def reactivate(ctx: Context, lead_id: UUID, *, if_match: str | None) -> LeadRow:
    """Back to nurturing (a re-engagement campaign found it again), keeping its history."""
    lead = await leads.get(ctx, lead_id)
    check_if_match(if_match, lead["version"])
    if lead["status"] == LeadStatus.QUALIFIED or lead["merged_into_id"] is not None:
        raise Conflict(f"the lead is {'merged' if lead['merged_into_id'] else 'qualified'}; it cannot be reactivated")
    if lead["status"] != LeadStatus.DISQUALIFIED and lead["archived_at"] is None:
        raise Conflict("only disqualified or archived leads are reactivated")
    changes = {
        "status": LeadStatus.NURTURING.value,
        "archived_at": None,
        "disqualified_at": None,
        "disqualification_reason": None,
        "disqualification_note": None,
    }
    repo = ctx.leads
    updated = await write_changes(ctx, lead, changes, partial(repo.update, lead_id), if_match=if_match)
    await events.record(
        ctx, types.LEAD_REACTIVATED, LeadRead.model_validate(updated), previous=LeadRead.model_validate(lead)
    )
    return updated
