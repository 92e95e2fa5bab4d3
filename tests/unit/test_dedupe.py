"""Duplicate keys, similarity and the merge rule, pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.leads import dedupe

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_keys_normalise_persian_and_latin_spellings() -> None:
    assert dedupe.name_key("Sara", "AHMADI") == dedupe.name_key(" ahmadi", "sara ") == "ahmadi sara"
    # Arabic yeh/kaf and Persian yeh/keheh are the same letters to a person typing them
    assert dedupe.name_key("علي", "كريمي") == dedupe.name_key("علی", "کریمی")
    assert dedupe.company_key("Acme Ltd.") == dedupe.company_key("ACME") == "acme"
    assert dedupe.company_key("شرکت پارس") == dedupe.company_key("پارس")
    assert dedupe.company_key("Ltd.") is None and dedupe.name_key(None, " ") is None


def test_similarity_is_certain_on_email_or_phone_and_graded_on_name_and_company() -> None:
    a = {"email_key": "sara@acme.io", "phone_e164": "+989121234567", "first_name": "Sara", "last_name": "Ahmadi",
         "company": "Acme"}  # fmt: skip
    assert dedupe.similarity(a, {"email_key": "sara@acme.io"}) == dedupe.Match(100.0, ("email",))
    assert dedupe.similarity(a, {"phone_e164": "+989121234567"}).fields == ("phone",)
    colleague_alias = {"email_key": "s.ahmadi@gmail.com", "first_name": "sara", "last_name": "ahmadi",
                       "company": "ACME Ltd"}  # fmt: skip
    same_person = dedupe.similarity(a, colleague_alias)
    assert same_person.score == 100.0 and same_person.fields == ("name", "company")
    typo = dedupe.similarity(a, {**colleague_alias, "last_name": "Ahmady"})
    assert 80 <= typo.score < 100 and "company" in typo.fields
    stranger = dedupe.similarity(a, {"first_name": "Reza", "last_name": "Karimi", "company": "Globex"})
    assert stranger.score < 50
    colleague = dedupe.similarity(a, {"first_name": "Reza", "last_name": "Karimi", "company": "Acme"})
    assert colleague.score < 60 and colleague.fields == ("company",)
    name_only = dedupe.similarity({"first_name": "Sara", "last_name": "Ahmadi"}, {"first_name": "Sara",
                                                                                   "last_name": "Ahmadi"})  # fmt: skip
    assert name_only.score == 70.0  # a shared name alone is weak evidence


def _lead(n: int, **values: object) -> dict[str, object]:
    return {"id": uuid.UUID(int=n), "created_at": T0 + timedelta(days=n), "updated_at": T0 + timedelta(days=n),
            "tags": [], "custom_fields": {}, **values}  # fmt: skip


def test_merge_keeps_non_empty_values_prefers_the_newest_and_the_earliest_creation() -> None:
    survivor = _lead(2, first_name="Sara", company=None, job_title="CTO", tags=["web"], custom_fields={"budget": 5})
    older = _lead(1, first_name="Sarah", company="Acme", job_title="Engineer", tags=["event", "web"])
    newer = _lead(3, first_name=None, phone="0912", phone_e164="+98912", phone_valid=True, custom_fields={"budget": 9})
    values = dedupe.merged_values(survivor, [older, newer])
    assert values["company"] == "Acme" and "first_name" not in values  # the survivor's newer name stays
    assert "job_title" not in values  # CTO is newer than Engineer
    assert (values["phone"], values["phone_e164"], values["phone_valid"]) == ("0912", "+98912", True)
    assert values["tags"] == ["web", "event"] and values["custom_fields"] == {"budget": 9}
    assert values["created_at"] == older["created_at"]
    assert dedupe.merged_values({**survivor, **values}, [older, newer]) == {}  # idempotent


def test_a_newer_lead_without_a_phone_leaves_the_kept_phone_valid() -> None:
    survivor = _lead(1, email="sara@example.com", email_key="sara@example.com", phone="0912 345 6789",
                     phone_e164="+989123456789", phone_valid=True)  # fmt: skip
    business_card = _lead(2, email="sara@bakery.ir", email_key="sara@bakery.ir", phone=None, phone_e164=None,
                          phone_valid=False)  # fmt: skip
    merged = {**survivor, **dedupe.merged_values(survivor, [business_card])}
    assert (merged["phone"], merged["phone_e164"], merged["phone_valid"]) == ("0912 345 6789", "+989123456789", True)
    assert (merged["email"], merged["email_key"]) == ("sara@bakery.ir", "sara@bakery.ir")
    assert dedupe.merged_values(merged, [business_card]) == {}


fields = st.fixed_dictionaries(
    {k: st.one_of(st.none(), st.sampled_from(["", "a", "b", "c"])) for k in ("first_name", "company", "city")}
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fields, min_size=2, max_size=5), st.lists(st.lists(st.sampled_from("xyz"), max_size=3), min_size=5,
                                                          max_size=5))  # fmt: skip
def test_merging_loses_no_value_and_is_idempotent(records: list[dict[str, object]], tags: list[list[str]]) -> None:
    leads = [_lead(i, tags=tags[i], **r) for i, r in enumerate(records)]
    survivor, losers = leads[0], leads[1:]
    merged = {**survivor, **dedupe.merged_values(survivor, losers)}
    for field in ("first_name", "company", "city"):
        present = [r[field] for r in leads if r[field]]
        if present:
            assert merged[field] == present[-1]  # the newest non-empty value
    assert set(merged["tags"]) == {t for r in leads for t in r["tags"]}  # type: ignore[attr-defined]
    assert merged["created_at"] == min(r["created_at"] for r in leads)  # type: ignore[type-var]
    assert dedupe.merged_values(merged, losers) == {}


# -- automatic merges: the fill rule, the target, undoing -----------------------------------------------


def test_an_automatic_merge_fills_only_what_the_kept_lead_lacks() -> None:
    kept = _lead(1, first_name="Sara", company=None, email="sara@acme.io", email_key="sara@acme.io", phone=None,
                 phone_e164=None, phone_valid=False, tags=["web"], custom_fields={"budget": 5},
                 owner_id=None)  # fmt: skip
    card = _lead(2, first_name="Sarah", company="Acme", email=None, email_key=None, phone="0912 345 6789",
                 phone_e164="+989123456789", phone_valid=True, tags=["fair", "web"],
                 custom_fields={"budget": 9, "plan": "pro"}, owner_id=uuid.UUID(int=77),
                 referred_by_lead_id=uuid.UUID(int=1))  # fmt: skip
    values = dedupe.absorbed_values(kept, card)
    assert "first_name" not in values and values["company"] == "Acme"  # nothing the kept lead has is overwritten
    assert (values["phone"], values["phone_e164"], values["phone_valid"]) == ("0912 345 6789", "+989123456789", True)
    assert values["tags"] == ["web", "fair"] and values["custom_fields"] == {"budget": 5, "plan": "pro"}
    assert values["owner_id"] == uuid.UUID(int=77)
    assert "referred_by_lead_id" not in values  # the kept lead does not refer itself
    assert dedupe.absorbed_values({**kept, **values}, card) == {}  # merging again changes nothing
    # A request (or a form) fills the same way, over the fields it may fill.
    request = {"first_name": "Someone", "city": "Tehran", "tags": ["api"], "custom_fields": {"plan": "pro"}}
    assert dedupe.filled_values(kept, request, ("first_name", "city")) == {"city": "Tehran", "tags": ["web", "api"]}


def test_a_fuzzy_match_is_merged_into_an_older_lead_only_at_the_threshold_and_without_conflicting_details() -> None:
    new = {"id": uuid.UUID(int=10), "email_key": "s.ahmadi@gmail.com", "phone_e164": None}
    older = {"id": uuid.UUID(int=5), "email_key": None, "phone_e164": "+989121234567"}
    other_email = {"id": uuid.UUID(int=4), "email_key": "sara@acme.io", "phone_e164": None}
    newer = {"id": uuid.UUID(int=11), "email_key": None, "phone_e164": None}

    def candidates(*pairs: tuple[dict[str, object], float]) -> list[dict[str, object]]:
        return [{"lead": lead, "score": score, "matched": ["name", "company"]} for lead, score in pairs]

    assert dedupe.auto_merge_target(new, candidates((older, 92.0)), None) is None  # off: suggestions only
    assert dedupe.auto_merge_target(new, candidates((older, 92.0)), 90)["lead"] is older  # type: ignore[index]
    assert dedupe.auto_merge_target(new, candidates((older, 89.9)), 90) is None
    # Two people with one name at one company have their own emails: never merged automatically.
    assert dedupe.conflicting(new, other_email) == ("email",)
    assert dedupe.auto_merge_target(new, candidates((other_email, 100.0)), 90) is None
    # A newer lead is merged into this one when its own turn comes, not this one into it.
    assert dedupe.auto_merge_target(new, candidates((newer, 100.0), (older, 95.0)), 90)["lead"] is older  # type: ignore[index]


def test_undoing_empties_what_the_merge_filled_unless_it_changed_since() -> None:
    before = {"company": None, "city": None, "tags": ["web"], "custom_fields": {"budget": 5}, "owner_id": None}
    after = {"company": "Acme", "city": "Tehran", "tags": ["web", "fair"],
             "custom_fields": {"budget": 5, "plan": "pro"}, "owner_id": uuid.UUID(int=7)}  # fmt: skip
    current = {"company": "Acme", "city": "Shiraz", "tags": ["web", "fair", "vip"],
               "custom_fields": {"budget": 6, "plan": "pro"}, "owner_id": uuid.UUID(int=7)}  # fmt: skip
    undo = dedupe.unmerged_values(current, before, after)
    assert undo.changes == {"company": None, "tags": ["web", "vip"], "custom_fields": {"budget": 6}, "owner_id": None}
    assert undo.kept == ("city",)  # moved to Shiraz since: the member's change stays
    assert dedupe.unmerged_values({**current, **undo.changes}, before, after).changes == {}  # nothing left to undo


def test_a_phone_changed_since_the_merge_keeps_its_parsed_forms_when_undone() -> None:
    before = {"phone": None, "phone_e164": None, "phone_valid": False, "email": None, "email_key": None}
    after = {"phone": "0912 345 6789", "phone_e164": "+989123456789", "phone_valid": True, "email": "s@x.io",
             "email_key": "s@x.io"}  # fmt: skip
    current = {**after, "phone": "0935 111 2233", "phone_e164": "+989351112233"}  # a member typed another phone
    undo = dedupe.unmerged_values(current, before, after)
    assert undo.changes == {"email": None, "email_key": None} and undo.kept == ("phone",)
