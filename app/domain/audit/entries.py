"""An audit entry: what it names, how its diff is masked, its digest and its place in the chain.

An entry's **digest** is SHA-256 over the canonical JSON (keys sorted, no spaces, UTF-8) of its
non-personal fields (`DIGESTED`), among them `personal_digest`: the digest of its personal values,
taken when the entry was written. The personal values themselves live apart (`personal`), so
erasing them (nulling the column) leaves the entry's digest, and the chain, as they were. A random
salt goes into the personal document (and is erased with it): a digest of a lone email address
could otherwise be matched against guesses after the address was erased.

The **chain**: the worker numbers each workspace's entries in the order it sees them committed
(`seq` 1, 2, ...) and gives each `chain_hash = SHA-256(previous chain hash || digest)` (the raw 32
bytes of each, the first entry after `GENESIS`). Verification walks the entries by `seq`
(`ChainCheck`): a changed field changes the digest, a removed entry leaves a gap and a mismatched
hash after it. Purging old entries keeps the last purged entry's `seq` and `chain_hash` as the
anchor the walk starts from."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = "0" * 64  # the "previous chain hash" of a workspace's first entry
MASK = "***"  # what a diff shows instead of a secret or a personal value

# The fields an entry's digest covers, in the canonical JSON; everything else (`seq`, `chain_hash`,
# the digest itself, the erasable `personal`) is outside it.
DIGESTED = (
    "workspace_id",
    "id",
    "occurred_at",
    "actor",
    "member_id",
    "key_id",
    "resource",
    "resource_id",
    "action",
    "route",
    "ip",
    "user_agent",
    "request_id",
    "changes",
    "detail",
    "personal_digest",
)

# -- masking ----------------------------------------------------------------------------------------

# Field names whose values are secrets: never stored anywhere in the log, shown as MASK. A name
# matches when it is one of these or contains one of the parts (`webhook_secret`, `smtp_password`,
# `access_token`), or ends with `_key` (`private_key`, `email_key`: a lookup key made from an email).
SECRET_NAMES = frozenset({"key", "secret", "password", "token", "digest", "salt", "signature", "credentials"})
SECRET_PARTS = ("secret", "password", "passwd", "token", "credential", "api_key", "private_key")
# Field names whose values are personal data: kept only in the entry's erasable `personal`, shown
# as MASK in the chained diff. One of these, or ending with one of the suffixes
# (`customer_email`, `phone_e164` is listed), or containing `address` (`addresses`, `ip_address`).
PERSONAL_NAMES = frozenset(
    {
        "phone_e164",
        "mobile",
        "full_name",
        "display_name",
        "birthday",
        "birth_date",
        "date_of_birth",
        "street",
        "line1",
        "line2",
        "postal_code",
        "zip",
        "ip",
        "user_agent",
        "national_id",
        "search_text",
        "q",  # a list's (and an export's) search: a name, an email, a phone as typed
        "custom_fields",  # the workspace defines what they hold: the whole object is personal
    }
)
PERSONAL_SUFFIXES = ("email", "phone", "first_name", "last_name", "_ip")
# A custom field filter (`cf.religion` of an export's filters): what a custom field holds is the
# workspace's to define, so its value is personal whatever the field.
PERSONAL_PREFIXES = ("cf.",)
# Resources whose records are people: their `name` is personal too (a product's name is not), and
# so are the fields that identify a person with the rest of a record (`PEOPLE_NAMES`: where they
# work, live and came from, what was noted about them); an order's `external_id` is no one's.
PEOPLE = frozenset({"leads", "contacts", "members", "customers", "suppressions"})
PEOPLE_NAMES = frozenset(
    {
        "name",
        "company",
        "job_title",
        "city",
        "external_id",
        "landing_page",
        "referrer_url",
        "disqualification_note",
    }
)


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_NAMES or lowered.endswith("_key") or any(part in lowered for part in SECRET_PARTS)


def is_personal(name: str, resource: str | None = None) -> bool:
    lowered = name.lower()
    return (
        lowered in PERSONAL_NAMES
        or lowered.endswith(PERSONAL_SUFFIXES)
        or lowered.startswith(PERSONAL_PREFIXES)
        or "address" in lowered
        or (lowered in PEOPLE_NAMES and resource in PEOPLE)
    )


@dataclass
class Masked:
    """A document with its secrets and personal values replaced by MASK; `personal` holds the
    personal ones, by their dotted path (`changes.email.after`, `detail.filters.email`)."""

    value: Any
    personal: dict[str, Any]


def mask(value: Any, path: str, resource: str | None = None, personal: dict[str, Any] | None = None) -> Masked:
    """`value` (JSON: objects, arrays, text, numbers) with every field named like a secret masked
    and every field named like personal data masked and collected, at any depth."""
    found = {} if personal is None else personal
    return Masked(_mask(value, path, resource, found), found)


def _mask(value: Any, path: str, resource: str | None, personal: dict[str, Any]) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            here = f"{path}.{key}"
            if item is None:
                out[key] = None
            elif is_secret(key):
                out[key] = MASK
            elif is_personal(key, resource):
                out[key] = MASK
                if item != MASK:  # masked before it came here (a sensitive value): kept nowhere
                    personal[here] = item
            else:
                out[key] = _mask(item, here, resource, personal)
        return out
    if isinstance(value, list):
        return [_mask(item, f"{path}.{i}", resource, personal) for i, item in enumerate(value)]
    return value


def mask_changes(changes: Mapping[str, Mapping[str, Any]], resource: str | None = None) -> Masked:
    """A diff `{field: {"before": …, "after": …}}` masked by each field's name (and, inside
    objects, by the names of their fields)."""
    personal: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for field, pair in changes.items():
        here = f"changes.{field}"
        secret, private = is_secret(field), is_personal(field, resource)
        masked: dict[str, Any] = {}
        for side in ("before", "after"):
            item = pair.get(side)
            if item is None:
                masked[side] = None
            elif secret:
                masked[side] = MASK
            elif private:
                masked[side] = MASK
                personal[f"{here}.{side}"] = item
            else:
                masked[side] = _mask(item, f"{here}.{side}", resource, personal)
        out[field] = masked
    return Masked(out, personal)


def diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], fields: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """`{field: {"before", "after"}}` for each field whose value differs (of `fields`, or of both
    documents' fields); `before` None: every field of `after` that has a value (a creation)."""
    if before is None:
        return {
            k: {"before": None, "after": v}
            for k, v in after.items()
            if v is not None and (fields is None or k in fields)
        }
    names = list(fields) if fields is not None else list(dict.fromkeys([*before, *after]))
    return {k: {"before": before.get(k), "after": after.get(k)} for k in names if before.get(k) != after.get(k)}


# -- what a request names ---------------------------------------------------------------------------

VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def describe(method: str, route: str) -> tuple[str, str]:
    """(resource, action) of a write request by its route template: the resource is the path's
    first segment after `/v1` (`/v1/api-keys/{key_id}` → `api_keys`); the action is the method's
    verb (`create`, `update`, `delete`) on the collection or one of its items, else the literal
    segments after the resource, joined by dots, with the verb for methods other than POST
    (`POST /v1/leads/{lead_id}/qualify` → `qualify`, `PUT /v1/leads/{lead_id}/consents/{channel}`
    → `consents.update`, `POST /v1/leads/batch` → `batch`)."""
    segments = [s for s in route.split("/") if s]
    if segments and segments[0] == "v1":
        segments = segments[1:]
    if not segments:
        return "api", VERBS.get(method, method.lower())
    resource = segments[0].replace("-", "_")
    tail = [s.replace("-", "_") for s in segments[1:] if not s.startswith("{")]
    verb = VERBS.get(method, method.lower())
    if not tail:
        return resource, verb
    return resource, ".".join(tail) if method == "POST" else ".".join([*tail, verb])


def first_parameter(route: str) -> str | None:
    """The name of the route template's first path parameter (`lead_id` of `/v1/leads/{lead_id}`)."""
    start = route.find("{")
    if start < 0:
        return None
    end = route.find("}", start)
    return route[start + 1 : end].split(":", 1)[0] if end > start else None


# -- digests and the chain --------------------------------------------------------------------------


def timestamp(moment: datetime) -> str:
    """An instant as the digest writes it: RFC 3339 in UTC with microseconds."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(value: Any) -> bytes:
    """Canonical JSON: keys sorted, no spaces, UTF-8; UUIDs (the driver's too) as their text (an
    integer past 64 bits through the json module)."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def personal_document(values: Mapping[str, Any], salt: str | None = None) -> dict[str, Any] | None:
    """What an entry keeps of its personal values (None when it has none): the values by path and
    a random salt, so their digest cannot be matched against guesses once they are erased."""
    if not values:
        return None
    return {"salt": salt if salt is not None else secrets.token_hex(16), "values": dict(values)}


def personal_digest(document: Mapping[str, Any] | None) -> str | None:
    return None if document is None else sha256(canonical(document))


def _digested(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: entry.get(name) for name in DIGESTED}
    moment = out["occurred_at"]
    if isinstance(moment, datetime):
        out["occurred_at"] = timestamp(moment)
    return out


def digest(entry: Mapping[str, Any]) -> str:
    """The digest of an entry's non-personal fields (`DIGESTED`; a missing one counts as null)."""
    return sha256(canonical(_digested(entry)))


def chain(previous: str, entry_digest: str) -> str:
    """The chain hash of an entry after the one whose chain hash is `previous`."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(entry_digest)).hexdigest()


def link(head_hash: str, head_seq: int, digests: Iterable[str]) -> list[tuple[int, str]]:
    """(seq, chain hash) of entries chained after a head, in the order given."""
    out = []
    previous, seq = head_hash, head_seq
    for entry_digest in digests:
        seq += 1
        previous = chain(previous, entry_digest)
        out.append((seq, previous))
    return out


# -- verification ------------------------------------------------------------------------------------


@dataclass
class ChainCheck:
    """A walk over a workspace's chained entries in `seq` order, from its anchor (the last purged
    entry; none: `GENESIS` at 0). Each entry fed must come next, hold the digest of its fields
    (and of its personal values, unless they were erased) and the chain hash that follows."""

    previous_hash: str = GENESIS
    previous_seq: int = 0
    checked: int = 0
    first_break: Any = None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    def feed(self, entry: Mapping[str, Any]) -> bool:
        """Check the next entry; False (and `first_break` its id) at the first that does not hold."""
        if not self.ok:
            return False
        if not self.holds(entry):
            self.first_break = entry["id"]
            return False
        self.previous_hash, self.previous_seq = entry["chain_hash"], entry["seq"]
        self.checked += 1
        return True

    def holds(self, entry: Mapping[str, Any]) -> bool:
        if entry["seq"] != self.previous_seq + 1:
            return False  # an entry before it is missing
        computed = digest(entry)
        if computed != entry["digest"]:
            return False  # a field changed since it was written
        personal = entry.get("personal")
        if personal is not None and personal_digest(personal) != entry.get("personal_digest"):
            return False  # personal values changed (erasing them, nulling the column, is no change)
        return bool(entry["chain_hash"] == chain(self.previous_hash, computed))

    def end(self, head_seq: int, head_hash: str | None, head_id: Any) -> None:
        """After the last entry: the chain must reach the head the worker recorded (entries cut
        off its end are a break, named by the head's id)."""
        if not self.ok:
            return
        cut_off = head_seq > self.previous_seq
        rewritten = head_hash is not None and head_seq == self.previous_seq and head_hash != self.previous_hash
        if cut_off or rewritten:
            self.first_break = head_id
