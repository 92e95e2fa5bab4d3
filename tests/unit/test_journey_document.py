"""The journey document: the pinned example, every trigger and step type, the graph rules, drafts
and publishing, and the built-in journeys."""

from __future__ import annotations

import copy
from datetime import time
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.conditions import AllOf, Audience, Leaf, Op
from app.domain.errors import InvalidInput
from app.domain.journeys import templates
from app.domain.journeys.document import (
    EVENT_TYPES,
    KEEP,
    MAX_STEPS,
    PERSON_EVENTS,
    BranchStep,
    EventTrigger,
    ExitRule,
    ExitStep,
    JourneyDocument,
    ManualTrigger,
    NotifyStep,
    Reenrolment,
    ReenrolmentType,
    ScheduleTrigger,
    SegmentTrigger,
    SendStep,
    SplitStep,
    TaskStep,
    UpdateStep,
    Variant,
    WaitStep,
    WaitUntil,
    check_publishable,
    dump,
    parse,
    problems_for_publish,
    step,
    successor,
    successors,
)
from app.domain.leads.scoring import Stage
from app.domain.outreach.vocabulary import ChannelType, Purpose
from app.schemas.events.events import CATALOGUE

TEMPLATE = "6f1c1f4e-3a0e-4a43-9a8e-2b7f5b0c1d11"
OTHER = "0b8f9c3e-1f7a-4c5d-8e2b-9a6d4c3b2a10"

PINNED: dict[str, Any] = {
    "name": "Welcome web leads",
    "audience": "leads",
    "trigger": {
        "type": "event",
        "event": "lead.created",
        "conditions": {"all": [{"field": "source", "op": "eq", "value": "web_form"}]},
    },
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template_id": TEMPLATE, "purpose": "marketing"},
        {"id": "pause", "type": "wait", "seconds": 86400},
        {
            "id": "check",
            "type": "branch",
            "conditions": {"all": [{"field": "engagements.email_click", "op": "gte", "value": 1}]},
            "then": "call",
            "else": "nudge",
        },
        {
            "id": "nudge",
            "type": "send",
            "channel": "sms",
            "template_id": TEMPLATE,
            "purpose": "marketing",
            "next": "call",
        },
        {"id": "call", "type": "task", "title": "Call {{ person.first_name }}", "due_in_seconds": 3600},
    ],
    "exit_on": [{"event": "lead.qualified"}, {"event": "message.replied"}],
    "reenrolment": {"type": "never"},
}


def pinned(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(PINNED)
    document.update(changes)
    return document


def with_steps(*steps: dict[str, Any], audience: str = "leads", **changes: Any) -> dict[str, Any]:
    trigger = {"type": "manual"}
    return {"name": "J", "audience": audience, "trigger": trigger, "steps": list(steps), **changes}


def problems(document: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse(document)
    return {e.field: e.message for e in caught.value.errors}


def one_step(found: dict[str, Any], audience: str = "leads") -> Any:
    return parse(with_steps(found, audience=audience)).steps[0]


def step_problems(found: dict[str, Any], audience: str = "leads") -> dict[str, str]:
    return problems(with_steps(found, audience=audience))


# -- the pinned example ----------------------------------------------------------------------------------


def test_the_pinned_example_reads_into_frozen_objects() -> None:
    document = parse(PINNED)
    assert document.name == "Welcome web leads" and document.audience is Audience.LEADS
    assert document.trigger == EventTrigger("lead.created", AllOf((Leaf("source", Op.EQ, "web_form"),)))
    assert document.steps[0] == SendStep(
        id="hello", channel=ChannelType.EMAIL, template_id=UUID(TEMPLATE), purpose=Purpose.MARKETING
    )
    assert document.steps[1] == WaitStep(id="pause", seconds=86400)
    branch = document.steps[2]
    assert isinstance(branch, BranchStep) and (branch.then, branch.otherwise) == ("call", "nudge")
    assert document.steps[4] == TaskStep(id="call", title="Call {{ person.first_name }}", due_in_seconds=3600)
    assert document.exit_on == (ExitRule("lead.qualified"), ExitRule("message.replied"))
    assert document.reenrolment == Reenrolment(ReenrolmentType.NEVER)
    with pytest.raises(AttributeError):
        document.name = "x"  # type: ignore[misc]


def test_the_pinned_example_is_canonical() -> None:
    assert dump(parse(PINNED)) == PINNED


def test_a_step_goes_on_to_its_next_else_the_following_else_completes() -> None:
    document = parse(PINNED)
    assert successor(document, "hello") == "pause"
    assert successor(document, "pause") == "check"
    assert successor(document, "nudge") == "call"
    assert successor(document, "call") is None
    with pytest.raises(ValueError):
        successor(document, "check")
    assert successors(document, "check") == ("call", "nudge")
    assert successors(document, "call") == ()
    assert step(document, "nudge").id == "nudge"
    with pytest.raises(KeyError):
        step(document, "nope")


def test_defaults_when_left_out() -> None:
    document = parse({k: v for k, v in PINNED.items() if k not in ("exit_on", "reenrolment")})
    assert document.exit_on == () and document.reenrolment == Reenrolment(ReenrolmentType.NEVER)
    assert dump(document)["exit_on"] == [] and dump(document)["reenrolment"] == {"type": "never"}


def test_aliases_are_normalised_in_the_dump() -> None:
    document = pinned()
    document["trigger"]["conditions"] = {"all": [{"field": "source", "op": "equals", "value": "web_form"}]}
    assert dump(parse(document)) == PINNED


# -- the top level -------------------------------------------------------------------------------------


def test_the_top_level_is_checked() -> None:
    assert problems([]) == {"body": "must be a journey document (an object)"}
    assert problems({"audience": "accounts", "steps": [], "extra": 1, "name": " "}) == {
        "extra": "unknown key: a journey has name, description, audience, trigger, steps, exit_on, reenrolment",
        "name": "must be text of 1 to 200 characters",
        "audience": "must be one of leads, contacts",
        "trigger": "required",
        "steps": "must be a list of 1 to 100 steps",
    }
    assert problems({"audience": "leads"}) == {"name": "required", "trigger": "required", "steps": "required"}


def test_paths_start_where_the_caller_says() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(pinned(name=""), path="definition")
    assert [e.field for e in caught.value.errors] == ["definition.name"]


def test_a_description_is_kept() -> None:
    document = pinned(description="For the website's leads")
    assert parse(document).description == "For the website's leads"
    assert dump(parse(document)) == document


# -- triggers ------------------------------------------------------------------------------------------


def test_event_triggers_name_an_event_of_the_audience() -> None:
    assert parse(pinned(trigger={"type": "event", "event": "lead.qualified"})).trigger == EventTrigger("lead.qualified")
    assert problems(pinned(trigger={"type": "event", "event": "lead.exploded"})) == {
        "trigger.event": "must be an event type, as webhooks deliver them (lead.created, message.replied …)"
    }
    assert problems(pinned(trigger={"type": "event", "event": "customer.converted"})) == {
        "trigger.event": "customer.converted names no lead: use an event of lead.*, activity.*, task.*, message.*, "
        "consent.*"
    }
    assert problems(pinned(trigger={"type": "event"})) == {"trigger.event": "required"}


def test_trigger_conditions_are_checked_for_the_audience() -> None:
    trigger = {"type": "event", "event": "lead.created", "conditions": {"all": [{"field": "rfm_segment", "op": "eq"}]}}
    found = problems(pinned(trigger=trigger))
    assert set(found) == {"trigger.conditions.all.0.value", "trigger.conditions.all.0.field"}


def test_segment_triggers_are_for_contacts() -> None:
    document = with_steps({"id": "a", "type": "exit"}, audience="contacts")
    document["trigger"] = {"type": "segment", "segment_id": OTHER}
    assert parse(document).trigger == SegmentTrigger(UUID(OTHER))
    document["trigger"] = {"type": "segment", "segment_id": None}  # a draft
    assert parse(document).trigger == SegmentTrigger(None)
    document["trigger"] = {"type": "segment", "segment_id": "seg-1"}
    assert problems(document) == {"trigger.segment_id": "must be an id (a UUID) or null"}
    document["audience"] = "leads"
    document["trigger"] = {"type": "segment", "segment_id": OTHER}
    assert problems(document) == {
        "trigger.type": "segments hold contacts: a segment trigger needs the audience contacts"
    }


def test_schedule_triggers_have_a_five_field_cron_and_conditions() -> None:
    conditions = {"all": [{"field": "last_activity_at", "op": "older_than_days", "value": 90}]}
    trigger = parse(pinned(trigger={"type": "schedule", "cron": "0  9 * * 1", "conditions": conditions})).trigger
    assert isinstance(trigger, ScheduleTrigger) and trigger.cron == "0 9 * * 1"
    message = "must be a cron expression of 5 fields (minute hour day month weekday), e.g. 0 9 * * 1"
    for cron in ("0 9 * *", "0 0 9 * * 1", "61 9 * * *", "@daily", 5):
        assert problems(pinned(trigger={"type": "schedule", "cron": cron, "conditions": conditions})) == {
            "trigger.cron": message
        }, cron
    assert problems(pinned(trigger={"type": "schedule", "cron": "0 9 * * 1"})) == {
        "trigger.conditions": "required: whom each occurrence enrols"
    }
    assert problems(pinned(trigger={"type": "schedule", "conditions": conditions})) == {"trigger.cron": "required"}


def test_manual_triggers_and_unknown_types() -> None:
    assert parse(pinned(trigger={"type": "manual"})).trigger == ManualTrigger()
    assert problems(pinned(trigger={"type": "manual", "event": "lead.created"})) == {
        "trigger.event": "unknown key: a manual trigger has type"
    }
    assert problems(pinned(trigger={"type": "webhook"})) == {
        "trigger.type": "must be one of event, segment, schedule, manual"
    }
    assert problems(pinned(trigger="lead.created")) == {"trigger": "must be an object"}


def test_event_types_are_the_catalogue() -> None:
    assert set(CATALOGUE) == EVENT_TYPES
    assert {"lead.created", "message.replied", "task.completed"} <= PERSON_EVENTS[Audience.LEADS]
    assert {"customer.converted", "order.created", "message.replied"} <= PERSON_EVENTS[Audience.CONTACTS]
    assert "lead.created" not in PERSON_EVENTS[Audience.CONTACTS]


# -- steps ---------------------------------------------------------------------------------------------


def test_step_ids_and_types() -> None:
    assert step_problems({"id": "Hello!", "type": "exit"}) == {"steps.0.id": "must be 1 to 64 of a-z, 0-9, _ and -"}
    assert step_problems({"type": "exit"}) == {"steps.0.id": "required"}
    assert step_problems({"id": "a", "type": "jump"}) == {
        "steps.0.type": "must be one of wait, send, task, branch, split, update, disqualify, reactivate, notify, exit"
    }
    assert step_problems({"id": "a", "type": "exit", "next": "a"}) == {
        "steps.0.next": "unknown key: an exit step has id, type"
    }
    assert problems(with_steps("exit")) == {"steps.0": "must be an object"}


def test_wait_for_seconds() -> None:
    assert one_step({"id": "w", "type": "wait", "seconds": 60}) == WaitStep(id="w", seconds=60)
    found = one_step({"id": "w", "type": "wait", "seconds": 60, "business_hours": True})
    assert found.business_hours and found.mode == "seconds"
    for bad in (0, 1.5, "60", True, 366 * 86400 + 1):
        assert step_problems({"id": "w", "type": "wait", "seconds": bad}) == {
            "steps.0.seconds": "must be a whole number of seconds from 1 to 31622400"
        }, bad


def test_wait_until_a_time_of_day_on_weekdays() -> None:
    found = one_step({"id": "w", "type": "wait", "until": {"time": "09:30", "weekdays": [0, "Tue", "wednesday", 0]}})
    assert found.until == WaitUntil(time(9, 30), frozenset({0, 1, 2})) and found.mode == "until"
    assert dump(parse(with_steps({"id": "w", "type": "wait", "until": {"time": "09:30"}})))["steps"][0] == {
        "id": "w",
        "type": "wait",
        "until": {
            "time": "09:30",
            "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
        },
    }
    assert step_problems({"id": "w", "type": "wait", "until": {"time": "9:30", "weekdays": [7, "funday"]}}) == {
        "steps.0.until.time": "must be a time of day HH:MM (24-hour)",
        "steps.0.until.weekdays.0": "must be 0 (Monday) to 6 (Sunday) or a day's name",
        "steps.0.until.weekdays.1": "must be 0 (Monday) to 6 (Sunday) or a day's name",
    }
    assert step_problems({"id": "w", "type": "wait", "until": {"time": "24:00", "weekdays": []}}) == {
        "steps.0.until.time": "must be a time of day HH:MM (24-hour)",
        "steps.0.until.weekdays": "must be a non-empty list of weekdays (0 = Monday … 6, or names)",
    }


def test_wait_for_an_event_with_a_timeout() -> None:
    document = with_steps(
        {"id": "w", "type": "wait", "event": "message.replied", "timeout_seconds": 3600, "on_timeout": "nudge"},
        {"id": "thanks", "type": "exit"},
        {"id": "nudge", "type": "exit"},
    )
    parsed = parse(document)
    found = parsed.steps[0]
    assert isinstance(found, WaitStep) and found.mode == "event" and found.on_timeout == "nudge"
    assert successor(parsed, "w") == "thanks" and successors(parsed, "w") == ("thanks", "nudge")
    assert dump(parsed) == {**document, "exit_on": [], "reenrolment": {"type": "never"}}
    assert step_problems({"id": "w", "type": "wait", "event": "message.replied"}) == {
        "steps.0.timeout_seconds": "required: how long to wait for the event"
    }
    assert step_problems({"id": "w", "type": "wait", "seconds": 5, "timeout_seconds": 5, "on_timeout": "w"}) == {
        "steps.0.timeout_seconds": "only a wait for an event has it",
        "steps.0.on_timeout": "only a wait for an event has it",
    }
    assert step_problems({"id": "w", "type": "wait", "event": "order.created", "timeout_seconds": 5}) == {
        "steps.0.event": "order.created names no lead: use an event of lead.*, activity.*, task.*, message.*, consent.*"
    }


def test_a_wait_has_exactly_one_mode() -> None:
    message = "a wait has one of seconds, until, or event with timeout_seconds"
    assert step_problems({"id": "w", "type": "wait"}) == {"steps.0": message}
    assert step_problems({"id": "w", "type": "wait", "seconds": 5, "until": {"time": "09:00"}}) == {"steps.0": message}


def test_send() -> None:
    found = one_step(
        {
            "id": "s",
            "type": "send",
            "channel": "whatsapp",
            "template_id": TEMPLATE,
            "purpose": "transactional",
            "channel_id": OTHER,
        }
    )
    assert found == SendStep(
        id="s",
        channel=ChannelType.WHATSAPP,
        template_id=UUID(TEMPLATE),
        purpose=Purpose.TRANSACTIONAL,
        channel_id=UUID(OTHER),
    )
    assert step_problems({"id": "s", "type": "send", "channel": "fax", "template_id": "t1", "purpose": "spam"}) == {
        "steps.0.channel": "must be one of email, sms, whatsapp",
        "steps.0.template_id": "must be an id (a UUID) or null",
        "steps.0.purpose": "must be one of marketing, transactional",
    }
    assert step_problems({"id": "s", "type": "send", "channel": "sms", "template_id": TEMPLATE}) == {
        "steps.0.purpose": "required: marketing or transactional"
    }


def test_a_draft_may_leave_the_template_to_choose() -> None:
    for found in ({"template_id": None}, {}):
        document = parse(with_steps({"id": "s", "type": "send", "channel": "sms", "purpose": "marketing", **found}))
        assert document.steps[0] == SendStep(
            id="s", channel=ChannelType.SMS, template_id=None, purpose=Purpose.MARKETING
        )
        assert dump(document)["steps"][0]["template_id"] is None
        assert problems_for_publish(document) == [("steps.0.template_id", "choose the template before publishing")]
        with pytest.raises(InvalidInput) as caught:
            check_publishable(document)
        assert [e.field for e in caught.value.errors] == ["steps.0.template_id"]
    check_publishable(parse(PINNED))
    assert problems_for_publish(parse(PINNED)) == []


def test_task() -> None:
    found = one_step(
        {
            "id": "t",
            "type": "task",
            "title": "Call",
            "notes": "Ask about the budget",
            "due_in_seconds": 0,
            "business_hours": True,
            "assign": {"team_id": OTHER},
        }
    )
    assert found == TaskStep(
        id="t", title="Call", notes="Ask about the budget", business_hours=True, team_id=UUID(OTHER)
    )
    assert one_step({"id": "t", "type": "task", "title": "Call", "assign": "owner"}).team_id is None
    assert step_problems(
        {"id": "t", "type": "task", "title": "x" * 201, "due_in_seconds": -1, "assign": "me", "business_hours": 1}
    ) == {
        "steps.0.title": "must be text of 1 to 200 characters",
        "steps.0.due_in_seconds": "must be a whole number of seconds from 0 to 31622400",
        "steps.0.business_hours": "must be true or false",
        "steps.0.assign": 'must be "owner" or {"team_id": "<uuid>"}',
    }
    assert step_problems({"id": "t", "type": "task", "assign": {"team_id": "x"}}) == {
        "steps.0.title": "required",
        "steps.0.assign.team_id": "must be an id (a UUID)",
    }


def test_branch() -> None:
    document = with_steps(
        {
            "id": "b",
            "type": "branch",
            "conditions": {"field": "score", "op": "gte", "value": 50},
            "then": "hot",
            "else": "cold",
        },
        {"id": "hot", "type": "exit"},
        {"id": "cold", "type": "exit"},
    )
    assert parse(document).steps[0] == BranchStep(
        id="b", conditions=Leaf("score", Op.GTE, 50), then="hot", otherwise="cold"
    )
    assert step_problems({"id": "b", "type": "branch", "conditions": {"any": []}, "then": "b", "next": "b"}) == {
        "steps.0.next": "unknown key: a branch step has id, type, conditions, then, else",
        "steps.0.conditions.any": "an empty any never holds: give at least one condition",
        "steps.0.else": "required: a step id",
    }


def test_split() -> None:
    document = with_steps(
        {
            "id": "ab",
            "type": "split",
            "variants": [{"name": "A", "weight": 1, "next": "a"}, {"name": "B", "weight": 2.5, "next": "b"}],
        },
        {"id": "a", "type": "exit"},
        {"id": "b", "type": "exit"},
    )
    parsed = parse(document)
    assert parsed.steps[0] == SplitStep(id="ab", variants=(Variant("A", 1, "a"), Variant("B", 2.5, "b")))
    assert successors(parsed, "ab") == ("a", "b")
    assert dump(parsed)["steps"][0] == document["steps"][0]
    bad = copy.deepcopy(document)
    bad["steps"][0]["variants"] = [{"name": "A", "weight": 0, "next": "a"}, {"name": "A", "weight": True, "next": "z"}]
    assert problems(bad) == {
        "steps.0.variants.0.weight": "must be a number above 0",
        "steps.0.variants.1.name": "repeats the name of steps.0.variants.0",
        "steps.0.variants.1.weight": "must be a number above 0",
        "steps.0.variants.1.next": "no step has the id 'z'",
    }
    bad["steps"][0]["variants"] = [{"name": "A", "weight": 1, "next": "a"}]
    assert problems(bad) == {"steps.0.variants": "must be a list of 2 to 10 variants"}


def test_update() -> None:
    found = one_step(
        {
            "id": "u",
            "type": "update",
            "set": {
                "tags": {"add": ["nurtured", " nurtured "], "remove": ["new"]},
                "fields": {"status": "nurturing", "industry": None},
                "custom_fields": {"plan": "pro", "seats": 3},
                "stage": "mql",
                "owner_id": None,
            },
        }
    )
    assert found == UpdateStep(
        id="u",
        tags_add=("nurtured",),
        tags_remove=("new",),
        fields={"status": "nurturing", "industry": None},
        custom_fields={"plan": "pro", "seats": 3},
        stage=Stage.MQL,
        owner_id=None,
    )
    only_tags = one_step({"id": "u", "type": "update", "set": {"tags": {"add": ["x"]}}})
    assert only_tags.stage is KEEP and only_tags.owner_id is KEEP
    assert dump(parse(with_steps({"id": "u", "type": "update", "set": {"stage": None}})))["steps"][0] == {
        "id": "u",
        "type": "update",
        "set": {"stage": None},
    }


def test_update_problems() -> None:
    assert step_problems(
        {
            "id": "u",
            "type": "update",
            "set": {
                "tags": {"add": ["x", ""], "remove": ["x"], "keep": []},
                "fields": {"status": "qualified", "score": 5, "city": 3, "company_size": "huge"},
                "custom_fields": {"Plan": 1, "ok": [1]},
                "stage": "won",
                "owner_id": "bob",
                "name": "x",
            },
        }
    ) == {
        "steps.0.set.name": "unknown key: set has tags, fields, custom_fields, stage, owner_id",
        "steps.0.set.tags.keep": "unknown key: tags has add, remove",
        "steps.0.set.tags.add.1": "a tag is text of 1 to 100 characters",
        "steps.0.set.tags.remove.0": "'x' is also added",
        "steps.0.set.fields.status": "must be one of contacted, new, nurturing",
        "steps.0.set.fields.score": "not a field a journey sets: use one of status, company_size, industry, "
        "job_title, company, country, province, city, timezone",
        "steps.0.set.fields.city": "must be text of 1 to 200 characters, or null",
        "steps.0.set.fields.company_size": "must be one of 1-10, 1001-5000, 11-50, 201-500, 5001+, 501-1000, 51-200",
        "steps.0.set.custom_fields.Plan": "a custom field's key is 1 to 64 of a-z, 0-9 and _",
        "steps.0.set.custom_fields.ok": "must be text, a number, true or false, or null",
        "steps.0.set.stage": "must be one of ial, mql, sql",
        "steps.0.set.owner_id": "must be an id (a UUID) or null",
    }
    assert step_problems({"id": "u", "type": "update", "set": {}}) == {"steps.0.set": "give at least one change"}
    assert step_problems({"id": "u", "type": "update", "set": {"fields": {"status": None}}}) == {
        "steps.0.set.fields.status": "cannot be cleared"
    }
    assert step_problems(
        {"id": "u", "type": "update", "set": {"stage": "mql", "custom_fields": {"a": 1}}}, audience="contacts"
    ) == {
        "steps.0.set.custom_fields": "leads only: contacts have none",
        "steps.0.set.stage": "leads only: contacts have none",
    }


def test_disqualify_and_reactivate_are_for_leads() -> None:
    found = one_step({"id": "d", "type": "disqualify", "reason": "no_response", "note": "silent"})
    assert (found.reason, found.note) == ("no_response", "silent")
    assert step_problems({"id": "d", "type": "disqualify", "reason": "No Response"}) == {
        "steps.0.reason": "must be one of the workspace's disqualification reasons (a slug)"
    }
    assert step_problems({"id": "d", "type": "disqualify", "reason": "spam"}, audience="contacts") == {
        "steps.0.type": "disqualify is for leads only"
    }
    assert step_problems({"id": "r", "type": "reactivate"}, audience="contacts") == {
        "steps.0.type": "reactivate is for leads only"
    }


def test_notify() -> None:
    found = one_step({"id": "n", "type": "notify", "message": "Hot lead", "data": {"priority": "high"}})
    assert found == NotifyStep(id="n", message="Hot lead", data={"priority": "high"})
    assert step_problems({"id": "n", "type": "notify", "data": {"x": float("nan")}}) == {
        "steps.0.message": "required",
        "steps.0.data": "must be JSON",
    }
    assert step_problems({"id": "n", "type": "notify", "message": "m", "data": {"x": "y" * 9000}}) == {
        "steps.0.data": "at most 8192 bytes as JSON"
    }
    assert step_problems({"id": "n", "type": "notify", "message": "m", "data": [1]}) == {
        "steps.0.data": "must be an object"
    }


def test_exit_ends_the_enrolment() -> None:
    document = parse(
        with_steps(
            {"id": "b", "type": "branch", "conditions": {"all": []}, "then": "x", "else": "y"},
            {"id": "x", "type": "exit"},
            {"id": "y", "type": "reactivate"},
        )
    )
    assert successor(document, "x") is None and successors(document, "x") == ()
    assert successor(document, "y") is None


# -- the graph -----------------------------------------------------------------------------------------


def exits() -> dict[str, Any]:
    return {"id": "end", "type": "exit"}


def test_step_ids_are_unique_and_references_exist() -> None:
    document = with_steps(
        {"id": "a", "type": "wait", "seconds": 5, "next": "nowhere"},
        {"id": "a", "type": "exit"},
        {"id": "b", "type": "branch", "conditions": {"all": []}, "then": "a", "else": "c"},
    )
    assert problems(document) == {
        "steps.0.next": "no step has the id 'nowhere'",
        "steps.1.id": "repeats the id of steps.0",
        "steps.2.else": "no step has the id 'c'",
    }


def test_every_step_is_reached_from_the_first() -> None:
    document = with_steps(
        {"id": "a", "type": "wait", "seconds": 5, "next": "c"},
        {"id": "b", "type": "notify", "message": "never"},
        {"id": "c", "type": "exit"},
        {"id": "d", "type": "exit"},
    )
    assert problems(document) == {
        "steps.1": "step 'b' is never reached from the first step",
        "steps.3": "step 'd' is never reached from the first step",
    }


def test_a_loop_without_a_wait_is_refused() -> None:
    document = with_steps(
        {"id": "send", "type": "send", "channel": "email", "purpose": "marketing"},
        {
            "id": "check",
            "type": "branch",
            "conditions": {"field": "engagements.email_click", "op": "gte", "value": 1},
            "then": "end",
            "else": "send",
        },
        exits(),
    )
    assert problems(document) == {
        "steps.1.else": "goes back to 'send' in a loop without a wait step: an enrolment would loop without end"
    }
    self_loop = with_steps({"id": "a", "type": "notify", "message": "m", "next": "a"})
    assert problems(self_loop) == {
        "steps.0.next": "goes back to 'a' in a loop without a wait step: an enrolment would loop without end"
    }


def test_a_loop_through_a_wait_is_allowed() -> None:
    document = with_steps(
        {"id": "send", "type": "send", "channel": "email", "purpose": "marketing"},
        {"id": "pause", "type": "wait", "seconds": 86400},
        {
            "id": "check",
            "type": "branch",
            "conditions": {"field": "engagements.email_click", "op": "gte", "value": 1},
            "then": "end",
            "else": "send",
        },
        exits(),
    )
    parsed = parse(document)
    assert successors(parsed, "check") == ("end", "send")
    waiting = with_steps({"id": "a", "type": "wait", "event": "message.replied", "timeout_seconds": 60, "next": "a"})
    assert parse(waiting).steps[0].id == "a"


def test_steps_count_one_to_a_hundred() -> None:
    assert problems(with_steps()) == {"steps": "must be a list of 1 to 100 steps"}
    many = [{"id": f"s{i}", "type": "wait", "seconds": 1} for i in range(MAX_STEPS)]
    assert len(parse(with_steps(*many)).steps) == MAX_STEPS
    assert problems(with_steps(*many, exits())) == {"steps": "must be a list of 1 to 100 steps"}


# -- exits and re-enrolment ------------------------------------------------------------------------------


def test_exit_on() -> None:
    hot = {"all": [{"field": "temperature", "op": "eq", "value": "hot"}]}
    document = parse(pinned(exit_on=[{"event": "lead.temperature_changed", "conditions": hot}, {"conditions": hot}]))
    assert [rule.event for rule in document.exit_on] == ["lead.temperature_changed", None]
    assert all(rule.conditions is not None for rule in document.exit_on)
    assert problems(pinned(exit_on=[{}, {"event": "order.created"}, {"when": 1}, 3])) == {
        "exit_on.0": "give event, conditions or both",
        "exit_on.1.event": "order.created names no lead: use an event of lead.*, activity.*, task.*, message.*, "
        "consent.*",
        "exit_on.2.when": "unknown key: an exit has event, conditions",
        "exit_on.2": "give event, conditions or both",
        "exit_on.3": "must be an object with event, conditions or both",
    }
    assert problems(pinned(exit_on=[{"event": "lead.qualified"}] * 21)) == {
        "exit_on": "must be a list of at most 20 exits"
    }


def test_reenrolment() -> None:
    assert parse(pinned(reenrolment={"type": "after_days", "days": 30})).reenrolment == Reenrolment(
        ReenrolmentType.AFTER_DAYS, 30
    )
    assert parse(pinned(reenrolment={"type": "always"})).reenrolment == Reenrolment(ReenrolmentType.ALWAYS)
    assert problems(pinned(reenrolment={"type": "after_days", "days": 3651})) == {
        "reenrolment.days": "must be a number of days from 1 to 3650"
    }
    assert problems(pinned(reenrolment={"type": "after_days"})) == {"reenrolment.days": "required"}
    assert problems(pinned(reenrolment={"type": "never", "days": 3})) == {
        "reenrolment.days": "unknown key: never has type"
    }
    assert problems(pinned(reenrolment={"type": "sometimes"})) == {
        "reenrolment.type": "must be one of never, after_days, always"
    }


def test_the_audience_decides_the_fields_of_every_condition() -> None:
    document = pinned(audience="contacts")
    found = problems(document)
    assert found["trigger.event"].startswith("lead.created names no contact")
    assert found["trigger.conditions.all.0.field"].startswith("'source' is not a field of contacts")
    assert found["exit_on.0.event"].startswith("lead.qualified names no contact")
    assert "steps.2.conditions.all.0.field" not in found  # engagements.<type> is a field of contacts too


# -- the built-in journeys -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(templates.BUILT_IN))
def test_every_built_in_journey_is_a_valid_canonical_draft(key: str) -> None:
    raw = templates.BUILT_IN[key]()
    document = parse(raw)
    assert dump(document) == raw
    sends = [i for i, s in enumerate(document.steps) if isinstance(s, SendStep)]
    assert sends, key
    assert problems_for_publish(document) == [
        (f"steps.{i}.template_id", "choose the template before publishing") for i in sends
    ]
    assert templates.BUILT_IN[key]() is not raw  # a new document each time


def test_built_in_journeys_when_their_templates_are_chosen_can_publish() -> None:
    for make in templates.BUILT_IN.values():
        raw = make()
        for found in raw["steps"]:
            if found["type"] == "send":
                found["template_id"] = TEMPLATE
        check_publishable(parse(raw))


def test_what_the_built_in_journeys_do() -> None:
    dormant = parse(templates.dormant_reengagement())
    assert isinstance(dormant.trigger, ScheduleTrigger)
    assert {s.type.value for s in dormant.steps} >= {"reactivate", "disqualify"}
    speed = parse(templates.speed_to_lead())
    assert isinstance(speed.trigger, EventTrigger) and speed.trigger.event == "lead.created"
    call = step(speed, "call")
    assert isinstance(call, TaskStep) and call.business_hours and call.due_in_seconds == 0
    assert parse(templates.onboarding()).audience is Audience.CONTACTS
    churn = parse(templates.churn_rescue())
    assert isinstance(churn.trigger, EventTrigger) and churn.trigger.event == "customer.churn_risk_raised"
    assert isinstance(churn.steps[0], TaskStep)
    nurture = parse(templates.lead_nurture())
    assert any(rule.event == "lead.qualified" for rule in nurture.exit_on)
    assert parse(templates.inactive_reactivation()).audience is Audience.CONTACTS


# -- properties ------------------------------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Steps with random next pointers, some of them waits."""
    count = draw(st.integers(1, 8))
    ids = [f"s{i}" for i in range(count)]
    steps: list[dict[str, Any]] = []
    for step_id in ids:
        found: dict[str, Any] = (
            {"id": step_id, "type": "wait", "seconds": 60}
            if draw(st.booleans())
            else {"id": step_id, "type": "notify", "message": "m"}
        )
        target = draw(st.one_of(st.none(), st.sampled_from(ids)))
        if target is not None:
            found["next"] = target
        steps.append(found)
    return steps


def _oracle(steps: list[dict[str, Any]]) -> tuple[set[str], bool]:
    """(the steps reached from the first, whether some loop has no wait), by brute force."""
    following = {
        s["id"]: s.get("next") or (steps[i + 1]["id"] if i + 1 < len(steps) else None) for i, s in enumerate(steps)
    }
    waits = {s["id"] for s in steps if s["type"] == "wait"}
    reached, current = set(), steps[0]["id"]
    while current is not None and current not in reached:
        reached.add(current)
        current = following[current]
    loop_without_wait = False
    for start in following:
        seen, current, path = set(), start, []
        while current is not None and current not in seen:
            seen.add(current)
            path.append(current)
            current = following[current]
        if current is not None:
            cycle = path[path.index(current) :]
            loop_without_wait |= not (set(cycle) & waits)
    return reached, loop_without_wait


@settings(max_examples=300)
@given(steps=graphs())
def test_the_graph_rules_match_a_brute_force_reading(steps: list[dict[str, Any]]) -> None:
    reached, loop_without_wait = _oracle(steps)
    valid = reached == {s["id"] for s in steps} and not loop_without_wait
    document = with_steps(*steps)
    if valid:
        parsed = parse(document)
        assert isinstance(parsed, JourneyDocument) and dump(parsed)["steps"] == steps
    else:
        found = problems(document)
        assert found and all(path.startswith("steps.") for path in found)
        unreached = {f"steps.{i}" for i, s in enumerate(steps) if s["id"] not in reached}
        assert unreached <= set(found)


def test_exit_step_is_frozen_without_next() -> None:
    assert not hasattr(ExitStep(id="x"), "next")
