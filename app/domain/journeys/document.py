"""The journey document: what a journey is, as an integration writes it by hand (a contract), read
into frozen objects and written back in its canonical form. Pure: no I/O; ids of templates,
channels, segments and teams are checked for their form here and for their existence by the caller.

```json
{"name": "Welcome web leads", "audience": "leads",
 "trigger": {"type": "event", "event": "lead.created",
             "conditions": {"all": [{"field": "source", "op": "eq", "value": "web_form"}]}},
 "steps": [
   {"id": "hello", "type": "send", "channel": "email", "template_id": "<uuid>", "purpose": "marketing"},
   {"id": "pause", "type": "wait", "seconds": 86400},
   {"id": "check", "type": "branch",
    "conditions": {"all": [{"field": "engagements.email_click", "op": "gte", "value": 1}]},
    "then": "call", "else": "nudge"},
   {"id": "nudge", "type": "send", "channel": "sms", "template_id": "<uuid>", "purpose": "marketing",
    "next": "call"},
   {"id": "call", "type": "task", "title": "Call {{ person.first_name }}", "due_in_seconds": 3600}],
 "exit_on": [{"event": "lead.qualified"}, {"event": "message.replied"}],
 "reenrolment": {"type": "never"}}
```

A step goes on to its `next`, else to the following step in the list, else the journey completes;
a branch goes on by `then` / `else`, a split by its variants' `next`, an `exit` step ends the
enrolment. Every step is reachable from the first, and a loop must pass through a `wait` step
(else an enrolment could loop without end). Conditions are the condition language
(app/domain/conditions.py) for the document's audience.

A draft may leave `template_id` (send) and `segment_id` (segment trigger) null, to be chosen
later; `problems_for_publish` names what a journey still lacks before it can run."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import Enum, StrEnum
from typing import Any, ClassVar, Literal, TypeAlias
from uuid import UUID

from croniter import CroniterBadDateError, croniter

from app.domain import conditions
from app.domain.conditions import Audience, Condition
from app.domain.errors import ErrorList
from app.domain.events import events
from app.domain.leads.lifecycle import EDITABLE, CompanySize
from app.domain.leads.scoring import Stage
from app.domain.outreach.vocabulary import ChannelType, Purpose

MAX_STEPS = 100
MAX_EXITS = 20
MAX_VARIANTS = 10
MAX_SECONDS = 366 * 86400  # the longest wait, timeout or task delay: a year
MAX_REENROLMENT_DAYS = 3650
MAX_NAME = 200
MAX_TEXT = 2000  # a description, a task's notes, a disqualification note
MAX_MESSAGE = 500  # a notify step's message
MAX_DATA_BYTES = 8192  # a notify step's data, as compact JSON
MAX_TAGS = 50
MAX_TAG = 100
STEP_ID = re.compile(r"[a-z0-9_-]{1,64}")
SLUG = re.compile(r"[a-z0-9_]{1,64}")
HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

# Every event type (app/domain/events/events.py), and those whose data names a person of the
# audience: the events a trigger, a wait or an exit may name.
EVENT_TYPES: frozenset[str] = frozenset(
    value
    for name, value in vars(events).items()
    if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+\.[a-z_]+", value)
)
PERSON_RESOURCES: Mapping[Audience, tuple[str, ...]] = {
    Audience.LEADS: ("lead", "activity", "task", "message", "consent"),
    Audience.CONTACTS: ("contact", "customer", "order", "opportunity", "activity", "task", "message", "consent"),
}
PERSON_EVENTS: Mapping[Audience, frozenset[str]] = {
    audience: frozenset(t for t in EVENT_TYPES if t.partition(".")[0] in resources)
    for audience, resources in PERSON_RESOURCES.items()
}

# As the API spells them (app/schemas/weekdays.py); numbers are Python's, Monday = 0.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY = frozenset(range(7))
# What an update step may set among a person's columns (besides tags, custom fields, stage, owner).
UPDATABLE_FIELDS: Mapping[Audience, Mapping[str, frozenset[str]]] = {
    Audience.LEADS: {
        "status": frozenset(s.value for s in EDITABLE),
        "company_size": frozenset(s.value for s in CompanySize),
        **{name: frozenset() for name in ("industry", "job_title", "company", "country", "province", "city")},
        "timezone": frozenset(),
    },
    Audience.CONTACTS: {name: frozenset() for name in ("job_title", "country", "province", "city", "timezone")},
}
NOT_NULL = frozenset({"status"})  # updatable fields that cannot be cleared


class TriggerType(StrEnum):
    EVENT = "event"
    SEGMENT = "segment"
    SCHEDULE = "schedule"
    MANUAL = "manual"


class StepType(StrEnum):
    WAIT = "wait"
    SEND = "send"
    TASK = "task"
    BRANCH = "branch"
    SPLIT = "split"
    UPDATE = "update"
    DISQUALIFY = "disqualify"
    REACTIVATE = "reactivate"
    NOTIFY = "notify"
    EXIT = "exit"


LEADS_ONLY = frozenset({StepType.DISQUALIFY, StepType.REACTIVATE})


class ReenrolmentType(StrEnum):
    NEVER = "never"
    AFTER_DAYS = "after_days"
    ALWAYS = "always"


class Keep(Enum):
    """An update step's field left as it is (None clears it)."""

    KEEP = "keep"


KEEP = Keep.KEEP

# -- triggers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventTrigger:
    """Enrols the person an event of this type names, when the conditions hold for them then."""

    event: str
    conditions: Condition | None = None
    type: ClassVar[TriggerType] = TriggerType.EVENT


@dataclass(frozen=True)
class SegmentTrigger:
    """Enrols the contacts that enter a saved segment (/v1/segments). None: not chosen yet (a draft)."""

    segment_id: UUID | None
    type: ClassVar[TriggerType] = TriggerType.SEGMENT


@dataclass(frozen=True)
class ScheduleTrigger:
    """On each occurrence of the cron (5 fields, the workspace's time zone), enrols every person for
    whom the conditions hold."""

    cron: str
    conditions: Condition
    type: ClassVar[TriggerType] = TriggerType.SCHEDULE


@dataclass(frozen=True)
class ManualTrigger:
    """Enrols the people a caller names."""

    type: ClassVar[TriggerType] = TriggerType.MANUAL


Trigger: TypeAlias = EventTrigger | SegmentTrigger | ScheduleTrigger | ManualTrigger

# -- steps -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitUntil:
    """The next time of day `time` on one of `weekdays` (Monday = 0), on the person's clock (their
    time zone, else the workspace's)."""

    time: time
    weekdays: frozenset[int] = EVERY_DAY


@dataclass(frozen=True, kw_only=True)
class WaitStep:
    """Exactly one of `seconds`; `until`; `event` with `timeout_seconds` (the event for this person,
    or the timeout, whichever comes first: on to `on_timeout` when the time ran out, if given).
    `business_hours`: a wait that ends outside the workspace's business hours ends at the next
    working minute instead."""

    id: str
    next: str | None = None
    seconds: int | None = None
    until: WaitUntil | None = None
    event: str | None = None
    timeout_seconds: int | None = None
    on_timeout: str | None = None
    business_hours: bool = False
    type: ClassVar[StepType] = StepType.WAIT

    @property
    def mode(self) -> Literal["seconds", "until", "event"]:
        return "seconds" if self.seconds is not None else "until" if self.until is not None else "event"


@dataclass(frozen=True, kw_only=True)
class SendStep:
    """A message from a template, under the outreach rules of its purpose (consent, quiet hours and
    the frequency cap for marketing). `channel_id`: a channel of that type (default: the workspace's
    default one). `template_id` None: not chosen yet (a draft)."""

    id: str
    next: str | None = None
    channel: ChannelType
    template_id: UUID | None
    purpose: Purpose
    channel_id: UUID | None = None
    type: ClassVar[StepType] = StepType.SEND


@dataclass(frozen=True, kw_only=True)
class TaskStep:
    """A task about the person, due `due_in_seconds` after the step runs (counted in working time
    when `business_hours`), assigned to the person's owner or to a team (`team_id`). Title and notes
    are templates, rendered for the person."""

    id: str
    next: str | None = None
    title: str
    notes: str | None = None
    due_in_seconds: int = 0
    business_hours: bool = False
    team_id: UUID | None = None  # None: the person's owner
    type: ClassVar[StepType] = StepType.TASK


@dataclass(frozen=True, kw_only=True)
class BranchStep:
    """On to `then` when the conditions hold for the person now, else to `otherwise` (`else`)."""

    id: str
    conditions: Condition
    then: str
    otherwise: str
    type: ClassVar[StepType] = StepType.BRANCH


@dataclass(frozen=True)
class Variant:
    name: str
    weight: float
    next: str


@dataclass(frozen=True, kw_only=True)
class SplitStep:
    """On to one variant's `next`, drawn by weight (each enrolment once, kept)."""

    id: str
    variants: tuple[Variant, ...]
    type: ClassVar[StepType] = StepType.SPLIT


@dataclass(frozen=True, kw_only=True)
class UpdateStep:
    """Changes the person: tags added and removed, columns (`fields`), custom fields (leads), the
    stage (leads) and the owner. KEEP: left as it is; None clears it."""

    id: str
    next: str | None = None
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    fields: Mapping[str, str | None] = dataclasses.field(default_factory=dict)
    custom_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    stage: Stage | Keep | None = KEEP
    owner_id: UUID | Keep | None = KEEP
    type: ClassVar[StepType] = StepType.UPDATE


@dataclass(frozen=True, kw_only=True)
class DisqualifyStep:
    """Disqualifies an open lead with one of the workspace's reasons (a closed lead is left as it is)."""

    id: str
    next: str | None = None
    reason: str
    note: str | None = None
    type: ClassVar[StepType] = StepType.DISQUALIFY


@dataclass(frozen=True, kw_only=True)
class ReactivateStep:
    """A disqualified or archived lead becomes nurturing again (an open lead is left as it is)."""

    id: str
    next: str | None = None
    type: ClassVar[StepType] = StepType.REACTIVATE


@dataclass(frozen=True, kw_only=True)
class NotifyStep:
    """Tells integrations (an event with the message, the data and the person)."""

    id: str
    next: str | None = None
    message: str
    data: Mapping[str, Any] | None = None
    type: ClassVar[StepType] = StepType.NOTIFY


@dataclass(frozen=True, kw_only=True)
class ExitStep:
    """Ends the enrolment."""

    id: str
    type: ClassVar[StepType] = StepType.EXIT


Step: TypeAlias = (
    WaitStep
    | SendStep
    | TaskStep
    | BranchStep
    | SplitStep
    | UpdateStep
    | DisqualifyStep
    | ReactivateStep
    | NotifyStep
    | ExitStep
)
LINEAR = (WaitStep, SendStep, TaskStep, UpdateStep, DisqualifyStep, ReactivateStep, NotifyStep)

# -- the document ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExitRule:
    """The enrolment ends when the event happens to the person (and the conditions hold then); with
    conditions alone, when they hold before a step runs."""

    event: str | None = None
    conditions: Condition | None = None


@dataclass(frozen=True)
class Reenrolment:
    """Whether a person who was enrolled before may be enrolled again: never, `days` after their
    last enrolment ended, or always (once the last one ended)."""

    type: ReenrolmentType = ReenrolmentType.NEVER
    days: int | None = None


@dataclass(frozen=True)
class JourneyDocument:
    name: str
    audience: Audience
    trigger: Trigger
    steps: tuple[Step, ...]
    exit_on: tuple[ExitRule, ...] = ()
    reenrolment: Reenrolment = Reenrolment()
    description: str | None = None
    _positions: Mapping[str, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {s.id: index for index, s in enumerate(self.steps)})

    def position(self, step_id: str) -> int:
        """The step's index in `steps`; KeyError for an unknown id."""
        return self._positions[step_id]


def step(document: JourneyDocument, step_id: str) -> Step:
    """The step of that id (KeyError when there is none)."""
    return document.steps[document.position(step_id)]


def successor(document: JourneyDocument, step_id: str) -> str | None:
    """Where a step goes on when it is done: its `next`, else the following step, else None (the
    journey completes); None after an `exit` step. A branch or a split chooses its own way (its
    `then` / `else`, its variants): ValueError."""
    index = document.position(step_id)
    found = document.steps[index]
    if isinstance(found, ExitStep):
        return None
    if isinstance(found, BranchStep | SplitStep):
        raise ValueError(f"{found.type.value} step {step_id!r} goes on by its own choice")
    if found.next is not None:
        return found.next
    return document.steps[index + 1].id if index + 1 < len(document.steps) else None


def successors(document: JourneyDocument, step_id: str) -> tuple[str, ...]:
    """Every step this one may go on to (none: the journey completes or ends there)."""
    return tuple(dict.fromkeys(target for target, _ in _edges(document, document.position(step_id))))


def _edges(document: JourneyDocument, index: int) -> Iterator[tuple[str, str | None]]:
    """(target, the field that names it, None when it is the following step)."""
    found = document.steps[index]
    if isinstance(found, BranchStep):
        yield found.then, "then"
        yield found.otherwise, "else"
    elif isinstance(found, SplitStep):
        for number, variant in enumerate(found.variants):
            yield variant.next, f"variants.{number}.next"
    elif not isinstance(found, ExitStep):
        if found.next is not None:
            yield found.next, "next"
        elif index + 1 < len(document.steps):
            yield document.steps[index + 1].id, None
        if isinstance(found, WaitStep) and found.on_timeout is not None:
            yield found.on_timeout, "on_timeout"


def problems_for_publish(document: JourneyDocument) -> list[tuple[str, str]]:
    """What a valid draft still lacks before it can run, as (path, message): ids left null."""
    problems: list[tuple[str, str]] = []
    if isinstance(document.trigger, SegmentTrigger) and document.trigger.segment_id is None:
        problems.append(("trigger.segment_id", "choose the segment before publishing"))
    for index, found in enumerate(document.steps):
        if isinstance(found, SendStep) and found.template_id is None:
            problems.append((f"steps.{index}.template_id", "choose the template before publishing"))
    return problems


def check_publishable(document: JourneyDocument) -> None:
    """InvalidInput naming every problem of `problems_for_publish`."""
    errors = ErrorList()
    for path, message in problems_for_publish(document):
        errors.add(path, message)
    errors.raise_if_any()


# -- dump --------------------------------------------------------------------------------------------


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def dump_trigger(trigger: Trigger) -> dict[str, Any]:
    out: dict[str, Any] = {"type": trigger.type.value}
    if isinstance(trigger, EventTrigger):
        out["event"] = trigger.event
        if trigger.conditions is not None:
            out["conditions"] = conditions.dump(trigger.conditions)
    elif isinstance(trigger, SegmentTrigger):
        out["segment_id"] = _id(trigger.segment_id)
    elif isinstance(trigger, ScheduleTrigger):
        out["cron"] = trigger.cron
        out["conditions"] = conditions.dump(trigger.conditions)
    return out


def dump_step(found: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"id": found.id, "type": found.type.value}
    if isinstance(found, WaitStep):
        if found.seconds is not None:
            out["seconds"] = found.seconds
        if found.until is not None:
            days = [WEEKDAYS[d] for d in sorted(found.until.weekdays)]
            out["until"] = {"time": found.until.time.strftime("%H:%M"), "weekdays": days}
        if found.event is not None:
            out["event"] = found.event
            out["timeout_seconds"] = found.timeout_seconds
        if found.on_timeout is not None:
            out["on_timeout"] = found.on_timeout
        if found.business_hours:
            out["business_hours"] = True
    elif isinstance(found, SendStep):
        out |= {"channel": found.channel.value, "template_id": _id(found.template_id), "purpose": found.purpose.value}
        if found.channel_id is not None:
            out["channel_id"] = str(found.channel_id)
    elif isinstance(found, TaskStep):
        out["title"] = found.title
        if found.notes is not None:
            out["notes"] = found.notes
        out["due_in_seconds"] = found.due_in_seconds
        if found.business_hours:
            out["business_hours"] = True
        if found.team_id is not None:
            out["assign"] = {"team_id": str(found.team_id)}
    elif isinstance(found, BranchStep):
        out |= {"conditions": conditions.dump(found.conditions), "then": found.then, "else": found.otherwise}
    elif isinstance(found, SplitStep):
        out["variants"] = [{"name": v.name, "weight": v.weight, "next": v.next} for v in found.variants]
    elif isinstance(found, UpdateStep):
        out["set"] = _dump_set(found)
    elif isinstance(found, DisqualifyStep):
        out["reason"] = found.reason
        if found.note is not None:
            out["note"] = found.note
    elif isinstance(found, NotifyStep):
        out["message"] = found.message
        if found.data is not None:
            out["data"] = dict(found.data)
    if isinstance(found, LINEAR) and found.next is not None:
        out["next"] = found.next
    return out


def _dump_set(found: UpdateStep) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if found.tags_add or found.tags_remove:
        tags: dict[str, list[str]] = {}
        if found.tags_add:
            tags["add"] = list(found.tags_add)
        if found.tags_remove:
            tags["remove"] = list(found.tags_remove)
        out["tags"] = tags
    if found.fields:
        out["fields"] = dict(found.fields)
    if found.custom_fields:
        out["custom_fields"] = dict(found.custom_fields)
    if found.stage is not KEEP:
        out["stage"] = None if found.stage is None else found.stage.value
    if found.owner_id is not KEEP:
        out["owner_id"] = _id(found.owner_id)
    return out


def dump(document: JourneyDocument) -> dict[str, Any]:
    """The canonical JSON: every key in its place, operator aliases normalised, defaults left out
    where the contract gives them (a task's owner, no business hours, no channel_id)."""
    out: dict[str, Any] = {"name": document.name}
    if document.description is not None:
        out["description"] = document.description
    out["audience"] = document.audience.value
    out["trigger"] = dump_trigger(document.trigger)
    out["steps"] = [dump_step(s) for s in document.steps]
    exits: list[dict[str, Any]] = []
    for rule in document.exit_on:
        entry: dict[str, Any] = {}
        if rule.event is not None:
            entry["event"] = rule.event
        if rule.conditions is not None:
            entry["conditions"] = conditions.dump(rule.conditions)
        exits.append(entry)
    out["exit_on"] = exits
    reenrolment: dict[str, Any] = {"type": document.reenrolment.type.value}
    if document.reenrolment.days is not None:
        reenrolment["days"] = document.reenrolment.days
    out["reenrolment"] = reenrolment
    return out


# -- parse -------------------------------------------------------------------------------------------


def parse(document: Any, *, path: str = "") -> JourneyDocument:
    """The journey a JSON document says, or InvalidInput naming every problem by its path
    (`steps.2.then`, `trigger.cron`; under `path` when given, e.g. `definition`)."""
    errors = ErrorList()
    parsed = _Parser(errors, path).document(document)
    errors.raise_if_any()
    assert parsed is not None  # every None comes with an error
    return parsed


_TOP = ("name", "description", "audience", "trigger", "steps", "exit_on", "reenrolment")
_STEP_KEYS: Mapping[StepType, tuple[str, ...]] = {
    StepType.WAIT: ("next", "seconds", "until", "event", "timeout_seconds", "on_timeout", "business_hours"),
    StepType.SEND: ("next", "channel", "template_id", "purpose", "channel_id"),
    StepType.TASK: ("next", "title", "notes", "due_in_seconds", "business_hours", "assign"),
    StepType.BRANCH: ("conditions", "then", "else"),
    StepType.SPLIT: ("variants",),
    StepType.UPDATE: ("next", "set"),
    StepType.DISQUALIFY: ("next", "reason", "note"),
    StepType.REACTIVATE: ("next",),
    StepType.NOTIFY: ("next", "message", "data"),
    StepType.EXIT: (),
}
_TRIGGER_KEYS: Mapping[TriggerType, tuple[str, ...]] = {
    TriggerType.EVENT: ("event", "conditions"),
    TriggerType.SEGMENT: ("segment_id",),
    TriggerType.SCHEDULE: ("cron", "conditions"),
    TriggerType.MANUAL: (),
}
_MISSING: Any = object()
SECONDS = "a whole number of seconds"


class _Parser:
    def __init__(self, errors: ErrorList, root: str) -> None:
        self.errors = errors
        self.root = root
        self.audience: Audience | None = None
        self.references: list[tuple[str, str]] = []  # (path, step id named there)

    # -- helpers -------------------------------------------------------------------------------------

    def at(self, *parts: str | int) -> str:
        return ".".join(str(p) for p in (self.root, *parts) if p != "")

    def fail(self, path: str, message: str) -> None:
        self.errors.add(path or "body", message)

    def obj(self, value: Any, path: str, what: str = "an object") -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be {what}")
            return None
        return value

    def keys(self, found: Mapping[str, Any], path: str, allowed: tuple[str, ...], what: str) -> None:
        for key in found:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), f"unknown key: {what} has {', '.join(allowed)}")

    def text(self, found: Mapping[str, Any], key: str, path: str, *, limit: int, required: bool) -> str | None:
        value = found.get(key, _MISSING)
        if value is _MISSING or (value is None and not required):
            if required:
                self.fail(path, "required")
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            self.fail(path, f"must be text of 1 to {limit} characters")
            return None
        return value

    def whole(self, value: Any, path: str, low: int, high: int, what: str = "a whole number") -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(path, f"must be {what} from {low} to {high}")
            return None
        return value

    def uuid(self, value: Any, path: str, *, nullable: bool) -> UUID | None:
        if value is None and nullable:
            return None
        if isinstance(value, str):
            try:
                return UUID(value)
            except ValueError:
                pass
        self.fail(path, "must be an id (a UUID)" + (" or null" if nullable else ""))
        return None

    def choice(self, value: Any, path: str, kind: type[StrEnum]) -> Any:
        if isinstance(value, str) and value in kind.__members__.values():
            return kind(value)
        self.fail(path, f"must be one of {', '.join(m.value for m in kind)}")
        return None

    def flag(self, found: Mapping[str, Any], key: str, path: str) -> bool:
        value = found.get(key, False)
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return False
        return value

    def reference(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not STEP_ID.fullmatch(value):
            self.fail(path, "must be a step id")
            return None
        self.references.append((path, value))
        return value

    def event(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or value not in EVENT_TYPES:
            self.fail(path, "must be an event type, as webhooks deliver them (lead.created, message.replied …)")
            return None
        if self.audience is not None and value not in PERSON_EVENTS[self.audience]:
            resources = ", ".join(f"{r}.*" for r in PERSON_RESOURCES[self.audience])
            self.fail(path, f"{value} names no {self.audience.value[:-1]}: use an event of {resources}")
            return None
        return value

    def condition(self, value: Any, path: str) -> Condition | None:
        if self.audience is None:  # reported at audience: nothing to check the fields against
            return None
        return conditions.parse_into(value, audience=self.audience, path=path, errors=self.errors)

    # -- the document --------------------------------------------------------------------------------

    def document(self, value: Any) -> JourneyDocument | None:
        found = self.obj(value, self.root, "a journey document (an object)")
        if found is None:
            return None
        before = len(self.errors.errors)
        self.keys(found, self.root, _TOP, "a journey")
        name = self.text(found, "name", self.at("name"), limit=MAX_NAME, required=True)
        description = self.text(found, "description", self.at("description"), limit=MAX_TEXT, required=False)
        if "audience" not in found:
            self.fail(self.at("audience"), "required")
        else:
            self.audience = self.choice(found["audience"], self.at("audience"), Audience)
        trigger = self.trigger(found.get("trigger", _MISSING), self.at("trigger"))
        steps = self.steps(found.get("steps", _MISSING), self.at("steps"))
        exit_on = self.exits(found.get("exit_on", []), self.at("exit_on"))
        reenrolment = self.reenrolment(found.get("reenrolment", {"type": "never"}), self.at("reenrolment"))
        if len(self.errors.errors) > before or steps is None:
            return None
        assert name is not None and self.audience is not None and trigger is not None and reenrolment is not None
        assert exit_on is not None
        document = JourneyDocument(name, self.audience, trigger, steps, exit_on, reenrolment, description)
        self.graph(document)
        return document if len(self.errors.errors) == before else None

    def trigger(self, value: Any, path: str) -> Trigger | None:
        if value is _MISSING:
            self.fail(path, "required")
            return None
        found = self.obj(value, path)
        if found is None:
            return None
        kind = self.choice(found.get("type"), f"{path}.type", TriggerType)
        if kind is None:
            return None
        self.keys(found, path, ("type", *_TRIGGER_KEYS[kind]), f"a {kind.value} trigger")
        if kind is TriggerType.EVENT:
            if "event" not in found:
                self.fail(f"{path}.event", "required")
                return None
            event = self.event(found["event"], f"{path}.event")
            condition = self.condition(found["conditions"], f"{path}.conditions") if "conditions" in found else None
            return None if event is None else EventTrigger(event, condition)
        if kind is TriggerType.SEGMENT:
            if self.audience is Audience.LEADS:
                self.fail(f"{path}.type", "segments hold contacts: a segment trigger needs the audience contacts")
            segment_id = self.uuid(found.get("segment_id"), f"{path}.segment_id", nullable=True)
            return SegmentTrigger(segment_id)
        if kind is TriggerType.SCHEDULE:
            cron = self.cron(found.get("cron", _MISSING), f"{path}.cron")
            if "conditions" not in found:
                self.fail(f"{path}.conditions", "required: whom each occurrence enrols")
                return None
            condition = self.condition(found["conditions"], f"{path}.conditions")
            return None if cron is None or condition is None else ScheduleTrigger(cron, condition)
        return ManualTrigger()

    def cron(self, value: Any, path: str) -> str | None:
        if value is _MISSING:
            self.fail(path, "required")
            return None
        if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
            self.fail(path, "must be a cron expression of 5 fields (minute hour day month weekday), e.g. 0 9 * * 1")
            return None
        try:  # a valid expression may still never fire (30 February)
            croniter(value, datetime(2026, 1, 1, tzinfo=UTC)).get_next(datetime)
        except (CroniterBadDateError, ValueError):
            self.fail(path, "never comes: no date matches this cron expression")
            return None
        return " ".join(value.split())

    def exits(self, value: Any, path: str) -> tuple[ExitRule, ...] | None:
        if not isinstance(value, list) or len(value) > MAX_EXITS:
            self.fail(path, f"must be a list of at most {MAX_EXITS} exits")
            return None
        rules: list[ExitRule] = []
        for index, item in enumerate(value):
            where = f"{path}.{index}"
            found = self.obj(item, where, "an object with event, conditions or both")
            if found is None:
                continue
            self.keys(found, where, ("event", "conditions"), "an exit")
            if "event" not in found and "conditions" not in found:
                self.fail(where, "give event, conditions or both")
                continue
            event = self.event(found["event"], f"{where}.event") if "event" in found else None
            condition = self.condition(found["conditions"], f"{where}.conditions") if "conditions" in found else None
            rules.append(ExitRule(event, condition))
        return tuple(rules)

    def reenrolment(self, value: Any, path: str) -> Reenrolment | None:
        found = self.obj(value, path)
        if found is None:
            return None
        kind = self.choice(found.get("type"), f"{path}.type", ReenrolmentType)
        if kind is None:
            return None
        if kind is ReenrolmentType.AFTER_DAYS:
            self.keys(found, path, ("type", "days"), "after_days")
            if "days" not in found:
                self.fail(f"{path}.days", "required")
                return None
            days = self.whole(found["days"], f"{path}.days", 1, MAX_REENROLMENT_DAYS, "a number of days")
            return None if days is None else Reenrolment(kind, days)
        self.keys(found, path, ("type",), kind.value)
        return Reenrolment(kind)

    # -- steps ---------------------------------------------------------------------------------------

    def steps(self, value: Any, path: str) -> tuple[Step, ...] | None:
        if value is _MISSING:
            self.fail(path, "required")
            return None
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
            self.fail(path, f"must be a list of 1 to {MAX_STEPS} steps")
            return None
        parsed = [self.step(item, f"{path}.{index}") for index, item in enumerate(value)]
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            step_id = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(step_id, str):
                continue
            if step_id in seen:
                self.fail(f"{path}.{index}.id", f"repeats the id of {path}.{seen[step_id]}")
            else:
                seen[step_id] = index
        for where, target in self.references:
            if target not in seen:
                self.fail(where, f"no step has the id {target!r}")
        if any(s is None for s in parsed):
            return None
        return tuple(s for s in parsed if s is not None)

    def step(self, value: Any, path: str) -> Step | None:
        found = self.obj(value, path)
        if found is None:
            return None
        before = len(self.errors.errors)
        step_id = found.get("id", _MISSING)
        if step_id is _MISSING:
            self.fail(f"{path}.id", "required")
        elif not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
            self.fail(f"{path}.id", "must be 1 to 64 of a-z, 0-9, _ and -")
        kind = self.choice(found.get("type"), f"{path}.type", StepType)
        if kind is None:
            return None
        article = "an" if kind.value[0] in "aeiou" else "a"
        self.keys(found, path, ("id", "type", *_STEP_KEYS[kind]), f"{article} {kind.value} step")
        if kind in LEADS_ONLY and self.audience is Audience.CONTACTS:
            self.fail(f"{path}.type", f"{kind.value} is for leads only")
        next_id = self.reference(found["next"], f"{path}.next") if found.get("next") is not None else None
        built = self.build(kind, found, path, str(step_id), next_id)
        return built if len(self.errors.errors) == before else None

    def build(self, kind: StepType, found: Mapping[str, Any], path: str, step_id: str, next_id: str | None) -> Any:
        if kind is StepType.WAIT:
            return self.wait(found, path, step_id, next_id)
        if kind is StepType.SEND:
            return self.send(found, path, step_id, next_id)
        if kind is StepType.TASK:
            return self.task(found, path, step_id, next_id)
        if kind is StepType.BRANCH:
            return self.branch(found, path, step_id)
        if kind is StepType.SPLIT:
            return self.split(found, path, step_id)
        if kind is StepType.UPDATE:
            return self.update(found, path, step_id, next_id)
        if kind is StepType.DISQUALIFY:
            if not isinstance(found.get("reason"), str) or not SLUG.fullmatch(found["reason"]):
                self.fail(f"{path}.reason", "must be one of the workspace's disqualification reasons (a slug)")
            note = self.text(found, "note", f"{path}.note", limit=MAX_TEXT, required=False)
            return DisqualifyStep(id=step_id, next=next_id, reason=str(found.get("reason")), note=note)
        if kind is StepType.REACTIVATE:
            return ReactivateStep(id=step_id, next=next_id)
        if kind is StepType.NOTIFY:
            message = self.text(found, "message", f"{path}.message", limit=MAX_MESSAGE, required=True)
            data = self.data(found.get("data"), f"{path}.data")
            return NotifyStep(id=step_id, next=next_id, message=str(message), data=data)
        return ExitStep(id=step_id)

    def wait(self, found: Mapping[str, Any], path: str, step_id: str, next_id: str | None) -> WaitStep | None:
        modes = [m for m in ("seconds", "until", "event") if m in found]
        if len(modes) != 1:
            self.fail(path, "a wait has one of seconds, until, or event with timeout_seconds")
            return None
        mode = modes[0]
        if mode != "event":
            for key in ("timeout_seconds", "on_timeout"):
                if key in found:
                    self.fail(f"{path}.{key}", "only a wait for an event has it")
        business_hours = self.flag(found, "business_hours", f"{path}.business_hours")
        if mode == "seconds":
            seconds = self.whole(found["seconds"], f"{path}.seconds", 1, MAX_SECONDS, SECONDS)
            return WaitStep(id=step_id, next=next_id, seconds=seconds, business_hours=business_hours)
        if mode == "until":
            until = self.until(found["until"], f"{path}.until")
            return WaitStep(id=step_id, next=next_id, until=until, business_hours=business_hours)
        event = self.event(found["event"], f"{path}.event")
        timeout: int | None = None
        if "timeout_seconds" not in found:
            self.fail(f"{path}.timeout_seconds", "required: how long to wait for the event")
        else:
            timeout = self.whole(found["timeout_seconds"], f"{path}.timeout_seconds", 1, MAX_SECONDS, SECONDS)
        on_timeout = (
            self.reference(found["on_timeout"], f"{path}.on_timeout") if found.get("on_timeout") is not None else None
        )
        return WaitStep(
            id=step_id,
            next=next_id,
            event=event,
            timeout_seconds=timeout,
            on_timeout=on_timeout,
            business_hours=business_hours,
        )

    def until(self, value: Any, path: str) -> WaitUntil | None:
        found = self.obj(value, path, 'an object {"time": "HH:MM", "weekdays"?: [...]}')
        if found is None:
            return None
        self.keys(found, path, ("time", "weekdays"), "until")
        clock = found.get("time")
        matched = HH_MM.fullmatch(clock) if isinstance(clock, str) else None
        if matched is None:
            self.fail(f"{path}.time", "must be a time of day HH:MM (24-hour)")
        days = found.get("weekdays", _MISSING)
        weekdays = EVERY_DAY
        if days is not _MISSING:
            if not isinstance(days, list) or not days:
                self.fail(f"{path}.weekdays", "must be a non-empty list of weekdays (0 = Monday … 6, or names)")
                return None
            chosen: set[int] = set()
            for index, day in enumerate(days):
                number = _weekday(day)
                if number is None:
                    self.fail(f"{path}.weekdays.{index}", "must be 0 (Monday) to 6 (Sunday) or a day's name")
                else:
                    chosen.add(number)
            weekdays = frozenset(chosen)
        if matched is None:
            return None
        return WaitUntil(time(int(matched.group(1)), int(matched.group(2))), weekdays)

    def send(self, found: Mapping[str, Any], path: str, step_id: str, next_id: str | None) -> SendStep | None:
        channel = self.choice(found.get("channel"), f"{path}.channel", ChannelType)
        template_id = self.uuid(found.get("template_id"), f"{path}.template_id", nullable=True)
        if "purpose" not in found:
            self.fail(f"{path}.purpose", "required: marketing or transactional")
            return None
        purpose = self.choice(found["purpose"], f"{path}.purpose", Purpose)
        channel_id = self.uuid(found.get("channel_id"), f"{path}.channel_id", nullable=True)
        if channel is None or purpose is None:
            return None
        return SendStep(
            id=step_id, next=next_id, channel=channel, template_id=template_id, purpose=purpose, channel_id=channel_id
        )

    def task(self, found: Mapping[str, Any], path: str, step_id: str, next_id: str | None) -> TaskStep | None:
        title = self.text(found, "title", f"{path}.title", limit=MAX_NAME, required=True)
        notes = self.text(found, "notes", f"{path}.notes", limit=MAX_TEXT, required=False)
        due = self.whole(found.get("due_in_seconds", 0), f"{path}.due_in_seconds", 0, MAX_SECONDS, SECONDS)
        business_hours = self.flag(found, "business_hours", f"{path}.business_hours")
        team_id: UUID | None = None
        assign = found.get("assign", "owner")
        if isinstance(assign, Mapping) and set(assign) == {"team_id"}:
            team_id = self.uuid(assign["team_id"], f"{path}.assign.team_id", nullable=False)
        elif assign != "owner":
            self.fail(f"{path}.assign", 'must be "owner" or {"team_id": "<uuid>"}')
        if title is None or due is None:
            return None
        return TaskStep(
            id=step_id,
            next=next_id,
            title=title,
            notes=notes,
            due_in_seconds=due,
            business_hours=business_hours,
            team_id=team_id,
        )

    def branch(self, found: Mapping[str, Any], path: str, step_id: str) -> BranchStep | None:
        if "conditions" not in found:
            self.fail(f"{path}.conditions", "required")
        condition = self.condition(found.get("conditions"), f"{path}.conditions") if "conditions" in found else None
        targets = {}
        for key in ("then", "else"):
            if key not in found:
                self.fail(f"{path}.{key}", "required: a step id")
            else:
                targets[key] = self.reference(found[key], f"{path}.{key}")
        if condition is None or targets.get("then") is None or targets.get("else") is None:
            return None
        return BranchStep(id=step_id, conditions=condition, then=str(targets["then"]), otherwise=str(targets["else"]))

    def split(self, found: Mapping[str, Any], path: str, step_id: str) -> SplitStep | None:
        items = found.get("variants")
        if not isinstance(items, list) or not 2 <= len(items) <= MAX_VARIANTS:
            self.fail(f"{path}.variants", f"must be a list of 2 to {MAX_VARIANTS} variants")
            return None
        variants: list[Variant] = []
        names: dict[str, int] = {}
        for index, item in enumerate(items):
            where = f"{path}.variants.{index}"
            variant = self.obj(item, where, 'an object {"name", "weight", "next"}')
            if variant is None:
                continue
            self.keys(variant, where, ("name", "weight", "next"), "a variant")
            name = self.text(variant, "name", f"{where}.name", limit=64, required=True)
            if name is not None and name in names:
                self.fail(f"{where}.name", f"repeats the name of {path}.variants.{names[name]}")
            elif name is not None:
                names[name] = index
            weight = variant.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
                self.fail(f"{where}.weight", "must be a number above 0")
                weight = None
            target = self.reference(variant.get("next"), f"{where}.next")
            if name is not None and weight is not None and target is not None:
                variants.append(Variant(name, weight, target))
        if len(variants) != len(items):
            return None
        return SplitStep(id=step_id, variants=tuple(variants))

    def update(self, found: Mapping[str, Any], path: str, step_id: str, next_id: str | None) -> UpdateStep | None:
        where = f"{path}.set"
        changes = self.obj(
            found.get("set"), where, "an object of changes (tags, fields, custom_fields, stage, owner_id)"
        )
        if changes is None:
            return None
        self.keys(changes, where, ("tags", "fields", "custom_fields", "stage", "owner_id"), "set")
        if self.audience is Audience.CONTACTS:
            for key in ("custom_fields", "stage"):
                if key in changes:
                    self.fail(f"{where}.{key}", "leads only: contacts have none")
        if not changes:
            self.fail(where, "give at least one change")
        add, remove = self.tags(changes.get("tags", _MISSING), f"{where}.tags")
        fields = self.fields(changes.get("fields", {}), f"{where}.fields")
        custom = self.custom_fields(changes.get("custom_fields", {}), f"{where}.custom_fields")
        stage: Stage | Keep | None = KEEP
        if "stage" in changes:
            stage = None if changes["stage"] is None else self.choice(changes["stage"], f"{where}.stage", Stage)
        owner: UUID | Keep | None = KEEP
        if "owner_id" in changes:
            owner = self.uuid(changes["owner_id"], f"{where}.owner_id", nullable=True)
        return UpdateStep(
            id=step_id,
            next=next_id,
            tags_add=add,
            tags_remove=remove,
            fields=fields,
            custom_fields=custom,
            stage=stage,
            owner_id=owner,
        )

    def tags(self, value: Any, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if value is _MISSING:
            return (), ()
        found = self.obj(value, path, 'an object {"add"?: [...], "remove"?: [...]}')
        if found is None:
            return (), ()
        self.keys(found, path, ("add", "remove"), "tags")
        if not found:
            self.fail(path, "give add, remove or both")
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("add", "remove"):
            items = found.get(key, [])
            if not isinstance(items, list) or len(items) > MAX_TAGS:
                self.fail(f"{path}.{key}", f"must be a list of at most {MAX_TAGS} tags")
                lists[key] = ()
                continue
            kept: list[str] = []
            for index, tag in enumerate(items):
                if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_TAG:
                    self.fail(f"{path}.{key}.{index}", f"a tag is text of 1 to {MAX_TAG} characters")
                elif tag.strip() not in kept:
                    kept.append(tag.strip())
            lists[key] = tuple(kept)
        for index, tag in enumerate(lists["remove"]):
            if tag in lists["add"]:
                self.fail(f"{path}.remove.{index}", f"{tag!r} is also added")
        return lists["add"], lists["remove"]

    def fields(self, value: Any, path: str) -> dict[str, str | None]:
        found = self.obj(value, path, "an object of field: value")
        if found is None or self.audience is None:
            return {}
        updatable = UPDATABLE_FIELDS[self.audience]
        clean: dict[str, str | None] = {}
        for key, item in found.items():
            where = f"{path}.{key}"
            if key not in updatable:
                self.fail(where, f"not a field a journey sets: use one of {', '.join(updatable)}")
            elif item is None and key in NOT_NULL:
                self.fail(where, "cannot be cleared")
            elif item is not None and (not isinstance(item, str) or not item.strip() or len(item) > MAX_NAME):
                self.fail(where, f"must be text of 1 to {MAX_NAME} characters, or null")
            elif item is not None and updatable[key] and item not in updatable[key]:
                self.fail(where, f"must be one of {', '.join(sorted(updatable[key]))}")
            else:
                clean[key] = item
        return clean

    def custom_fields(self, value: Any, path: str) -> dict[str, Any]:
        found = self.obj(value, path, "an object of key: value")
        if found is None:
            return {}
        clean: dict[str, Any] = {}
        for key, item in found.items():
            where = f"{path}.{key}"
            if not isinstance(key, str) or not conditions.KEY.fullmatch(key):
                self.fail(where, "a custom field's key is 1 to 64 of a-z, 0-9 and _")
            elif item is not None and not isinstance(item, str | int | float | bool):
                self.fail(where, "must be text, a number, true or false, or null")
            else:
                clean[key] = item
        return clean

    def data(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(path, "must be an object")
            return None
        try:
            size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
        except (TypeError, ValueError):
            self.fail(path, "must be JSON")
            return None
        if size > MAX_DATA_BYTES:
            self.fail(path, f"at most {MAX_DATA_BYTES} bytes as JSON")
            return None
        return dict(value)

    # -- the graph -----------------------------------------------------------------------------------

    def graph(self, document: JourneyDocument) -> None:
        """Every step reachable from the first; every loop through a wait."""
        reached = {document.steps[0].id}
        queue = [document.steps[0].id]
        while queue:
            for target in successors(document, queue.pop()):
                if target not in reached:
                    reached.add(target)
                    queue.append(target)
        for index, found in enumerate(document.steps):
            if found.id not in reached:
                self.fail(self.at("steps", index), f"step {found.id!r} is never reached from the first step")
        loop = _loop_without_wait(document)
        if loop is not None:
            index, edge, target = loop
            where = self.at("steps", index, edge) if edge else self.at("steps", index)
            self.fail(
                where,
                f"goes back to {target!r} in a loop without a wait step: an enrolment would loop without end",
            )


def _loop_without_wait(document: JourneyDocument) -> tuple[int, str | None, str] | None:
    """A loop among the steps that are no waits, as (the index of the step that closes it, the
    field naming the step it goes back to (None: the following step), that step's id)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(index: int) -> tuple[int, str | None, str] | None:
        state[document.steps[index].id] = 1
        for target, edge in _edges(document, index):
            if isinstance(step(document, target), WaitStep):
                continue
            if state.get(target) == 1:
                return index, edge, target
            if target not in state:
                found = visit(document.position(target))
                if found is not None:
                    return found
        state[document.steps[index].id] = 2
        return None

    for index, found in enumerate(document.steps):
        if found.id not in state and not isinstance(found, WaitStep):
            loop = visit(index)
            if loop is not None:
                return loop
    return None


def _weekday(day: Any) -> int | None:
    if isinstance(day, bool):
        return None
    if isinstance(day, int):
        return day if 0 <= day <= 6 else None
    if isinstance(day, str):
        name = day.strip().lower()
        for number, full in enumerate(WEEKDAYS):
            if name in (full, full[:3]):
                return number
    return None
