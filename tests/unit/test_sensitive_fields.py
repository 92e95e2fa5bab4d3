"""Sensitive custom fields: the pure rules that leave their values out of what a reader gets."""

from __future__ import annotations

from app.domain.leads import sensitive
from app.domain.leads.custom_fields import FieldDefinition, FieldType
from app.domain.workspace import api_keys

KEYS = frozenset({"religion", "ethnicity"})


def test_the_sensitive_keys_are_those_of_the_definitions_marked_so() -> None:
    definitions = [
        FieldDefinition("religion", FieldType.TEXT, False, sensitive=True),
        FieldDefinition("budget", FieldType.NUMBER, False),
        FieldDefinition("ethnicity", FieldType.ENUM, True, ("a", "b"), True),
    ]
    assert sensitive.sensitive_keys(definitions) == KEYS
    assert sensitive.sensitive_keys([]) == frozenset()


def test_a_lead_loses_only_its_sensitive_values_and_is_not_copied_without_any() -> None:
    lead = {"id": 1, "custom_fields": {"religion": "x", "budget": 5}, "tags": ["a"]}
    shown = sensitive.without_sensitive(lead, KEYS)
    assert shown == {"id": 1, "custom_fields": {"budget": 5}, "tags": ["a"]}
    assert lead["custom_fields"] == {"religion": "x", "budget": 5}  # the row read is left as it was
    plain = {"id": 2, "custom_fields": {"budget": 5}}
    assert sensitive.without_sensitive(plain, KEYS) is plain
    assert sensitive.without_sensitive(lead, frozenset()) is lead
    assert sensitive.without_sensitive({"id": 3}, KEYS) == {"id": 3}


def test_scrub_reaches_every_custom_fields_object_at_any_depth() -> None:
    merged = {
        "survivor": {"id": 1, "custom_fields": {"religion": "x", "budget": 5}},
        "filled_fields": {"custom_fields": {"ethnicity": "y"}, "company": "Acme"},
        "candidates": [{"lead": {"custom_fields": {"religion": "z"}}}, {"lead": {"custom_fields": {}}}],
        "note": "religion",  # a value that names a key is left alone
    }
    assert sensitive.scrub(merged, KEYS) == {
        "survivor": {"id": 1, "custom_fields": {"budget": 5}},
        "filled_fields": {"custom_fields": {}, "company": "Acme"},
        "candidates": [{"lead": {"custom_fields": {}}}, {"lead": {"custom_fields": {}}}],
        "note": "religion",
    }
    assert merged["survivor"]["custom_fields"] == {"religion": "x", "budget": 5}  # type: ignore[index]
    untouched = {"a": [{"custom_fields": {"budget": 1}}], "custom_fields": "not an object"}
    assert sensitive.scrub(untouched, KEYS) is untouched
    assert sensitive.scrub(merged, frozenset()) is merged
    assert sensitive.scrub(None, KEYS) is None


def test_a_document_without_custom_fields_needs_no_definitions() -> None:
    assert sensitive.carries_custom_fields([{"data": {"properties": {"filled_fields": {"custom_fields": {"a": 1}}}}}])
    assert not sensitive.carries_custom_fields([{"data": {"custom_fields": {}}}, {"title": "Call"}, None, 3])
    assert not sensitive.carries_custom_fields({"custom_fields": "text"})


def test_only_lead_events_are_scrubbed_and_previous_attributes_follow() -> None:
    data = {"id": 1, "custom_fields": {"religion": "new", "budget": 5}}
    before = {"id": 1, "custom_fields": {"religion": "old", "budget": 5}}
    assert sensitive.event_payload("lead.updated", data, before, KEYS) == (
        {"id": 1, "custom_fields": {"budget": 5}},
        {"id": 1, "custom_fields": {"budget": 5}},
    )
    created = sensitive.event_payload("lead.created", data, None, KEYS)
    assert created == ({"id": 1, "custom_fields": {"budget": 5}}, None)
    # Other types' custom_fields objects are configuration (a routing rule's): left as they are.
    rule = {"section": "routing", "values": {"rules": [{"when": {"custom_fields": {"religion": "x"}}}]}}
    assert sensitive.event_payload("settings.updated", rule, None, KEYS) == (rule, None)
    assert sensitive.event_payload("lead.updated", data, before, frozenset()) == (data, before)


def test_a_stored_lead_event_is_read_without_the_values_it_was_recorded_with() -> None:
    event = {
        "type": "lead.updated",
        "data": {"custom_fields": {"religion": "new"}},
        "previous_attributes": {"custom_fields": {"religion": "old"}},
    }
    assert sensitive.stored_event(event, KEYS) == {
        "type": "lead.updated",
        "data": {"custom_fields": {}},
        "previous_attributes": {"custom_fields": {}},
    }
    redacted = {"type": "lead.created", "data": {"redacted": True}, "previous_attributes": None}
    assert sensitive.stored_event(redacted, KEYS) is redacted
    other = {"type": "settings.updated", "data": {"custom_fields": {"religion": "x"}}, "previous_attributes": None}
    assert sensitive.stored_event(other, KEYS) is other


def test_a_submission_loses_the_posted_fields_its_form_sends_to_a_sensitive_field() -> None:
    mapping = {"faith": "custom_fields.religion", "spend": "custom_fields.budget", "mail": "email"}
    names = sensitive.sensitive_form_fields(mapping, KEYS)
    assert names == frozenset({"faith"})
    assert sensitive.sensitive_form_fields(mapping, frozenset()) == frozenset()
    submission = {"id": 1, "fields": {"faith": "x", "spend": "9", "mail": "a@x.io"}}
    assert sensitive.without_form_fields(submission, names) == {"id": 1, "fields": {"spend": "9", "mail": "a@x.io"}}
    plain = {"id": 2, "fields": {"spend": "9"}}
    assert sensitive.without_form_fields(plain, names) is plain


def test_sensitive_read_is_granted_only_by_itself_or_admin() -> None:
    assert "sensitive:read" in api_keys.SCOPES and "sensitive:write" not in api_keys.SCOPES
    assert api_keys.allows({"admin"}, api_keys.SENSITIVE_READ)
    assert api_keys.allows({"sensitive:read"}, api_keys.SENSITIVE_READ)
    assert not api_keys.allows({"leads:write", "leads:read", "contacts:write"}, api_keys.SENSITIVE_READ)
    assert not api_keys.allows({"sensitive:read"}, "leads:read")


def test_the_columns_of_an_import_that_carry_a_sensitive_value() -> None:
    mapping = {
        "email": "E-mail",
        "custom_fields.religion": "Faith",
        "custom_fields.budget": "Spend",
        "custom_fields": "Extra",  # the whole object, as JSON
    }
    assert sensitive.sensitive_columns(mapping, KEYS) == frozenset({"Faith", "Extra"})
    assert sensitive.sensitive_columns(mapping, frozenset()) == frozenset()


def test_the_conditions_that_pick_people_by_a_sensitive_field_are_named_by_path() -> None:
    document = {
        "trigger": {"conditions": {"all": [{"field": "custom_fields.religion", "op": "eq", "value": "x"}]}},
        "steps": [
            {"id": "b", "conditions": {"any": [{"field": "tags", "op": "contains", "value": "vip"},
                                               {"field": "custom_fields.ethnicity", "op": "is_set", "value": True}]}},
            {"id": "u", "set": {"field": "custom_fields.religion"}},  # no op: not a condition
            {"id": "c", "conditions": {"field": "custom_fields.budget", "op": "gt", "value": 1}},
        ],
    }  # fmt: skip
    assert sensitive.sensitive_conditions(document, KEYS) == [
        "trigger.conditions.all.0.field",
        "steps.0.conditions.any.1.field",
    ]
    assert sensitive.sensitive_conditions(document, frozenset()) == []
