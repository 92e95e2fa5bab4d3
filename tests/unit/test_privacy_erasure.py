"""What an erasure leaves of each row (app/domain/privacy/erasure.py): identifiers scrubbed from
free text, tombstones, cleared proofs and documents, and no change the second time."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.privacy import erasure as rules

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SARA = {"first_name": "Sara", "last_name": "Karimi", "email": "Sara.Karimi@Example.com",
        "email_key": "sara.karimi@example.com", "phone": "0912 111 2233", "phone_e164": "+989121112233"}  # fmt: skip


def erasing() -> rules.Erasing:
    return rules.Erasing(NOW, rules.Identifiers.of([SARA]).pattern(), frozenset({"0190-lead"}))


def test_free_text_loses_names_emails_and_phones_in_any_form() -> None:
    pattern = rules.Identifiers.of([SARA]).pattern()
    text = "Call sara karimi on +98 (912) 111-2233 or 09121112233; mail SARA.KARIMI@example.com. Sarah?"
    assert rules.scrub(text, pattern) == ("Call [erased] on [erased] or [erased]; mail [erased]. Sarah?")
    # a longer number that merely contains the digits is someone else's
    assert rules.scrub("ref 9989121112233999", pattern) == "ref 9989121112233999"
    assert rules.scrub(None, pattern) is None and rules.scrub("anything", None) == "anything"


def test_identifiers_ignore_what_would_scrub_everything() -> None:
    ids = rules.Identifiers.of([{"first_name": "A", "last_name": "", "phone": "12"}])
    assert ids.empty and ids.pattern() is None


def test_a_lead_becomes_a_tombstone_once() -> None:
    lead = {**SARA, "company": "Acme", "custom_fields": {"religion": "x"}, "erased_at": None, "sla_status": "pending",
            "status": "new", "score": 40.0}  # fmt: skip
    change = rules.change("leads", lead, erasing())
    assert isinstance(change, dict)
    assert change["first_name"] is None and change["email_key"] is None and change["company"] is None
    assert change["custom_fields"] == {} and change["erased_at"] == NOW and change["sla_status"] == "not_applicable"
    assert "status" not in change and "score" not in change  # what reports count stays
    assert rules.change("leads", {**lead, **change}, erasing()) is None


def test_consent_proof_keeps_the_fact_and_the_submission_only() -> None:
    proof = {"submission_id": "s1", "ip": "203.0.113.9", "user_agent": "Mozilla", "text": "Yes, email me", "x": 1}
    change = rules.change("consents", {"proof": proof}, erasing())
    assert change == {"proof": {"submission_id": "s1", "erased": True}}
    assert rules.change("consents", {"proof": change["proof"]}, erasing()) is None  # type: ignore[index]


def test_a_queued_message_is_blocked_and_a_sent_one_keeps_its_status() -> None:
    queued = {"status": "queued", "to_address": "sara@example.com", "body_text": "Hi Sara"}
    change = rules.change("messages", queued, erasing())
    assert isinstance(change, dict)
    assert (change["status"], change["block_reason"], change["to_address"], change["body_text"]) == (
        "blocked",
        "suppressed",
        None,
        None,
    )
    sent = {"status": "delivered", "to_address": "sara@example.com"}
    change = rules.change("messages", sent, erasing())
    assert isinstance(change, dict) and "status" not in change and change["to_address"] is None


def test_an_order_keeps_its_amounts_and_loses_its_customer() -> None:
    order = {"customer": {"email": "sara@example.com"}, "notes": "leave with Sara", "total_minor": 7550}
    assert rules.change("orders", order, erasing()) == {"customer": None, "notes": "leave with [erased]"}


def test_a_stored_answer_is_deleted_only_when_it_names_the_person() -> None:
    assert rules.change("idempotency_keys", {"body": b'{"id": "0190-LEAD"}'}, erasing()) == rules.DELETE
    assert rules.change("idempotency_keys", {"body": b'{"id": "someone-else"}'}, erasing()) is None


def test_an_account_named_after_the_person_is_scrubbed_and_a_companys_kept() -> None:
    named = {"name": "Sara Karimi", "city": "Shiraz", "province": "Fars", "domain": "karimi.ir"}
    assert rules.change("accounts_made", named, erasing()) == {
        "name": "[erased]",
        "city": None,
        "province": None,
        "domain": None,
    }
    assert rules.change("accounts_made", {"name": "Acme", "city": "Tehran"}, erasing()) is None


def test_events_are_redacted_once_and_rows_only_for_the_person_deleted() -> None:
    event = {"data": {"email": "sara@example.com"}, "redacted_at": None}
    change = rules.change("events", event, erasing())
    assert change == {"data": {"redacted": True}, "previous_attributes": None, "redacted_at": NOW}
    assert rules.change("events", {**event, **change}, erasing()) is None  # type: ignore[dict-item]
    assert rules.change("duplicate_candidates", {"matched": {}}, erasing()) == rules.DELETE
