# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""Campaigns sent, through HTTP on both databases: launch refused until approved, the audience
frozen and split by a recorded seed (reproducibly, in exact shares), a real worker sending through
a real SMTP server (links tagged, the blocked counted by reason, `sent` at the end), a pilot whose
unsubscribes pause the campaign until a person resumes it, and the report's attribution window,
revenue and uplift against the holdout."""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
from sqlalchemy import func, select

from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.campaigns import sending as plan
from tests.conftest import Tenant, assert_problem
from tests.integration.test_email_messages import (  # noqa: F401
    _async,
    _path,
    app,
    client,
    running_worker,
    setup,
    tenant,
    until,
)
from tests.smtp_server import SmtpServer


async def reviewer(tenant: Tenant, name: str) -> str:
    body = {"name": name, "email": f"{name.lower()}-{uuid.uuid4().hex[:6]}@x.io"}
    created = await tenant.post("/v1/members", json=body)
    assert created.status_code == 201, created.text
    return await tenant.key_with("campaigns:review", member_id=created.json()["id"])


async def template(tenant: Tenant, name: str, link: str = "https://shop.example/spring") -> str:
    body = {
        "name": name,
        "channel": "email",
        "subject": f"{name}: spring sale",
        "body_text": f"Hello {{{{ person.first_name }}}}, see {link}.",
        "body_html": f'<p>Hello {{{{ person.first_name }}}}</p><a href="{link}">Spring</a>',
    }
    created = await tenant.post("/v1/templates", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def approved(tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """A campaign created, submitted and approved (this workspace needs one approval)."""
    settings = await tenant.patch("/v1/settings/campaigns", json={"required_approvals": 1})
    assert settings.status_code == 200, settings.text
    created = await tenant.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    early = await tenant.post(f"/v1/campaigns/{campaign_id}/launch")
    assert "submission for review" in assert_problem(early, 409)["detail"]
    assert (await tenant.post(f"/v1/campaigns/{campaign_id}/submit")).status_code == 200
    in_review = await tenant.post(f"/v1/campaigns/{campaign_id}/launch")
    assert "1 more approval" in assert_problem(in_review, 409)["detail"]
    answer = await tenant.post(
        f"/v1/campaigns/{campaign_id}/reviews", json={"decision": "approve"}, key=await reviewer(tenant, "Reza")
    )
    assert answer.json()["status"] == "approved", answer.text
    return dict(answer.json())


async def launch(tenant: Tenant, campaign: dict[str, Any]) -> dict[str, Any]:
    launched = await tenant.post(f"/v1/campaigns/{campaign['id']}/launch")
    assert launched.status_code == 200, launched.text
    again = await tenant.post(f"/v1/campaigns/{campaign['id']}/launch")
    assert "launched already" in assert_problem(again, 409)["detail"]
    return dict(launched.json())


async def status(tenant: Tenant, campaign_id: str, *wanted: str, timeout: float = 30.0) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        got = (await tenant.get(f"/v1/campaigns/{campaign_id}")).json()
        return dict(got) if got["status"] in wanted else None

    result: dict[str, Any] = await until(check, timeout)
    return result


async def recipients(database: Database, campaign_id: str) -> dict[UUID, dict[str, Any]]:
    r = tables.campaign_recipients
    async with UnitOfWork(database) as uow:
        rows = (await uow.execute(select(r).where(r.c.campaign_id == UUID(campaign_id)))).mappings().all()
    return {row["person_id"]: dict(row) for row in rows}


async def leads(tenant: Tenant, count: int, *, tag: str, consent: bool = True) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 500):
        items = [
            {"first_name": f"P{i}", "email": f"{tag}-{i}-{uuid.uuid4().hex[:6]}@example.com", "tags": [tag]}
            for i in range(start, min(count, start + 500))
        ]
        answer = await tenant.post("/v1/leads/batch", json={"leads": items})
        assert answer.status_code == 200, answer.text
        ids += [r["id"] for r in answer.json()["results"]]
    if consent:
        for lead_id in ids:
            answer = await tenant.request(
                "PUT", f"/v1/leads/{lead_id}/consents/email", json={"status": "opted_in", "source": "api"}
            )
            assert answer.status_code == 200, answer.text
    return ids


def counts(campaign: dict[str, Any]) -> dict[str, Any]:
    """A campaign's progress, without when it was counted."""
    return {k: v for k, v in campaign["progress"].items() if k != "counted_at"}


def to_leads(tag: str) -> dict[str, Any]:
    return {"type": "leads", "conditions": {"field": "tags", "op": "contains", "value": tag}}


async def test_a_large_audience_is_split_by_its_seed_in_exact_shares(database: Database, tenant: Tenant) -> None:
    people = await leads(tenant, 1000, tag="bulk", consent=False)
    await leads(tenant, 3, tag="other", consent=False)  # not in the audience
    a, b = await template(tenant, "A"), await template(tenant, "B")
    body = {
        "name": "Spring sale", "channel": "email", "audience": to_leads("bulk"), "holdout_percent": 10,
        "variants": [{"name": "a", "template_id": a, "weight": 1}, {"name": "b", "template_id": b, "weight": 1}],
        "pilot": {"percent": 10, "wait_hours": 1},
        "send_at": {"at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    }  # fmt: skip
    launched = await launch(tenant, await approved(tenant, body))
    assert launched["status"] == "scheduled" and isinstance(launched["seed"], int)
    assert counts(launched) == {"recipients": 1000, "holdout": 100, "pending": 900, "queued": 0, "sent": 0,
                                "blocked": 0, "failed": 0}  # fmt: skip
    stored = await recipients(database, launched["id"])
    assert set(stored) == {UUID(p) for p in people}
    arms = {arm: [p for p, r in stored.items() if r["arm"] == arm] for arm in ("holdout", "a", "b")}
    assert {arm: len(ids) for arm, ids in arms.items()} == {"holdout": 100, "a": 450, "b": 450}
    pilot = [p for p, r in stored.items() if r["pilot"]]
    assert len(pilot) == 90 and not any(stored[p]["arm"] == "holdout" for p in pilot)
    # the pilot is drawn across variants alike: each share within 4 standard deviations of 45
    in_a = sum(1 for p in pilot if stored[p]["arm"] == "a")
    assert abs(in_a - 45) <= 4 * math.sqrt(90 * 0.25)
    # not the first ids, nor every tenth: a random tenth
    ordered = sorted(stored)
    assert set(arms["holdout"]) != set(ordered[:100])
    assert 0 < sum(1 for p in ordered[:500] if stored[p]["arm"] == "holdout") < 100
    # reproducible: the recorded seed and the frozen audience give back every arm and pilot flag
    again = plan.assign(launched["seed"], list(reversed(ordered)), holdout_percent=10,
                        variants=[("a", 1), ("b", 1)], pilot={"percent": 10})  # fmt: skip
    assert {x.person_id: (x.arm, x.pilot) for x in again} == {p: (r["arm"], r["pilot"]) for p, r in stored.items()}
    other = plan.assign(launched["seed"] + 1, ordered, holdout_percent=10, variants=[("a", 1), ("b", 1)], pilot=None)
    overlap = len({x.person_id for x in other if x.arm == "holdout"} & set(arms["holdout"]))
    assert overlap < 40  # another seed draws another holdout (about 10 in common by chance)
    # frozen: a lead tagged later is not in it; editing a launched campaign is refused
    await leads(tenant, 1, tag="bulk", consent=False)
    assert len(await recipients(database, launched["id"])) == 1000
    assert_problem(await tenant.patch(f"/v1/campaigns/{launched['id']}", json={"name": "Renamed"}), 409)
    listed = (await tenant.get("/v1/campaigns", params={"status": "scheduled"})).json()["data"]
    assert [c["progress"]["recipients"] for c in listed if c["id"] == launched["id"]] == [1000]
    cancelled = await tenant.post(f"/v1/campaigns/{launched['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["progress"]["pending"] == 0


async def test_a_campaign_is_sent_through_the_worker_with_its_links_tagged(database: Database, tenant: Tenant) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        # The links as tagged (tracking would send them through /t/c/, which redirects to the same)
        assert (await tenant.patch("/v1/settings/messaging", json={"tracking": False})).status_code == 200
        opted_in = await leads(tenant, 4, tag="fair")
        [no_consent] = await leads(tenant, 1, tag="fair", consent=False)
        a, b = await template(tenant, "A"), await template(tenant, "B", "https://shop.example/spring?ref=mail")
        body = {
            "name": "Spring Sale 2027!", "channel": "email", "audience": to_leads("fair"),
            "variants": [{"name": "a", "template_id": a, "weight": 1}, {"name": "b", "template_id": b, "weight": 1}],
        }  # fmt: skip
        campaign = await approved(tenant, body)
        async with running_worker(database):
            launched = await launch(tenant, campaign)
            assert launched["status"] == "sending"
            done = await status(tenant, campaign["id"], "sent")
        stored = await recipients(database, campaign["id"])
    assert counts(done) == {"recipients": 5, "holdout": 0, "pending": 0, "queued": 0, "sent": 4, "blocked": 1,
                            "failed": 0}  # fmt: skip
    assert done["finished_at"] is not None
    received = {r.message["To"]: r.message for r in smtp.received}
    assert len(smtp.received) == 4 and len(received) == 4  # each once
    by_email = {(await tenant.get(f"/v1/leads/{p}")).json()["email"]: UUID(p) for p in opted_in}
    assert set(received) == set(by_email)
    for address, email in received.items():
        arm = stored[by_email[address]]["arm"]
        text = email.get_body(("plain",)).get_content()
        [link] = re.findall(r"https://shop\.example/spring\S*(?=\.)", text)
        query = parse_qs(urlsplit(link).query)
        assert query["utm_campaign"] == ["spring-sale-2027"] and query["utm_content"] == [arm]
        assert query["utm_source"] == ["crm"] and query["utm_medium"] == ["email"]
        if arm == "b":
            assert query["ref"] == ["mail"]  # the link's own parameters kept
        assert email["Subject"] == f"{arm.upper()}: spring sale"
    assert stored[UUID(no_consent)]["block_reason"] == "no_consent"
    report = (await tenant.get(f"/v1/campaigns/{campaign['id']}/report")).json()
    arms = {v["name"]: v for v in report["variants"]}
    assert sum(v["sent"] for v in arms.values()) == 4 and report["holdout"] is None
    assert sum(v["recipients"] for v in arms.values()) == 5
    assert sum(v["blocked"].get("no_consent", 0) for v in arms.values()) == 1
    events = (await tenant.get("/v1/events", params={"resource_id": campaign["id"], "limit": 50})).json()["data"]
    kinds = [e["type"] for e in events]
    assert kinds.count("campaign.launched") == 1 and kinds.count("campaign.sent") == 1

    # a delivery report after the campaign was sent (an SMS provider's "failed" comes minutes
    # later): its progress is counted again, as a new version
    from app.domain.outreach.vocabulary import MessageStatus
    from app.services.campaigns import sending
    from app.services.context import SERVICE_SCOPES, SYSTEM, Context
    from app.services.outreach import inbound

    late = stored[by_email[sorted(received)[0]]]["message_id"]
    async with UnitOfWork(database) as uow:
        ctx = Context(uow, UUID(tenant.id), SYSTEM, datetime.now(UTC), scopes=SERVICE_SCOPES)
        await inbound._reported(ctx, await ctx.messages.get(late), MessageStatus.FAILED, "a late report")
        await uow.commit()
    await asyncio.sleep(2.1)  # counted at most every 2 s
    await sending.advance_due(database, datetime.now(UTC))
    recounted = (await tenant.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert (recounted["progress"]["sent"], recounted["progress"]["failed"]) == (3, 1)
    assert recounted["version"] > done["version"] and recounted["status"] == "sent"


async def test_a_pilot_with_an_unsubscribe_spike_pauses_until_resumed(
    database: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        await leads(tenant, 10, tag="pilot")
        body = {
            "name": "Pilot", "channel": "email", "audience": to_leads("pilot"),
            "variants": [{"name": "a", "template_id": await template(tenant, "A"), "weight": 1}],
            "pilot": {"count": 4, "wait_hours": 1, "auto_pause": {"max_unsubscribe_rate": 0.25}},
        }  # fmt: skip
        campaign = await approved(tenant, body)
        async with running_worker(database):
            launched = await launch(tenant, campaign)
            assert launched["status"] == "piloting" and launched["rest_due_at"] is not None
            await until(lambda: _async(len(smtp.received) == 4))
            # two of four pilot recipients unsubscribe: 0.5 > 0.25
            for received in smtp.received[:2]:
                unsubscribe_url = re.findall(r"<([^>]+)>", received.message["List-Unsubscribe"])[0]
                answer = await client.post(_path(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
                assert answer.status_code == 200
            paused = await status(tenant, campaign["id"], "paused")
            reason = paused["pause_reason"]
            assert reason["reason"] == "pilot_unsubscribe_rate" and reason["pilot_sent"] == 4
            assert (reason["unsubscribed"], reason["unsubscribe_rate"]) == (2, 0.5)
            assert paused["progress"]["pending"] == 6
            await asyncio.sleep(1.0)
            assert len(smtp.received) == 4  # the rest waits for a person
            resumed = await tenant.post(f"/v1/campaigns/{campaign['id']}/resume")
            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["status"] == "sending"
            await status(tenant, campaign["id"], "sent")
        assert len(smtp.received) == 10 and len({r.message["To"] for r in smtp.received}) == 10
    paused_events = (await tenant.get("/v1/events", params={"type": "campaign.paused"})).json()["data"]
    assert [e["data"]["pause_reason"]["unsubscribed"] for e in paused_events] == [2]
    report = (await tenant.get(f"/v1/campaigns/{campaign['id']}/report")).json()
    assert report["variants"][0]["unsubscribed"] == 2 and report["variants"][0]["sent"] == 10
    assert_problem(await tenant.post(f"/v1/campaigns/{campaign['id']}/pause"), 409)  # sent: nothing to pause


def order(external_id: str, email: str, placed_at: datetime, total: str = "50.00") -> dict[str, Any]:
    at = placed_at.isoformat()
    return {"source": "shop", "external_id": external_id, "status": "paid", "currency": "USD", "total": total,
            "placed_at": at, "source_updated_at": at, "customer": {"external_id": email, "email": email},
            "line_items": [{"sku": "S-1", "name": "Shirt", "quantity": 1, "unit_price": total}]}  # fmt: skip


async def test_attribution_window_revenue_and_uplift_against_the_holdout(database: Database, tenant: Tenant) -> None:
    emails = [f"c{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(36)]
    old = datetime(2025, 1, 1, tzinfo=UTC)
    synced = await tenant.post("/v1/orders/batch", json={"orders": [order(f"old-{e}", e, old) for e in emails]})
    assert synced.status_code == 200, synced.text
    newcomers = [f"n{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(6)]
    for email in newcomers:  # contacts with no order yet: their first one makes them new customers
        assert (await tenant.post("/v1/contacts", json={"email": email})).status_code == 201, email
    body = {
        "name": "Winback", "channel": "email", "audience": {"type": "contacts"}, "holdout_percent": 50,
        "variants": [{"name": "a", "template_id": await template(tenant, "A"), "weight": 1}],
        "goal": {"event": "order.created"}, "attribution_days": 7, "cost": {"amount": "100.00", "currency": "USD"},
    }  # fmt: skip
    launched = await launch(tenant, await approved(tenant, body))  # no worker: nothing sent, windows open at launch
    start = datetime.fromisoformat(launched["starts_at"])
    stored = await recipients(database, launched["id"])
    listed = (await tenant.get("/v1/contacts", params={"limit": 100})).json()["data"]
    contacts = {UUID(c["id"]): c["email"] for c in listed}
    treated = sorted(p for p, r in stored.items() if r["arm"] == "a")
    held = sorted(p for p, r in stored.items() if r["arm"] == "holdout")
    assert (len(treated), len(held)) == (21, 21)
    treated_new = [p for p in treated if contacts[p] in newcomers]
    treated_old = [p for p in treated if contacts[p] not in newcomers]
    converting = treated_new + treated_old[: 6 - len(treated_new)]  # six treated buy within the window
    late = treated_old[6 - len(treated_new)]  # one buys a day after it closed
    held_buying = [p for p in held if contacts[p] not in newcomers][:2]
    inside, after = start + timedelta(days=2), start + timedelta(days=8)
    orders = [order(f"in-{p}", contacts[p], inside) for p in [*converting, *held_buying]]
    orders += [order(f"late-{late}", contacts[late], after, "70.00")]
    orders += [order(f"second-{converting[0]}", contacts[converting[0]], inside + timedelta(hours=1), "25.50")]
    assert (await tenant.post("/v1/orders/batch", json={"orders": orders})).status_code == 200

    report = (await tenant.get(f"/v1/campaigns/{launched['id']}/report")).json()
    [a] = report["variants"]
    holdout = report["holdout"]
    assert (a["recipients"], a["conversions"], holdout["recipients"], holdout["conversions"]) == (21, 6, 21, 2)
    assert a["revenue"] == {"amount": "325.50", "currency": "USD"}  # 6 x 50.00 + 25.50; not the late 70.00
    assert holdout["revenue"] == {"amount": "100.00", "currency": "USD"}
    # by hand: p1 = 6/21, p0 = 2/21; Wald: (p1 - p0) +- 1.959964 * sqrt(p1(1-p1)/21 + p0(1-p0)/21)
    p1, p0 = 6 / 21, 2 / 21
    half = 1.959964 * math.sqrt(p1 * (1 - p1) / 21 + p0 * (1 - p0) / 21)
    uplift = a["uplift"]
    assert math.isclose(uplift["absolute"], 4 / 21, rel_tol=1e-9)
    assert math.isclose(uplift["absolute_interval"][0], 4 / 21 - half, abs_tol=1e-6)
    assert math.isclose(uplift["absolute_interval"][1], 4 / 21 + half, abs_tol=1e-6)
    assert math.isclose(uplift["relative"], 2.0, rel_tol=1e-9)  # three times the holdout's rate
    assert report["conversions"] == 6 and report["cost_per_conversion"] == {"amount": "16.67", "currency": "USD"}
    assert report["new_customers"] == len(treated_new)
    if treated_new:
        assert report["cac"] is not None
    assert report["comparison"] is None  # one variant: nothing to compare

    # the campaign's acquisition against its cost, beside the channels' (a snapshot as of today:
    # the new customers' orders in the window are still to come, so no CLV yet, only CAC)
    from tests.api.test_analytics import refresh

    await refresh(tenant, database)
    by_campaign = (await tenant.get("/v1/analytics/clv-cac", params={"group": "campaign"})).json()
    [row] = [r for r in by_campaign["rows"] if r["campaign_id"] == launched["id"]]
    assert (row["campaign"], row["customers"], row["spend"]) == ("Winback", len(treated_new), "100.00")
    assert row["cac"] == (f"{100 / len(treated_new):.2f}" if treated_new else None)
    assert row["mean_clv"] is None  # the snapshot does not know them yet: no CLV to weigh, only their cost
    analyst = await tenant.key_with("analytics:read")
    assert_problem(await tenant.get("/v1/analytics/clv-cac", params={"group": "campaign"}, key=analyst), 403)


async def test_scopes_and_tenancy_of_sending_routes(tenant: Tenant, other_tenant: Tenant) -> None:
    body = {"name": "x", "channel": "email", "audience": {"type": "contacts"},
            "variants": [{"name": "a", "template_id": await template(tenant, "A"), "weight": 1}]}  # fmt: skip
    campaign = await approved(tenant, body)
    for path in ("launch", "pause", "resume"):
        assert_problem(await other_tenant.post(f"/v1/campaigns/{campaign['id']}/{path}"), 404)
    assert_problem(await other_tenant.get(f"/v1/campaigns/{campaign['id']}/report"), 404)
    reader = await tenant.key_with("campaigns:read")
    assert_problem(await tenant.post(f"/v1/campaigns/{campaign['id']}/launch", key=reader), 403)
    assert (await tenant.get(f"/v1/campaigns/{campaign['id']}/report", key=reader)).status_code == 200
    assert_problem(await tenant.post(f"/v1/campaigns/{campaign['id']}/pause"), 409)  # not launched
    assert_problem(await tenant.post(f"/v1/campaigns/{campaign['id']}/resume"), 409)


async def test_the_rest_goes_with_the_pilots_significant_winner(database: Database, tenant: Tenant) -> None:
    from app.services.campaigns import sending

    async def advance() -> None:
        for _ in range(20):
            if not await sending.advance_due(database, datetime.now(UTC)):
                return

    assert (await tenant.patch("/v1/settings/campaigns", json={"min_sample": 10})).status_code == 200
    await leads(tenant, 60, tag="winner", consent=False)  # no channel either: their messages are blocked
    a, b = await template(tenant, "A"), await template(tenant, "B")
    body = {
        "name": "Winner", "channel": "email", "audience": to_leads("winner"), "goal": {"engagement": "meeting_booked"},
        "variants": [{"name": "a", "template_id": a, "weight": 1}, {"name": "b", "template_id": b, "weight": 1}],
        "pilot": {"count": 40, "wait_hours": 1, "winner_only": True},
    }  # fmt: skip
    launched = await launch(tenant, await approved(tenant, body))
    await advance()
    stored = await recipients(database, launched["id"])
    pilot_b = [p for p, r in stored.items() if r["pilot"] and r["arm"] == "b"]
    assert all(r["status"] == "messaged" for r in stored.values() if r["pilot"])
    assert all(r["status"] == "pending" for r in stored.values() if not r["pilot"])
    for person in pilot_b[:12]:  # 12 of b's pilot book a meeting, none of a's
        booked = await tenant.post(f"/v1/leads/{person}/engagements", json={"type": "meeting_booked"})
        assert booked.status_code == 201, booked.text
    async with UnitOfWork(database) as uow:  # the pilot's wait, over
        c = tables.campaigns
        await uow.execute(c.update().where(c.c.id == UUID(launched["id"])).values(rest_due_at=datetime.now(UTC)))
        await uow.commit()
    await advance()
    done = (await tenant.get(f"/v1/campaigns/{launched['id']}")).json()
    assert done["winner"] == "b" and done["status"] == "sent", done
    stored = await recipients(database, launched["id"])
    assert {r["arm"] for r in stored.values() if not r["pilot"]} == {"b"}  # the rest got b
    report = (await tenant.get(f"/v1/campaigns/{launched['id']}/report")).json()
    assert {v["name"]: v["conversions"] for v in report["variants"]} == {"a": 0, "b": 12}


async def test_concurrent_passes_and_launches_message_each_recipient_once(database: Database, tenant: Tenant) -> None:
    from app.services.campaigns import sending

    await leads(tenant, 300, tag="race", consent=False)  # no channel: messages blocked, but stored, one each
    body = {"name": "Race", "channel": "email", "audience": to_leads("race"),
            "variants": [{"name": "a", "template_id": await template(tenant, "A"), "weight": 1}]}  # fmt: skip
    campaign = await approved(tenant, body)
    both = await asyncio.gather(*(tenant.post(f"/v1/campaigns/{campaign['id']}/launch") for _ in range(2)))
    assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
    for _ in range(5):  # two workers' passes at once, again and again
        await asyncio.gather(*(sending.advance_due(database, datetime.now(UTC)) for _ in range(2)))
    m = tables.messages
    async with UnitOfWork(database) as uow:
        counted = (await uow.execute(
            select(m.c.lead_id, func.count()).where(m.c.campaign_id == UUID(campaign["id"])).group_by(m.c.lead_id)
        )).all()  # fmt: skip
    assert len(counted) == 300 and {n for _, n in counted} == {1}
    done = (await tenant.get(f"/v1/campaigns/{campaign['id']}")).json()
    assert done["status"] == "sent" and done["progress"]["blocked"] == 300


async def test_definitions_the_report_could_not_count_are_refused(tenant: Tenant) -> None:
    a = await template(tenant, "A")
    variants = [{"name": "Holdout", "template_id": a, "weight": 1}]
    holdout = await tenant.post("/v1/campaigns", json={"name": "x", "channel": "email", "variants": variants})
    assert_problem(holdout, 422, "variants.0.name")
    body = {"name": "x", "channel": "email", "audience": {"type": "contacts"}, "goal": {"event": "lead.qualified"}}
    assert_problem(await tenant.post("/v1/campaigns", json=body), 422, "goal.event")
    body["goal"] = {"event": "order.paid"}  # about an order, not a person
    assert_problem(await tenant.post("/v1/campaigns", json=body), 422, "goal.event")
    body["goal"] = {"event": "order.created"}
    assert (await tenant.post("/v1/campaigns", json=body)).status_code == 201
