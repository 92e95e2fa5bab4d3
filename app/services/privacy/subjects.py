"""How a person is named where no indexed column names them (`personal_refs`): by a lead or contact
id, or, when no person existed (a failed import row, a shop payload that could not be applied), by a
keyed digest of their email or phone. Writers record a ref with the data, in the same transaction;
privacy requests look a person's rows up by these subjects instead of scanning tables.

Also the keyed digests a privacy request keeps of the identifiers it was given."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from app.domain.events import events as event_types
from app.sealing import sealer

# Places a ref points into: the table whose row `row_key` names.
EVENTS = "events"  # row_key: the event id
IDEMPOTENCY = "idempotency_keys"  # row_key: the Idempotency-Key
IMPORT_ERRORS = "import_errors"  # row_key: "<import id>:<row number>"
INTEGRATION_FAILURES = "integration_failures"  # row_key: the failure id
PRIVACY_REQUESTS = "privacy_requests"  # row_key: the request id (an export holding the person)
PLACES = (EVENTS, IDEMPOTENCY, IMPORT_ERRORS, INTEGRATION_FAILURES, PRIVACY_REQUESTS)

# Keys of a JSON document that name a person by id (events' data, stored answers).
PERSON_KEYS = frozenset(
    {
        "lead_id",
        "contact_id",
        "person_id",
        "survivor_id",
        "referred_by_lead_id",
        "referred_by_contact_id",
        "merged_into_id",  # an absorbed lead names the lead it became
        "referrer_contact_id",  # contact.referral_converted
        "referred_contact_id",
    }
)
_KEYS = tuple(sorted(PERSON_KEYS))


def email_subject(email_key: str) -> str:
    """The subject of an email address (already normalised: an email's key; case folded here)."""
    return "email:" + sealer().keyed_digest("person:email", email_key.strip().casefold())


def phone_subject(e164: str) -> str:
    """The subject of an E.164 phone number."""
    return "phone:" + sealer().keyed_digest("person:phone", e164.strip())


def shop_subject(source: str, external_id: str) -> str:
    """The subject of a shop's customer id (`contact_identities`: source and external id)."""
    return "shop:" + sealer().keyed_digest("person:shop", f"{source}\0{external_id}")


def person_ids(document: Any, *, limit: int = 100) -> set[str]:
    """The lead and contact ids a JSON document names under `PERSON_KEYS` (any depth, at most
    `limit`): ids only, as strings; values that are no id are ignored."""
    found: set[str] = set()
    stack = [document]
    while stack and len(found) < limit:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if key in PERSON_KEYS:
                    _add_id(found, value)
                elif isinstance(value, Mapping | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


# Where events name people below the top level of `data` (every other event names them at the
# top level, or not at all): key -> how its value names them. PERSON: a lead or contact as the API
# shows it (its `id`, and the ids it names at its top level); IDS: a list of person ids; NAMING: a
# list of objects naming people at their top level (a duplicate candidate: `candidate_id` too).
# Never a generic descent: a form submission's `fields` and `meta`, an order's line items and a
# message's variables are what their senders typed, and walking them would cost every event.
_PERSON, _IDS, _NAMING = 0, 1, 2
_NESTED: dict[str, tuple[tuple[str, int], ...]] = {
    event_types.LEAD_MERGED: (("survivor", _PERSON), ("merged_lead_ids", _IDS)),
    event_types.LEAD_UNMERGED: (("lead", _PERSON), ("survivor", _PERSON)),
    event_types.LEAD_DUPLICATES_FOUND: (("candidates", _NAMING),),
}


# Events about a record an erasure reaches from its person columns (an order by its contact, a
# message by its lead or contact): found by their resource id like the record itself, so they need
# no ref (order sync writes one event per order; a ref each would double its rows for nothing).
FOUND_BY_RESOURCE = frozenset(
    {"order", "message", "task", "activity", "opportunity", "ticket", "invoice", "quote", "contract", "payment"}
)


def event_person_ids(
    event_type: str, data: Mapping[str, Any], previous: Mapping[str, Any] | None, resource_id: str | None
) -> set[str]:
    """The people an event's `data` and `previous_attributes` name other than its resource: the
    events that need a ref (`EVENTS`). An event about a person (`resource_id` their id) is found by
    the events' index on `resource_id`, so it names nobody else in the usual case (a lead created
    with no referrer, no contact): no ref, no write. Top-level keys first; only the few types in
    `_NESTED` are looked into, at the paths their schemas put people."""
    if event_type.partition(".")[0] in FOUND_BY_RESOURCE:
        # found by the record, unless the record moved away from someone (a task reassigned to
        # another contact): that person's erasure finds this event by its ref
        return _top_level(previous) - _top_level(data) if previous else set()
    found = _top_level(data)
    if previous:
        found |= _top_level(previous)
    for key, kind in _NESTED.get(event_type, ()):
        value = data.get(key)
        if kind == _PERSON:
            if isinstance(value, Mapping):
                found |= _top_level(value)
                _add_id(found, value.get("id"))
        elif isinstance(value, list):
            for item in value:
                if kind == _IDS:
                    _add_id(found, item)
                elif isinstance(item, Mapping):
                    found |= _top_level(item)
                    _add_id(found, item.get("candidate_id"))
    if resource_id is not None:
        found.discard(resource_id.lower())
    return found


def _top_level(document: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in _KEYS:  # a few lookups, whatever the size of the document
        value = document.get(key)
        if value is not None:
            _add_id(found, value)
    return found


def _add_id(found: set[str], value: Any) -> None:
    """Add `value` as a subject when it is an id, in the one form subjects take (lower case,
    hyphenated); anything else is ignored."""
    if isinstance(value, UUID):
        found.add(str(value))
    elif isinstance(value, str):
        canonical = _canonical(value)
        if canonical is not None:
            found.add(canonical)


_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _canonical(value: str) -> str | None:
    if _CANONICAL.fullmatch(value):  # how every id is written: no parsing on the events' hot path
        return value
    try:
        return str(UUID(value))
    except ValueError:
        return None


# The collections whose resources are people: a stored answer to a POST under them names its
# person by `id` (the lead or contact it created; a batch's `results[].id`), and a POST to one
# person's sub-resource (`/v1/leads/{id}/...`) is about that person whatever it answers.
# `customers` is the shop customers' batch, whose results are contacts.
PERSON_COLLECTIONS = frozenset({"leads", "contacts", "customers"})


def answer_person_ids(path: str, answer: Any) -> set[str]:
    """The people a stored Idempotency-Key answer (its JSON body) holds data of, for the request's
    `path`: the ids under `PERSON_KEYS` anywhere in it; under a `PERSON_COLLECTIONS` path, also
    the person of the path (`/v1/leads/{id}/merge`), or the answer's own `id` and its batch
    results' ids (`/v1/leads`, `/v1/contacts`, `/v1/leads/batch`, `/v1/customers/batch`). Other
    sub-resources answer with ids of their own (an engagement, a loyalty entry, a job): never
    taken for a person."""
    found = person_ids(answer)
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "v1":
        parts = parts[1:]
    if not parts or parts[0] not in PERSON_COLLECTIONS:
        return found
    rest = parts[1:]
    if rest and rest[0] != "batch":
        _add_id(found, rest[0])  # the path's person (a name that is no id adds nothing)
    elif len(rest) <= 1 and isinstance(answer, Mapping):
        _add_id(found, answer.get("id"))
        results = answer.get("results")
        if isinstance(results, list):
            for item in results:
                if isinstance(item, Mapping):
                    _add_id(found, item.get("id"))
    return found
