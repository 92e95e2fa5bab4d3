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
