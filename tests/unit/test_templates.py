"""Templates: validation names the field and the line, rendering escapes HTML only, Persian digits
and Jalali dates, right-to-left HTML, and SMS length as the network counts it."""

import contextlib
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import InvalidInput
from app.domain.outreach.templates import (
    CATALOGUE,
    Content,
    RenderError,
    WhatsAppTemplate,
    en_digits,
    fa_digits,
    jalali,
    problems,
    render,
    sms_length,
    validate,
    with_direction,
)
from app.domain.outreach.vocabulary import ChannelType

PERSON = {
    "person": {"first_name": "سارا", "last_name": None, "custom_fields": {"renewal": "2026-12-06"}},
    "owner": {"name": "", "email": ""},
    "workspace": {"name": "Acme"},
    "unsubscribe_url": "https://x.example/u",
}


def _errors(content: Content) -> dict[str, str]:
    with pytest.raises(InvalidInput) as raised:
        validate(content)
    return {e.field: e.message for e in raised.value.errors}


def test_an_unknown_variable_is_named_with_its_field_and_line() -> None:
    content = Content(ChannelType.SMS, "Hi {{ person.first_name }}\n\n{{ person.nickname }}")
    assert _errors(content) == {"body_text": "line 3: unknown variable person.nickname"}


def test_a_syntax_error_names_its_line() -> None:
    content = Content(ChannelType.EMAIL, "ok", subject="Hi", body_html="<p>\n{{ person.first_name </p>")
    [message] = _errors(content).values()
    assert message.startswith("line 2: ")


def test_unknown_roots_filters_and_owner_attributes_are_refused() -> None:
    found = problems("{{ customer.name }} {{ owner.phone }} {{ workspace.name | shout }}")
    assert found == [
        "line 1: unknown variable customer",
        "line 1: unknown variable owner.phone",
        "line 1: unknown filter shout",
    ]


def test_catalogue_names_custom_fields_local_names_and_subscripts_pass() -> None:
    source = (
        "{% set n = person.full_name %}{{ n }}{% for i in [1] %}{{ loop.index }}{{ i }}{% endfor %}"
        "{{ person['email'] }} {{ person.custom_fields.anything | default('') }} {{ unsubscribe_url }}"
        "{{ person.first_name.upper() }}"
    )
    assert problems(source) == []
    assert all(v.name and v.description and v.example for v in CATALOGUE)


def test_a_custom_field_read_by_a_computed_key_is_refused() -> None:
    assert problems("{{ person.custom_fields[person.first_name] }}") == [
        "line 1: person.custom_fields is read by a fixed key only"
    ]


def test_whatsapp_parameters_are_checked_one_by_one() -> None:
    content = Content(
        ChannelType.WHATSAPP, "x", whatsapp_template=WhatsAppTemplate("promo", "fa", ("person.first_name", "foo"))
    )
    assert _errors(content) == {"whatsapp_template.parameters.1": "line 1: unknown variable foo"}


def test_each_channel_takes_its_own_parts() -> None:
    assert set(_errors(Content(ChannelType.EMAIL, "x"))) == {"subject"}
    assert set(_errors(Content(ChannelType.SMS, "x", subject="s", body_html="<p/>"))) == {"subject", "body_html"}
    assert set(_errors(Content(ChannelType.WHATSAPP, "x"))) == {"whatsapp_template"}


def test_html_is_escaped_text_and_subject_are_not() -> None:
    variables = {**PERSON, "person": {**PERSON["person"], "first_name": "<b>Sara & co</b>"}}
    content = Content(ChannelType.EMAIL, "{{ person.first_name }}", subject="{{ person.first_name }}",
                      body_html="<p>{{ person.first_name }}</p>")  # fmt: skip
    rendered = render(content, variables, locale="en")
    assert rendered.subject == rendered.body_text == "<b>Sara & co</b>"
    assert rendered.body_html == "<p>&lt;b&gt;Sara &amp; co&lt;/b&gt;</p>"


def test_none_renders_empty_and_an_absent_custom_field_is_an_error() -> None:
    assert render(Content(ChannelType.SMS, "[{{ person.last_name }}]"), PERSON, locale="fa").body_text == "[]"
    with pytest.raises(RenderError) as raised:
        render(Content(ChannelType.SMS, "{{ person.custom_fields.missing }}"), PERSON, locale="fa")
    assert raised.value.field == "body_text"


def test_the_sandbox_refuses_unsafe_attributes() -> None:
    with pytest.raises(RenderError):
        render(Content(ChannelType.SMS, "{{ person.first_name.__class__.__mro__ }}"), PERSON, locale="en")


def test_persian_digits_and_jalali_dates() -> None:
    assert fa_digits("Order 1405-09 ٣") == "Order ۱۴۰۵-۰۹ ۳"
    assert en_digits("۱۴۰۵/۰۹/۱۵") == "1405/09/15"
    assert jalali("2026-12-06") == "1405/09/15"
    assert jalali(date(2026, 12, 6)) == "1405/09/15"
    assert jalali(datetime(2026, 12, 6, 10, 30), "%Y/%m/%d %H:%M") == "1405/09/15 10:30"
    assert jalali(None) == ""
    content = Content(ChannelType.SMS, "{{ person.custom_fields.renewal | jalali | fa_digits }}")
    assert render(content, PERSON, locale="fa").body_text == "۱۴۰۵/۰۹/۱۵"


def test_jalali_of_text_that_is_no_date_is_a_render_error() -> None:
    variables = {**PERSON, "person": {"custom_fields": {"renewal": "soon"}}}
    with pytest.raises(RenderError, match="not an ISO 8601 date"):
        render(Content(ChannelType.SMS, "{{ person.custom_fields.renewal | jalali }}"), variables, locale="fa")


def test_rtl_html_for_persian() -> None:
    assert with_direction("<p>سلام</p>", "fa") == '<html lang="fa" dir="rtl"><body><p>سلام</p></body></html>'
    assert with_direction('<html class="x"><body>a</body></html>', "fa") == (
        '<html class="x" lang="fa" dir="rtl"><body>a</body></html>'
    )
    assert with_direction('<HTML lang="fa-IR">a</HTML>', "fa") == '<HTML lang="fa-IR" dir="rtl">a</HTML>'
    assert with_direction("<p>hi</p>", "en") == "<p>hi</p>"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),
        ("€" * 81, "gsm7", 162, 2),
        ("a" * 152 + "€" + "a" * 8, "gsm7", 162, 2),  # the escape pair is not split
        ("a" * 159 + "{", "gsm7", 161, 2),
        ("س" * 70, "ucs2", 70, 1),
        ("س" * 71, "ucs2", 71, 2),
        ("س" * 134, "ucs2", 134, 2),
        ("س" * 135, "ucs2", 135, 3),
        ("a" * 69 + "ç", "ucs2", 70, 1),  # ç is not GSM-7 (Ç is)
        ("😀" * 35, "ucs2", 70, 1),
        ("😀" * 36, "ucs2", 72, 2),
        ("a" * 66 + "😀" + "a" * 4, "ucs2", 72, 2),  # the surrogate pair is not split
        ("سلام 123", "ucs2", 8, 1),
    ],
)
def test_sms_length_at_the_boundaries(text: str, encoding: str, units: int, parts: int) -> None:
    length = sms_length(text)
    assert (length.encoding, length.units, length.parts) == (encoding, units, parts)


@given(st.text(alphabet="abcXYZ 0123€[]{}", max_size=800))
def test_gsm7_parts_hold_every_septet(text: str) -> None:
    length = sms_length(text)
    assert length.encoding == "gsm7"
    assert length.parts == 1 if length.units <= 160 else 153 * (length.parts - 1) < length.units <= 153 * length.parts


@given(st.text(min_size=1, max_size=400).filter(lambda t: any(ord(c) > 0x7F and c not in "€£¥" for c in t)))
def test_ucs2_units_are_utf16_units(text: str) -> None:
    length = sms_length(text)
    if length.encoding == "ucs2":
        assert length.units == len(text.encode("utf-16-le")) // 2
        assert length.parts >= max(1, -(-length.units // 67)) if length.units > 70 else length.parts == 1


def test_the_sandbox_refuses_huge_values_and_has_no_range() -> None:
    assert problems("{% for i in range(9) %}{% endfor %}") == ["line 1: unknown variable range"]
    for source in ("{{ 'a' * 100000000 }}", "{{ 10 ** 100000 }}", "{{ [1] * 100000000 }}"):
        assert problems(source) == []
        with pytest.raises(RenderError):
            render(Content(ChannelType.SMS, source), PERSON, locale="en")
    assert render(Content(ChannelType.SMS, "{{ '-' * 3 }}{{ 2 ** 3 }}"), PERSON, locale="en").body_text == "---8"


def test_no_expression_or_filter_makes_a_huge_value() -> None:
    """A template (inline content needs only messages:write) must not exhaust the server's memory."""
    for source in (
        "{{ '%50000000s' % '' }}",
        "{{ '%*s' % (50000000, '') }}",
        "{{ 'x' | center(50000000) }}",
        "{{ ('a' * 10000) * 5000 }}",
        "{{ 'a' | indent(50000000, true) }}",
        "{% for i in 'x' * 9000 %}{{ 'y' * 9000 }}{% endfor %}",
    ):
        assert problems(source) == [], source
        with pytest.raises(RenderError):
            render(Content(ChannelType.SMS, source), PERSON, locale="en")
    assert render(Content(ChannelType.SMS, "{{ '%5s' % 'ab' }}|{{ 'ab' | center(6) }}"), PERSON,
                  locale="en").body_text == "   ab|  ab  "  # fmt: skip


@given(st.text(alphabet="{}%#|.()[]'\"=+-*/ abcxyzperson_fieldsownerworkspace0123456789\n", max_size=80))
def test_checking_any_text_answers_messages_never_raises(source: str) -> None:
    found = problems(source)
    assert all(message.startswith("line ") for message in found)
    if not found:  # what passes the check renders or fails as a RenderError, never anything else
        with contextlib.suppress(RenderError):
            render(Content(ChannelType.SMS, source), PERSON, locale="en")
