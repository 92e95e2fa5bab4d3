"""Duplicate leads: blocking keys for an indexed candidate search, a similarity score with the
fields that matched, and the merge rule (keep non-empty values, prefer the newest record, union
the tags, keep the earliest creation). Pure; rapidfuzz does the string similarity."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
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
    "industry", "company_size", "country", "province", "city", "timezone", "referred_by_lead_id", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer_url", "landing_page", "owner_id", "external_id",
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


# -- automatic merges --------------------------------------------------------------------------------
# An automatic merge (a form submission or a request from someone with an open lead, a fuzzy match
# the worker merges) never overwrites what the lead it keeps has: each empty field is filled from
# the other record, tags it lacks are added, custom fields it lacks are added. A manual merge
# (`merged_values`) is a person's decision and takes each field's newest non-empty value instead.

# What a merged lead fills on the lead it is merged into (its phone and email carry their parsed
# forms along; `referred_by_contact_id` beside the merge rule's fields).
ABSORBED_FIELDS = (
    *(f for f in MERGED_FIELDS if f not in DERIVED_FIELDS),
    "referred_by_contact_id",
    "custom_fields",
)
UNDO_DAYS = 30  # an automatic merge of two leads can be undone for this long


def filled_values(lead: Mapping[str, Any], values: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The fill rule every automatic merge shares: each of `fields` that is empty on `lead` takes
    the non-empty value in `values`; tags in `values` the lead lacks are appended; with
    "custom_fields" among `fields`, custom fields the lead lacks are added. Nothing the lead has is
    overwritten. Only what changes is returned."""
    wanted = frozenset(fields)
    changes = {
        k: values[k]
        for k in fields
        if k not in ("tags", "custom_fields") and not _empty(values.get(k)) and _empty(lead.get(k))
    }
    current_tags = list(lead.get("tags") or [])
    new_tags = [t for t in dict.fromkeys(values.get("tags") or []) if t not in current_tags]
    if new_tags:
        changes["tags"] = [*current_tags, *new_tags]
    if "custom_fields" in wanted:
        current = dict(lead.get("custom_fields") or {})
        added = {
            k: v for k, v in (values.get("custom_fields") or {}).items() if not _empty(v) and _empty(current.get(k))
        }
        if added:
            changes["custom_fields"] = {**current, **added}
    return changes


def absorbed_values(survivor: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """What an automatic merge of the lead `merged` into `survivor` changes on the survivor (both
    stored leads): the fill rule over ABSORBED_FIELDS. A phone travels with its parsed forms and an
    email with its key; a referral by the survivor itself is not carried over."""
    changes = filled_values(survivor, merged, ABSORBED_FIELDS)
    if changes.get("referred_by_lead_id") == survivor.get("id"):
        del changes["referred_by_lead_id"]
    if "email" in changes:
        changes["email_key"] = merged.get("email_key")
    if "phone" in changes:
        changes["phone_e164"], changes["phone_valid"] = merged.get("phone_e164"), merged.get("phone_valid")
    return changes


def conflicting(lead: Mapping[str, Any], other: Mapping[str, Any]) -> tuple[str, ...]:
    """The contact details two leads both have and that differ (email, phone): two people who share
    a name and a company are told apart by them, so such a pair is never merged automatically."""
    return tuple(
        label
        for label, key in (("email", "email_key"), ("phone", "phone_e164"))
        if lead.get(key) and other.get(key) and lead.get(key) != other.get(key)
    )


def auto_merge_target(
    lead: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]], threshold: float | None
) -> Mapping[str, Any] | None:
    """The candidate a new lead is merged into automatically, if any: `candidates` are
    {"lead", "score", ...} best first (`similarity` scores); the first whose score reaches
    `threshold` (None: never), that was created before the lead (ids are time-ordered: the newer
    lead is merged into the older one) and has no conflicting email or phone."""
    if threshold is None:
        return None
    for candidate in candidates:
        other = candidate["lead"]
        if candidate["score"] < threshold:
            return None  # best first: none after this one reaches it either
        if other["id"] < lead["id"] and not conflicting(lead, other):
            return candidate
    return None


@dataclass(frozen=True)
class Undo:
    changes: dict[str, Any]  # what to write on the survivor
    kept: tuple[str, ...]  # filled fields changed since the merge: left as they are now


def unmerged_values(current: Mapping[str, Any], before: Mapping[str, Any], after: Mapping[str, Any]) -> Undo:
    """Undoing an automatic merge on the survivor: each field the merge filled goes back to what it
    was (`before`) while it still holds what the merge set (`after`); a field changed since keeps
    its new value (listed in `kept`). Tags the merge added are removed, custom fields it added are
    removed, each only while unchanged. A phone's parsed forms and an email's key follow it."""
    changes: dict[str, Any] = {}
    kept: list[str] = []
    for field, set_value in after.items():
        if field in DERIVED_FIELDS:
            continue  # below, with the phone or email they belong to
        if field == "tags":
            earlier = list(before.get("tags") or [])
            added = [t for t in set_value if t not in earlier]
            now = list(current.get("tags") or [])
            tags = [t for t in now if t not in added]
            if tags != now:
                changes["tags"] = tags
        elif field == "custom_fields":
            earlier_custom = dict(before.get("custom_fields") or {})
            now_custom = dict(current.get("custom_fields") or {})
            custom = dict(now_custom)
            for key, value in set_value.items():
                if key in earlier_custom and earlier_custom[key] == value:
                    continue  # the survivor had it: not the merge's
                if now_custom.get(key) != value:
                    kept.append(f"custom_fields.{key}")
                elif key in earlier_custom:
                    custom[key] = earlier_custom[key]
                else:
                    custom.pop(key, None)
            if custom != now_custom:
                changes["custom_fields"] = custom
        elif current.get(field) == set_value:
            if before.get(field) != set_value:
                changes[field] = before.get(field)
        else:
            kept.append(field)
    for field, derived in (("phone", ("phone_e164", "phone_valid")), ("email", ("email_key",))):
        if field in changes:
            changes.update({name: before.get(name) for name in derived if name in after})
    return Undo(changes, tuple(kept))
