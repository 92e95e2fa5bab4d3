"""Channels through HTTP on both databases: every provider's shape, secrets that never come back
(not in answers, events or stored idempotent answers, and sealed at rest), one default per type,
archiving, tenancy, scopes and validation; the public callback URL's checks in order, with the
providers' own signatures (fixtures: tests/data/<provider>/NOTES.md); a test message sent now."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.main import create_app
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.integration.receiver import Receiver

DATA = Path(__file__).parent.parent / "data"
ACCOUNT = "AC" + "0123456789abcdef" * 2
SMTP_PASSWORD = "smtp-pass-Zq81"
KAVENEGAR_KEY = "kave-key-7731"
TWILIO_TOKEN = "twilio-token-55aa"
WA = {"access_token": "EAAG-access-901", "app_secret": "wa-app-secret-33", "verify_token": "wa-verify-77"}
SECRET_TEXTS = (SMTP_PASSWORD, KAVENEGAR_KEY, TWILIO_TOKEN, *WA.values())


def smtp(**settings: Any) -> dict[str, Any]:
    return {
        "type": "email",
        "provider": "smtp",
        "name": "Newsletter",
        "settings": {
            "host": "smtp.example.com",
            "port": 587,
            "username": "news",
            "password": SMTP_PASSWORD,
            "security": "starttls",
            "from_email": "news@shop.example",
            "from_name": "Shop",
            "reply_to": "help@shop.example",
            "unsubscribe_mailbox": "unsubscribe@shop.example",
            **settings,
        },
    }


def kavenegar(**settings: Any) -> dict[str, Any]:
    return {
        "type": "sms",
        "provider": "kavenegar",
        "name": "Kavenegar",
        "settings": {"api_key": KAVENEGAR_KEY, "sender": "10004346", **settings},
    }


def twilio(**settings: Any) -> dict[str, Any]:
    return {
        "type": "sms",
        "provider": "twilio",
        "name": "Twilio",
        "settings": {"account_sid": ACCOUNT, "auth_token": TWILIO_TOKEN, "from": "+15017122661", **settings},
    }


def whatsapp(**settings: Any) -> dict[str, Any]:
    return {
        "type": "whatsapp",
        "provider": "whatsapp_cloud",
        "name": "WhatsApp",
        "settings": {"phone_number_id": "106540352242922", **WA, **settings},
    }


async def create(tenant: Tenant, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/channels", json=body, **kwargs)
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_no_secret(text: str) -> None:
    for secret in SECRET_TEXTS:
        assert secret not in text


async def raw_row(database: Database, channel_id: str) -> dict[str, Any]:
    async with UnitOfWork(database) as uow:
        row = (await uow.execute(select(tables.channels).where(tables.channels.c.id == UUID(channel_id)))).mappings()
        return dict(row.one())


async def test_every_provider_is_created_with_its_secrets_write_only_and_sealed(
    tenant: Tenant, database: Database
) -> None:
    created = {}
    for body in (smtp(), kavenegar(), twilio(), whatsapp()):
        response = await tenant.post("/v1/channels", json=body, headers={"Idempotency-Key": f"new-{body['provider']}"})
        assert response.status_code == 201, response.text
        assert_no_secret(response.text)
        assert response.headers["location"] == f"/v1/channels/{response.json()['id']}"
        created[body["provider"]] = response.json()

    mail = created["smtp"]
    assert mail["type"] == "email" and mail["is_default"] is True and mail["version"] == 1
    assert mail["settings"] == {
        "host": "smtp.example.com",
        "port": 587,
        "username": "news",
        "password_set": True,
        "security": "starttls",
        "from_email": "news@shop.example",
        "from_name": "Shop",
        "reply_to": "help@shop.example",
        "unsubscribe_mailbox": "unsubscribe@shop.example",
        "max_per_second": 10,
    }
    assert created["kavenegar"]["settings"]["api_key_set"] is True
    assert created["twilio"]["settings"]["auth_token_set"] is True and created["twilio"]["settings"]["from"]
    wa = created["whatsapp_cloud"]["settings"]
    assert wa["access_token_set"] and wa["app_secret_set"] and wa["verify_token_set"]
    assert wa["api_version"] == "v21.0"
    # the first SMS channel is the default; the second is not
    assert (created["kavenegar"]["is_default"], created["twilio"]["is_default"]) == (True, False)

    for channel in created.values():
        read = await tenant.get(f"/v1/channels/{channel['id']}")
        assert read.status_code == 200 and read.headers["etag"] == '"1"'
        assert_no_secret(read.text)
        row = await raw_row(database, channel["id"])
        assert_no_secret(repr(row))  # sealed: no secret text at rest
        assert row["secrets"]
    listed = await tenant.get("/v1/channels", params={"limit": 10})
    assert len(listed.json()["data"]) == 4
    assert_no_secret(listed.text)
    assert [c["id"] for c in (await tenant.get("/v1/channels", params={"type": "sms"})).json()["data"]] == [
        created["kavenegar"]["id"],
        created["twilio"]["id"],
    ]

    # the stored idempotent answers and the events hold no secret either
    async with UnitOfWork(database) as uow:
        stored = (await uow.execute(select(tables.idempotency_keys))).mappings().all()
        events = (await uow.execute(select(tables.events.c.data).where(tables.events.c.type.like("channel.%")))).all()
    assert stored and events
    assert_no_secret(repr([dict(r) for r in stored]))
    assert_no_secret(repr(events))
    replay = await tenant.post("/v1/channels", json=smtp(), headers={"Idempotency-Key": "new-smtp"})
    assert replay.status_code == 201 and replay.json()["id"] == mail["id"]
    assert_no_secret(replay.text)


async def test_patch_replaces_a_secret_or_keeps_it_when_absent(tenant: Tenant, database: Database) -> None:
    channel = await create(tenant, smtp())
    url = f"/v1/channels/{channel['id']}"
    sealed_before = (await raw_row(database, channel["id"]))["secrets"]
    kept = await tenant.patch(url, json={"name": "Newsletter EU", "settings": {"port": 2525}})
    assert kept.status_code == 200, kept.text
    assert kept.json()["settings"]["port"] == 2525 and kept.json()["settings"]["password_set"] is True
    assert (await raw_row(database, channel["id"]))["secrets"] == sealed_before  # untouched
    replaced = await tenant.patch(url, json={"settings": {"password": "a-new-password-1"}})
    assert replaced.status_code == 200 and replaced.json()["version"] == 3
    assert "a-new-password-1" not in replaced.text
    row = await raw_row(database, channel["id"])
    assert row["secrets"] != sealed_before and "a-new-password-1" not in repr(row)
    cleared = await tenant.patch(url, json={"settings": {"password": None, "username": None}})
    assert cleared.json()["settings"]["password_set"] is False and "username" not in cleared.json()["settings"]
    # a flag is not a setting; type and provider cannot change
    assert_problem(await tenant.patch(url, json={"settings": {"password_set": True}}), 422, "settings.password_set")
    assert_problem(await tenant.patch(url, json={"provider": "twilio"}), 422, "provider")


async def test_secrets_sealed_under_a_lost_key_read_as_unreadable_until_entered_again(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from app import sealing

    channel = await create(tenant, smtp())
    url = f"/v1/channels/{channel['id']}"
    # the installation's SECRETS_KEY replaced by another: what was sealed before no longer opens
    monkeypatch.setattr(sealing, "_current", sealing.Sealer([Fernet.generate_key()]))
    read = await tenant.get(url)
    assert read.status_code == 200, read.text
    assert read.json()["secrets_readable"] is False and read.json()["settings"]["password_set"] is None
    listed = (await tenant.get("/v1/channels")).json()["data"]
    assert [c["secrets_readable"] for c in listed] == [False]
    lead = (await tenant.post("/v1/leads", json={"email": "a@example.com"})).json()
    queued = await tenant.post("/v1/messages", json={"lead_id": lead["id"], "channel": "email", "subject": "Hi",
                                                     "body_text": "Hello", "purpose": "transactional"})  # fmt: skip
    assert queued.status_code == 202, queued.text  # queued: the worker retries it, sending nothing meanwhile
    tried = await tenant.post(f"{url}/test", json={"to": "someone@example.com"})
    assert tried.status_code == 200 and tried.json()["outcome"] == "failed"
    assert "SECRETS_KEY" in tried.json()["detail"]
    # entering the secret again seals it under the current key
    again = await tenant.patch(url, json={"settings": {"password": "a-new-password-2"}})
    assert again.status_code == 200, again.text
    assert again.json()["secrets_readable"] is True and again.json()["settings"]["password_set"] is True


async def test_defaults_move_and_archiving_the_default_promotes_the_oldest(tenant: Tenant) -> None:
    first = await create(tenant, kavenegar())
    second = await create(tenant, twilio())
    third = await create(tenant, kavenegar(sender="10004347"))
    mail = await create(tenant, smtp())
    assert [c["is_default"] for c in (first, second, third, mail)] == [True, False, False, True]

    moved = await tenant.patch(f"/v1/channels/{third['id']}", json={"is_default": True})
    assert moved.status_code == 200 and moved.json()["is_default"] is True

    async def defaults() -> dict[str, bool]:
        listed = (await tenant.get("/v1/channels", params={"type": "sms"})).json()["data"]
        return {c["id"]: c["is_default"] for c in listed}

    assert await defaults() == {first["id"]: False, second["id"]: False, third["id"]: True}
    assert (await tenant.get(f"/v1/channels/{mail['id']}")).json()["is_default"] is True  # other types untouched

    archived = await tenant.delete(f"/v1/channels/{third['id']}")
    assert archived.status_code == 200 and archived.json()["archived_at"] and not archived.json()["is_default"]
    assert await defaults() == {first["id"]: True, second["id"]: False}  # the oldest live one
    assert [c["id"] for c in (await tenant.get("/v1/channels", params={"archived": True})).json()["data"]] == [
        third["id"]
    ]
    assert_problem(await tenant.patch(f"/v1/channels/{third['id']}", json={"name": "x"}), 409)
    assert (await tenant.delete(f"/v1/channels/{first['id']}")).status_code == 200
    assert await defaults() == {second["id"]: True}
    assert (await tenant.delete(f"/v1/channels/{second['id']}")).status_code == 200
    assert await defaults() == {}
    # a new one becomes the default again
    assert (await create(tenant, twilio()))["is_default"] is True
    assert_problem(await tenant.patch(f"/v1/channels/{mail['id']}", json={"is_default": False}), 422, "is_default")


async def test_if_match_guards_changes(tenant: Tenant) -> None:
    channel = await create(tenant, twilio())
    url = f"/v1/channels/{channel['id']}"
    assert_problem(await tenant.patch(url, json={"name": "x"}, headers={"If-Match": '"7"'}), 412)
    assert (await tenant.patch(url, json={"name": "x"}, headers={"If-Match": '"1"'})).status_code == 200


async def test_another_workspaces_channel_is_404_and_non_admin_keys_403(tenant: Tenant, other_tenant: Tenant) -> None:
    channel = await create(tenant, twilio())
    url = f"/v1/channels/{channel['id']}"
    for response in (
        await other_tenant.get(url),
        await other_tenant.patch(url, json={"name": "mine"}),
        await other_tenant.delete(url),
        await other_tenant.post(f"{url}/test", json={"to": "+15558675310"}),
    ):
        assert_problem(response, 404)
    assert (await other_tenant.get("/v1/channels")).json()["data"] == []
    key = await tenant.key_with("leads:write", "messages:write", "templates:write")
    for response in (
        await tenant.get("/v1/channels", key=key),
        await tenant.get(url, key=key),
        await tenant.post("/v1/channels", json=twilio(), key=key),
        await tenant.patch(url, json={"name": "x"}, key=key),
        await tenant.delete(url, key=key),
        await tenant.post(f"{url}/test", json={"to": "+15558675310"}, key=key),
    ):
        assert_problem(response, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**smtp(), "provider": "twilio"}, "provider"),
        ({**kavenegar(), "provider": "smtp"}, "provider"),
        ({**whatsapp(), "type": "sms"}, "provider"),
        ({**smtp(), "provider": "pigeon"}, "provider"),
        (smtp(host=None), "settings.host"),
        (smtp(port=70000), "settings.port"),
        (smtp(security="ssl"), "settings.security"),
        (smtp(from_email="not-an-address"), "settings.from_email"),
        (smtp(max_per_second=0), "settings.max_per_second"),
        (smtp(surprise=1), "settings.surprise"),
        ({**kavenegar(), "settings": {"sender": "10004346"}}, "settings.api_key"),
        (kavenegar(api_base_url="ftp://gateway"), "settings.api_base_url"),
        (twilio(account_sid="XX123"), "settings.account_sid"),
        (twilio(**{"from": "0912"}), "settings.from"),
        ({**twilio(), "settings": {"account_sid": ACCOUNT, "auth_token": "t"}}, "settings.from"),
        (whatsapp(app_secret=""), "settings.app_secret"),
        (whatsapp(api_version="21"), "settings.api_version"),
        ({**twilio(), "name": ""}, "name"),
    ],
)
async def test_bad_settings_are_422_naming_the_field(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    body = {**body, "settings": {k: v for k, v in body["settings"].items() if v is not None}}
    assert_problem(await tenant.post("/v1/channels", json=body), 422, field)


# -- the public callback URL ----------------------------------------------------------------------


def path_of(channel: dict[str, Any]) -> str:
    return urlparse(channel["callback_url"]).path


def twilio_signature(url: str, body: bytes, token: str = TWILIO_TOKEN) -> str:
    fields = parse_qs(body.decode(), keep_blank_values=True)
    signed = url + "".join(name + value for name in sorted(fields) for value in fields[name])
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_the_callback_url_is_signed_per_channel(tenant: Tenant) -> None:
    channel = await create(tenant, kavenegar())
    url = channel["callback_url"]
    assert url.startswith("http") and f"/v1/channel-callbacks/{channel['id']}/" in url
    assert (await tenant.get(f"/v1/channels/{channel['id']}")).json()["callback_url"] == url


async def test_callback_checks_run_in_order_415_404_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    channel = await create(tenant, twilio())
    path = path_of(channel)
    body = (DATA / "twilio" / "status_delivered.form").read_bytes()
    unknown = f"/v1/channel-callbacks/{uuid4()}/{path.rsplit('/', 1)[1]}"
    # 415 first: even for an unknown channel
    assert_problem(await client.post(unknown, content=b"x", headers={"content-type": "text/plain"}), 415)
    # then 404: unknown channel, whatever the token
    assert_problem(await client.post(unknown, content=body, headers=FORM), 404)
    # then a media type this provider does not send (whatever the token)
    wrong_token = path.rsplit("/", 1)[0] + "/AAAA.BBBB"
    assert_problem(await client.post(path, content=b"{}", headers={"content-type": "application/json"}), 415)
    assert_problem(await client.post(wrong_token, content=b"{}", headers={"content-type": "application/json"}), 415)
    # then 401: another token, or no / a wrong signature
    signature = twilio_signature(channel["callback_url"], body)
    assert_problem(await client.post(wrong_token, content=body, headers={**FORM, "X-Twilio-Signature": signature}), 401)
    assert_problem(await client.post(path, content=body, headers=FORM), 401)
    assert_problem(await client.post(path, content=body, headers={**FORM, "X-Twilio-Signature": "bm9wZQ=="}), 401)
    # signed as Twilio signs it: accepted, answered with empty TwiML
    accepted = await client.post(path, content=body, headers={**FORM, "X-Twilio-Signature": signature})
    assert accepted.status_code == 200 and accepted.headers["content-type"].startswith("text/xml")
    assert "<Response>" in accepted.text
    # archived: 404 like an unknown one
    assert (await tenant.delete(f"/v1/channels/{channel['id']}")).status_code == 200
    assert_problem(await client.post(path, content=body, headers={**FORM, "X-Twilio-Signature": signature}), 404)


async def test_whatsapp_callbacks_need_metas_signature_and_answer_the_handshake(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await create(tenant, whatsapp())
    path = path_of(channel)
    body = (DATA / "whatsapp_cloud" / "inbound_text.json").read_bytes()
    good = "sha256=" + hmac.new(WA["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    json_type = {"content-type": "application/json"}
    assert_problem(await client.post(path, content=body, headers=FORM), 415)
    assert_problem(
        await client.post(path, content=body, headers={**json_type, "X-Hub-Signature-256": "sha256=00"}), 401
    )
    assert (
        await client.post(path, content=body, headers={**json_type, "X-Hub-Signature-256": good})
    ).status_code == 200
    handshake = {"hub.mode": "subscribe", "hub.verify_token": WA["verify_token"], "hub.challenge": "1158201444"}
    answered = await client.get(path, params=handshake)
    assert answered.status_code == 200 and answered.text == "1158201444"
    assert_problem(await client.get(path, params={**handshake, "hub.verify_token": "guess"}), 401)
    assert_problem(await client.get(f"/v1/channel-callbacks/{uuid4()}/x.y", params=handshake), 404)


async def test_kavenegar_callbacks_are_authenticated_by_the_url_token_alone(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    channel = await create(tenant, kavenegar())
    path = path_of(channel)
    body = (DATA / "kavenegar" / "delivery_delivered.form").read_bytes()
    assert (await client.post(path, content=body, headers=FORM)).status_code == 200
    assert (await client.get(path, params={"messageid": "8792343", "status": "10"})).status_code == 200
    assert_problem(await client.post(path.rsplit("/", 1)[0] + "/x.y", content=body, headers=FORM), 401)


# -- a test message -------------------------------------------------------------------------------


async def test_a_test_message_goes_out_through_the_provider_now(database: Database) -> None:
    settings = Settings(database_url=database.settings.database_url, outbound_allow_loopback=True)
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        tenant = await make_tenant(database, client)
        created = (DATA / "twilio" / "message_created.json").read_bytes()

        async def reply(writer: Any) -> None:
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(created) + created)
            await writer.drain()

        async with Receiver(reply=reply) as receiver:
            channel = await create(tenant, twilio(api_base_url=f"http://127.0.0.1:{receiver.port}"))
            url = f"/v1/channels/{channel['id']}/test"
            sent = await tenant.post(url, json={"to": "+15558675310", "text": "It works"})
            assert sent.status_code == 200, sent.text
            assert sent.json() == {
                "outcome": "sent",
                "detail": "201 accepted",
                "provider_message_id": "SMXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            }
            form = {k: v[0] for k, v in parse_qs(receiver.received[0].body.decode()).items()}
            assert form["Body"] == "It works" and form["To"] == "+15558675310"
            assert form["StatusCallback"].startswith(channel["callback_url"] + "?message=")
            assert_problem(await tenant.post(url, json={"to": "sara@example.com"}), 422, "to")


async def test_a_test_message_to_a_refused_address_fails_without_sending(tenant: Tenant) -> None:
    channel = await create(tenant, kavenegar(api_base_url="http://127.0.0.1:9"))
    url = f"/v1/channels/{channel['id']}/test"
    answered = await tenant.post(url, json={"to": "+989121234567"})
    assert answered.status_code == 200
    assert answered.json() == {"outcome": "failed", "detail": "address not allowed", "provider_message_id": None}
    mail = await create(tenant, smtp(host="127.0.0.1", security="none"))
    assert_problem(await tenant.post(f"/v1/channels/{mail['id']}/test", json={"to": "+989121234567"}), 422, "to")
    answered = await tenant.post(f"/v1/channels/{mail['id']}/test", json={"to": "sara@example.com"})
    assert answered.json()["outcome"] == "failed" and answered.json()["detail"] == "address not allowed"


async def test_channels_created_at_once_get_exactly_one_default(tenant: Tenant) -> None:
    import asyncio

    answers = await asyncio.gather(*(tenant.post("/v1/channels", json=twilio()) for _ in range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers if a.status_code != 201]
    listed = (await tenant.get("/v1/channels", params={"type": "sms"})).json()["data"]
    assert sum(c["is_default"] for c in listed) == 1 and len(listed) == 6
