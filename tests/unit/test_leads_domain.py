"""Lead rules with plain values: contact details, search normalisation, custom fields, lifecycle."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import Conflict, ErrorList
from app.domain.leads import custom_fields as custom
from app.domain.leads.contact import contact_details, parse_email, parse_phone
from app.domain.leads.lifecycle import LeadStatus, Source, check_status_change, default_channel
from app.domain.leads.search import normalize, query


def test_email_normalisation_and_key() -> None:
    email = parse_email("  Ali.Rezaei@Gmail.COM ")
    assert (email.address, email.key) == ("Ali.Rezaei@gmail.com", "ali.rezaei@gmail.com")
    with pytest.raises(ValueError):
        parse_email("ali@")


def test_phone_parsing_with_and_without_region() -> None:
    assert parse_phone("0912 345 6789", "IR").e164 == "+989123456789"
    assert parse_phone("+49 30 901820", None).e164 == "+4930901820"
    national_without_region = parse_phone("0912 345 6789", None)
    assert (national_without_region.e164, national_without_region.valid) == (None, False)


def test_contact_rules() -> None:
    errors = ErrorList()
    details = contact_details("a@x.io", "not a phone", None, errors)
    assert not errors.errors and details.phone is not None and details.phone.e164 is None
    errors = ErrorList()
    contact_details(None, None, None, errors)
    assert [e.field for e in errors.errors] == ["email"]
    errors = ErrorList()
    contact_details("bad", "+989123456789", None, errors)
    assert [e.field for e in errors.errors] == ["email"]  # an invalid email is an error even with a phone


def test_persian_normalisation() -> None:
    assert normalize("علي كريمي") == normalize("علی کریمی")
    assert normalize("۱۲۳ ١٢٣ 123") == "123 123 123"
    assert normalize("می\u200cخواهم") == "می خواهم"
    assert normalize("  ACME   Trading ") == "acme trading"
    assert query("+98 (912) 111-22") == "9891211122"
    assert query("Acme 2") == "acme 2"


@given(st.text(max_size=50))
def test_normalisation_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


def test_custom_field_coercion() -> None:
    definitions = [
        custom.FieldDefinition("budget", custom.FieldType.NUMBER, False),
        custom.FieldDefinition("plan", custom.FieldType.ENUM, True, ("basic", "pro")),
        custom.FieldDefinition("since", custom.FieldType.DATE, False),
        custom.FieldDefinition("vip", custom.FieldType.BOOLEAN, False),
    ]
    errors = ErrorList()
    clean = custom.validate(
        definitions, {"budget": "12.5", "plan": "pro", "since": "2026-01-02", "vip": "on"}, errors, require_all=True
    )
    assert not errors.errors
    assert clean == {"budget": 12.5, "plan": "pro", "since": "2026-01-02", "vip": True}
    errors = ErrorList()
    custom.validate(definitions, {"budget": True, "since": "yesterday", "x": 1}, errors, require_all=True)
    assert sorted(e.field for e in errors.errors) == [
        "custom_fields.budget",
        "custom_fields.plan",
        "custom_fields.since",
        "custom_fields.x",
    ]


def test_lifecycle() -> None:
    check_status_change(LeadStatus.NEW, LeadStatus.NURTURING)
    with pytest.raises(Conflict):
        check_status_change(LeadStatus.NEW, LeadStatus.QUALIFIED)
    with pytest.raises(Conflict):
        check_status_change(LeadStatus.DISQUALIFIED, LeadStatus.CONTACTED)
    assert default_channel(Source.WEB_FORM) == "online" and default_channel(Source.EVENT) == "offline"


def test_number_fields_keep_numbers_json_can_carry() -> None:
    units = custom.FieldDefinition("units", custom.FieldType.NUMBER, required=False)
    assert custom.coerce(units, "42") == 42 and isinstance(custom.coerce(units, 42.0), int)
    assert custom.coerce(units, 2.5) == 2.5
    big = custom.coerce(units, 10**25)
    assert isinstance(big, float) and big == 1e25  # beyond 2**53: a double, not a 26-digit integer
    for value in (float("nan"), float("inf"), "-Infinity"):
        with pytest.raises(ValueError, match="finite"):
            custom.coerce(units, value)
