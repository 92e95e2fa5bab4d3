"""What an erasure leaves of each row that holds a person's data: pure functions of the row and of
the person's known identifiers, one per place (a table), so an erasure, its dry run and the tests
agree on what changes.

A rule answers the columns to set (a tombstone, a cleared document, scrubbed free text), `DELETE`
for a row that only exists for the person's data (a duplicate suggestion, an undo document), or
None when the row holds nothing of theirs (already erased: a second pass changes nothing, which is
how the final pass under lock finds what arrived meanwhile)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

ERASED: Final = "[erased]"
DELETE: Final = "delete"

Change = dict[str, Any] | str | None  # columns to set, DELETE, or None: nothing to do


@dataclass(frozen=True)
class Identifiers:
    """What names the person in free text: names, emails and phone numbers as they were written
    (and their normalised forms). Matching is case-insensitive; phones also match with spaces,
    dashes or brackets between their digits."""

    words: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)  # digits only, national and international

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Identifiers:
        words: set[str] = set()
        phones: set[str] = set()
        for record in records:
            first, last = _text(record.get("first_name")), _text(record.get("last_name"))
            for value in (first, last, f"{first} {last}".strip() if first and last else None):
                if value and len(value) >= 2:
                    words.add(value)
            for key in ("email", "email_key"):
                if value := _text(record.get(key)):
                    words.add(value)
            for key in ("phone", "phone_e164"):
                if value := _text(record.get(key)):
                    digits = re.sub(r"\D", "", value)
                    if len(digits) >= 6:
                        phones.add(digits)
                        # the national form a person may have typed: 0 + the last 10 digits
                        if len(digits) > 10:
                            phones.add("0" + digits[-10:])
                            phones.add(digits[-10:])
        return cls(frozenset(words), frozenset(phones))

    @property
    def empty(self) -> bool:
        return not (self.words or self.phones)

    def pattern(self) -> re.Pattern[str] | None:
        """One pattern for every identifier, longest first (a full name before its parts)."""
        # whole words only: "Sara" is not erased out of "Sarah"
        parts = [r"(?<!\w)" + re.escape(w) + r"(?!\w)" for w in sorted(self.words, key=len, reverse=True)]
        # a phone's digits, optionally with separators between them, not inside a longer number
        for digits in sorted(self.phones, key=len, reverse=True):
            parts.append(r"(?<!\d)\+?" + r"[\s\-().]*".join(re.escape(d) for d in digits) + r"(?!\d)")
        return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def scrub(text: Any, pattern: re.Pattern[str] | None) -> Any:
    """`text` with every identifier replaced by `[erased]` (anything not a string as it is)."""
    if pattern is None or not isinstance(text, str) or not text:
        return text
    return pattern.sub(ERASED, text)


def scrubbed(row: Mapping[str, Any], columns: Iterable[str], pattern: re.Pattern[str] | None) -> dict[str, Any]:
    """The scrubbed values of the columns that change."""
    changes = {}
    for column in columns:
        value = scrub(row.get(column), pattern)
        if value != row.get(column):
            changes[column] = value
    return changes


# Columns of a lead that are personal data, nulled on its tombstone. Kept: ids, status and every
# date, score, stage, source/channel/UTM source-medium-campaign, industry, company size, country,
# owner, team, tags (the workspace's labels): what reports and models count.
LEAD_PERSONAL: Final = (
    "first_name",
    "last_name",
    "email",
    "email_key",
    "phone",
    "phone_e164",
    "company",
    "job_title",
    "province",
    "city",
    "timezone",
    "utm_term",
    "utm_content",
    "referrer_url",
    "landing_page",
    "external_id",
    "disqualification_note",
    "name_key",
    "company_key",
)
CONTACT_PERSONAL: Final = (
    "first_name",
    "last_name",
    "email",
    "email_key",
    "phone",
    "phone_e164",
    "job_title",
    "province",
    "city",
    "timezone",
    "addresses",
)


def lead_tombstone(row: Mapping[str, Any], now: datetime) -> Change:
    if row.get("erased_at") is not None and not _holds(row, LEAD_PERSONAL) and not row.get("custom_fields"):
        return None
    changes: dict[str, Any] = {column: None for column in LEAD_PERSONAL}
    changes.update({"custom_fields": {}, "search_text": "", "phone_valid": False, "erased_at": now})
    if row.get("sla_status") == "pending":  # nobody is left to answer: its clock has nothing to breach
        changes["sla_status"] = "not_applicable"
    return changes


def contact_tombstone(row: Mapping[str, Any], now: datetime) -> Change:
    if row.get("erased_at") is not None and not _holds(row, CONTACT_PERSONAL):
        return None
    changes: dict[str, Any] = {column: None for column in CONTACT_PERSONAL}
    changes.update({"phone_valid": False, "erased_at": now, "interests": []})
    return changes


def _holds(row: Mapping[str, Any], columns: Iterable[str]) -> bool:
    return any(row.get(column) not in (None, "", [], {}) for column in columns)


def cleared_proof(proof: Any) -> Any:
    """A consent's proof without the IP, user agent and text shown (and the workspace's own fields):
    the fact of consent stays, with the submission it came with."""
    if not isinstance(proof, Mapping):
        return proof
    if proof.get("erased") is True and set(proof) <= {"erased", "submission_id"}:
        return proof
    kept = {"submission_id": proof["submission_id"]} if proof.get("submission_id") else {}
    return {**kept, "erased": True}


def _set(values: dict[str, Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A rule setting columns to fixed values: those that differ ({} when none does)."""

    def rule(row: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if row.get(k) != v}

    return rule


Rule = Callable[[Mapping[str, Any], "Erasing"], Change]


@dataclass(frozen=True)
class Erasing:
    """What every rule is given besides its row."""

    now: datetime
    pattern: re.Pattern[str] | None
    person_ids: frozenset[str] = frozenset()  # their lead and contact ids, as text


def _free_text(*columns: str) -> Rule:
    def rule(row: Mapping[str, Any], erasing: Erasing) -> Change:
        return scrubbed(row, columns, erasing.pattern) or None

    return rule


def _fixed(values: dict[str, Any], *free_text: str) -> Rule:
    fixed = _set(values)

    def rule(row: Mapping[str, Any], erasing: Erasing) -> Change:
        changes = dict(fixed(row))
        changes.update(scrubbed(row, free_text, erasing.pattern))
        return changes or None

    return rule


def _account(row: Mapping[str, Any], erasing: Erasing) -> Change:
    """An account qualification made from the person's lead: when it was named after them (its
    whole name their full name or email: they gave no company), its name is scrubbed and the city,
    province and domain it took from them cleared; a company's account, even one whose name
    contains theirs, is kept as it is."""
    changes = scrubbed(row, ("name",), erasing.pattern)
    if changes.get("name") != ERASED:  # "Smith Plumbing" is a company that shares a name
        return None
    return {**changes, "city": None, "province": None, "domain": None}


def _keep(row: Mapping[str, Any], erasing: Erasing) -> Change:
    """A row that names the person only by id (an invoice, a payment): walked for the events about
    it, kept as it is."""
    return None


def _delete(row: Mapping[str, Any], erasing: Erasing) -> Change:
    return DELETE


def _consent(row: Mapping[str, Any], erasing: Erasing) -> Change:
    proof = cleared_proof(row.get("proof"))
    return {"proof": proof} if proof != row.get("proof") else None


def _message(row: Mapping[str, Any], erasing: Erasing) -> Change:
    changes = dict(
        _set(
            {
                "to_address": None,
                "address_key": None,
                "subject": None,
                "body_text": None,
                "body_html": None,
                "links": None,
                "whatsapp_template": None,
                "early_report": None,
            }
        )(row)
        or {}
    )
    changes.update(scrubbed(row, ("last_error",), erasing.pattern))
    if row.get("status") == "queued":  # never sent now: the address is suppressed as erased
        changes.update({"status": "blocked", "block_reason": "suppressed", "lease_until": None})
    return changes or None


def _enrolment(row: Mapping[str, Any], erasing: Erasing) -> Change:
    changes = _set({"trigger": None})(row)
    if row.get("status") == "active":
        changes.update({"status": "exited", "exit_reason": "erased", "ended_at": erasing.now, "due_at": None})
    return changes or None


def _recipient(row: Mapping[str, Any], erasing: Erasing) -> Change:
    if row.get("status") == "pending":
        return {"status": "skipped", "block_reason": "suppressed"}
    return None


def _order(row: Mapping[str, Any], erasing: Erasing) -> Change:
    changes = _set({"customer": None})(row)
    changes.update(scrubbed(row, ("notes",), erasing.pattern))
    return changes or None


def _event(row: Mapping[str, Any], erasing: Erasing) -> Change:
    if row.get("redacted_at") is not None:
        return None
    return {"data": {"redacted": True}, "previous_attributes": None, "redacted_at": erasing.now}


def _stored_answer(row: Mapping[str, Any], erasing: Erasing) -> Change:
    """A stored Idempotency-Key answer a ref points at: deleted when it names the person (a key
    used again since names someone else's request, and is left alone)."""
    body = row.get("body")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body or "")
    text = text.lower()
    return DELETE if any(person in text for person in erasing.person_ids) else None


def _import_error(row: Mapping[str, Any], erasing: Erasing) -> Change:
    errors = row.get("errors") or []
    cleared = [{"field": e.get("field"), "message": ERASED} for e in errors if isinstance(e, Mapping)]
    if row.get("values") == {} and errors == cleared:
        return None
    return {"values": {}, "errors": cleared}


def _integration_failure(row: Mapping[str, Any], erasing: Erasing) -> Change:
    error: Mapping[str, Any] = row["error"] if isinstance(row.get("error"), Mapping) else {}
    cleared = {"title": error.get("title"), "erased": True}
    if row.get("payload") is None and error == cleared:
        return None
    return {"payload": None, "error": cleared}


def _export(row: Mapping[str, Any], erasing: Erasing) -> Change:
    if row.get("document") is None:
        return None
    return {"document": None, "document_bytes": None, "status": "expired", "expires_at": None}


# Each place's rule, in the order an erasure runs them: the rows that point at a person first, the
# person's own rows (the tombstones) last, so a pass that stops half-way leaves the person findable
# by the next one.
RULES: Final[dict[str, Rule]] = {
    "form_submissions": _fixed({"fields": {}, "meta": {"erased": True}}),
    "engagements": _fixed({"properties": {}, "visitor_id": None}),
    "activities": _free_text("subject", "notes"),
    "tasks": _free_text("title", "notes"),
    "opportunities": _free_text("name", "close_reason"),
    "lead_state_changes": _free_text("reason"),
    "messages": _message,
    "message_status_changes": _free_text("detail"),
    "consents": _consent,
    "consent_changes": _consent,
    "enrolments": _enrolment,
    "enrolment_steps": _fixed({"result": None}),
    "campaign_recipients": _recipient,
    "orders": _order,
    "order_refunds": _free_text("reason"),
    "tickets": _free_text("subject", "description", "satisfaction_comment"),
    "contracts": _free_text("name"),
    "invoices": _keep,
    "quotes": _keep,
    "payments": _keep,
    "loyalty_entries": _free_text("reason"),
    "lead_merges": _delete,
    "duplicate_candidates": _delete,
    "dedupe_queue": _delete,
    "contact_identities": _delete,
    "accounts_made": _account,
    "events": _event,
    "webhook_attempts": _fixed({"response_excerpt": None, "error": None}),
    "webhook_deliveries": _fixed({"last_error": None}),
    "idempotency_keys": _stored_answer,
    "import_errors": _import_error,
    "integration_failures": _integration_failure,
    "privacy_requests": _export,
}


def change(place: str, row: Mapping[str, Any], erasing: Erasing) -> Change:
    """What erasing the person does to this row of `place`."""
    if place == "leads":
        return lead_tombstone(row, erasing.now)
    if place == "contacts":
        return contact_tombstone(row, erasing.now)
    return RULES[place](row, erasing)
