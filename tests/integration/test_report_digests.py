# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Scheduled digests end to end on SQLite and PostgreSQL: `/v1/report-schedules` through HTTP, a
real worker delivering a due occurrence, and a real SMTP server (aiosmtpd) receiving the email as
a mail client reads it: Persian and right to left for a `fa` workspace, the chart inline as a
`cid:` image; one delivery per occurrence across restarts and repeated passes; `report.delivered`
with the figures; CRUD, 422s naming the field, scopes and tenancy."""

from __future__ import annotations

import asyncio
import datetime as dt
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, update

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.events import events as event_types
from app.ids import utcnow
from app.services.reports import digests
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.integration.test_email_messages import (  # noqa: F401  (the email tests' fixtures)
    app,
    client,
    running_worker,
    setup,
    tenant,
    until,
)
from tests.smtp_server import SmtpServer

# Asia/Tehran keeps +03:30 all year since 2022: the expected occurrences are computed by hand in it.
TEHRAN = dt.timezone(dt.timedelta(hours=3, minutes=30))
SATURDAY = 5


@pytest.fixture
async def other_tenant(database: Database, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(database, client, name="Other Co")


def saturdays_at_eight(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(the last Saturday 08:00 Tehran at or before `now`, the first one after it), in UTC."""
    local = now.astimezone(TEHRAN)
    day = local.date() - dt.timedelta(days=(local.weekday() - SATURDAY) % 7)
    latest = dt.datetime.combine(day, dt.time(8), TEHRAN)
    if latest > local:
        latest -= dt.timedelta(days=7)
    return latest.astimezone(dt.UTC), (latest + dt.timedelta(days=7)).astimezone(dt.UTC)


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def member(tenant: Tenant, email: str, name: str = "مدیر فروش") -> str:
    created = await tenant.post("/v1/members", json={"name": name, "email": email})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def lead_created_at(tenant: Tenant, database: Database, moment: dt.datetime, n: int) -> str:
    created = await tenant.post("/v1/leads", json={"first_name": f"L{n}", "email": f"d{n}@example.com",
                                                   "source": "web_form"})  # fmt: skip
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    async with UnitOfWork(database) as uow:
        await uow.execute(update(tables.leads).where(tables.leads.c.id == UUID(lead_id)).values(created_at=moment))
        await uow.commit()
    return str(lead_id)


async def make_due(database: Database, schedule_id: str) -> None:
    """Drive time: the schedule's next occurrence is in the past."""
    async with UnitOfWork(database) as uow:
        await uow.execute(
            update(tables.report_schedules)
            .where(tables.report_schedules.c.id == UUID(schedule_id))
            .values(next_run_at=utcnow() - dt.timedelta(minutes=5))
        )
        await uow.commit()


async def deliveries(database: Database, schedule_id: str) -> list[dict[str, Any]]:
    async with UnitOfWork(database, write=False) as uow:
        statement = select(tables.report_deliveries).where(tables.report_deliveries.c.schedule_id == UUID(schedule_id))
        return [dict(r) for r in (await uow.execute(statement)).mappings()]


async def schedule(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "گزارش هفتگی", "report": "funnel", "cadence": {"type": "weekly", "weekday": "saturday",
            "at": "08:00"}, **fields}  # fmt: skip
    created = await tenant.post("/v1/report-schedules", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/report-schedules/{created.json()['id']}"
    return dict(created.json())


def parts(email: EmailMessage) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for part in email.walk():
        found.setdefault(part.get_content_type(), []).append(part)  # type: ignore[arg-type]
    return found


async def test_a_weekly_digest_arrives_in_persian_with_its_chart_inline_once_per_occurrence(
    database: Database, client: httpx.AsyncClient
) -> None:
    shop = await make_tenant(database, client, "فروشگاه تهران", region="IR", timezone="Asia/Tehran")
    now = utcnow()
    latest, following = saturdays_at_eight(now)
    # The week the latest occurrence covers: the seven local days before its Saturday.
    saturday = latest.astimezone(TEHRAN).date()
    first, last = saturday - dt.timedelta(days=7), saturday - dt.timedelta(days=1)
    for n, day in enumerate([first, first + dt.timedelta(days=3), last]):  # inside
        await lead_created_at(shop, database, dt.datetime.combine(day, dt.time(12), TEHRAN), n)
    await lead_created_at(shop, database, dt.datetime.combine(first, dt.time(0), TEHRAN) - dt.timedelta(minutes=1), 7)
    await lead_created_at(shop, database, dt.datetime.combine(saturday, dt.time(0, 30), TEHRAN), 8)  # its own day

    async with SmtpServer() as smtp:
        await setup(shop, smtp)
        boss = await member(shop, "boss@shop.example")
        created = await schedule(shop, member_ids=[boss], emit_event=True, params={"source": "web_form"})
        # The next occurrence: Saturday 08:00 in Tehran, 04:30 UTC.
        assert created["next_run_at"] == utc_text(following)
        assert created["cadence"] == {"type": "weekly", "weekday": "saturday", "at": "08:00"}
        await make_due(database, created["id"])

        async with running_worker(database):
            [received] = await until(lambda: _now(smtp.to("boss@shop.example")))
            moved = await until(lambda: _moved(shop, created["id"]))
        assert moved["next_run_at"] == utc_text(following)  # the next Saturday, 08:00 Tehran

        email = received.message
        assert "گزارش هفتگی" in email["Subject"] and "قیف فروش" in email["Subject"]
        found = parts(email)
        assert "multipart/related" in found
        [image] = found["image/png"]
        png = image.get_content()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
        cid = image["Content-ID"].strip("<>")
        html = email.get_body(("html",)).get_content()
        assert f'src="cid:{cid}"' in html and "data:image" not in html
        assert 'dir="rtl"' in html and 'lang="fa"' in html and "قیف فروش" in html
        text = email.get_body(("plain",)).get_content()
        assert "سرنخ: ۳" in text  # three leads in the week, in Persian digits
        assert "فروشگاه تهران" in text

        [event] = (await shop.get("/v1/events", params={"type": "report.delivered"})).json()["data"]
        data = event["data"]
        assert data["schedule_id"] == created["id"] and data["report"] == "funnel"
        assert data["occurrence"] == f"{saturday.isoformat()}T08:00"
        assert data["occurred_at"] == utc_text(latest)
        assert (data["from"], data["to"]) == (first.isoformat(), last.isoformat())
        counts = {s["stage"]: s["count"] for s in data["figures"]["stages"]}
        assert counts["lead"] == 3 and data["figures"]["interval"] == "day"
        assert [p["lead"] for p in data["figures"]["periods"]] == [1, 0, 0, 1, 0, 0, 1]
        assert data["params"] == {"source": "web_form"}
        [message_id] = data["message_ids"]
        message = (await shop.get(f"/v1/messages/{message_id}")).json()
        assert (message["to_address"], message["purpose"], message["lead_id"], message["contact_id"]) == (
            "boss@shop.example", "transactional", None, None)  # fmt: skip
        assert message["status"] == "sent"
        [row] = await deliveries(database, created["id"])
        assert row["occurrence"] == data["occurrence"] and row["message_ids"] == [message_id]
        assert row["figures"] == data["figures"]

        # A restart that finds the occurrence due again (a second worker, next_run_at set back)
        # sends nothing: the delivery of (schedule, occurrence) is recorded once.
        await make_due(database, created["id"])
        async with running_worker(database):
            await until(lambda: _moved(shop, created["id"]))
            await asyncio.sleep(0.5)  # time enough for a message it might have queued to go
        await make_due(database, created["id"])
        passes = await asyncio.gather(digests.run_due(database, utcnow()), digests.run_due(database, utcnow()))
        assert sum(passes) >= 1
        assert len(smtp.to("boss@shop.example")) == 1
        assert len(await deliveries(database, created["id"])) == 1
        assert len((await shop.get("/v1/events", params={"type": "report.delivered"})).json()["data"]) == 1
        assert (await shop.get(f"/v1/report-schedules/{created['id']}")).json()["next_run_at"] == utc_text(following)


async def test_a_daily_digest_in_an_english_workspace_covers_yesterday_left_to_right(
    database: Database, tenant: Tenant
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        reader = await member(tenant, "reader@acme.example", "Reader")
        away = await member(tenant, "away@acme.example", "Away")
        created = await schedule(tenant, name="Daily funnel", cadence={"type": "daily", "at": "07:15"},
                                 member_ids=[reader, away])  # fmt: skip
        assert (await tenant.patch(f"/v1/members/{away}", json={"active": False})).status_code == 200
        today = utcnow().date()
        expected = dt.datetime.combine(today, dt.time(7, 15), dt.UTC)
        expected += dt.timedelta(days=1) if expected <= utcnow() else dt.timedelta()
        assert created["next_run_at"] == utc_text(expected)
        await make_due(database, created["id"])
        async with running_worker(database):
            [received] = await until(lambda: _now(smtp.to("reader@acme.example")))
            await until(lambda: _moved(tenant, created["id"]))
        assert smtp.to("away@acme.example") == []  # deactivated since: left out
    email = received.message
    html = email.get_body(("html",)).get_content()
    assert 'dir="rtl"' not in html and "Funnel" in html and "cid:" in html
    occurred = dt.datetime.combine(today, dt.time(7, 15), dt.UTC)
    day = today if occurred <= utcnow() else today - dt.timedelta(days=1)
    yesterday = day - dt.timedelta(days=1)
    assert yesterday.strftime("%B") in email["Subject"] and "Daily funnel" in email["Subject"]
    assert "Leads: 0" in email.get_body(("plain",)).get_content()
    # No emit_event: no event.
    assert (await tenant.get("/v1/events", params={"type": "report.delivered"})).json()["data"] == []
    [row] = await deliveries(database, created["id"])
    assert row["occurrence"] == f"{day.isoformat()}T07:15"
    assert (row["figures"]["from"], row["figures"]["to"]) == (yesterday.isoformat(), yesterday.isoformat())


async def test_schedules_are_created_read_changed_and_archived(tenant: Tenant) -> None:
    boss = await member(tenant, "boss@acme.example", "Boss")
    channel = {
        "type": "email",
        "provider": "smtp",
        "name": "Mail",
        "settings": {"host": "127.0.0.1", "port": 2525, "security": "none", "from_email": "crm@acme.example"},
    }
    assert (await tenant.post("/v1/channels", json=channel)).status_code == 201
    body = {"name": "Weekly", "report": "funnel", "params": {"mode": "activity", "interval": "day"},
            "cadence": {"type": "weekly", "weekday": "monday", "at": "09:30"}, "member_ids": [boss]}  # fmt: skip
    first = await tenant.post("/v1/report-schedules", json=body, headers={"Idempotency-Key": "s-1"})
    assert first.status_code == 201, first.text
    again = await tenant.post("/v1/report-schedules", json=body, headers={"Idempotency-Key": "s-1"})
    assert again.headers.get("idempotent-replayed") == "true" and again.json()["id"] == first.json()["id"]
    created = first.json()
    assert created["params"] == {"mode": "activity", "interval": "day"} and created["emit_event"] is False
    assert created["member_ids"] == [boss] and created["channel_id"] is None and created["paused"] is False
    next_run = dt.datetime.fromisoformat(created["next_run_at"])
    assert next_run.weekday() == 0 and (next_run.hour, next_run.minute) == (9, 30)  # UTC workspace
    url = f"/v1/report-schedules/{created['id']}"

    got = await tenant.get(url)
    assert got.status_code == 200 and got.headers["etag"] == '"1"' and got.json() == created
    assert (await tenant.get(url, headers={"If-None-Match": '"1"'})).status_code == 304
    listed = (await tenant.get("/v1/report-schedules", params={"report": "funnel"})).json()["data"]
    assert [s["id"] for s in listed] == [created["id"]]

    assert_problem(await tenant.patch(url, json={"name": "x"}, headers={"If-Match": '"9"'}), 412)
    daily = await tenant.patch(url, json={"cadence": {"type": "daily", "at": "06:00"}}, headers={"If-Match": '"1"'})
    assert daily.status_code == 200, daily.text
    assert daily.json()["version"] == 2 and daily.json()["cadence"] == {"type": "daily", "weekday": None,
                                                                         "at": "06:00"}  # fmt: skip
    assert daily.json()["next_run_at"].endswith("T06:00:00.000000Z")
    paused = (await tenant.patch(url, json={"paused": True})).json()
    assert paused["paused"] is True and paused["next_run_at"] is None
    resumed = (await tenant.patch(url, json={"paused": False})).json()
    assert resumed["next_run_at"] == daily.json()["next_run_at"]
    same = await tenant.patch(url, json={"name": "Weekly"})
    assert same.json()["version"] == resumed["version"]  # nothing changed, no new version

    archived = await tenant.delete(url)
    assert archived.status_code == 200 and archived.json()["archived_at"] and archived.json()["next_run_at"] is None
    assert (await tenant.get("/v1/report-schedules")).json()["data"] == []
    assert [s["id"] for s in (await tenant.get("/v1/report-schedules", params={"archived": "true"})).json()["data"]] \
        == [created["id"]]  # fmt: skip
    assert_problem(await tenant.patch(url, json={"name": "Back"}), 409)


async def test_bad_input_is_a_422_naming_the_field(tenant: Tenant, other_tenant: Tenant) -> None:
    boss = await member(tenant, "boss@acme.example", "Boss")
    base = {"name": "Weekly", "report": "funnel", "cadence": {"type": "daily", "at": "08:00"}, "emit_event": True}

    async def bad(*fields: str, **changes: Any) -> None:
        assert_problem(await tenant.post("/v1/report-schedules", json={**base, **changes}), 422, *fields)

    await bad("report", report="speed-to-lead")  # not schedulable
    await bad("params.interval", params={"interval": "fortnight"})
    await bad("params.mode", params={"mode": "both"})
    await bad("params.owner_id", params={"owner_id": "someone"})
    await bad("params.nonsense", params={"nonsense": 1})
    await bad("params.from", params={"from": "2026-01-01"})
    await bad("cadence.at", cadence={"type": "daily", "at": "8am"})
    await bad("cadence.weekday", cadence={"type": "weekly", "at": "08:00"})
    await bad("cadence.weekday", cadence={"type": "weekly", "weekday": "someday", "at": "08:00"})
    await bad("cadence.weekday", cadence={"type": "daily", "weekday": "monday", "at": "08:00"})
    await bad("cadence.type", cadence={"type": "monthly", "at": "08:00"})
    await bad("member_ids", emit_event=False)  # goes nowhere
    await bad("member_ids.0", member_ids=["01a21ccd-7080-7524-9a80-7fc53d31ae93"])
    other_member = await member(other_tenant, "else@other.example", "Else")
    await bad("member_ids.0", member_ids=[other_member])  # another workspace's member
    await bad("channel_id", member_ids=[boss])  # no email channel to send through
    await bad("channel_id", channel_id="01a21ccd-7080-7524-9a80-7fc53d31ae93")
    await bad("name", name="")
    created = await tenant.post("/v1/report-schedules", json=base)
    assert created.status_code == 201, created.text
    url = f"/v1/report-schedules/{created.json()['id']}"
    assert_problem(await tenant.patch(url, json={"params": {"group_by": "planet"}}), 422, "params.group_by")
    assert_problem(await tenant.patch(url, json={"emit_event": False}), 422, "member_ids")
    assert_problem(await tenant.patch(url, json={"report": "funnel"}), 422, "report")  # fixed once made
    assert_problem(await tenant.patch(url, json={"name": None}), 422, "name")


async def test_scopes_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    body = {"name": "Weekly", "report": "funnel", "cadence": {"type": "daily", "at": "08:00"}, "emit_event": True}
    reader = await tenant.key_with("reports:read")
    writer = await tenant.key_with("reports:write")
    leads_only = await tenant.key_with("leads:read")
    assert_problem(await tenant.post("/v1/report-schedules", json=body, key=reader), 403)
    created = await tenant.post("/v1/report-schedules", json=body, key=writer)
    assert created.status_code == 201, created.text
    url = f"/v1/report-schedules/{created.json()['id']}"
    assert (await tenant.get(url, key=reader)).status_code == 200
    assert (await tenant.get("/v1/report-schedules", key=reader)).status_code == 200
    assert_problem(await tenant.patch(url, json={"name": "x"}, key=reader), 403)
    assert_problem(await tenant.delete(url, key=reader), 403)
    assert_problem(await tenant.get(url, key=leads_only), 403)
    assert_problem(await tenant.get("/v1/report-schedules", key=leads_only), 403)
    # Another workspace sees none of it.
    assert_problem(await other_tenant.get(url), 404)
    assert_problem(await other_tenant.patch(url, json={"name": "Hijacked"}), 404)
    assert_problem(await other_tenant.delete(url), 404)
    assert (await other_tenant.get("/v1/report-schedules")).json()["data"] == []
    # report.delivered is read with reports:read.
    assert event_types.REPORT_DELIVERED == "report.delivered"
    events_only = await tenant.key_with("events:read")
    assert_problem(await tenant.get("/v1/events", params={"type": "report.delivered"}, key=events_only), 403)
    both = await tenant.key_with("events:read", "reports:read")
    assert (await tenant.get("/v1/events", params={"type": "report.delivered"}, key=both)).status_code == 200


async def test_a_digest_to_members_is_read_with_the_members_scope(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        created = await schedule(tenant, name="Daily", cadence={"type": "daily", "at": "08:00"}, member_ids=[boss])
        await make_due(database, created["id"])
        assert await digests.run_due(database, utcnow()) == 1
        assert await digests.run_due(database, utcnow()) == 0  # moved on: nothing due
    [row] = await deliveries(database, created["id"])
    [message_id] = row["message_ids"]
    people = await tenant.key_with("messages:read", "leads:read", "contacts:read")
    assert_problem(await tenant.get(f"/v1/messages/{message_id}", key=people), 404)
    assert (await tenant.get("/v1/messages", key=people)).json()["data"] == []
    with_members = await tenant.key_with("messages:read", "members:read")
    assert (await tenant.get(f"/v1/messages/{message_id}", key=with_members)).status_code == 200
    assert [m["id"] for m in (await tenant.get("/v1/messages", key=with_members)).json()["data"]] == [message_id]
    async with UnitOfWork(database, write=False) as uow:
        count = select(func.count()).select_from(tables.messages).where(tables.messages.c.id == UUID(message_id))
        assert (await uow.execute(count)).scalar() == 1


async def _now(value: Any) -> Any:
    return value


async def _moved(tenant: Tenant, schedule_id: str) -> dict[str, Any] | None:
    """The schedule once its next occurrence is in the future again (the worker moved it)."""
    row: dict[str, Any] = (await tenant.get(f"/v1/report-schedules/{schedule_id}")).json()
    at = row["next_run_at"]
    return row if at is not None and dt.datetime.fromisoformat(at) > utcnow() else None


async def test_a_weekly_team_digest_arrives_with_its_chart_on_the_weekday_and_time_once(
    database: Database, client: httpx.AsyncClient
) -> None:
    """The sales manager's Saturday morning: each member's week, the chart inline, sent once."""
    shop = await make_tenant(database, client, "فروشگاه تهران", region="IR", timezone="Asia/Tehran")
    latest, following = saturdays_at_eight(utcnow())
    async with SmtpServer() as smtp:
        await setup(shop, smtp)
        boss = await member(shop, "boss@shop.example")
        seller = await member(shop, "sara@shop.example", name="سارا")
        for n in range(2):  # two leads assigned to the seller in the week the digest covers
            lead = await shop.post("/v1/leads", json={"first_name": f"L{n}", "email": f"t{n}@example.com",
                                                      "owner_id": seller})  # fmt: skip
            assert lead.status_code == 201, lead.text
        saturday = latest.astimezone(TEHRAN).date()
        async with UnitOfWork(database) as uow:  # assigned on Wednesday of that week
            wednesday = dt.datetime.combine(saturday - dt.timedelta(days=3), dt.time(11), TEHRAN)
            await uow.execute(update(tables.lead_assignments).where(
                tables.lead_assignments.c.workspace_id == UUID(shop.id)).values(assigned_at=wednesday))  # fmt: skip
            await uow.commit()
        created = await schedule(shop, name="هفته تیم", report="team", member_ids=[boss])
        assert created["next_run_at"] == utc_text(following)  # Saturday 08:00 in Tehran
        await make_due(database, created["id"])
        async with running_worker(database):
            [received] = await until(lambda: _now(smtp.to("boss@shop.example")))
            await until(lambda: _moved(shop, created["id"]))
        email = received.message
        assert "هفته تیم" in email["Subject"] and "عملکرد تیم" in email["Subject"]
        [image] = parts(email)["image/png"]
        assert image.get_content().startswith(b"\x89PNG") and f'cid:{image["Content-ID"].strip("<>")}' in (
            email.get_body(("html",)).get_content())  # fmt: skip
        text = email.get_body(("plain",)).get_content()
        assert "سارا" in text and "۲ سرنخ" in text
        # Run again for the same occurrence: nothing more is sent.
        await make_due(database, created["id"])
        await digests.run_due(database, utcnow())
        async with running_worker(database):
            await asyncio.sleep(1)
    assert len(smtp.to("boss@shop.example")) == 1
    assert len(await deliveries(database, created["id"])) == 1


async def test_team_and_win_loss_digests_take_every_report_filter(tenant: Tenant) -> None:
    body = {"name": "Weekly", "cadence": {"type": "daily", "at": "08:00"}, "emit_event": True}
    for report, params in (("team", {"source": "event", "utm_campaign": "spring"}),
                           ("win-loss", {"utm_campaign": "x", "source": "event"})):  # fmt: skip
        taken = await tenant.post("/v1/report-schedules", json={**body, "report": report, "params": params})
        assert taken.status_code == 201, taken.text
        assert taken.json()["params"] == params
    refused = await tenant.post("/v1/report-schedules", json={**body, "report": "team", "params": {"source": "fax"}})
    assert_problem(refused, 422, "params.source")
