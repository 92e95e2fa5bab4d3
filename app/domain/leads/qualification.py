"""Qualifying a lead: what the account, contact and opportunity get from it. Existing records are
only filled where empty; nothing a person typed is overwritten."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Mail providers whose domain says nothing about the company.
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "hotmail.com", "outlook.com", "live.com",
        "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de",
        "mail.ru", "yandex.ru", "yandex.com", "zoho.com", "chmail.ir", "yahoo.co.uk", "qq.com", "163.com",
    }
)  # fmt: skip

DISQUALIFICATION_REASONS = (
    "not_interested",
    "no_budget",
    "no_response",
    "lost_to_competitor",
    "poor_fit",
    "no_decision_maker",
    "duplicate",
    "spam",
    "bad_data",
    "other",
)


def company_domain(email: str | None) -> str | None:
    """The company's domain from a work email (None for free mail providers)."""
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().removeprefix("www.")
    return None if domain in FREE_MAIL else domain


def account_from_lead(lead: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": lead.get("company") or _person_name(lead) or lead.get("email") or "Unnamed account",
        "domain": company_domain(lead.get("email")),
        "industry": lead.get("industry"),
        "company_size": lead.get("company_size"),
        "country": lead.get("country"),
        "province": lead.get("province"),
        "city": lead.get("city"),
        "owner_id": lead.get("owner_id"),
        "tags": list(lead.get("tags") or []),
    }


def contact_from_lead(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The person's contact: who they are, and the customer who referred them (a referral converts
    when the lead does)."""
    return {
        key: lead.get(key)
        for key in (
            "first_name", "last_name", "email", "email_key", "phone", "phone_e164", "phone_valid", "job_title",
            "owner_id", "country", "province", "city", "timezone", "referred_by_contact_id",
        )
    } | {"tags": list(lead.get("tags") or []), "interests": []}  # fmt: skip


def _person_name(lead: Mapping[str, Any]) -> str:
    return " ".join(filter(None, (lead.get("first_name"), lead.get("last_name"))))


def fill_empty(existing: Mapping[str, Any], proposed: Mapping[str, Any]) -> dict[str, Any]:
    """The proposed values for the fields that are empty on the existing record (tags: the union)."""
    changes: dict[str, Any] = {}
    for key, value in proposed.items():
        if key == "tags":
            union = list(existing.get("tags") or [])
            union += [t for t in value or [] if t not in union]
            if union != list(existing.get("tags") or []):
                changes["tags"] = union
        elif value not in (None, "", [], False) and existing.get(key) in (None, "", []):
            changes[key] = value
    return changes
