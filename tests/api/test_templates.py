"""Message templates through the API: validation names the field and the line, Persian text and
digits, Jalali dates, right-to-left HTML, SMS parts, versions, previews, tenancy and scopes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import InvalidInput, NotFound
from app.domain.outreach.vocabulary import ChannelType, PersonRef
from app.ids import new_id, utcnow
from app.services.context import SERVICE_SCOPES, SYSTEM, Context
from app.services.outreach import templates
from tests.conftest import Tenant, assert_problem
from tests.documented import assert_documented

EMAIL = {
    "name": "Welcome",
    "channel": "email",
    "subject": "سلام {{ person.first_name }}",
    "body_text": "سلام {{ person.full_name }}، تمدید: {{ person.custom_fields.renewal | jalali | fa_digits }}",
    "body_html": "<p>سلام {{ person.first_name }}</p><a href='{{ unsubscribe_url }}'>لغو</a>",
}


async def _create(tenant: Tenant, body: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/templates", json={**(body or EMAIL), **changes})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/templates/{response.json()['id']}"
    assert_documented(response, "/v1/templates")
    return response.json()  # type: ignore[no-any-return]


async def _lead(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/leads", json={"email": "sara@example.com", **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _renewal_field(tenant: Tenant) -> None:
    definition = {"key": "renewal", "label": "Renewal", "type": "date"}
    assert (await tenant.post("/v1/custom-fields", json=definition)).status_code == 201


def _error(response: httpx.Response, field: str) -> str:
    [message] = [e["message"] for e in response.json()["errors"] if e["field"] == field]
    return message  # type: ignore[no-any-return]


async def test_validation_names_the_field_and_the_line(tenant: Tenant) -> None:
    unknown = await tenant.post(
        "/v1/templates", json={**EMAIL, "body_text": "Hi {{ person.first_name }}\n\n{{ person.nickname }}"}
    )
    assert_problem(unknown, 422, "body_text")
    assert _error(unknown, "body_text") == "line 3: unknown variable person.nickname"

    broken = await tenant.post("/v1/templates", json={**EMAIL, "body_html": "<p>\n\n{% if person.city %}</p>"})
    assert_problem(broken, 422, "body_html")
    assert _error(broken, "body_html").startswith("line 3: ")

    both = await tenant.post("/v1/templates", json={**EMAIL, "subject": "{{ owner.phone }}", "body_text": "{{ x }"})
    assert_problem(both, 422, "subject", "body_text")
    assert _error(both, "subject") == "line 1: unknown variable owner.phone"

    whatsapp = {
        "name": "Ready",
        "channel": "whatsapp",
        "body_text": "Your order is ready",
        "whatsapp_template": {"name": "order_ready", "language": "fa", "parameters": ["person.first_name", "code"]},
    }
    response = await tenant.post("/v1/templates", json=whatsapp)
    assert_problem(response, 422, "whatsapp_template.parameters.1")
    assert _error(response, "whatsapp_template.parameters.1") == "line 1: unknown variable code"


async def test_each_channel_takes_its_own_parts(tenant: Tenant) -> None:
    assert_problem(await tenant.post("/v1/templates", json={**EMAIL, "subject": None}), 422, "subject")
    sms = {"name": "s", "channel": "sms", "body_text": "hi", "body_html": "<p>hi</p>"}
    assert_problem(await tenant.post("/v1/templates", json=sms), 422, "body_html")
    assert_problem(
        await tenant.post("/v1/templates", json={"name": "w", "channel": "whatsapp", "body_text": "x"}),
        422,
        "whatsapp_template",
    )
    assert_problem(await tenant.post("/v1/templates", json={**EMAIL, "channel": "fax"}), 422, "channel")
    assert_problem(await tenant.post("/v1/templates", json={**EMAIL, "locale": "Persian!"}), 422, "locale")


async def test_persian_text_digits_jalali_and_rtl_html_in_a_preview(tenant: Tenant) -> None:
    await _renewal_field(tenant)
    template = await _create(tenant, locale="fa")
    assert template["locale"] == "fa" and template["version"] == 1 and template["sms_parts"] is None
    lead = await _lead(tenant, first_name="سارا", last_name="احمدی", custom_fields={"renewal": "2026-12-06"})
    response = await tenant.post(f"/v1/templates/{template['id']}/preview", json={"lead_id": lead["id"]})
    assert response.status_code == 200, response.text
    assert_documented(response, "/v1/templates/{template_id}/preview")
    preview = response.json()
    assert preview["subject"] == "سلام سارا"
    assert preview["body_text"] == "سلام سارا احمدی، تمدید: ۱۴۰۵/۰۹/۱۵"
    assert preview["body_html"].startswith('<html lang="fa" dir="rtl"><body><p>سلام سارا</p>')
    assert "https://unsubscribe.invalid/preview" in preview["body_html"]
    assert preview["sms_parts"] is None and preview["encoding"] is None and preview["whatsapp_parameters"] is None


async def test_html_is_escaped_and_english_html_is_left_as_written(tenant: Tenant) -> None:
    template = await _create(tenant, locale="en", body_text="Hi {{ person.first_name }}")
    lead = await _lead(tenant, first_name="<b>Sam</b>")
    preview = (await tenant.post(f"/v1/templates/{template['id']}/preview", json={"lead_id": lead["id"]})).json()
    assert preview["body_text"] == "Hi <b>Sam</b>"
    assert preview["body_html"].startswith("<p>سلام &lt;b&gt;Sam&lt;/b&gt;</p>")


async def test_a_custom_field_the_person_lacks_is_a_422_not_a_500(tenant: Tenant) -> None:
    await _renewal_field(tenant)
    template = await _create(tenant)
    lead = await _lead(tenant, first_name="Sam")
    response = await tenant.post(f"/v1/templates/{template['id']}/preview", json={"lead_id": lead["id"]})
    assert_problem(response, 422, "body_text")
    fallback = await _create(tenant, body_text="{{ person.custom_fields.renewal | default('') | jalali }}!")
    response = await tenant.post(f"/v1/templates/{fallback['id']}/preview", json={"lead_id": lead["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["body_text"] == "!"


async def test_sms_parts_for_persian_and_latin(tenant: Tenant) -> None:
    latin = await _create(tenant, {"name": "l", "channel": "sms", "body_text": "a" * 161})
    persian = await _create(tenant, {"name": "p", "channel": "sms", "body_text": "س" * 70})
    assert (latin["sms_parts"], persian["sms_parts"]) == (2, 1)
    lead = await _lead(tenant, first_name="سارا")
    greeting = await _create(tenant, {"name": "g", "channel": "sms", "body_text": "Hi {{ person.first_name }}"})
    preview = (await tenant.post(f"/v1/templates/{greeting['id']}/preview", json={"lead_id": lead["id"]})).json()
    assert (preview["body_text"], preview["encoding"], preview["sms_parts"]) == ("Hi سارا", "ucs2", 1)
    lead2 = await _lead(tenant, email="b@example.com", first_name="Sam")
    preview = (await tenant.post(f"/v1/templates/{latin['id']}/preview", json={"lead_id": lead2["id"]})).json()
    assert (preview["encoding"], preview["sms_parts"]) == ("gsm7", 2)


async def test_a_whatsapp_template_renders_its_parameters(tenant: Tenant) -> None:
    body = {
        "name": "Ready",
        "channel": "whatsapp",
        "body_text": "Order ready for {{ person.first_name }}",
        "whatsapp_template": {
            "name": "order_ready",
            "language": "fa",
            "parameters": ["person.first_name", "'12' | fa_digits", "workspace.name"],
        },
    }
    template = await _create(tenant, body)
    assert template["whatsapp_template"]["name"] == "order_ready"
    lead = await _lead(tenant, first_name="سارا")
    preview = (await tenant.post(f"/v1/templates/{template['id']}/preview", json={"lead_id": lead["id"]})).json()
    assert preview["whatsapp_parameters"] == ["سارا", "۱۲", "Acme"]


async def test_versions_are_kept_and_readable(tenant: Tenant) -> None:
    template = await _create(tenant)
    url = f"/v1/templates/{template['id']}"
    stale = await tenant.patch(url, json={"subject": "New"}, headers={"If-Match": '"7"'})
    assert_problem(stale, 412)
    changed = await tenant.patch(url, json={"subject": "New {{ workspace.name }}"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.headers["etag"] == '"2"'
    same = await tenant.patch(url, json={"subject": "New {{ workspace.name }}"})
    assert same.json()["version"] == 2
    renamed = await tenant.patch(url, json={"name": "Renamed"})
    assert renamed.json()["version"] == 3
    assert_problem(await tenant.patch(url, json={"body_text": "{{ person.nick }}"}), 422, "body_text")
    assert_problem(await tenant.patch(url, json={"channel": "sms"}), 422, "channel")

    first_response = await tenant.get(f"{url}/versions/1")
    assert_documented(first_response, "/v1/templates/{template_id}/versions/{version}")
    assert first_response.headers["etag"] == '"1"'
    first = first_response.json()
    assert (first["version"], first["subject"], first["body_text"]) == (1, EMAIL["subject"], EMAIL["body_text"])
    second = (await tenant.get(f"{url}/versions/2")).json()
    assert second["subject"] == "New {{ workspace.name }}" and second["template_id"] == template["id"]
    assert_problem(await tenant.get(f"{url}/versions/9"), 404)
    assert (await tenant.get(url)).json()["subject"] == "New {{ workspace.name }}"


async def test_list_filter_archive_and_events(tenant: Tenant) -> None:
    email = await _create(tenant)
    sms = await _create(tenant, {"name": "s", "channel": "sms", "body_text": "hi"})
    listed_response = await tenant.get("/v1/templates", params={"channel": "sms"})
    assert_documented(listed_response, "/v1/templates")
    assert_documented(await tenant.get(f"/v1/templates/{sms['id']}"), "/v1/templates/{template_id}")
    listed = listed_response.json()
    assert [t["id"] for t in listed["data"]] == [sms["id"]]
    page = (await tenant.get("/v1/templates", params={"limit": 1})).json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = (await tenant.get("/v1/templates", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert {page["data"][0]["id"], rest["data"][0]["id"]} == {email["id"], sms["id"]}

    archived = await tenant.delete(f"/v1/templates/{sms['id']}")
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    assert [t["id"] for t in (await tenant.get("/v1/templates")).json()["data"]] == [email["id"]]
    assert [t["id"] for t in (await tenant.get("/v1/templates", params={"archived": "true"})).json()["data"]] == [
        sms["id"]
    ]
    assert_problem(await tenant.patch(f"/v1/templates/{sms['id']}", json={"name": "x"}), 409)
    types = [e["type"] for e in (await tenant.get("/v1/events", params={"limit": 200})).json()["data"]]
    assert {"template.created", "template.archived"} <= set(types)


async def test_the_default_locale_follows_the_workspace_region(tenant: Tenant) -> None:
    assert (await _create(tenant))["locale"] == "en"
    assert (await tenant.patch("/v1/workspace", json={"default_region": "IR"})).status_code == 200
    assert (await _create(tenant))["locale"] == "fa"


async def test_the_variables_catalogue(tenant: Tenant) -> None:
    response = await tenant.get("/v1/templates/variables")
    assert response.status_code == 200, response.text
    assert_documented(response, "/v1/templates/variables")
    names = {v["name"] for v in response.json()["variables"]}
    assert {
        "person.first_name",
        "person.custom_fields.<key>",
        "owner.name",
        "workspace.name",
        "unsubscribe_url",
    } <= names
    assert {f["name"] for f in response.json()["filters"]} == {"fa_digits", "en_digits", "jalali"}


async def test_preview_for_a_contact_with_its_owner_and_account(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Reza", "email": "reza@acme.io"})).json()
    account = (await tenant.post("/v1/accounts", json={"name": "Parsian Co"})).json()
    contact = (
        await tenant.post(
            "/v1/contacts",
            json={"first_name": "Nima", "email": "n@x.io", "owner_id": member["id"], "account_id": account["id"]},
        )
    ).json()
    template = await _create(
        tenant,
        {"name": "c", "channel": "sms", "body_text": "{{ person.company }} / {{ owner.name }} <{{ owner.email }}>"},
    )
    response = await tenant.post(f"/v1/templates/{template['id']}/preview", json={"contact_id": contact["id"]})
    assert response.status_code == 200, response.text
    assert response.json()["body_text"] == "Parsian Co / Reza <reza@acme.io>"
    lead = await _lead(tenant)
    both = {"contact_id": contact["id"], "lead_id": lead["id"]}
    assert_problem(await tenant.post(f"/v1/templates/{template['id']}/preview", json=both), 422, "lead_id")
    assert_problem(await tenant.post(f"/v1/templates/{template['id']}/preview", json={}), 422, "lead_id")


async def test_another_workspace_sees_neither_templates_nor_people(tenant: Tenant, other_tenant: Tenant) -> None:
    template = await _create(tenant)
    url = f"/v1/templates/{template['id']}"
    assert_problem(await other_tenant.get(url), 404)
    assert_problem(await other_tenant.get(f"{url}/versions/1"), 404)
    assert_problem(await other_tenant.patch(url, json={"name": "x"}), 404)
    assert_problem(await other_tenant.delete(url), 404)
    assert (await other_tenant.get("/v1/templates")).json()["data"] == []
    their_lead = await _lead(other_tenant)
    assert_problem(await tenant.post(f"{url}/preview", json={"lead_id": their_lead["id"]}), 404)
    assert_problem(await other_tenant.post(f"{url}/preview", json={"lead_id": their_lead["id"]}), 404)


async def test_scopes(tenant: Tenant) -> None:
    template = await _create(tenant, body_text="Hi {{ person.first_name }}")
    lead = await _lead(tenant)
    url = f"/v1/templates/{template['id']}"
    nothing = await tenant.key_with("leads:read")
    assert_problem(await tenant.get("/v1/templates", key=nothing), 403)
    assert_problem(await tenant.get("/v1/templates/variables", key=nothing), 403)
    assert_problem(await tenant.post(f"{url}/preview", key=nothing, json={"lead_id": lead["id"]}), 403)
    reader = await tenant.key_with("templates:read")
    assert (await tenant.get(url, key=reader)).status_code == 200
    assert_problem(await tenant.post("/v1/templates", key=reader, json=EMAIL), 403)
    assert_problem(await tenant.patch(url, key=reader, json={"name": "x"}), 403)
    assert_problem(await tenant.delete(url, key=reader), 403)
    assert_problem(await tenant.post(f"{url}/preview", key=reader, json={"lead_id": lead["id"]}), 403)
    both = await tenant.key_with("templates:read", "leads:read")
    response = await tenant.post(f"{url}/preview", key=both, json={"lead_id": lead["id"]})
    assert response.status_code == 200, response.text
    contact = (await tenant.post("/v1/contacts", json={"first_name": "N", "email": "n@x.io"})).json()
    assert_problem(await tenant.post(f"{url}/preview", key=both, json={"contact_id": contact["id"]}), 403)
    writer = await tenant.key_with("templates:write")
    assert (await tenant.post("/v1/templates", key=writer, json=EMAIL)).status_code == 201


async def test_a_preview_of_an_earlier_version(tenant: Tenant) -> None:
    template = await _create(tenant, {"name": "v", "channel": "sms", "body_text": "one {{ person.first_name }}"})
    url = f"/v1/templates/{template['id']}"
    assert (await tenant.patch(url, json={"body_text": "two {{ person.first_name }}"})).status_code == 200
    lead = await _lead(tenant, first_name="Sam")
    current = (await tenant.post(f"{url}/preview", json={"lead_id": lead["id"]})).json()
    earlier = (await tenant.post(f"{url}/preview", json={"lead_id": lead["id"], "version": 1})).json()
    assert (current["body_text"], earlier["body_text"]) == ("two Sam", "one Sam")
    assert_problem(await tenant.post(f"{url}/preview", json={"lead_id": lead["id"], "version": 5}), 422, "version")


async def test_render_for_and_render_inline_as_messages_call_them(tenant: Tenant, database: Database) -> None:
    template = await _create(tenant, {"name": "r", "channel": "sms", "body_text": "v1 {{ unsubscribe_url }}"})
    url = f"/v1/templates/{template['id']}"
    assert (await tenant.patch(url, json={"body_text": "v2 {{ person.full_name }}"})).status_code == 200
    lead = await _lead(tenant, first_name="سارا", last_name="احمدی")
    archived = await _create(tenant, {"name": "a", "channel": "sms", "body_text": "x"})
    assert (await tenant.delete(f"/v1/templates/{archived['id']}")).status_code == 200
    person = PersonRef("lead", uuid.UUID(lead["id"]))
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, uuid.UUID(tenant.id), SYSTEM, utcnow(), scopes=SERVICE_SCOPES)
        rendered, version = await templates.render_for(ctx, uuid.UUID(template["id"]), person, unsubscribe_url="U")
        assert (rendered.body_text, rendered.sms_parts, version) == ("v2 سارا احمدی", 1, 2)
        rendered, version = await templates.render_for(
            ctx, uuid.UUID(template["id"]), person, unsubscribe_url="https://u.example/1", version=1
        )
        assert (rendered.body_text, version) == ("v1 https://u.example/1", 1)
        with pytest.raises(InvalidInput) as raised:
            await templates.render_for(ctx, uuid.UUID(archived["id"]), person, unsubscribe_url="U")
        assert [e.field for e in raised.value.errors] == ["template_id"]
        with pytest.raises(NotFound):
            await templates.render_for(ctx, new_id(), person, unsubscribe_url="U")
        with pytest.raises(NotFound):
            await templates.render_for(
                ctx, uuid.UUID(template["id"]), PersonRef("contact", new_id()), unsubscribe_url="U"
            )

        inline = await templates.render_inline(
            ctx,
            ChannelType.EMAIL,
            person,
            subject="{{ person.first_name }}",
            body_text="{{ workspace.name }}",
            body_html="<p>{{ person.last_name }}</p>",
            unsubscribe_url="U",
        )
        assert (inline.subject, inline.body_text, inline.body_html) == ("سارا", "Acme", "<p>احمدی</p>")
        with pytest.raises(InvalidInput) as raised:
            await templates.render_inline(
                ctx,
                ChannelType.EMAIL,
                person,
                subject="{{ person.nick }}",
                body_text="ok\n{{ x }}",
                body_html="{% if %}",
                unsubscribe_url="U",
            )
        messages = {e.field: e.message for e in raised.value.errors}
        assert set(messages) == {"subject", "body_text", "body_html"}
        assert messages["body_text"] == "line 2: unknown variable x"
        variables = await templates.variables_of(ctx, person, "U")
        assert variables["person"]["full_name"] == "سارا احمدی" and variables["owner"] == {"name": "", "email": ""}
