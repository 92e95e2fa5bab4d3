"""Lead scoring: fit (who the lead is) + behaviour (what they did, fading with time), every point
explained. Pure: the rules, the lead's facts, its engagements, its stored stage and the time come
in; a score with its explanation, temperature and stage come out.

Temperature is behaviour (what the lead did lately); the fit score only ranks. Stage follows the
product's sources: IAL a lead that only sought free information, MQL accepted by marketing (or
reached by score where the workspace does not ask for acceptance), SQL a lead sales can follow up;
a lead with no qualifying signal has no stage yet. A stage a person set is never lowered by an
automatic change.

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
    NEWSLETTER_SIGNUP = "newsletter_signup"
    DEMO_REQUEST = "demo_request"
    QUOTE_REQUEST = "quote_request"
    MEETING_BOOKED = "meeting_booked"
    UNSUBSCRIBE = "unsubscribe"
    EMAIL_BOUNCE = "email_bounce"


# What a browser tracking snippet may report with a publishable key: low-weight page-level
# behaviour of an anonymous visitor, never anything that makes a lead hot.
TRACKABLE = frozenset({EngagementType.PAGE_VIEW, EngagementType.CONTENT_DOWNLOAD, EngagementType.VIDEO_VIEW})


class FormEngagement(StrEnum):
    """What a lead-capture form may record for a submission: what the form is for."""

    FORM_SUBMIT = "form_submit"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    CONTENT_DOWNLOAD = "content_download"
    DEMO_REQUEST = "demo_request"
    QUOTE_REQUEST = "quote_request"
    MEETING_BOOKED = "meeting_booked"


class Temperature(StrEnum):
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


class Stage(StrEnum):
    IAL = "ial"
    MQL = "mql"
    SQL = "sql"


class StageFilter(StrEnum):
    """A stage as filters and settings name it: `none` is a lead with no stage yet."""

    IAL = "ial"
    MQL = "mql"
    SQL = "sql"
    NONE = "none"


NO_STAGE = StageFilter.NONE.value
_RANK: dict[str | None, int] = {None: 0, Stage.IAL: 1, Stage.MQL: 2, Stage.SQL: 3}


def rank(stage: str | None) -> int:
    """Stages in funnel order: no stage < IAL < MQL < SQL."""
    return _RANK[None if stage is None else Stage(stage)]


def stage_filter(stage: str | None) -> str:
    """How a filter or a setting names a lead's stage (`none` for no stage)."""
    return NO_STAGE if stage is None else str(stage)


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
    # "engagement": temperature from behaviour only; "score": from the total score's thresholds.
    temperature_from: str = "engagement"
    mql_requires_acceptance: bool = True  # a score at the MQL threshold only flags a candidate
    # engagements that only seek free information: a lead whose engagements are all of these is an IAL
    information_intent: frozenset[str] = frozenset({"content_download", "newsletter_signup"})
    # the decay window: engagements older than this count for neither temperature nor IAL
    engagement_window_days: float = 90


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
class Verdict:
    """What the rules say of a lead's stage, before marketing's acceptance and people's choices."""

    by_signal: Stage | None  # SQL for a recent sales intent, IAL when the lead only sought free information
    by_score: Stage | None  # MQL or SQL from the stage thresholds
    signal_reason: str
    score_reason: str

    @property
    def stage(self) -> Stage | None:
        return self.by_score if rank(self.by_score) > rank(self.by_signal) else self.by_signal

    @property
    def reason(self) -> str:
        return self.score_reason if rank(self.by_score) > rank(self.by_signal) else self.signal_reason


@dataclass(frozen=True)
class StageState:
    """A lead's stored stage: the stage itself, whether a person set it, whether it waits for
    marketing's acceptance, and the rules' verdict when it was last scored."""

    stage: Stage | None = None
    manual: bool = False
    mql_candidate: bool = False
    verdict: Stage | None = None

    @classmethod
    def of(cls, lead: Mapping[str, Any]) -> StageState:
        def stage(value: Any) -> Stage | None:
            return None if value is None else Stage(value)

        return cls(
            stage(lead.get("stage")),
            bool(lead.get("stage_manual")),
            bool(lead.get("mql_candidate")),
            stage(lead.get("stage_verdict")),
        )


@dataclass(frozen=True)
class Classification:
    temperature: Temperature
    verdict: Verdict
    reasons: dict[str, str]


@dataclass(frozen=True)
class Score:
    score: Decimal
    fit: Decimal
    behavior: Decimal
    temperature: Temperature
    stage: Stage | None
    lines: tuple[Line, ...]
    last_engaged_at: datetime | None
    computed_at: datetime
    reasons: Mapping[str, str] = field(default_factory=dict)  # why the temperature and stage are what they are
    mql_candidate: bool = False  # the score reached MQL; marketing has not accepted the lead yet
    verdict: Stage | None = None  # the rules' stage before acceptance and people's choices


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


def score(
    rules: Rules,
    lead: Mapping[str, Any],
    engagements: Sequence[Engagement],
    now: datetime,
    current: StageState | None = None,
) -> Score:
    """The lead's score, temperature and stage now. `current`: its stored stage (None for a new
    lead), which decides what an automatic change may do to it."""
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
    found = classify(rules, total, behavior_total, engagements, now)
    stage, candidate, why = decide_stage(rules, found.verdict, current)
    reasons = {**found.reasons, "stage": why}
    if candidate:
        reasons["mql_candidate"] = f"{found.verdict.score_reason}: waiting for marketing to accept it as an MQL"
    last_engaged = max((e.occurred_at for e in engagements), default=None)
    return Score(
        total,
        fit_total,
        behavior_total,
        found.temperature,
        stage,
        tuple(lines),
        last_engaged,
        now,
        reasons,
        candidate,
        found.verdict.stage,
    )


def classify(
    rules: Rules, total: Decimal, behavior: Decimal, engagements: Sequence[Engagement], now: datetime
) -> Classification:
    """The lead's temperature and the rules' verdict on its stage.

    Temperature (`temperature_from: engagement`) is behaviour within the decay window: hot on a
    buying signal (`hot_intent`) within `intent_days`; warm on two engagements or more, or a
    behaviour score at the warm threshold; else cold. The fit score never warms a lead. With
    `temperature_from: score` it follows the total score's thresholds, raised at once by a buying
    signal.

    Stage verdict: SQL on a recent sales intent, else IAL when every engagement within the decay
    window only sought free information (`information_intent`); by score MQL or SQL at their
    thresholds. A lead with none of these has no stage."""
    reasons: dict[str, str] = {}
    hot_intent = _recent(engagements, rules.hot_intent, now, rules.intent_days)
    if hot_intent is not None:  # a buying signal makes a lead hot under either rule
        temperature, reasons["temperature"] = Temperature.HOT, f"recent {hot_intent.type}"
    elif rules.temperature_from == "score":
        temperature, reasons["temperature"] = _temperature_by_score(rules, total)
    else:
        temperature, reasons["temperature"] = _temperature_by_engagement(rules, behavior, engagements, now)
    return Classification(temperature, _verdict(rules, total, engagements, now), reasons)


def _temperature_by_score(rules: Rules, total: Decimal) -> tuple[Temperature, str]:
    if total >= rules.hot_at:
        return Temperature.HOT, f"score ≥ {rules.hot_at}"
    if total >= rules.warm_at:
        return Temperature.WARM, f"score ≥ {rules.warm_at}"
    return Temperature.COLD, f"score < {rules.warm_at}"


def _window(rules: Rules, engagements: Sequence[Engagement], now: datetime) -> list[Engagement]:
    """The engagements within the decay window (reported ahead of the clock: now)."""
    since = now - timedelta(days=rules.engagement_window_days)
    return [e for e in engagements if since <= e.occurred_at]


def _days(value: float) -> str:
    return f"{value:g} days"


def _temperature_by_engagement(
    rules: Rules, behavior: Decimal, engagements: Sequence[Engagement], now: datetime
) -> tuple[Temperature, str]:
    # An engagement counts when its type is worth points: an unsubscribe or a bounce is no interest.
    count = sum(1 for e in _window(rules, engagements, now) if rules.weights.get(e.type, ZERO) > ZERO)
    window = _days(rules.engagement_window_days)
    if count >= 2:
        return Temperature.WARM, f"{count} engagements in {window}"
    if behavior >= rules.warm_at:
        return Temperature.WARM, f"behaviour ≥ {rules.warm_at}"
    if count == 0:
        return Temperature.COLD, f"no engagement in {window}"
    return Temperature.COLD, f"1 engagement in {window}, behaviour < {rules.warm_at}"


def _verdict(rules: Rules, total: Decimal, engagements: Sequence[Engagement], now: datetime) -> Verdict:
    by_signal: Stage | None = None
    signal_reason = "no qualifying signal"
    sales_intent = _recent(engagements, rules.sales_intent, now, rules.intent_days)
    recent = _window(rules, engagements, now)
    if sales_intent is not None:
        by_signal, signal_reason = Stage.SQL, f"recent {sales_intent.type}"
    elif recent and all(e.type in rules.information_intent for e in recent):
        kinds = ", ".join(sorted({e.type for e in recent}))
        by_signal, signal_reason = Stage.IAL, f"only free information ({kinds})"
    by_score: Stage | None = None
    score_reason = f"score < {rules.mql_at}"
    if total >= rules.sql_at:
        by_score, score_reason = Stage.SQL, f"score ≥ {rules.sql_at}"
    elif total >= rules.mql_at:
        by_score, score_reason = Stage.MQL, f"score ≥ {rules.mql_at}"
    return Verdict(by_signal, by_score, signal_reason, score_reason)


def decide_stage(rules: Rules, verdict: Verdict, current: StageState | None) -> tuple[Stage | None, bool, str]:
    """(stage, mql_candidate, reason) after an automatic rescore.

    - Marketing accepts MQLs (`mql_requires_acceptance`): a lead below MQL does not move up by its
      score; a score at the MQL threshold (or above) flags it `mql_candidate` instead. A recent
      sales intent still makes it an SQL, and once a lead is an MQL or above its score moves it on.
    - A stage a person set is never lowered by an automatic change. It is raised only on a new
      signal: when the rules' verdict rises above what it was when the lead was last scored (a
      person who lowers a stage is not overruled by the evidence they saw). The candidate flag a
      person's choice cleared comes back the same way only."""
    state = current or StageState()
    accepted = rank(state.stage) >= rank(Stage.MQL)
    if rules.mql_requires_acceptance and not accepted:
        wish, wish_reason = verdict.by_signal, verdict.signal_reason
    else:
        wish, wish_reason = verdict.stage, verdict.reason
    rose = rank(verdict.stage) > rank(state.verdict)
    if not state.manual or (rose and rank(wish) > rank(state.stage)):
        stage, reason = wish, wish_reason
    else:
        stage, reason = state.stage, "set by a person"
    candidate = (
        rules.mql_requires_acceptance and rank(verdict.by_score) >= rank(Stage.MQL) and rank(stage) < rank(Stage.MQL)
    )
    if state.manual and not rose:
        candidate = candidate and state.mql_candidate
    return stage, candidate, reason


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
        temperature_from=str(values["temperature_from"]),
        mql_requires_acceptance=bool(values["mql_requires_acceptance"]),
        information_intent=frozenset(values["information_intent"]),
        engagement_window_days=float(values["engagement_window_days"]),
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
    for name in ("hot_intent", "sales_intent", "information_intent"):
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
    "newsletter_signup": 3,
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
