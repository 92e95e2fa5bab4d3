"""Lead scoring: fit (who the lead is) + behaviour (what they did, fading with time), every point
explained. Pure: the rules, the lead's facts, its engagements and the time come in; a score with
its explanation, temperature and stage come out.

Arithmetic is in Decimal, rounded to hundredths line by line, so the explanation's lines sum to
the score exactly: each rule and engagement type is a line, and so is every cap and clamp."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from app.domain.errors import ErrorList

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


class EngagementType(StrEnum):
    PAGE_VIEW = "page_view"
    PRICING_PAGE_VIEW = "pricing_page_view"
    CONTENT_DOWNLOAD = "content_download"
    VIDEO_VIEW = "video_view"
    WEBINAR_ATTENDED = "webinar_attended"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_REPLY = "email_reply"
    FORM_SUBMIT = "form_submit"
    DEMO_REQUEST = "demo_request"
    QUOTE_REQUEST = "quote_request"
    MEETING_BOOKED = "meeting_booked"
    UNSUBSCRIBE = "unsubscribe"
    EMAIL_BOUNCE = "email_bounce"


# What a browser tracking snippet may report with a publishable key: low-weight page-level
# behaviour of an anonymous visitor, never anything that makes a lead hot.
TRACKABLE = frozenset({EngagementType.PAGE_VIEW, EngagementType.CONTENT_DOWNLOAD, EngagementType.VIDEO_VIEW})


class Temperature(StrEnum):
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


class Stage(StrEnum):
    IAL = "ial"
    MQL = "mql"
    SQL = "sql"


class Operator(StrEnum):
    EQUALS = "equals"  # value: a string, number or boolean
    IN = "in"  # value: a list; for tags, any tag in the list
    CONTAINS_ANY = "contains_any"  # value: a list of keywords, matched case-insensitively inside the text
    GTE = "gte"  # numbers
    LTE = "lte"
    EXISTS = "exists"  # value: true (the field is set) or false (it is not)


# Lead fields a fit rule may test; `custom.<key>` tests a custom field; `referral` is true for a
# lead whose source is referral or that names who referred it (a lead, or a customer: a contact).
FIT_FIELDS = frozenset(
    {"industry", "job_title", "company_size", "country", "province", "city", "source", "channel", "tags", "company"}
    | {"referral", "email", "phone"}
)


@dataclass(frozen=True)
class FitRule:
    field: str
    operator: Operator
    value: Any
    points: Decimal
    label: str
    # `value` as the rule compares it (strings casefolded once, lists as sets or tuples), made when
    # the rules are built: every new lead is tested against every rule.
    folded: Any = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.operator is Operator.IN:
            folded: Any = frozenset(_fold(v) for v in self.value)
        elif self.operator is Operator.CONTAINS_ANY:
            folded = tuple(str(keyword).casefold() for keyword in self.value)
        else:
            folded = _fold(self.value)
        object.__setattr__(self, "folded", folded)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


@dataclass(frozen=True)
class Rules:
    fit_rules: tuple[FitRule, ...]
    weights: Mapping[str, Decimal]  # engagement type -> points for one engagement of it, today
    half_life_days: float
    fit_cap: Decimal
    behavior_cap: Decimal
    warm_at: Decimal
    hot_at: Decimal
    mql_at: Decimal
    sql_at: Decimal
    hot_intent: frozenset[str]  # engagements that make a lead hot at once while recent
    sales_intent: frozenset[str]  # engagements that make a lead an SQL at once while recent
    intent_days: float


@dataclass(frozen=True)
class Engagement:
    type: str
    occurred_at: datetime


@dataclass(frozen=True)
class Line:
    """One line of a score's explanation."""

    part: str  # fit | behavior | cap | clamp
    label: str
    points: Decimal
    rule: int | None = None  # index into fit_rules
    engagement_type: str | None = None
    count: int | None = None
    last_occurred_at: datetime | None = None


@dataclass(frozen=True)
class Score:
    score: Decimal
    fit: Decimal
    behavior: Decimal
    temperature: Temperature
    stage: Stage
    lines: tuple[Line, ...]
    last_engaged_at: datetime | None
    computed_at: datetime
    reasons: Mapping[str, str] = field(default_factory=dict)  # why the temperature and stage are what they are


def _cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def decay(points: Decimal, age: timedelta, half_life_days: float) -> float:
    """Points an engagement is worth `age` after it happened: halved every half-life (future
    engagements, from clock skew, count as now)."""
    days = max(age.total_seconds(), 0.0) / 86400.0
    return float(points) * math.pow(0.5, days / half_life_days)


def _field_value(lead: Mapping[str, Any], name: str) -> Any:
    if name == "referral":
        return (
            lead.get("source") == "referral"
            or lead.get("referred_by_lead_id") is not None
            or lead.get("referred_by_contact_id") is not None
        )
    if name.startswith("custom."):
        return (lead.get("custom_fields") or {}).get(name.removeprefix("custom."))
    return lead.get(name)


def _matches(rule: FitRule, lead: Mapping[str, Any]) -> bool:
    value = _field_value(lead, rule.field)
    if rule.operator is Operator.EXISTS:
        present = value not in (None, "", [], False)
        return present is bool(rule.value)
    if value is None or value == "":
        return False
    if rule.operator is Operator.EQUALS:
        if isinstance(value, str) and isinstance(rule.value, str):
            return bool(value.casefold() == rule.folded)
        return bool(value == rule.value)
    if rule.operator is Operator.IN:
        wanted = rule.folded
        if isinstance(value, list):
            return any(_fold(v) in wanted for v in value)
        return _fold(value) in wanted
    if rule.operator is Operator.CONTAINS_ANY:
        text = " ".join(value) if isinstance(value, list) else str(value)
        words = text.casefold()
        return any(keyword in words for keyword in rule.folded)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if rule.operator is Operator.GTE:
        return bool(value >= rule.value)
    return bool(value <= rule.value)  # LTE


def fit_lines(rules: Rules, lead: Mapping[str, Any]) -> list[Line]:
    return [
        Line("fit", rule.label, rule.points, rule=index)
        for index, rule in enumerate(rules.fit_rules)
        if rule.points and _matches(rule, lead)
    ]


def behavior_lines(rules: Rules, engagements: Iterable[Engagement], now: datetime) -> list[Line]:
    """One line per engagement type: its engagements' decayed points, summed."""
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for engagement in engagements:
        weight = rules.weights.get(engagement.type)
        if not weight:
            continue
        totals[engagement.type] = totals.get(engagement.type, 0.0) + decay(
            weight, now - engagement.occurred_at, rules.half_life_days
        )
        counts[engagement.type] = counts.get(engagement.type, 0) + 1
        if engagement.type not in last or engagement.occurred_at > last[engagement.type]:
            last[engagement.type] = engagement.occurred_at
    lines = []
    for kind in sorted(totals, key=lambda k: (-abs(totals[k]), k)):
        points = _cents(totals[kind])
        if points:
            label = f"{kind.replace('_', ' ')} x{counts[kind]}"
            lines.append(
                Line("behavior", label, points, engagement_type=kind, count=counts[kind], last_occurred_at=last[kind])
            )
    return lines


def _capped(lines: list[Line], cap: Decimal, label: str) -> tuple[list[Line], Decimal]:
    total = sum((line.points for line in lines), ZERO)
    if total > cap:
        lines = [*lines, Line("cap", label, cap - total)]
        total = cap
    return lines, total


def _recent(engagements: Sequence[Engagement], kinds: frozenset[str], now: datetime, days: float) -> Engagement | None:
    if not engagements:  # a new lead
        return None
    since = now - timedelta(days=days)
    recent = [e for e in engagements if e.type in kinds and since <= e.occurred_at]
    return max(recent, key=lambda e: e.occurred_at) if recent else None


def score(rules: Rules, lead: Mapping[str, Any], engagements: Sequence[Engagement], now: datetime) -> Score:
    fit, fit_total = _capped(fit_lines(rules, lead), rules.fit_cap, f"fit capped at {rules.fit_cap}")
    behavior, behavior_total = _capped(
        behavior_lines(rules, engagements, now), rules.behavior_cap, f"behaviour capped at {rules.behavior_cap}"
    )
    lines = [*fit, *behavior]
    total = fit_total + behavior_total
    if total > HUNDRED:
        lines.append(Line("clamp", "score clamped to 100", HUNDRED - total))
        total = HUNDRED
    elif total < ZERO:
        lines.append(Line("clamp", "score clamped to 0", -total))
        total = ZERO
    temperature, stage, reasons = classify(rules, total, engagements, now)
    last_engaged = max((e.occurred_at for e in engagements), default=None)
    return Score(total, fit_total, behavior_total, temperature, stage, tuple(lines), last_engaged, now, reasons)


def classify(
    rules: Rules, total: Decimal, engagements: Sequence[Engagement], now: datetime
) -> tuple[Temperature, Stage, dict[str, str]]:
    """Temperature and stage from the score's thresholds, raised at once by recent intent (a demo
    request or a pricing page makes a lead hot; a demo or a booked meeting makes it sales-ready)."""
    reasons: dict[str, str] = {}
    hot_intent = _recent(engagements, rules.hot_intent, now, rules.intent_days)
    if hot_intent is not None:
        temperature, reasons["temperature"] = Temperature.HOT, f"recent {hot_intent.type}"
    elif total >= rules.hot_at:
        temperature, reasons["temperature"] = Temperature.HOT, f"score ≥ {rules.hot_at}"
    elif total >= rules.warm_at:
        temperature, reasons["temperature"] = Temperature.WARM, f"score ≥ {rules.warm_at}"
    else:
        temperature, reasons["temperature"] = Temperature.COLD, f"score < {rules.warm_at}"
    sales_intent = _recent(engagements, rules.sales_intent, now, rules.intent_days)
    if sales_intent is not None:
        stage, reasons["stage"] = Stage.SQL, f"recent {sales_intent.type}"
    elif total >= rules.sql_at:
        stage, reasons["stage"] = Stage.SQL, f"score ≥ {rules.sql_at}"
    elif total >= rules.mql_at:
        stage, reasons["stage"] = Stage.MQL, f"score ≥ {rules.mql_at}"
    else:
        stage, reasons["stage"] = Stage.IAL, f"score < {rules.mql_at}"
    return temperature, stage, reasons


def band(rules: Rules, total: Decimal) -> int:
    """Which of the threshold bands the score is in: `lead.score_changed` fires when it moves,
    not on every point."""
    return sum(1 for threshold in {rules.warm_at, rules.hot_at, rules.mql_at, rules.sql_at} if total >= threshold)


# -- rules from settings ---------------------------------------------------------------------------


def rules_from_settings(values: Mapping[str, Any]) -> Rules:
    """The pure rules from a validated settings document (see `validate_settings`)."""
    return Rules(
        fit_rules=tuple(
            FitRule(
                r["field"],
                Operator(r["operator"]),
                r["value"],
                _cents(r["points"]),
                r.get("label") or f"{r['field']} {r['operator']} {r['value']}",
            )
            for r in values["fit_rules"]
        ),
        weights={k: _cents(v) for k, v in values["behavior_weights"].items()},
        half_life_days=float(values["half_life_days"]),
        fit_cap=_cents(values["fit_cap"]),
        behavior_cap=_cents(values["behavior_cap"]),
        warm_at=_cents(values["temperature_thresholds"]["warm"]),
        hot_at=_cents(values["temperature_thresholds"]["hot"]),
        mql_at=_cents(values["stage_thresholds"]["mql"]),
        sql_at=_cents(values["stage_thresholds"]["sql"]),
        hot_intent=frozenset(values["hot_intent"]),
        sales_intent=frozenset(values["sales_intent"]),
        intent_days=float(values["intent_days"]),
    )


def validate_settings(values: Mapping[str, Any], custom_field_keys: Iterable[str], errors: ErrorList) -> None:
    """What a schema cannot say: fields that exist, operators that fit their values, thresholds in order."""
    custom = set(custom_field_keys)
    for index, rule in enumerate(values.get("fit_rules") or []):
        where = f"fit_rules.{index}"
        name = rule["field"]
        if name not in FIT_FIELDS and not (name.startswith("custom.") and name.removeprefix("custom.") in custom):
            hint = "a lead field such as job_title, or custom.<key> of a defined custom field"
            errors.add(f"{where}.field", f"{name!r} is not a field rules can test: use {hint}")
            continue
        operator, value = rule["operator"], rule["value"]
        if operator in ("in", "contains_any") and not (isinstance(value, list) and value):
            errors.add(f"{where}.value", f"{operator} needs a non-empty list")
        elif operator in ("gte", "lte") and (isinstance(value, bool) or not isinstance(value, int | float)):
            errors.add(f"{where}.value", f"{operator} needs a number")
        elif operator == "exists" and not isinstance(value, bool):
            errors.add(f"{where}.value", "exists needs true or false")
        elif operator == "equals" and isinstance(value, list | dict):
            errors.add(f"{where}.value", "equals needs a single value (use in for a list)")
    for kind in values.get("behavior_weights") or {}:
        if kind not in EngagementType.__members__.values():
            errors.add(f"behavior_weights.{kind}", "not an engagement type")
    for name in ("hot_intent", "sales_intent"):
        for kind in values.get(name) or []:
            if kind not in EngagementType.__members__.values():
                errors.add(name, f"{kind!r} is not an engagement type")
    temperature, stage = values["temperature_thresholds"], values["stage_thresholds"]
    if temperature["warm"] > temperature["hot"]:
        errors.add("temperature_thresholds.hot", "must be at least the warm threshold")
    if stage["mql"] > stage["sql"]:
        errors.add("stage_thresholds.sql", "must be at least the mql threshold")


DEFAULT_WEIGHTS: dict[str, float] = {
    "page_view": 1,
    "pricing_page_view": 10,
    "content_download": 5,
    "video_view": 3,
    "webinar_attended": 10,
    "email_open": 1,
    "email_click": 3,
    "email_reply": 8,
    "form_submit": 8,
    "demo_request": 25,
    "quote_request": 25,
    "meeting_booked": 25,
    "unsubscribe": -15,
    "email_bounce": -10,
}

SENIOR = ["ceo", "cto", "cfo", "coo", "founder", "owner", "president", "vp", "vice president", "director", "head of"]
SENIOR += ["مدیرعامل", "مدیر عامل", "بنیانگذار", "مالک", "رئیس"]

DEFAULT_FIT_RULES: list[dict[str, Any]] = [
    {"field": "referral", "operator": "exists", "value": True, "points": 25, "label": "referred by someone we know"},
    {"field": "job_title", "operator": "contains_any", "value": SENIOR, "points": 15, "label": "decision maker"},
    {
        "field": "job_title",
        "operator": "contains_any",
        "value": ["manager", "lead", "مدیر"],
        "points": 8,
        "label": "manager",
    },
    {
        "field": "company_size",
        "operator": "in",
        "value": ["51-200", "201-500"],
        "points": 10,
        "label": "mid-sized company",
    },
    {
        "field": "company_size",
        "operator": "in",
        "value": ["501-1000", "1001-5000", "5001+"],
        "points": 15,
        "label": "large company",
    },
    {"field": "company", "operator": "exists", "value": True, "points": 3, "label": "company given"},
    {"field": "phone", "operator": "exists", "value": True, "points": 2, "label": "phone given"},
    {
        "field": "source",
        "operator": "in",
        "value": ["event", "business_card", "phone"],
        "points": 5,
        "label": "met in person or called",
    },
]
