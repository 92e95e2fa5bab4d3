"""What the retention classes of the leads context remove: a form submission's raw fields, IP and
user agent; an archived lead's personal data once it is past the workspace's window and never
converted. Pure: times are passed in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from app.domain.leads.dedupe import UNDO_DAYS
from app.domain.leads.lifecycle import LeadStatus

# -- form submissions -------------------------------------------------------------------------------------

# What an old submission's `meta` loses: who sent it. Its origin, referrer, landing page, utm_*,
# visitor id and the consent texts its ticked boxes showed (the consent's proof) stay.
SUBMISSION_META_CLEARED = ("ip", "user_agent")


def cleared_submission(
    fields: Mapping[str, Any], meta: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A submission's `fields` and `meta` once its retention passed (the raw fields gone, the IP and
    user agent out of `meta`); None when it holds none of them any more."""
    if not fields and not any(key in meta for key in SUBMISSION_META_CLEARED):
        return None
    return {}, {key: value for key, value in meta.items() if key not in SUBMISSION_META_CLEARED}


# -- archived leads that never converted ---------------------------------------------------------------

# An anonymised lead's personal columns, as anonymising leaves them. What stays: status, source,
# channel, stage, scores, temperature, owner and team, tags, utm_*, country, province, industry,
# company size, the SLA columns, the disqualification reason and every time: what the reports count.
ANONYMISED: dict[str, Any] = {
    "first_name": None,
    "last_name": None,
    "email": None,
    "email_key": None,
    "phone": None,
    "phone_e164": None,
    "phone_valid": False,
    "company": None,
    "company_key": None,
    "name_key": None,
    "job_title": None,
    "city": None,
    "external_id": None,
    "referrer_url": None,
    "landing_page": None,
    "disqualification_note": None,
    "custom_fields": {},
    "search_text": "",
}
# The columns that tell whether a lead still identifies its person.
IDENTIFYING = tuple(name for name, value in ANONYMISED.items() if value is None)
# What a lead became when it converted: any of these set and it is never anonymised.
CONVERSIONS = ("qualified_at", "contact_id", "account_id", "opportunity_id")
MERGE_UNDO = timedelta(days=UNDO_DAYS)


def never_converted(lead: Mapping[str, Any]) -> bool:
    """Never qualified, and linked to no contact, account or opportunity (a returning customer's
    lead is linked to its contact)."""
    return lead["status"] != LeadStatus.QUALIFIED and all(lead[name] is None for name in CONVERSIONS)


def identified(lead: Mapping[str, Any]) -> bool:
    """The lead still holds personal data (not anonymised yet)."""
    return (
        any(lead[name] is not None for name in IDENTIFYING) or bool(lead["custom_fields"]) or bool(lead["search_text"])
    )


def merge_undoable(lead: Mapping[str, Any], as_of: datetime) -> bool:
    """A lead merged into another (archived by the merge) whose merge may still be undone: it is
    left until the undo window ends, so an undo gives the person their lead back whole."""
    archived_at: datetime | None = lead["archived_at"]
    return lead["merged_into_id"] is not None and archived_at is not None and archived_at + MERGE_UNDO > as_of
