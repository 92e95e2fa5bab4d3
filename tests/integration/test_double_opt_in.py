# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Consent from a website form, and double opt-in, through HTTP on both databases with a real
worker and a real SMTP server: a ticked box gives a new lead `pending_confirmation` with its proof,
the confirmation email arrives, its page changes nothing on GET, its button opts the lead in; a
known person's consent is never changed by a public post."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.db.session import Database
from tests.conftest import Tenant, assert_problem
from tests.integration.test_email_messages import (  # noqa: F401
    _async,
    app,
    client,
    person,
    running_worker,
    send,
    setup,
    tenant,
    until,
)
from tests.smtp_server import SmtpServer

SITE = "https://www.shop.example"
TEXT = "Send me the newsletter by email. I can unsubscribe at any time."


async def consent_form(tenant: Tenant) -> dict[str, Any]:
    body = {
        "name": "Newsletter",
        "allowed_origins": [SITE],
        "engagement_type": "newsletter_signup",
        "consents": [
            {"field": "newsletter", "channel": "email", "text": TEXT},
            {"field": "sms_ok", "channel": "sms", "text": "Text me offers."},
        ],
    }
    created = await tenant.post("/v1/forms", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["consents"][0] == {"field": "newsletter", "channel": "email", "text": TEXT}
    return dict(created.json())


async def post(tenant: Tenant, form: dict[str, Any], data: dict[str, str]) -> httpx.Response:
    url = f"/v1/forms/{form['id']}/submissions?key={tenant.publishable_key}"
    headers = {"Origin": SITE, "User-Agent": "Mozilla/5.0 (test)", "Accept": "application/json"}
    return await tenant.client.post(url, data=data, headers=headers)


async def consents_of(tenant: Tenant, kind: str, person_id: str) -> dict[str, dict[str, Any]]:
    answer = await tenant.get(f"/v1/{kind}s/{person_id}/consents")
    assert answer.status_code == 200, answer.text
    return {c["channel"]: c for c in answer.json()["data"]}


async def lead_by_email(tenant: Tenant, email: str) -> str:
    found = [x for x in (await tenant.get("/v1/leads", params={"q": email})).json()["data"] if x["email"] == email]
    assert len(found) == 1, found
    return str(found[0]["id"])


def _path(url: str) -> str:
    return urlsplit(url).path


async def test_a_ticked_box_asks_for_confirmation_and_its_link_opts_the_lead_in(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        form = await consent_form(tenant)
        fields = {"email": "nima@example.com", "first_name": "Nima", "phone": "+98 912 345 6789"}
        posted = await post(tenant, form, {**fields, "newsletter": "on", "sms_ok": "on"})
        assert posted.status_code == 201, posted.text
        lead_id = await lead_by_email(tenant, "nima@example.com")
        given = await consents_of(tenant, "lead", lead_id)
        email, sms = given["email"], given["sms"]
        assert (email["status"], email["source"]) == ("pending_confirmation", "form")
        assert email["proof"] == {"submission_id": posted.json()["submission_id"], "ip": "127.0.0.1",
                                  "user_agent": "Mozilla/5.0 (test)", "text": TEXT}  # fmt: skip
        assert (sms["status"], sms["source"], sms["proof"]["text"]) == ("opted_in", "form", "Text me offers.")
        assert given["whatsapp"]["status"] == "unknown"
        # marketing waits for the confirmation
        waiting = await send(tenant, lead_id, subject="Sale", body_text="Buy", purpose="marketing")
        assert waiting["block_reason"] == "no_consent"

        [received] = await until(lambda: _async(smtp.to("nima@example.com")))
        text = received.message.get_body(("plain",)).get_content()
        assert "Nima" in text
        [link] = re.findall(r"https://crm\.example/confirm/\S+", text)
        assert "List-Unsubscribe" not in received.message  # transactional
        messages = (await tenant.get("/v1/messages", params={"lead_id": lead_id, "purpose": "transactional"})).json()
        assert [m["channel"] for m in messages["data"]] == ["email"]

        page = await client.get(_path(link))  # a GET (a link scanner) changes nothing
        assert page.status_code == 200 and "<form" in page.text and 'method="post"' in page.text
        assert (await consents_of(tenant, "lead", lead_id))["email"]["status"] == "pending_confirmation"

        confirmed = await client.post(_path(link), headers={"User-Agent": "Phone mail"})
        assert confirmed.status_code == 200 and "confirmed" in confirmed.text
        email = (await consents_of(tenant, "lead", lead_id))["email"]
        assert (email["status"], email["source"]) == ("opted_in", "confirmation")
        assert email["proof"]["text"] == TEXT and email["proof"]["submission_id"] == posted.json()["submission_id"]
        assert email["proof"]["confirmed_user_agent"] == "Phone mail"
        again = await client.post(_path(link))
        assert again.status_code == 200
        history = (await tenant.get(f"/v1/leads/{lead_id}/consents/history")).json()["data"]
        assert [(h["status"], h["source"]) for h in history if h["channel"] == "email"] == [
            ("opted_in", "confirmation"), ("pending_confirmation", "form")
        ]  # fmt: skip
        events = (await tenant.get("/v1/events", params={"type": "consent.updated"})).json()["data"]
        assert len(events) == 3  # email pending, sms opted in, email confirmed: nothing twice

        sent = await send(tenant, lead_id, subject="Sale", body_text="Buy", purpose="marketing")
        assert sent["status"] == "queued"

        # a link altered, or another workspace's, reveals nothing
        assert_problem(await client.get(_path(link)[:-2] + "xx"), 404)
        assert_problem(await client.post("/confirm/forged.token"), 404)


async def test_an_unticked_box_gives_nothing_and_double_opt_in_off_opts_in(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    form = await consent_form(tenant)
    boxes: list[dict[str, str]] = [{}, *({"newsletter": v} for v in ("", "off", "0", "no"))]
    for number, unticked in enumerate(boxes):
        address = f"box-{'abcde'[number]}@example.com"
        assert (await post(tenant, form, {"email": address, **unticked})).status_code == 201
        given = await consents_of(tenant, "lead", await lead_by_email(tenant, address))
        assert {c["status"] for c in given.values()} == {"unknown"}
    off = await tenant.patch("/v1/settings/messaging", json={"double_opt_in": False})
    assert off.status_code == 200, off.text
    assert (await post(tenant, form, {"email": "direct@example.com", "newsletter": "yes"})).status_code == 201
    direct = (await consents_of(tenant, "lead", await lead_by_email(tenant, "direct@example.com")))["email"]
    assert (direct["status"], direct["source"], direct["proof"]["text"]) == ("opted_in", "form", TEXT)
    # no confirmation email was queued for anyone
    assert (await tenant.get("/v1/messages")).json()["data"] == []


async def test_a_public_post_never_changes_a_known_persons_consent(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        form = await consent_form(tenant)
        out = await person(tenant, "out@example.com", consent="opted_out")
        unknown = await person(tenant, "maybe@example.com", consent=None)
        for address in ("out@example.com", "maybe@example.com"):
            posted = await post(tenant, form, {"email": address, "newsletter": "on", "sms_ok": "on"})
            assert posted.status_code == 201, posted.text
        assert (await consents_of(tenant, "lead", out))["email"]["status"] == "opted_out"
        maybe = await consents_of(tenant, "lead", unknown)
        assert (maybe["email"]["status"], maybe["sms"]["status"]) == ("unknown", "unknown")
        # the unsettled one is asked to confirm; the one who opted out is sent nothing
        [received] = await until(lambda: _async(smtp.to("maybe@example.com")))
        assert smtp.to("out@example.com") == []
        [link] = re.findall(r"https://crm\.example/confirm/\S+", received.message.get_body(("plain",)).get_content())
        assert (await client.post(_path(link))).status_code == 200
        assert (await consents_of(tenant, "lead", unknown))["email"]["status"] == "opted_in"


async def test_an_opt_out_after_the_sign_up_outlives_its_confirmation_link(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp, running_worker(database):
        await setup(tenant, smtp)
        form = await consent_form(tenant)
        assert (await post(tenant, form, {"email": "late@example.com", "newsletter": "on"})).status_code == 201
        lead_id = await lead_by_email(tenant, "late@example.com")
        [received] = await until(lambda: _async(smtp.to("late@example.com")))
        [link] = re.findall(r"https://crm\.example/confirm/\S+", received.message.get_body(("plain",)).get_content())
        stop = await tenant.request("PUT", f"/v1/leads/{lead_id}/consents/email",
                                    json={"status": "opted_out", "source": "api"})  # fmt: skip
        assert stop.status_code == 200
        assert_problem(await client.get(_path(link)), 404)
        assert_problem(await client.post(_path(link)), 404)
        assert (await consents_of(tenant, "lead", lead_id))["email"]["status"] == "opted_out"


async def test_form_consents_are_validated(tenant: Tenant) -> None:
    twice = {"name": "F", "consents": [{"field": "a", "channel": "email", "text": "x"},
                                       {"field": "b", "channel": "email", "text": "y"}]}  # fmt: skip
    assert_problem(await tenant.post("/v1/forms", json=twice), 422, "consents")
    wrong = {"name": "F", "consents": [{"field": "a", "channel": "fax", "text": "x"}]}
    assert_problem(await tenant.post("/v1/forms", json=wrong), 422, "consents.0.channel")
    textless = {"name": "F", "consents": [{"field": "a", "channel": "sms", "text": ""}]}
    assert_problem(await tenant.post("/v1/forms", json=textless), 422, "consents.0.text")
    honeypot = {"name": "F", "honeypot_field": "website", "consents": [{"field": "website", "channel": "email",
                                                                        "text": "x"}]}  # fmt: skip
    assert_problem(await tenant.post("/v1/forms", json=honeypot), 422, "consents.0.field")
