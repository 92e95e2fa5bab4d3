"""The condition language: every operator, the scoring aliases, nesting, missing fields, tags,
timestamps against a fixed now, and every validation error by its path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import conditions
from app.domain.conditions import (
    ALIASES,
    CONTACT_FIELDS,
    LEAD_FIELDS,
    MAX_DEPTH,
    MAX_LEAVES,
    AllOf,
    AnyOf,
    Leaf,
    Op,
    dump,
    evaluate,
    fields_of,
    parse,
)
from app.domain.errors import InvalidInput
from app.domain.leads.scoring import FIT_FIELDS, Operator

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWNER = UUID("6f1c1f4e-3a0e-4a43-9a8e-2b7f5b0c1d11")


def leaf(field: str, op: str, value: Any, audience: str = "leads") -> conditions.Condition:
    return parse({"field": field, "op": op, "value": value}, audience=audience)


def holds(document: dict[str, Any], subject: dict[str, Any], audience: str = "leads") -> bool:
    return evaluate(parse(document, audience=audience), subject, NOW)


def check(field: str, op: str, value: Any, subject: dict[str, Any], audience: str = "leads") -> bool:
    return evaluate(leaf(field, op, value, audience), subject, NOW)


def problems(document: Any, audience: str = "leads") -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse(document, audience=audience)
    return {e.field: e.message for e in caught.value.errors}


# -- operators ---------------------------------------------------------------------------------------


def test_eq_and_ne_compare_text_case_insensitively() -> None:
    lead = {"source": "Web_Form", "city": "Tehran"}
    assert check("source", "eq", "web_form", lead)
    assert check("city", "eq", "TEHRAN", lead)
    assert not check("city", "eq", "Shiraz", lead)
    assert check("city", "ne", "Shiraz", lead)
    assert not check("city", "ne", "tehran", lead)


def test_eq_on_numbers_and_booleans_keeps_them_apart() -> None:
    assert check("score", "eq", 40, {"score": 40.0})
    assert check("score", "eq", 40.5, {"score": Decimal("40.5")})
    assert check("mql_candidate", "eq", True, {"mql_candidate": True})
    assert not check("custom_fields.flag", "eq", 1, {"custom_fields": {"flag": True}})
    assert not check("custom_fields.count", "eq", True, {"custom_fields": {"count": 1}})
    assert check("custom_fields.count", "ne", True, {"custom_fields": {"count": 1}})


def test_ids_compare_as_uuids_whatever_their_case_or_type() -> None:
    assert check("owner_id", "eq", str(OWNER).upper(), {"owner_id": OWNER})
    assert check("owner_id", "in", [str(OWNER)], {"owner_id": str(OWNER)})
    assert check("owner_id", "ne", str(OWNER), {"owner_id": UUID(int=1)})


def test_in_holds_the_value() -> None:
    assert check("source", "in", ["web_form", "chat"], {"source": "CHAT"})
    assert not check("source", "in", ["web_form", "chat"], {"source": "phone"})
    assert check("score", "in", [10, 20], {"score": 20.0})
    assert not check("custom_fields.n", "in", [1], {"custom_fields": {"n": True}})


def test_contains_is_a_substring_of_any_keyword() -> None:
    lead = {"job_title": "Head of Marketing"}
    assert check("job_title", "contains", "market", lead)
    assert check("job_title", "contains", ["ceo", "HEAD OF"], lead)
    assert not check("job_title", "contains", ["ceo", "cto"], lead)
    assert not check("custom_fields.n", "contains", "1", {"custom_fields": {"n": 12}})


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_ordering_on_numbers(op: str) -> None:
    expected = {"gt": (False, False, True), "gte": (False, True, True), "lt": (True, False, False)}
    expected["lte"] = (True, True, False)
    got = tuple(check("score", op, 50, {"score": score}) for score in (49.5, 50, 51))
    assert got == expected[op]


def test_ordering_refuses_booleans_and_text_in_the_subject() -> None:
    assert not check("custom_fields.n", "gte", 0, {"custom_fields": {"n": True}})
    assert not check("custom_fields.n", "gte", 0, {"custom_fields": {"n": "5"}})
    assert check("custom_fields.n", "gte", 0, {"custom_fields": {"n": 5}})


def test_ordering_on_timestamps_takes_iso_values() -> None:
    created = {"created_at": datetime(2026, 6, 1, 8, 0, tzinfo=UTC)}
    assert check("created_at", "gte", "2026-06-01", created)
    assert check("created_at", "lt", "2026-06-01T12:00:00+03:30", created)  # 08:30 UTC
    assert not check("created_at", "lt", "2026-06-01T11:30:00+03:30", created)  # 08:00 UTC
    assert check("created_at", "gt", "2026-05-31T23:59:59Z", created)
    naive = {"created_at": datetime(2026, 6, 1, 8, 0)}  # taken as UTC
    assert check("created_at", "gte", "2026-06-01T08:00:00Z", naive)


def test_a_custom_date_field_compares_as_a_timestamp_and_never_with_a_number() -> None:
    lead = {"custom_fields": {"renewal": "2026-12-06", "size": 12}}
    assert check("custom_fields.renewal", "gt", "2026-12-01", lead)
    assert check("custom_fields.renewal", "within_days", 10, lead)
    assert not check("custom_fields.renewal", "gt", 5, lead)
    assert not check("custom_fields.size", "gt", "2026-01-01", lead)
    assert check("custom_fields.day", "lt", "2027-01-01", {"custom_fields": {"day": date(2026, 1, 1)}})


def test_exists() -> None:
    for empty in (None, "", [], {}):
        assert check("company", "exists", False, {"company": empty})
        assert not check("company", "exists", True, {"company": empty})
    assert check("company", "exists", False, {})
    assert check("company", "exists", True, {"company": "Acme"})
    assert check("custom_fields.vip", "exists", True, {"custom_fields": {"vip": False}})  # false is set
    assert check("score", "exists", True, {"score": 0})


def test_older_than_days_counts_a_missing_timestamp_as_older_than_any() -> None:
    assert check("last_activity_at", "older_than_days", 90, {"last_activity_at": NOW - timedelta(days=91)})
    assert not check("last_activity_at", "older_than_days", 90, {"last_activity_at": NOW - timedelta(days=90)})
    assert not check("last_activity_at", "older_than_days", 90, {"last_activity_at": NOW - timedelta(days=3)})
    assert check("last_activity_at", "older_than_days", 90, {"last_activity_at": None})  # never any activity
    assert check("last_activity_at", "older_than_days", 90, {})


def test_within_days_is_either_side_of_now_and_never_for_a_missing_timestamp() -> None:
    assert check("last_engaged_at", "within_days", 7, {"last_engaged_at": NOW - timedelta(days=7)})
    assert not check("last_engaged_at", "within_days", 7, {"last_engaged_at": NOW - timedelta(days=7, seconds=1)})
    assert check("last_engaged_at", "within_days", 7, {"last_engaged_at": NOW + timedelta(days=2)})
    assert not check("last_engaged_at", "within_days", 7, {"last_engaged_at": None})
    assert not check("last_engaged_at", "within_days", 7, {})


def test_a_present_value_that_is_no_timestamp_is_neither_older_nor_within() -> None:
    lead = {"custom_fields": {"note": "soon"}}
    assert not check("custom_fields.note", "older_than_days", 1, lead)
    assert not check("custom_fields.note", "within_days", 1, lead)


# -- missing fields, tags, prefixes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", "x", False),
        ("ne", "x", True),
        ("in", ["x"], False),
        ("contains", "x", False),
        ("exists", True, False),
        ("exists", False, True),
    ],
)
def test_a_missing_text_field_matches_only_ne_and_exists_false(op: str, value: Any, expected: bool) -> None:
    for lead in ({}, {"industry": None}, {"industry": ""}):
        assert check("industry", op, value, lead) is expected


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "eq"])
def test_a_missing_number_never_matches_a_comparison(op: str) -> None:
    assert not check("score", op, 0, {})


def test_tags_are_tested_for_membership() -> None:
    lead = {"tags": ["VIP", "legacy"]}
    assert check("tags", "eq", "vip", lead)
    assert not check("tags", "eq", "vi", lead)
    assert check("tags", "contains", "LEGACY", lead)
    assert not check("tags", "contains", "leg", lead)  # membership, not substring
    assert check("tags", "contains", ["new", "vip"], lead)
    assert check("tags", "in", ["partner", "legacy"], lead)
    assert not check("tags", "in", ["partner"], lead)
    assert check("tags", "ne", "partner", lead)
    assert not check("tags", "ne", "vip", lead)
    assert check("tags", "ne", "vip", {"tags": []})
    assert check("tags", "exists", False, {"tags": []})


def test_contacts_interests_are_a_list_too() -> None:
    assert check("interests", "contains", "tea", {"interests": ["Tea", "books"]}, audience="contacts")


def test_engagements_count_since_enrolment_with_zero_for_a_type_not_seen() -> None:
    subject = {"engagements": {"email_click": 2}}
    assert check("engagements.email_click", "gte", 1, subject)
    assert check("engagements.email_open", "eq", 0, subject)
    assert not check("engagements.email_open", "gte", 1, subject)
    assert check("engagements.email_open", "exists", True, subject)  # 0 is a count
    assert not check("engagements.email_click", "gte", 1, {})  # nothing loaded: missing


def test_custom_fields_are_read_from_their_mapping() -> None:
    lead = {"custom_fields": {"plan": "Pro"}}
    assert check("custom_fields.plan", "eq", "pro", lead)
    assert not check("custom_fields.other", "exists", True, lead)
    assert check("custom_fields.plan", "exists", False, {"custom_fields": None})


# -- groups --------------------------------------------------------------------------------------------


def test_all_and_any_nest() -> None:
    document = {
        "all": [
            {"field": "status", "op": "in", "value": ["new", "contacted", "nurturing"]},
            {
                "any": [
                    {"field": "temperature", "op": "eq", "value": "cold"},
                    {
                        "all": [
                            {"field": "stage", "op": "eq", "value": "ial"},
                            {"field": "score", "op": "lt", "value": 20},
                        ]
                    },
                ]
            },
        ]
    }
    assert holds(document, {"status": "new", "temperature": "cold"})
    assert holds(document, {"status": "new", "temperature": "warm", "stage": "ial", "score": 10})
    assert not holds(document, {"status": "new", "temperature": "warm", "stage": "ial", "score": 30})
    assert not holds(document, {"status": "qualified", "temperature": "cold"})


def test_an_empty_all_always_holds() -> None:
    assert holds({"all": []}, {})


def test_a_leaf_alone_is_a_condition() -> None:
    assert isinstance(parse({"field": "city", "op": "eq", "value": "Tehran"}, audience="leads"), Leaf)


# -- aliases, dump, fields_of --------------------------------------------------------------------------


def test_scoring_operator_names_are_aliases() -> None:
    assert set(ALIASES) | {o.value for o in Op} >= {o.value for o in Operator}
    assert leaf("source", "equals", "web_form") == leaf("source", "eq", "web_form")
    assert leaf("job_title", "contains_any", ["ceo"]) == leaf("job_title", "contains", ["ceo"])
    assert dump(leaf("job_title", "contains_any", ["CEO", "founder"])) == {
        "field": "job_title",
        "op": "contains",
        "value": ["CEO", "founder"],
    }
    lead = {"job_title": "Co-Founder"}
    assert check("job_title", "contains_any", ["ceo", "founder"], lead)


def test_the_scoring_fields_are_lead_fields() -> None:
    assert FIT_FIELDS - {"referral"} <= set(LEAD_FIELDS)


def test_dump_is_canonical() -> None:
    condition = parse(
        {
            "any": [
                {"field": "created_at", "op": "gte", "value": "2026-01-01"},
                {"field": "owner_id", "op": "eq", "value": str(OWNER).upper()},
                {"field": "source", "op": "in", "value": ["web_form"]},
            ]
        },
        audience="leads",
    )
    assert dump(condition) == {
        "any": [
            {"field": "created_at", "op": "gte", "value": "2026-01-01T00:00:00+00:00"},
            {"field": "owner_id", "op": "eq", "value": str(OWNER)},
            {"field": "source", "op": "in", "value": ["web_form"]},
        ]
    }
    assert parse(dump(condition), audience="leads") == condition


def test_fields_of_names_what_to_load() -> None:
    condition = parse(
        {
            "all": [
                {"field": "source", "op": "eq", "value": "web_form"},
                {"any": [{"field": "custom_fields.plan", "op": "exists", "value": True}]},
                {"field": "engagements.email_click", "op": "gte", "value": 1},
                {"field": "source", "op": "ne", "value": "chat"},
            ]
        },
        audience="leads",
    )
    assert fields_of(condition) == {"source", "custom_fields.plan", "engagements.email_click"}


def test_conditions_are_frozen_and_hashable() -> None:
    condition = parse({"all": [{"field": "source", "op": "in", "value": ["web_form"]}]}, audience="leads")
    assert isinstance(condition, AllOf)
    assert hash(condition) == hash(parse(dump(condition), audience="leads"))
    with pytest.raises(AttributeError):
        condition.conditions = ()  # type: ignore[misc]


# -- catalogues ------------------------------------------------------------------------------------------


def test_catalogues_differ_by_audience() -> None:
    assert {"score", "temperature", "stage", "status", "company", "custom_fields.plan"} <= {
        n for n in (*LEAD_FIELDS, "custom_fields.plan") if conditions.field_spec(n, "leads")
    }
    for name in ("score", "stage", "status", "company", "custom_fields.plan"):
        assert conditions.field_spec(name, "contacts") is None, name
    for name in ("rfm_segment", "churn_level", "interests", "last_order_at", "orders_count"):
        assert name in CONTACT_FIELDS and conditions.field_spec(name, "leads") is None, name
    for name in ("tags", "last_activity_at", "owner_id", "created_at", "engagements.email_open"):
        assert conditions.field_spec(name, "leads") and conditions.field_spec(name, "contacts"), name


def test_closed_vocabularies_are_checked() -> None:
    assert problems({"field": "temperature", "op": "eq", "value": "hott"}) == {
        "conditions.value": "must be one of cold, hot, warm"
    }
    assert "conditions.value.1" in problems({"field": "source", "op": "in", "value": ["web_form", "fax"]})
    assert leaf("stage", "eq", "IAL") == Leaf("stage", Op.EQ, "IAL")
    assert "conditions.value" in problems({"field": "rfm_segment", "op": "eq", "value": "x"}, "contacts")


# -- validation ------------------------------------------------------------------------------------------


def test_every_problem_is_named_by_its_path() -> None:
    found = problems(
        {
            "all": [
                {"field": "jobtitle", "op": "eq", "value": "x"},
                {"field": "score", "op": "gt", "value": True},
                {"any": []},
                {"field": "city", "op": "like", "value": "x"},
                {"field": "city", "op": "eq"},
                {"field": "city", "op": "eq", "value": "x", "extra": 1},
                "city = x",
                {"all": [], "any": []},
                {"any": "x"},
            ],
            "also": 1,
        }
    )
    assert found == {
        "conditions.also": "unknown key (a group has only all)",
        "conditions.all.0.field": "'jobtitle' is not a field of leads (nor custom_fields.<key> or "
        "engagements.<type>): did you mean job_title?",
        "conditions.all.1.value": "gt takes a number",
        "conditions.all.2.any": "an empty any never holds: give at least one condition",
        "conditions.all.3.op": "unknown operator 'like': use one of eq, ne, in, gt, gte, lt, lte, contains, exists, "
        "older_than_days, within_days, equals, contains_any",
        "conditions.all.4.value": "required",
        "conditions.all.5.extra": "unknown key (a condition has field, op and value)",
        "conditions.all.6": 'must be {"all": [...]}, {"any": [...]} or {"field", "op", "value"}',
        "conditions.all.7": "give all or any, not both (nest one inside the other)",
        "conditions.all.8.any": "must be a list of conditions",
    }


def test_the_path_is_the_callers() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"any": [{"field": "city", "op": "eq", "value": 3}]}, audience="leads", path="steps.2.conditions")
    assert [e.field for e in caught.value.errors] == ["steps.2.conditions.any.0.value"]


@pytest.mark.parametrize(
    ("field", "op", "value", "message"),
    [
        ("city", "in", [], "in takes a list of 1 to 100 values"),
        ("city", "in", "Tehran", "in takes a list of 1 to 100 values"),
        ("city", "in", ["x"] * 101, "in takes a list of 1 to 100 values"),
        ("city", "contains", [], "contains takes a list of 1 to 100 keywords"),
        ("city", "contains", "", "a keyword is text of 1 to 500 characters"),
        ("city", "eq", None, "eq takes a value: use exists false for a missing field"),
        ("city", "eq", ["x"], "eq takes a single value (in takes a list)"),
        ("city", "eq", 3, "must be text of at most 500 characters"),
        ("city", "eq", "x" * 501, "must be text of at most 500 characters"),
        ("score", "eq", "high", "must be a number"),
        ("score", "gte", "2026-01-01", "gte takes a number"),
        ("score", "gte", float("nan"), "gte takes a number"),
        ("mql_candidate", "eq", "yes", "must be true or false"),
        ("owner_id", "eq", "bob", "must be an id (a UUID)"),
        ("created_at", "lt", "yesterday", "lt takes an ISO 8601 date or date-time such as 2026-01-01T09:00:00Z"),
        ("created_at", "lt", 5, "lt takes an ISO 8601 date or date-time such as 2026-01-01T09:00:00Z"),
        ("custom_fields.x", "lt", "soon", "lt takes a number or an ISO 8601 date or date-time"),
        ("custom_fields.x", "eq", {"a": 1}, "eq takes a single value (in takes a list)"),
        ("city", "exists", "yes", "exists takes true or false"),
        ("last_activity_at", "older_than_days", 0, "older_than_days takes a whole number of days, 1 to 36500"),
        ("last_activity_at", "within_days", 36501, "within_days takes a whole number of days, 1 to 36500"),
        ("last_activity_at", "within_days", 1.5, "within_days takes a whole number of days, 1 to 36500"),
        ("last_activity_at", "within_days", True, "within_days takes a whole number of days, 1 to 36500"),
    ],
)
def test_values_are_checked_for_their_operator_and_field(field: str, op: str, value: Any, message: str) -> None:
    assert problems({"field": field, "op": op, "value": value}) == {"conditions.value": message}


def test_list_items_are_named_by_index() -> None:
    assert problems({"field": "city", "op": "in", "value": ["a", 2, "c", None]}) == {
        "conditions.value.1": "must be text of at most 500 characters",
        "conditions.value.3": "must be text of at most 500 characters",
    }
    assert problems({"field": "city", "op": "contains", "value": ["a", ""]}) == {
        "conditions.value.1": "a keyword is text of 1 to 500 characters"
    }


USABLE = {
    "text": "eq, ne, in, contains, exists",
    "timestamp": "gt, gte, lt, lte, exists, older_than_days, within_days",
    "number": "eq, ne, in, gt, gte, lt, lte, exists",
    "boolean": "eq, ne, exists",
    "list": "eq, ne, in, contains, exists",
}


@pytest.mark.parametrize(
    ("field", "op", "kind"),
    [
        ("job_title", "older_than_days", "text"),
        ("created_at", "eq", "timestamp"),
        ("score", "contains", "number"),
        ("mql_candidate", "in", "boolean"),
        ("tags", "gt", "list"),
    ],
)
def test_operators_fit_their_field(field: str, op: str, kind: str) -> None:
    message = f"{op} does not apply to {field} ({kind}): use {USABLE[kind]}"
    assert problems({"field": field, "op": op, "value": 1}) == {"conditions.op": message}


def test_field_names_are_checked_for_the_audience() -> None:
    assert problems({"field": "score", "op": "gt", "value": 1}, "contacts") == {
        "conditions.field": "'score' is not a field of contacts (nor engagements.<type>)"
    }
    assert problems({"field": "custom_fields.plan", "op": "exists", "value": True}, "contacts") == {
        "conditions.field": "contacts have no custom fields"
    }
    assert problems({"field": "custom_fields.Plan", "op": "exists", "value": True}) == {
        "conditions.field": "custom_fields.<key>: the key must be 1-64 of a-z, 0-9 and _"
    }
    assert problems({"field": "engagements.", "op": "gte", "value": 1}) == {
        "conditions.field": "engagements.<key>: the key must be 1-64 of a-z, 0-9 and _"
    }
    assert problems({"field": 3, "op": "eq", "value": 1}) == {"conditions.field": "must be a field name"}
    assert "conditions.field" in problems({"field": "custom_fields." + "a" * 65, "op": "exists", "value": True})


def test_depth_is_at_most_five_groups() -> None:
    inner: dict[str, Any] = {"field": "city", "op": "eq", "value": "x"}
    document = inner
    for _ in range(MAX_DEPTH):
        document = {"all": [document]}
    assert parse(document, audience="leads")
    too_deep = {"any": [document]}
    assert problems(too_deep) == {"conditions.any.0.all.0.all.0.all.0.all.0": "groups nest at most 5 deep"}


def test_at_most_fifty_leaves_in_all() -> None:
    one = {"field": "city", "op": "eq", "value": "x"}
    assert parse({"all": [one] * MAX_LEAVES}, audience="leads")
    assert problems({"all": [{"all": [one] * 25}, {"any": [one] * 26}]}) == {
        "conditions": "at most 50 conditions in all (found 51)"
    }


def test_an_unknown_audience_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse({"all": []}, audience="accounts")


# -- properties ------------------------------------------------------------------------------------------

TEXTS = st.sampled_from(["", "Tehran", "tehran", "Shiraz", "VIP", "vip", "web_form", "Co-Founder"])
VALUES = st.one_of(st.none(), TEXTS, st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.booleans())
SUBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "city": st.one_of(st.none(), TEXTS),
        "tags": st.lists(TEXTS, max_size=3),
        "score": st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
        "custom_fields": st.dictionaries(st.sampled_from(["a", "b"]), VALUES, max_size=2),
        "last_activity_at": st.one_of(
            st.none(), st.integers(-400, 400).map(lambda days: NOW - timedelta(days=days, hours=1))
        ),
    },
)
FIELD_VALUES = st.one_of(
    st.tuples(st.just("city"), TEXTS.filter(bool)),
    st.tuples(st.just("tags"), TEXTS.filter(bool)),
    st.tuples(st.just("score"), st.integers(0, 100)),
    st.tuples(st.sampled_from(["custom_fields.a", "custom_fields.b"]), VALUES.filter(lambda v: v not in (None, ""))),
)


@settings(max_examples=300)
@given(field_value=FIELD_VALUES, subject=SUBJECTS)
def test_ne_is_exactly_not_eq(field_value: tuple[str, Any], subject: dict[str, Any]) -> None:
    field, value = field_value
    assert check(field, "ne", value, subject) is not check(field, "eq", value, subject)


@settings(max_examples=200)
@given(values=st.lists(TEXTS.filter(bool), min_size=1, max_size=4), subject=SUBJECTS)
def test_not_any_eq_is_all_ne_and_in_is_any_eq(values: list[str], subject: dict[str, Any]) -> None:
    for field in ("city", "tags"):
        any_eq = holds({"any": [{"field": field, "op": "eq", "value": v} for v in values]}, subject)
        all_ne = holds({"all": [{"field": field, "op": "ne", "value": v} for v in values]}, subject)
        assert all_ne is not any_eq
        assert check(field, "in", values, subject) is any_eq


@settings(max_examples=200)
@given(days=st.integers(1, 400), subject=SUBJECTS)
def test_a_past_timestamp_is_older_or_within_never_both(days: int, subject: dict[str, Any]) -> None:
    older = check("last_activity_at", "older_than_days", days, subject)
    within = check("last_activity_at", "within_days", days, subject)
    moment = subject.get("last_activity_at")
    if moment is None:
        assert older and not within
    elif moment <= NOW:
        assert older is not within
    else:  # ahead of now: never older; within when close enough
        assert not older and within is (moment - NOW <= timedelta(days=days))


def _leaf(field: str, op: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return values.map(lambda value: {"field": field, "op": op, "value": value})


LEAVES = st.one_of(
    _leaf("city", "eq", TEXTS),
    _leaf("source", "equals", st.sampled_from(["web_form", "CHAT"])),
    _leaf("tags", "contains_any", st.lists(TEXTS.filter(bool), min_size=1)),
    _leaf("score", "gte", st.integers(0, 100) | st.floats(0, 100)),
    _leaf("created_at", "lt", st.sampled_from(["2026-01-01", "2026-01-01T09:00+03:30"])),
    _leaf("last_activity_at", "older_than_days", st.integers(1, 36500)),
    _leaf("custom_fields.a", "exists", st.booleans()),
    _leaf("engagements.email_click", "in", st.lists(st.integers(0, 9), min_size=1)),
)
DOCUMENTS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
    ),
    max_leaves=12,
)


def _depth(document: dict[str, Any]) -> int:
    for group in ("all", "any"):
        if group in document:
            return 1 + max((_depth(child) for child in document[group]), default=0)
    return 0


@settings(max_examples=200)
@given(document=DOCUMENTS, subject=SUBJECTS)
def test_dump_and_parse_round_trip(document: dict[str, Any], subject: dict[str, Any]) -> None:
    if _depth(document) > MAX_DEPTH:
        return
    condition = parse(document, audience="leads")
    canonical = dump(condition)
    assert parse(canonical, audience="leads") == condition
    assert dump(parse(canonical, audience="leads")) == canonical
    assert evaluate(parse(canonical, audience="leads"), subject, NOW) is evaluate(condition, subject, NOW)
    assert isinstance(condition, AllOf | AnyOf | Leaf)
