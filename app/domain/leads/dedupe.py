"""Duplicate leads: blocking keys for an indexed candidate search, a similarity score with the
fields that matched, and the merge rule (keep non-empty values, prefer the newest record, union
the tags, keep the earliest creation). Pure; rapidfuzz does the string similarity."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from app.domain.leads.search import normalize

# Legal forms and filler words that say nothing about which company it is (Latin and Persian).
_COMPANY_NOISE = frozenset(
    {
        "inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "gmbh", "ag", "sa", "sarl", "bv", "co",
        "corp", "corporation", "company", "group", "the", "and", "شرکت", "سهامی", "خاص", "عام", "گروه",
        "مسئولیت", "محدود", "تعاونی",
    }
)  # fmt: skip
_WORD = re.compile(r"\w+", re.UNICODE)
# Fields a merge carries over (the rest is identity, bookkeeping or computed).
MERGED_FIELDS = (
    "first_name", "last_name", "email", "email_key", "phone", "phone_e164", "phone_valid", "company", "job_title",
    "industry", "company_size", "country", "province", "city", "referred_by_lead_id", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "referrer_url", "landing_page", "owner_id", "external_id",
)  # fmt: skip


DERIVED_FIELDS = frozenset({"phone_e164", "phone_valid", "email_key"})


def _tokens(text: str | None) -> list[str]:
    return _WORD.findall(normalize(text or ""))


def name_key(first: str | None, last: str | None) -> str | None:
    """The person's name as a blocking key: normalised (Persian letter variants, digits, case),
    tokens sorted, so "Sara Ahmadi" and "ahmadi  sara" meet."""
    tokens = sorted(_tokens(f"{first or ''} {last or ''}"))
    return " ".join(tokens) or None


def company_key(company: str | None) -> str | None:
    """The company as a blocking key: normalised, legal forms dropped ("Acme Ltd." = "ACME")."""
    tokens = [t for t in _tokens(company) if t not in _COMPANY_NOISE]
    return " ".join(tokens) or None


@dataclass(frozen=True)
class Match:
    score: float  # 0-100
    fields: tuple[str, ...]  # what matched: email, phone, name, company


def similarity(lead: Mapping[str, Any], other: Mapping[str, Any]) -> Match:
    """How likely two leads are the same person. The same email or phone is certain (100); else the
    name and the company are compared (both must be present to reach a high score)."""
    exact = tuple(
        label
        for label, key in (("email", "email_key"), ("phone", "phone_e164"))
        if lead.get(key) and lead.get(key) == other.get(key)
    )
    if exact:
        return Match(100.0, exact)
    a_name = name_key(lead.get("first_name"), lead.get("last_name"))
    b_name = name_key(other.get("first_name"), other.get("last_name"))
    a_company, b_company = company_key(lead.get("company")), company_key(other.get("company"))
    if not (a_name and b_name):
        return Match(0.0, ())
    name_score = fuzz.token_sort_ratio(a_name, b_name)
    fields = ["name"] if name_score >= 90 else []
    if a_company and b_company:
        company_score = fuzz.token_set_ratio(a_company, b_company)
        if company_score >= 90:
            fields.append("company")
        score = 0.6 * name_score + 0.4 * company_score
        if name_score < 75:  # a colleague at the same company is another person
            score = min(score, name_score)
    else:
        score = 0.7 * name_score  # a name alone is weak evidence
    return Match(round(score, 1), tuple(fields))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merged_values(survivor: Mapping[str, Any], losers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The survivor's new values: for each field the newest record's non-empty value (records
    ordered by `updated_at`), tags and custom fields united, the earliest `created_at`. Only what
    changes is returned; merging the same records again returns nothing."""
    records = sorted([survivor, *losers], key=lambda r: (r["updated_at"], r["id"]))
    values: dict[str, Any] = {}
    for field in MERGED_FIELDS:
        if field in DERIVED_FIELDS:
            continue  # taken below from the record whose phone or email was chosen
        chosen = survivor.get(field)
        for record in records:  # oldest to newest: the newest non-empty value wins
            if not _empty(record.get(field)):
                chosen = record[field]
        values[field] = chosen
    # A phone and its parsed forms travel together, as an email and its key do: a newer record
    # without a phone (phone_valid false) must not mark the kept phone invalid.
    phone_source = next((r for r in reversed(records) if r.get("phone") == values["phone"]), survivor)
    values["phone_e164"], values["phone_valid"] = phone_source.get("phone_e164"), phone_source.get("phone_valid")
    email_source = next((r for r in reversed(records) if r.get("email") == values["email"]), survivor)
    values["email_key"] = email_source.get("email_key")
    tags: list[str] = []
    for record in [survivor, *losers]:
        tags += [t for t in record.get("tags") or [] if t not in tags]
    values["tags"] = tags
    custom: dict[str, Any] = {}
    for record in records:
        custom.update({k: v for k, v in (record.get("custom_fields") or {}).items() if not _empty(v)})
    values["custom_fields"] = custom
    values["created_at"] = min(r["created_at"] for r in records)
    return {k: v for k, v in values.items() if survivor.get(k) != v}
