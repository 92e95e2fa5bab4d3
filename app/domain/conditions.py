"""The condition language: one small JSON language for journey triggers, branches and exits (and
campaign audiences), tested against a person (a lead or a contact). Pure: the person comes in as a
flat mapping, the time as an argument.

A condition is a group, `{"all": [...]}` (every one holds; an empty `all` always holds) or
`{"any": [...]}` (at least one holds; never empty), nested up to `MAX_DEPTH` groups deep, or a leaf
`{"field", "op", "value"}`; `MAX_LEAVES` leaves in all.

Operators (`Op`), with the scoring rules' names accepted as aliases (`ALIASES`): `equals` is `eq`,
`contains_any` is `contains` with a list; `in`, `gte`, `lte` and `exists` are spelled alike. `dump`
writes the canonical names.

- `eq` / `ne`: equal (not equal). Text is compared case-insensitively; a list field (`tags`,
  `interests`) is tested for membership (`tags eq vip`: the person has the tag vip). A boolean is
  never equal to a number.
- `in`: the value (a non-empty list, at most `MAX_LIST`) holds the field's value; for a list field,
  holds any of its items.
- `contains`: text holds the keyword as a substring, case-insensitively; the value may be a list of
  keywords (any of them). For a list field: any keyword is one of its items (membership).
- `gt` `gte` `lt` `lte`: numbers (a boolean is no number), or timestamps when the value is an ISO
  8601 date or date-time (`"2026-01-01"`, `"2026-01-01T09:00:00+03:30"`; without an offset it is
  UTC). A timestamp in the person is an aware datetime (a naive one is UTC), a date (midnight UTC)
  or an ISO 8601 text (a custom date field). A number is never compared with a timestamp.
- `exists`: `true` when the field is set, `false` when not. None, "", [] and {} are not set; false
  and 0 are.
- `older_than_days`: the timestamp is more than N days before `now`. A missing timestamp is older
  than any: "no activity for 90 days" matches a lead that never had any.
- `within_days`: the timestamp is at most N days away from `now`, before or after it (the last N
  days, or the next N for a date ahead such as a renewal). A missing timestamp is never within.

A field that is missing (not set, as `exists` reads it) matches only `exists: false`, `ne` and
`older_than_days`.

Fields are those of the audience's catalogue (`LEAD_FIELDS`, `CONTACT_FIELDS`), plus
`custom_fields.<key>` (leads: contacts have no custom fields) and `engagements.<type>` (how many
engagements of that type the person had since they entered the journey: 0 when none), each key
matching `[a-z0-9_]{1,64}`. Each catalogued field has a kind (`Kind`) that decides the operators
and values it takes; some have a closed vocabulary (a lead's `status`, `stage`, `source` ...).
Catalogued fields the person's row lacks are derived by the caller (`DERIVED_FIELDS`): among them
`consent.<channel>` (`consent.email` is `opted_out` once they unsubscribed) and a contact's
`active`."""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias
from uuid import UUID

from app.domain.analytics.retention import SEGMENTS
from app.domain.errors import ErrorList
from app.domain.leads.lifecycle import CompanySize, LeadStatus, Source
from app.domain.leads.scoring import Stage, Temperature
from app.domain.leads.sla import SlaStatus
from app.domain.outreach.vocabulary import ChannelType, ConsentStatus

MAX_DEPTH = 5  # groups inside groups
MAX_LEAVES = 50
MAX_LIST = 100  # values of `in`, keywords of `contains`
MAX_DAYS = 36500
MAX_TEXT = 500  # characters of a text value
KEY = re.compile(r"[a-z0-9_]{1,64}")


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    EXISTS = "exists"
    OLDER_THAN_DAYS = "older_than_days"
    WITHIN_DAYS = "within_days"


# The scoring rules' operator names (app/domain/leads/scoring.py: Operator) that differ from ours.
ALIASES: Mapping[str, Op] = {"equals": Op.EQ, "contains_any": Op.CONTAINS}
ORDERING = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
DAYS = frozenset({Op.OLDER_THAN_DAYS, Op.WITHIN_DAYS})


class Audience(StrEnum):
    LEADS = "leads"
    CONTACTS = "contacts"


class Kind(StrEnum):
    """What a field holds, which decides the operators and values it takes."""

    TEXT = "text"
    ID = "id"  # a UUID, given as text
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    LIST = "list"  # of texts: tags, interests
    ANY = "any"  # a custom field: whatever its definition says


OPS_OF: Mapping[Kind, frozenset[Op]] = {
    Kind.TEXT: frozenset({Op.EQ, Op.NE, Op.IN, Op.CONTAINS, Op.EXISTS}),
    Kind.ID: frozenset({Op.EQ, Op.NE, Op.IN, Op.EXISTS}),
    Kind.NUMBER: frozenset({Op.EQ, Op.NE, Op.IN, *ORDERING, Op.EXISTS}),
    Kind.BOOLEAN: frozenset({Op.EQ, Op.NE, Op.EXISTS}),
    Kind.TIMESTAMP: frozenset({*ORDERING, *DAYS, Op.EXISTS}),
    Kind.LIST: frozenset({Op.EQ, Op.NE, Op.IN, Op.CONTAINS, Op.EXISTS}),
    Kind.ANY: frozenset(Op),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    choices: frozenset[str] = frozenset()  # a closed vocabulary (lower case); empty: any text


def _text(*choices: Iterable[str]) -> FieldSpec:
    return FieldSpec(Kind.TEXT, frozenset(str(c) for group in choices for c in group))


TEXT, ID, NUMBER = FieldSpec(Kind.TEXT), FieldSpec(Kind.ID), FieldSpec(Kind.NUMBER)
BOOLEAN, TIMESTAMP, LIST = FieldSpec(Kind.BOOLEAN), FieldSpec(Kind.TIMESTAMP), FieldSpec(Kind.LIST)
CHURN_LEVELS = ("low", "medium", "high")
CONSENT = "consent"

_PERSON: dict[str, FieldSpec] = {
    "first_name": TEXT,
    "last_name": TEXT,
    "email": TEXT,
    "phone": TEXT,
    "phone_valid": BOOLEAN,
    "job_title": TEXT,
    "country": TEXT,  # ISO 3166-1 alpha-2
    "province": TEXT,
    "city": TEXT,
    "timezone": TEXT,
    "owner_id": ID,
    "tags": LIST,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "last_activity_at": TIMESTAMP,
    "in_business_hours": BOOLEAN,
    # the person's consent per channel (`unknown` when never given)
    **{f"{CONSENT}.{channel}": _text(ConsentStatus) for channel in ChannelType},
}

# A lead's columns that mean something to people (app/db/tables.py: leads), and the derived ones.
LEAD_FIELDS: Mapping[str, FieldSpec] = {
    **_PERSON,
    "company": TEXT,
    "industry": TEXT,
    "company_size": _text(CompanySize),
    "source": _text(Source),
    "channel": _text(("online", "offline")),
    "utm_source": TEXT,
    "utm_medium": TEXT,
    "utm_campaign": TEXT,
    "utm_term": TEXT,
    "utm_content": TEXT,
    "referrer_url": TEXT,
    "landing_page": TEXT,
    "external_id": TEXT,
    "team_id": ID,
    "referred_by_lead_id": ID,
    "referred_by_contact_id": ID,
    "status": _text(LeadStatus),
    "score": NUMBER,
    "fit_score": NUMBER,
    "behavior_score": NUMBER,
    "temperature": _text(Temperature),
    "stage": _text(Stage),  # a lead with no stage yet: `exists: false`
    "mql_candidate": BOOLEAN,
    "last_engaged_at": TIMESTAMP,
    "sla_status": _text(SlaStatus),
    "first_response_due_at": TIMESTAMP,
    "first_responded_at": TIMESTAMP,
    "assigned_at": TIMESTAMP,
    "qualified_at": TIMESTAMP,
    "disqualified_at": TIMESTAMP,
    "disqualification_reason": TEXT,  # the workspace's own reasons
}

# A contact's columns that mean something to people (app/db/tables.py: contacts), and the derived
# ones. Amounts are in minor units of the workspace's reporting currency.
CONTACT_FIELDS: Mapping[str, FieldSpec] = {
    **_PERSON,
    "interests": LIST,
    "account_id": ID,
    "lead_id": ID,
    "referred_by_contact_id": ID,
    "acquisition_channel": TEXT,
    "acquired_at": TIMESTAMP,
    "customer_since": TIMESTAMP,
    "orders_count": NUMBER,
    "first_order_at": TIMESTAMP,
    "last_order_at": TIMESTAMP,
    "revenue_minor": NUMBER,
    "refunded_minor": NUMBER,
    "average_order_value_minor": NUMBER,
    "active_until": TIMESTAMP,
    "active": BOOLEAN,  # a customer whose active_until has not passed
    "loyalty_points": NUMBER,
    "referrals_count": NUMBER,
    "rfm_segment": _text(SEGMENTS),
    "churn_level": _text(CHURN_LEVELS),
}

_CONSENT_DERIVED = {
    f"{CONSENT}.{c}": f"the person's consent for {c}: opted_in, opted_out, pending_confirmation or unknown"
    for c in ChannelType
}
# Catalogued fields that are no column of the person: the caller puts them in the subject.
DERIVED_FIELDS: Mapping[Audience, Mapping[str, str]] = {
    Audience.LEADS: {
        "in_business_hours": "whether `now` is within the workspace's business hours",
        **_CONSENT_DERIVED,
    },
    Audience.CONTACTS: {
        "in_business_hours": "whether `now` is within the workspace's business hours",
        "active": "whether the customer is active: their `active_until` (last purchase + the active window) is ahead",
        **_CONSENT_DERIVED,
        "last_activity_at": "the contact's latest activity, order or engagement",
        "rfm_segment": "the RFM segment in the latest analytics snapshot",
        "churn_level": "the churn level in the latest analytics snapshot",
    },
}

CATALOGUES: Mapping[Audience, Mapping[str, FieldSpec]] = {
    Audience.LEADS: LEAD_FIELDS,
    Audience.CONTACTS: CONTACT_FIELDS,
}
# Fields by prefix: `<prefix>.<key>`, any key matching KEY.
PREFIXES: Mapping[Audience, Mapping[str, FieldSpec]] = {
    Audience.LEADS: {"custom_fields": FieldSpec(Kind.ANY), "engagements": NUMBER},
    Audience.CONTACTS: {"engagements": NUMBER},
}
ENGAGEMENTS = "engagements"


def field_spec(name: str, audience: Audience | str) -> FieldSpec | None:
    """The field's spec for the audience, or None when the audience has no such field."""
    audience = Audience(audience)
    spec = CATALOGUES[audience].get(name)
    if spec is not None:
        return spec
    prefix, dot, key = name.partition(".")
    if dot and KEY.fullmatch(key):
        return PREFIXES[audience].get(prefix)
    return None


# -- the condition objects ---------------------------------------------------------------------------

Scalar: TypeAlias = str | int | float | bool


def _key(value: Any) -> Any:
    """A value as eq and in compare it: text casefolded, a UUID as its text, a boolean apart from
    the numbers (True == 1 in Python, not here)."""
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float | Decimal):
        return (1, value)
    if isinstance(value, str):
        return (2, value.casefold())
    if isinstance(value, UUID):
        return (2, str(value))
    try:
        hash(value)
    except TypeError:
        return (3, repr(value))
    return (3, value)


@dataclass(frozen=True, slots=True)
class Leaf:
    """`{"field", "op", "value"}`. `value` is canonical: tuples for lists, an aware datetime for a
    timestamp bound; what evaluation compares with is folded once, here."""

    field: str
    op: Op
    value: Any
    _source: tuple[str, str | None] = dataclasses.field(init=False, repr=False, compare=False)
    _folded: Any = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prefix, dot, key = self.field.partition(".")
        object.__setattr__(self, "_source", (prefix, key) if dot else (self.field, None))
        op, value = self.op, self.value
        folded: Any
        if op in (Op.EQ, Op.NE):
            folded = _key(value)
        elif op is Op.IN:
            folded = frozenset(_key(v) for v in value)
        elif op is Op.CONTAINS:
            folded = tuple(k.casefold() for k in ((value,) if isinstance(value, str) else value))
        elif op in DAYS:
            folded = timedelta(days=value)
        else:
            folded = value
        object.__setattr__(self, "_folded", folded)

    def lookup(self, subject: Mapping[str, Any]) -> Any:
        name, key = self._source
        if key is None:
            return subject.get(name)
        container = subject.get(name)
        if not isinstance(container, Mapping):
            return None
        found = container.get(key)
        return 0 if found is None and name == ENGAGEMENTS else found

    def test(self, subject: Mapping[str, Any], now: datetime) -> bool:
        value = self.lookup(subject)
        op = self.op
        if _absent(value):
            if op is Op.EXISTS:
                return self.value is False
            return op is Op.NE or op is Op.OLDER_THAN_DAYS
        if op is Op.EXISTS:
            return self.value is True
        if op is Op.EQ or op is Op.NE:
            if isinstance(value, list | tuple | set | frozenset):
                equal = any(_key(item) == self._folded for item in value)
            else:
                equal = _key(value) == self._folded
            return equal is (op is Op.EQ)
        if op is Op.IN:
            if isinstance(value, list | tuple | set | frozenset):
                return any(_key(item) in self._folded for item in value)
            return _key(value) in self._folded
        if op is Op.CONTAINS:
            if isinstance(value, list | tuple | set | frozenset):
                return any(isinstance(item, str) and item.casefold() in self._folded for item in value)
            if isinstance(value, str):
                text = value.casefold()
                return any(keyword in text for keyword in self._folded)
            return False
        if op in DAYS:
            moment = _instant(value)
            if moment is None:
                return False
            if op is Op.OLDER_THAN_DAYS:
                return bool(moment < now - self._folded)
            return bool(abs(now - moment) <= self._folded)
        return _ordered(op, value, self._folded)


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


Condition: TypeAlias = AllOf | AnyOf | Leaf


def _absent(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


def _instant(value: Any) -> datetime | None:
    """A timestamp as an aware datetime (naive ones and dates are UTC), or None when it is none."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _ordered(op: Op, value: Any, bound: Any) -> bool:
    subject: Any
    if isinstance(bound, datetime):
        subject = None if isinstance(value, int | float | Decimal) else _instant(value)
    elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        subject = None
    else:
        subject = value
    if subject is None:
        return False
    if op is Op.GT:
        return bool(subject > bound)
    if op is Op.GTE:
        return bool(subject >= bound)
    if op is Op.LT:
        return bool(subject < bound)
    return bool(subject <= bound)


# -- evaluation --------------------------------------------------------------------------------------


def evaluate(condition: Condition, subject: Mapping[str, Any], now: datetime) -> bool:
    """Whether the person holds the condition at `now` (aware). `subject`: the person's fields by
    name, plus `custom_fields` (a mapping), `tags` (a list), `engagements` (type -> count since
    enrolment) and the derived fields the condition names (`fields_of`)."""
    if isinstance(condition, Leaf):
        return condition.test(subject, now)
    if isinstance(condition, AllOf):
        return all(evaluate(c, subject, now) for c in condition.conditions)
    return any(evaluate(c, subject, now) for c in condition.conditions)


def leaves(condition: Condition) -> Iterable[Leaf]:
    if isinstance(condition, Leaf):
        yield condition
        return
    for child in condition.conditions:
        yield from leaves(child)


def fields_of(condition: Condition) -> set[str]:
    """The fields the condition reads, as written (`source`, `custom_fields.plan`,
    `engagements.email_click`): what a caller must load into the subject. A prefixed field is read
    from the subject's mapping of that name (`custom_fields`, `engagements`)."""
    return {leaf.field for leaf in leaves(condition)}


def dump(condition: Condition) -> dict[str, Any]:
    """The canonical JSON: canonical operator names, lists as lists, timestamps in ISO 8601."""
    if isinstance(condition, AllOf):
        return {"all": [dump(c) for c in condition.conditions]}
    if isinstance(condition, AnyOf):
        return {"any": [dump(c) for c in condition.conditions]}
    value = condition.value
    if isinstance(value, tuple):
        dumped: Any = list(value)
    elif isinstance(value, datetime):
        dumped = value.isoformat()
    else:
        dumped = value
    return {"field": condition.field, "op": condition.op.value, "value": dumped}


# -- parsing -----------------------------------------------------------------------------------------


def parse(document: Any, *, audience: Audience | str, path: str = "conditions") -> Condition:
    """The condition a JSON document says, or InvalidInput naming every problem by its path
    (`conditions.all.0.op`, `conditions.any.1.value.3`)."""
    errors = ErrorList()
    condition = parse_into(document, audience=audience, path=path, errors=errors)
    errors.raise_if_any()
    assert condition is not None  # no errors: parsed
    return condition


def parse_into(document: Any, *, audience: Audience | str, path: str, errors: ErrorList) -> Condition | None:
    """`parse` that adds its problems to `errors` (for documents that hold conditions): None when
    there were any."""
    reader = _Reader(Audience(audience), errors)
    before = len(errors.errors)
    condition = reader.node(document, path, 0)
    if reader.leaves > MAX_LEAVES:
        errors.add(path, f"at most {MAX_LEAVES} conditions in all (found {reader.leaves})")
    return condition if len(errors.errors) == before else None


_LEAF_KEYS = ("field", "op", "value")
_SHAPE = 'must be {"all": [...]}, {"any": [...]} or {"field", "op", "value"}'


@dataclass
class _Reader:
    audience: Audience
    errors: ErrorList
    leaves: int = 0

    def node(self, document: Any, path: str, depth: int) -> Condition | None:
        if not isinstance(document, Mapping):
            self.errors.add(path, _SHAPE)
            return None
        groups = [k for k in ("all", "any") if k in document]
        if len(groups) > 1:
            self.errors.add(path, "give all or any, not both (nest one inside the other)")
            return None
        if groups:
            return self.group(document, groups[0], path, depth + 1)
        return self.leaf(document, path)

    def group(self, document: Mapping[str, Any], name: str, path: str, depth: int) -> Condition | None:
        for key in document:
            if key != name:
                self.errors.add(f"{path}.{key}", f"unknown key (a group has only {name})")
        if depth > MAX_DEPTH:
            self.errors.add(path, f"groups nest at most {MAX_DEPTH} deep")
            return None
        items = document[name]
        if not isinstance(items, list):
            self.errors.add(f"{path}.{name}", "must be a list of conditions")
            return None
        if name == "any" and not items:
            self.errors.add(f"{path}.{name}", "an empty any never holds: give at least one condition")
            return None
        children = [self.node(item, f"{path}.{name}.{index}", depth) for index, item in enumerate(items)]
        if any(child is None for child in children):
            return None
        found = tuple(c for c in children if c is not None)
        return AllOf(found) if name == "all" else AnyOf(found)

    def leaf(self, document: Mapping[str, Any], path: str) -> Leaf | None:
        self.leaves += 1
        before = len(self.errors.errors)
        for key in document:
            if key not in _LEAF_KEYS:
                self.errors.add(f"{path}.{key}", "unknown key (a condition has field, op and value)")
        for key in _LEAF_KEYS:
            if key not in document:
                self.errors.add(f"{path}.{key}", "required")
        name, op_name = document.get("field"), document.get("op")
        spec = self.field(name, f"{path}.field") if "field" in document else None
        op = self.op(op_name, f"{path}.op") if "op" in document else None
        if op is not None and spec is not None and op not in OPS_OF[spec.kind]:
            usable = ", ".join(o.value for o in Op if o in OPS_OF[spec.kind])
            self.errors.add(f"{path}.op", f"{op.value} does not apply to {name} ({spec.kind.value}): use {usable}")
            return None
        if op is None or spec is None or "value" not in document or len(self.errors.errors) > before:
            return None
        value = _Values(self.errors, f"{path}.value", spec, op).read(document["value"])
        if len(self.errors.errors) > before:
            return None
        assert isinstance(name, str)
        return Leaf(name, op, value)

    def field(self, name: Any, path: str) -> FieldSpec | None:
        if not isinstance(name, str) or not name:
            self.errors.add(path, "must be a field name")
            return None
        spec = field_spec(name, self.audience)
        if spec is not None:
            return spec
        prefix, dot, _ = name.partition(".")
        if dot and prefix in PREFIXES[self.audience]:
            self.errors.add(path, f"{prefix}.<key>: the key must be 1-64 of a-z, 0-9 and _")
        elif dot and prefix == "custom_fields":
            self.errors.add(path, f"{self.audience.value} have no custom fields")
        else:
            known = [*CATALOGUES[self.audience], *(f"{p}." for p in PREFIXES[self.audience])]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f": did you mean {close[0]}?" if close else ""
            prefixes = " or ".join(f"{p}.<{'type' if p == ENGAGEMENTS else 'key'}>" for p in PREFIXES[self.audience])
            self.errors.add(path, f"{name!r} is not a field of {self.audience.value} (nor {prefixes}){hint}")
        return None

    def op(self, name: Any, path: str) -> Op | None:
        if isinstance(name, str):
            if name in ALIASES:
                return ALIASES[name]
            if name in Op.__members__.values():
                return Op(name)
        known = ", ".join([*(o.value for o in Op), *ALIASES])
        self.errors.add(path, f"unknown operator {name!r}: use one of {known}")
        return None


@dataclass
class _Values:
    """Reads a leaf's value for its operator and its field's kind."""

    errors: ErrorList
    path: str
    spec: FieldSpec
    op: Op

    def read(self, value: Any) -> Any:
        op = self.op
        if op is Op.EXISTS:
            if not isinstance(value, bool):
                self.errors.add(self.path, "exists takes true or false")
            return value
        if op in DAYS:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
                self.errors.add(self.path, f"{op.value} takes a whole number of days, 1 to {MAX_DAYS}")
            return value
        if op in ORDERING:
            return self.bound(value)
        if op in (Op.IN, Op.CONTAINS):
            if op is Op.CONTAINS and isinstance(value, str):
                return self.keyword(value, self.path)
            if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
                what = "keywords" if op is Op.CONTAINS else "values"
                self.errors.add(self.path, f"{op.value} takes a list of 1 to {MAX_LIST} {what}")
                return None
            read = self.keyword if op is Op.CONTAINS else self.scalar
            return tuple(read(item, f"{self.path}.{index}") for index, item in enumerate(value))
        if value is None:
            self.errors.add(self.path, f"{op.value} takes a value: use exists false for a missing field")
            return None
        if isinstance(value, list | dict):
            self.errors.add(self.path, f"{op.value} takes a single value (in takes a list)")
            return None
        return self.scalar(value, self.path)

    def keyword(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            self.errors.add(path, f"a keyword is text of 1 to {MAX_TEXT} characters")
        return value

    def scalar(self, value: Any, path: str) -> Any:
        kind = self.spec.kind
        if kind in (Kind.TEXT, Kind.LIST):
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                self.errors.add(path, f"must be text of at most {MAX_TEXT} characters")
            elif self.spec.choices and value.casefold() not in self.spec.choices:
                self.errors.add(path, f"must be one of {', '.join(sorted(self.spec.choices))}")
        elif kind is Kind.ID:
            uuid = _uuid(value)
            if uuid is None:
                self.errors.add(path, "must be an id (a UUID)")
            return str(uuid) if uuid is not None else value
        elif kind is Kind.NUMBER:
            if not _number(value):
                self.errors.add(path, "must be a number")
        elif kind is Kind.BOOLEAN:
            if not isinstance(value, bool):
                self.errors.add(path, "must be true or false")
        elif not (isinstance(value, bool) or _number(value) or (isinstance(value, str) and len(value) <= MAX_TEXT)):
            self.errors.add(path, f"must be text (at most {MAX_TEXT} characters), a number or true or false")
        return value

    def bound(self, value: Any) -> Any:
        kind, name = self.spec.kind, self.op.value
        if _number(value) and kind in (Kind.NUMBER, Kind.ANY):
            return value
        if isinstance(value, str) and kind in (Kind.TIMESTAMP, Kind.ANY):
            moment = _iso(value)
            if moment is not None:
                return moment
        wants = {
            Kind.NUMBER: "a number",
            Kind.TIMESTAMP: "an ISO 8601 date or date-time such as 2026-01-01T09:00:00Z",
        }.get(kind, "a number or an ISO 8601 date or date-time")
        self.errors.add(self.path, f"{name} takes {wants}")
        return None


def _uuid(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
