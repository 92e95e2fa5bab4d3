"""`/v1/messages` through HTTP on both databases, nothing sent: a batch's scopes and tenancy item by
item, the frequency cap's two actions, and the list's filters. (Sending, tracking and replies, with
a real worker: tests/integration/test_email_messages.py, test_sms_messages.py,
test_message_engagement.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Tenant, assert_problem

EMAIL_CHANNEL = {
    "type": "email",
    "provider": "smtp",
    "name": "Mail",
    "settings": {"host": "smtp.example.com", "port": 587, "security": "starttls", "from_email": "news@shop.example"},
}
SMS_CHANNEL = {
    "type": "sms",
    "provider": "twilio",
    "name": "Twilio",
    "settings": {"account_sid": "AC" + "0123456789abcdef" * 2, "auth_token": "token-1", "from": "+15017122661"},
}


async def channels(tenant: Tenant, *bodies: dict[str, Any]) -> None:
    """The channels, and a policy without quiet hours or a cap (each test sets the one it tests)."""
    for body in bodies or (EMAIL_CHANNEL,):
        created = await tenant.post("/v1/channels", json=body)
        assert created.status_code == 201, created.text
    policy = await tenant.patch("/v1/settings/messaging", json={"quiet_hours": None, "frequency_cap": None})
    assert policy.status_code == 200, policy.text


async def lead(tenant: Tenant, email: str, *, consent: str | None = "opted_in", **fields: Any) -> str:
    created = await tenant.post("/v1/leads", json={"first_name": "Sara", "email": email, **fields})
    assert created.status_code == 201, created.text
    lead_id = str(created.json()["id"])
    if consent:
        for channel in ("email", *(["sms"] if "phone" in fields else [])):
            answer = await tenant.request("PUT", f"/v1/leads/{lead_id}/consents/{channel}",
                                          json={"status": consent, "source": "api"})  # fmt: skip
            assert answer.status_code == 200, answer.text
    return lead_id


async def contact(tenant: Tenant, email: str) -> str:
    created = await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": email})
    assert created.status_code == 201, created.text
    contact_id = str(created.json()["id"])
    answer = await tenant.request("PUT", f"/v1/contacts/{contact_id}/consents/email",
                                  json={"status": "opted_in", "source": "api"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return contact_id


def mail(purpose: str = "marketing", **person: str) -> dict[str, Any]:
    return {**person, "channel": "email", "subject": "Offer", "body_text": "Buy now", "purpose": purpose}


async def send(tenant: Tenant, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    answer = await tenant.post("/v1/messages", json=body, **kwargs)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def queued_events(tenant: Tenant) -> list[str]:
    events = (await tenant.get("/v1/events", params={"type": "message.queued", "limit": 100})).json()["data"]
    return [e["data"]["id"] for e in events]


async def listed(tenant: Tenant, **params: Any) -> list[str]:
    answer = await tenant.get("/v1/messages", params={"limit": 100, **params})
    assert answer.status_code == 200, answer.text
    return [m["id"] for m in answer.json()["data"]]


# -- a batch, item by item --------------------------------------------------------------------------


async def test_a_batch_needs_messages_write(tenant: Tenant) -> None:
    await channels(tenant)
    sara = await lead(tenant, "sara@example.com")
    reader = await tenant.key_with("messages:read", "leads:read")
    denied = await tenant.post("/v1/messages/batch", key=reader, json={"messages": [mail(lead_id=sara)]})
    assert_problem(denied, 403)
    assert await listed(tenant) == [] and await queued_events(tenant) == []


async def test_a_batch_refuses_each_item_naming_a_person_the_key_cannot_read(tenant: Tenant) -> None:
    await channels(tenant)
    sara = await lead(tenant, "sara@example.com")
    mina = await contact(tenant, "mina@example.com")
    contacts_only = await tenant.key_with("messages:write", "contacts:read")
    items = [
        mail(lead_id=sara),
        mail(contact_id=mina),
        mail(lead_id="00000000-0000-0000-0000-000000000001"),  # none such: refused alike, nothing revealed
    ]
    answer = await tenant.post("/v1/messages/batch", key=contacts_only, json={"messages": items})
    assert answer.status_code == 200, answer.text
    refused, sent, unknown = answer.json()["results"]
    assert (refused["index"], refused["status"], refused["id"]) == (0, "error", None)
    assert refused["problem"]["status"] == 403 and "leads:read" in refused["problem"]["detail"]
    assert unknown["status"] == "error" and unknown["problem"] == refused["problem"]
    assert (sent["index"], sent["status"], sent["block_reason"]) == (1, "queued", None)
    # only the contact's message was written, and only it announced
    assert await listed(tenant) == [sent["id"]]
    assert await queued_events(tenant) == [sent["id"]]


async def test_a_batch_item_naming_another_workspaces_lead_is_not_found_and_queues_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await channels(tenant)
    await channels(other_tenant)
    theirs = await lead(other_tenant, "theirs@example.com")
    ours = await lead(tenant, "ours@example.com")
    answer = await tenant.post("/v1/messages/batch", json={"messages": [mail(lead_id=theirs), mail(lead_id=ours)]})
    assert answer.status_code == 200, answer.text
    foreign, own = answer.json()["results"]
    assert foreign["status"] == "error" and foreign["id"] is None and foreign["problem"]["status"] == 404
    assert own["status"] == "queued"
    assert await listed(tenant) == [own["id"]] and await queued_events(tenant) == [own["id"]]
    # nothing queued in the other workspace either, for its lead or anyone
    assert await listed(other_tenant) == [] and await queued_events(other_tenant) == []


# -- the frequency cap --------------------------------------------------------------------------------


async def test_the_cap_waits_by_default_until_the_seven_day_window_has_room(tenant: Tenant) -> None:
    await channels(tenant)
    cap = await tenant.patch("/v1/settings/messaging", json={"frequency_cap": {"marketing_per_7_days": 1}})
    assert cap.status_code == 200, cap.text
    assert cap.json()["frequency_cap_action"] == "wait"  # the default
    sara = await lead(tenant, "sara@example.com")
    first = await send(tenant, mail(lead_id=sara))
    second = await send(tenant, mail(lead_id=sara))
    third = await send(tenant, mail(lead_id=sara))
    for message in (first, second, third):
        assert (message["status"], message["block_reason"]) == ("queued", None)
    due = datetime.fromisoformat(first["send_at"])
    # the first instant at which one more keeps every 7-day window at one: a week after the first,
    # then a week after that (the waiting one counts too)
    assert datetime.fromisoformat(second["send_at"]) == due + timedelta(days=7)
    assert datetime.fromisoformat(third["send_at"]) == due + timedelta(days=14)
    receipt = await send(tenant, mail("transactional", lead_id=sara))
    assert abs(datetime.fromisoformat(receipt["send_at"]) - due) < timedelta(minutes=1)  # never capped
    detail = (await tenant.get(f"/v1/messages/{second['id']}")).json()
    assert [h["status"] for h in detail["history"]] == ["queued"]


async def test_the_cap_counts_the_address_not_the_person(tenant: Tenant) -> None:
    await channels(tenant)
    cap = {"frequency_cap": {"marketing_per_7_days": 1}, "frequency_cap_action": "wait"}
    assert (await tenant.patch("/v1/settings/messaging", json=cap)).status_code == 200
    sara = await lead(tenant, "shared@example.com")
    mina = await contact(tenant, "Shared@Example.com")
    first = await send(tenant, mail(lead_id=sara))
    second = await send(tenant, mail(contact_id=mina))
    assert second["status"] == "queued"
    assert datetime.fromisoformat(second["send_at"]) == datetime.fromisoformat(first["send_at"]) + timedelta(days=7)


async def test_the_cap_with_skip_blocks_instead(tenant: Tenant) -> None:
    await channels(tenant)
    cap = {"frequency_cap": {"marketing_per_7_days": 1}, "frequency_cap_action": "skip"}
    assert (await tenant.patch("/v1/settings/messaging", json=cap)).status_code == 200
    sara = await lead(tenant, "sara@example.com")
    first = await send(tenant, mail(lead_id=sara))
    second = await send(tenant, mail(lead_id=sara))
    assert first["status"] == "queued"
    assert (second["status"], second["block_reason"]) == ("blocked", "frequency_cap")
    blocked = (await tenant.get("/v1/events", params={"type": "message.blocked"})).json()["data"]
    assert [e["data"]["id"] for e in blocked] == [second["id"]]
    # a blocked message never counts: after the skip, one more still waits only for the first
    assert (await tenant.patch("/v1/settings/messaging", json={"frequency_cap_action": "wait"})).status_code == 200
    third = await send(tenant, mail(lead_id=sara))
    assert datetime.fromisoformat(third["send_at"]) == datetime.fromisoformat(first["send_at"]) + timedelta(days=7)


# -- listing --------------------------------------------------------------------------------------------


async def test_the_list_filters_narrow_it(tenant: Tenant) -> None:
    await channels(tenant, EMAIL_CHANNEL, SMS_CHANNEL)
    sara = await lead(tenant, "sara@example.com", phone="+15558675310")
    reza = await lead(tenant, "reza@example.com", consent=None)
    mina = await contact(tenant, "mina@example.com")
    marketing = await send(tenant, mail(lead_id=sara))
    receipt = await send(tenant, mail("transactional", lead_id=sara))
    sms = await send(tenant, {"lead_id": sara, "channel": "sms", "body_text": "Hi", "purpose": "transactional"})
    blocked = await send(tenant, mail(lead_id=reza))  # no consent
    to_contact = await send(tenant, mail(contact_id=mina))
    assert (blocked["status"], blocked["block_reason"]) == ("blocked", "no_consent")
    every = [marketing, receipt, sms, blocked, to_contact]

    def ids(*messages: dict[str, Any]) -> list[str]:
        return sorted(m["id"] for m in messages)

    assert sorted(await listed(tenant)) == ids(*every)
    assert sorted(await listed(tenant, channel="sms")) == ids(sms)
    assert sorted(await listed(tenant, channel="email")) == ids(marketing, receipt, blocked, to_contact)
    assert sorted(await listed(tenant, status="blocked")) == ids(blocked)
    assert sorted(await listed(tenant, status="queued")) == ids(marketing, receipt, sms, to_contact)
    assert sorted(await listed(tenant, purpose="transactional")) == ids(receipt, sms)
    assert sorted(await listed(tenant, purpose="marketing")) == ids(marketing, blocked, to_contact)
    assert sorted(await listed(tenant, lead_id=sara)) == ids(marketing, receipt, sms)
    assert sorted(await listed(tenant, lead_id=reza)) == ids(blocked)
    assert sorted(await listed(tenant, contact_id=mina)) == ids(to_contact)
    assert sorted(await listed(tenant, lead_id=sara, channel="email", purpose="marketing")) == ids(marketing)
    assert await listed(tenant, lead_id=sara, status="blocked") == []

    # the created range: at or after its start, before its end
    times = [datetime.fromisoformat(m["created_at"]) for m in every]
    assert times == sorted(times) and len(set(times)) == len(times), times
    start, end = every[1]["created_at"], every[3]["created_at"]
    assert sorted(await listed(tenant, created_after=start)) == ids(*every[1:])
    assert sorted(await listed(tenant, created_before=end)) == ids(*every[:3])
    assert sorted(await listed(tenant, created_after=start, created_before=end)) == ids(receipt, sms)
    later = (times[-1] + timedelta(seconds=1)).isoformat()
    assert await listed(tenant, created_after=later) == []
    # sorted newest first on request
    newest = await tenant.get("/v1/messages", params={"sort": "-created_at", "limit": 100})
    assert [m["id"] for m in newest.json()["data"]] == [m["id"] for m in reversed(every)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"status": "lost"}, "status"),
        ({"purpose": "spam"}, "purpose"),
        ({"lead_id": "not-a-uuid"}, "lead_id"),
        ({"created_after": "2026-01-01T00:00:00"}, "created_after"),  # no offset: ambiguous
    ],
)
async def test_a_bad_filter_is_a_422_naming_it(tenant: Tenant, params: dict[str, str], field: str) -> None:
    assert_problem(await tenant.get("/v1/messages", params=params), 422, field)
