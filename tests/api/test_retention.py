"""Retention analytics through HTTP on both databases: orders → refresh → RFM segments, churn risk
with reasons → segment and alert events (none on a first snapshot) → rescue task → rescued;
recommendations, cohorts, advocates, upsell, acquisition costs and CLV:CAC."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from uuid import UUID

import httpx
import pytest

from app.db.session import Database
from tests.api.test_analytics import contact_id, order, refresh, settle, sync
from tests.conftest import Tenant, assert_problem, make_tenant
from tests.documented import assert_documented

d = dt.date


def monthly(prefix: str, customer: str, first: dt.date, months: int, total: str = "40.00", **fields: Any) -> list[dict]:  # type: ignore[type-arg]
    days = [first + dt.timedelta(days=30 * k) for k in range(months)]
    return [order(f"{prefix}-{k}", customer, day, total, **fields) for k, day in enumerate(days)]


def lines(*categories: str) -> list[dict[str, Any]]:
    return [{"sku": c.upper(), "name": c, "category": c, "quantity": 1, "unit_price": "20.00"} for c in categories]


async def events_of(tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    return list((await tenant.get("/v1/events", params={"type": kind, "limit": 200})).json()["data"])


async def test_segments_churn_alerts_rescue_and_events(tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000)  # the simple model: churn without P(alive), deterministic
    assert (await tenant.patch("/v1/settings/retention", json={"rescue_tasks": True, "rescue_window_days": 30})
            ).status_code == 200  # fmt: skip
    await sync(tenant, [
        *monthly("gone", "gone", d(2025, 1, 1), 12),            # monthly through 2025-11-27, then nothing
        *monthly("steady", "steady", d(2025, 1, 5), 20),        # monthly until mid-2026
        *monthly("big", "big", d(2025, 2, 1), 19, "300.00"),
        order("once", "once", d(2025, 11, 1), "15.00"),
        order("new", "new", d(2025, 12, 1), "25.00"),
    ])  # fmt: skip
    gone = await contact_id(tenant, "gone")

    await refresh(tenant, database, as_of="2025-12-01")  # the baseline
    assert await events_of(tenant, "customer.segment_changed") == []
    assert await events_of(tenant, "customer.churn_risk_raised") == []
    rfm = (await tenant.get("/v1/analytics/rfm")).json()
    assert rfm["movement"] is None and rfm["previous_snapshot_id"] is None
    assert sum(s["customers"] for s in rfm["segments"]) == rfm["customers"] == 5
    assert sum(s["revenue_share"] for s in rfm["segments"]) == pytest.approx(1.0)
    value = (await tenant.get(f"/v1/contacts/{gone}/value")).json()
    assert value["churn"]["level"] == "low"
    assert value["rfm"]["segment"] in {s["segment"] for s in rfm["segments"]}

    # Nine months later "gone" has not bought: overdue against its 30-day rhythm, inactive, a falling
    # order rate; an open ticket and an overdue invoice on top.
    ticket = {"contact_id": gone, "subject": "Order never arrived", "channel": "email", "priority": "high"}
    assert (await tenant.post("/v1/tickets", json=ticket)).status_code == 201
    invoice = {"contact_id": gone, "number": "INV-1", "amount_due": "90.00", "due_on": "2026-08-01", "status": "open"}
    assert (await tenant.post("/v1/invoices", json=invoice)).status_code == 201, "invoice"
    await refresh(tenant, database, as_of="2026-09-01")
    value = (await tenant.get(f"/v1/contacts/{gone}/value")).json()
    churn = value["churn"]
    assert churn["level"] == "high"
    assert sum(r["contribution"] for r in churn["reasons"]) == pytest.approx(churn["score"])
    factors = {r["factor"] for r in churn["reasons"]}
    assert {"overdue", "inactivity", "support_tickets", "unpaid_invoices"} <= factors
    assert float(churn["clv_at_risk"]) == pytest.approx(float(value["simple"]["clv"]) * churn["score"], abs=0.02)

    [raised] = await events_of(tenant, "customer.churn_risk_raised")
    alert = raised["data"]
    assert alert["contact_id"] == gone and alert["outcome"] is None and alert["window_ends_on"] == "2026-10-01"
    task = (await tenant.get(f"/v1/tasks/{alert['task_id']}")).json()
    assert task["contact_id"] == gone and task["priority"] == "high" and task["status"] == "open"
    # Segment moves: one event per customer whose segment moved, the same as the movement matrix.
    rfm = (await tenant.get("/v1/analytics/rfm")).json()
    assert sum(m["customers"] for m in rfm["movement"]) == 5
    changes = [e["data"] for e in await events_of(tenant, "customer.segment_changed")]
    moves = {(m["from_segment"], m["to_segment"]): m["customers"] for m in rfm["movement"]
             if m["from_segment"] != m["to_segment"]}  # fmt: skip
    assert changes and Counter((c["previous_segment"], c["segment"]) for c in changes) == moves
    mover = (await tenant.get(f"/v1/contacts/{changes[0]['contact_id']}/value")).json()["rfm"]
    assert (mover["segment"], mover["recency_score"]) == (changes[0]["segment"], changes[0]["recency_score"])

    # Lists and saved segments filter on the latest snapshot's segment, churn level and CLV.
    high = (await tenant.get("/v1/contacts", params={"churn_level": "high"})).json()["data"]
    assert gone in {c["id"] for c in high}
    in_segment = (await tenant.get("/v1/contacts", params={"rfm_segment": value["rfm"]["segment"]})).json()["data"]
    assert gone in {c["id"] for c in in_segment}
    assert (await tenant.get("/v1/contacts", params={"clv_min": "99999999"})).json()["data"] == []
    assert_problem(await tenant.get("/v1/contacts", params={"rfm_segment": "vip"}), 422, "rfm_segment")
    saved = await tenant.post("/v1/segments", json={"name": "Save them", "filters": {"churn_level": "high"}})
    assert saved.status_code == 201, saved.text
    assert (await tenant.get(f"/v1/segments/{saved.json()['id']}")).json()["count"] == len(high)

    at_risk = (await tenant.get("/v1/analytics/churn")).json()["data"]
    assert at_risk and at_risk[0]["contact_id"] == gone
    amounts = [float(c["clv_at_risk"]) for c in at_risk]
    assert amounts == sorted(amounts, reverse=True)
    assert all(c["churn_level"] in ("medium", "high") for c in at_risk)
    only_high = (await tenant.get("/v1/analytics/churn", params={"level": "high"})).json()["data"]
    assert {c["contact_id"] for c in only_high} >= {gone}

    # It orders again within the window: rescued. "steady" and "big" last bought on 2026-07-29 and
    # buy every 30 days: 53 days later they are past 1.5 x their rhythm, overdue, and alerted.
    await sync(tenant, [order("gone-back", "gone", d(2026, 9, 10), "60.00")])
    await refresh(tenant, database, as_of="2026-09-20")
    [rescued] = await events_of(tenant, "customer.rescued")
    assert rescued["data"]["id"] == alert["id"] and rescued["data"]["outcome"] == "rescued"
    assert rescued["data"]["resolved_on"] == "2026-09-10"
    raised = [e["data"] for e in await events_of(tenant, "customer.churn_risk_raised")]
    late = {await contact_id(tenant, "steady"), await contact_id(tenant, "big")}
    assert [a["contact_id"] for a in raised].count(gone) == 1
    assert {(a["contact_id"], a["reason"]) for a in raised if a["contact_id"] != gone} == {(c, "overdue") for c in late}


async def test_an_alert_nobody_answers_ends_churned(tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000, churn_medium_threshold=0.2, churn_high_threshold=0.3)
    await sync(tenant, [*monthly("a", "a", d(2025, 1, 1), 12), *monthly("b", "b", d(2025, 1, 3), 20)])
    await refresh(tenant, database, as_of="2025-12-01")
    await refresh(tenant, database, as_of="2026-06-01")
    [raised] = await events_of(tenant, "customer.churn_risk_raised")
    assert raised["data"]["task_id"] is not None  # rescue tasks are on by default
    await refresh(tenant, database, as_of="2026-08-15")  # the 60-day window has passed
    [churned] = await events_of(tenant, "customer.churned")
    assert (
        churned["data"]["outcome"] == "churned" and churned["data"]["resolved_on"] == raised["data"]["window_ends_on"]
    )


async def test_recommendations_advocates_upsell_and_cohorts(tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000)
    interests = {"mappings": {"baking": ["flour", "mugs"]}}
    assert (await tenant.patch("/v1/settings/interest-categories", json=interests)).status_code == 200
    await sync(tenant, [
        order("1", "a", d(2026, 1, 5), "40.00", line_items=lines("tea", "mugs")),
        order("2", "b", d(2026, 1, 9), "40.00", line_items=lines("tea", "mugs")),
        order("3", "c", d(2026, 2, 2), "20.00", line_items=lines("tea")),
        order("4", "c", d(2026, 3, 2), "20.00", line_items=lines("honey")),
        order("5", "d", d(2026, 2, 20), "20.00", line_items=lines("mugs")),
        order("6", "e", d(2026, 3, 1), "40.00", line_items=lines("tea", "honey")),
    ])  # fmt: skip
    buyer = await contact_id(tenant, "d")
    assert (await tenant.patch(f"/v1/contacts/{buyer}", json={"interests": ["baking"]})).status_code == 200
    referrer = await contact_id(tenant, "a")
    for who in ("b", "c"):
        referred = await contact_id(tenant, who)
        patched = await tenant.patch(f"/v1/contacts/{referred}", json={"referred_by_contact_id": referrer})
        assert patched.status_code == 200, patched.text
    await refresh(tenant, database, as_of="2026-03-31")

    # 6 orders: tea in 4, mugs in 3, both in 2 -> mugs->tea confidence 2/3, lift (2/3)/(4/6) = 1.0 (not above 1);
    # honey in 2, with tea in 1 -> honey->tea lift (1/2)/(4/6) = 0.75. tea->mugs: (2/4)/(3/6) = 1.0.
    value = (await tenant.get(f"/v1/contacts/{buyer}/value")).json()
    assert [(r["category"], r["reason"], r["because_of"]) for r in value["recommendations"]] == [
        ("flour", "interest", "baking")
    ]
    # an offer built from them: a template renders a contact's recommendations (a lead has none)
    offer = {"name": "Offer", "channel": "email", "subject": "For you",
             "body_text": 'Picked for you: {{ person.recommendations | join(", ") }}.'
                          "{% for category in person.recommendations %} #{{ category }}{% endfor %}"}  # fmt: skip
    template = await tenant.post("/v1/templates", json=offer)
    assert template.status_code == 201, template.text
    preview = await tenant.post(f"/v1/templates/{template.json()['id']}/preview", json={"contact_id": buyer})
    assert preview.status_code == 200, preview.text
    assert preview.json()["body_text"] == "Picked for you: flour. #flour"
    lead = (await tenant.post("/v1/leads", json={"email": "lead@example.com"})).json()
    preview = await tenant.post(f"/v1/templates/{template.json()['id']}/preview", json={"lead_id": lead["id"]})
    assert preview.json()["body_text"] == "Picked for you: ."
    variables = (await tenant.get("/v1/templates/variables")).json()
    assert "person.recommendations" in str(variables)

    advocates = (await tenant.get("/v1/analytics/advocates")).json()["data"]
    assert advocates[0]["contact_id"] == referrer and advocates[0]["advocacy_score"] > advocates[1]["advocacy_score"]
    upsell = (await tenant.get("/v1/analytics/upsell")).json()["data"]
    assert upsell[0]["contact_id"] == buyer  # the only open recommendation, no value-added deals anywhere

    triangle = (await tenant.get("/v1/analytics/cohorts")).json()["cohorts"]
    by_month = {c["month"]: c for c in triangle}
    assert {m: c["customers"] for m, c in by_month.items()} == {"2026-01": 2, "2026-02": 2, "2026-03": 1}
    february = by_month["2026-02"]["periods"]
    assert [(p["offset"], p["customers"], p["retention"], p["revenue"]) for p in february] == [
        (0, 2, 1.0, "40.00"), (1, 1, 0.5, "20.00"),
    ]  # fmt: skip
    assert len(by_month["2026-01"]["periods"]) == 3

    groups = (await tenant.get("/v1/analytics/clv", params={"group_by": "rfm_segment"})).json()["groups"]
    assert sum(g["count"] for g in groups) == 5


async def test_acquisition_costs_and_clv_cac(tenant: Tenant, other_tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000)
    await sync(tenant, [order("1", "a", d(2026, 1, 5), "100.00", cost="40.00"),
                        order("2", "b", d(2026, 1, 20), "50.00"), order("3", "c", d(2026, 2, 3), "30.00")])  # fmt: skip
    cost = {"channel": "Shopify", "month": "2026-01", "spend": "60.00"}
    created = await tenant.post("/v1/acquisition-costs", json=cost)
    assert created.status_code == 201, created.text
    assert (created.json()["channel"], created.json()["currency"], created.json()["spend"]) == (
        "shopify",
        "USD",
        "60.00",
    )
    assert_problem(await tenant.post("/v1/acquisition-costs", json=cost), 409)
    assert_problem(await tenant.post("/v1/acquisition-costs", json={**cost, "month": "2026-13"}), 422, "month")
    assert_problem(await tenant.post("/v1/acquisition-costs", json={**cost, "spend": "1.001"}), 422, "spend")
    euro = {"channel": "shopify", "month": "2026-02", "spend": "10.00", "currency": "EUR"}
    assert (await tenant.post("/v1/acquisition-costs", json=euro)).status_code == 201
    assert_problem(await other_tenant.get(f"/v1/acquisition-costs/{created.json()['id']}"), 404)

    await refresh(tenant, database, as_of="2026-03-01")
    report = (await tenant.get("/v1/analytics/clv-cac")).json()
    rows = {(r["channel"], r["month"]): r for r in report["rows"]}
    january = rows[("shopify", "2026-01")]
    assert (january["customers"], january["spend"], january["cac"]) == (2, "60.00", "30.00")
    values = [(await tenant.get(f"/v1/contacts/{await contact_id(tenant, c)}/value")).json() for c in ("a", "b")]
    clv_a, clv_b = (float(v["predictive"]["clv"]) for v in values)
    mean_clv = (clv_a + clv_b) / 2
    assert float(january["mean_clv"]) == pytest.approx(mean_clv, abs=0.01)
    # The ratio compares profit with the cost: a's order carries its cost (margin 60 of 100), b's
    # none (the workspace's default margin, 30%). The revenue-based figure keeps its own name.
    mean_margin = (clv_a * 0.6 + clv_b * 0.3) / 2
    assert float(january["mean_clv_margin"]) == pytest.approx(mean_margin, abs=0.01)
    assert january["clv_cac_ratio"] == pytest.approx(mean_margin / 30.0, rel=1e-3)
    assert january["revenue_clv_cac_ratio"] == pytest.approx(mean_clv / 30.0, rel=1e-3)
    assert january["clv_cac_ratio"] < january["revenue_clv_cac_ratio"]
    assert report["unconverted_spend"] == {"EUR": "10.00"}  # no EUR rate yet: left out, said so
    assert rows[("shopify", "2026-02")]["spend"] == "0.00"

    rate = {"currency": "EUR", "rate": "1.10", "effective_on": "2026-02-01"}
    assert (await tenant.post("/v1/exchange-rates", json=rate)).status_code == 201
    by_channel = (await tenant.get("/v1/analytics/clv-cac", params={"group": "channel"})).json()
    [shopify] = [r for r in by_channel["rows"] if r["channel"] == "shopify"]
    assert (shopify["customers"], shopify["spend"], shopify["month"]) == (3, "71.00", None)
    assert by_channel["unconverted_spend"] == {}


async def test_a_contract_customer_is_judged_by_the_contract_not_the_rhythm(tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000)
    await sync(tenant, [*monthly("s", "subscriber", d(2025, 1, 1), 3), *monthly("l", "lapsed", d(2025, 1, 2), 3)])
    subscriber, lapsed = await contact_id(tenant, "subscriber"), await contact_id(tenant, "lapsed")
    renewing = {"contact_id": subscriber, "name": "Tea club", "start_on": "2025-01-01", "end_on": "2026-12-31",
                "renewal_status": "renewed"}  # fmt: skip
    leaving = {"contact_id": lapsed, "name": "Tea club", "start_on": "2025-01-01", "end_on": "2026-10-15",
               "renewal_status": "not_renewing"}  # fmt: skip
    for body in (renewing, leaving):
        assert (await tenant.post("/v1/contracts", json=body)).status_code == 201
    await refresh(tenant, database, as_of="2026-09-01")  # both stopped buying in March 2025

    calm = (await tenant.get(f"/v1/contacts/{subscriber}/value")).json()["churn"]
    assert (calm["score"], calm["level"], calm["reasons"]) == (0.0, "low", [])
    leaving_churn = (await tenant.get(f"/v1/contacts/{lapsed}/value")).json()["churn"]
    assert leaving_churn["level"] == "high"
    assert [r["factor"] for r in leaving_churn["reasons"]] == ["contract"]
    assert leaving_churn["score"] == pytest.approx(0.55 / 0.75)  # contract 0.55 over it + tickets 0.1 + invoices 0.1
    owner_filtered = (await tenant.get("/v1/analytics/churn", params={"owner_id": subscriber})).json()["data"]
    assert owner_filtered == []  # nobody is owned by a contact id


async def alerts_of(tenant: Tenant, key: str | None = None, **params: Any) -> list[dict[str, Any]]:
    response = await tenant.get("/v1/analytics/churn-alerts", params={"limit": 200, **params}, key=key)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return list(response.json()["data"])


async def test_customers_already_at_high_risk_on_a_back_dated_first_snapshot_are_alerted_within_the_cap(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    await settle(tenant, min_repeat_buyers=1000, churn_medium_threshold=0.3, churn_high_threshold=0.5,
                 churn_first_snapshot_alert_cap=2)  # fmt: skip
    # Three monthly buyers who stopped in November 2025, of different value; one who still buys.
    await sync(tenant, [
        *monthly("a", "a", d(2025, 1, 1), 12, "300.00"), *monthly("b", "b", d(2025, 1, 2), 12, "200.00"),
        *monthly("c", "c", d(2025, 1, 3), 12, "100.00"), *monthly("s", "steady", d(2025, 1, 4), 20),
    ])  # fmt: skip
    a, b, c = [await contact_id(tenant, who) for who in ("a", "b", "c")]
    # The workspace's first snapshot, dated in the past: a, b and c are already high.
    await refresh(tenant, database, as_of="2026-09-01")

    listed = await alerts_of(tenant)
    assert {x["contact_id"] for x in listed} == {a, b, c}
    assert all(x["reason"] == "high_risk" and x["churn_level"] == "high" for x in listed)
    assert all(x["raised_on"] == "2026-09-01" and x["status"] == "open" for x in listed)
    # Highest CLV at risk first: a and b are announced (event and rescue task), c is listed only.
    raised = [e["data"] for e in await events_of(tenant, "customer.churn_risk_raised")]
    assert sorted(x["contact_id"] for x in raised) == sorted([a, b])
    announced = {x["contact_id"]: x for x in listed if x["announced"]}
    assert set(announced) == {a, b} and all(x["task_id"] for x in announced.values())
    [quiet] = await alerts_of(tenant, announced="false")
    assert (quiet["contact_id"], quiet["task_id"]) == (c, None)
    snapshot = (await tenant.get("/v1/analytics/model")).json()["snapshot_id"]
    assert all(x["snapshot_id"] == snapshot for x in listed)

    # The list: filters, sorts, pages.
    by_risk = await alerts_of(tenant, sort="-clv_at_risk")
    assert [x["contact_id"] for x in by_risk] == [a, b, c]
    by_page = {"sort": "-clv_at_risk", "limit": 2}
    first = (await tenant.get("/v1/analytics/churn-alerts", params=by_page)).json()
    rest = (await tenant.get("/v1/analytics/churn-alerts", params={**by_page, "cursor": first["next_cursor"]})).json()
    assert [x["contact_id"] for x in first["data"] + rest["data"]] == [a, b, c] and rest["next_cursor"] is None
    assert await alerts_of(tenant, reason="overdue") == []
    assert await alerts_of(tenant, status="rescued") == []
    assert len(await alerts_of(tenant, status="open", raised_after="2026-09-01", raised_before="2026-09-01")) == 3
    assert await alerts_of(tenant, raised_after="2026-09-02") == []
    assert [x["contact_id"] for x in await alerts_of(tenant, contact_id=b)] == [b]
    assert_problem(await tenant.get("/v1/analytics/churn-alerts", params={"status": "closed"}), 422, "status")
    assert_problem(await tenant.get("/v1/analytics/churn-alerts", params={"sort": "contact_id"}), 422, "sort")
    assert_problem(
        await tenant.get("/v1/analytics/churn-alerts", params={"sort": "raised_on", "cursor": first["next_cursor"]}),
        422, "cursor",
    )  # fmt: skip
    assert await alerts_of(other_tenant) == []

    # A later snapshot: still high, but each has an open alert; nothing new, nothing announced.
    await refresh(tenant, database, as_of="2026-09-05")
    assert len(await alerts_of(tenant)) == 3 and len(await events_of(tenant, "customer.churn_risk_raised")) == 2


async def test_a_first_snapshot_under_these_rules_is_capped_in_a_workspace_with_older_snapshots(
    tenant: Tenant, database: Database
) -> None:
    """A workspace whose latest snapshot was computed before alerts followed these rules (it has no
    alert summary) is not flooded by its next refresh: that one counts as a first snapshot."""
    from sqlalchemy import delete, select

    from app.db import tables
    from app.db.unit_of_work import UnitOfWork

    await settle(tenant, min_repeat_buyers=1000, churn_medium_threshold=0.3, churn_high_threshold=0.5,
                 churn_first_snapshot_alert_cap=1)  # fmt: skip
    await sync(tenant, [*monthly("a", "a", d(2025, 1, 1), 12, "300.00"), *monthly("b", "b", d(2025, 1, 2), 12)])
    await refresh(tenant, database, as_of="2025-12-01")
    snapshots, alerts, workspace = tables.analytics_snapshots, tables.churn_alerts, UUID(tenant.id)
    async with UnitOfWork(database) as uow:  # as the snapshot of an older version left it
        [(snapshot_id, insights)] = (
            await uow.execute(select(snapshots.c.id, snapshots.c.insights).where(snapshots.c.workspace_id == workspace))
        ).all()
        insights.pop("alerts")
        await uow.execute(snapshots.update().where(snapshots.c.id == snapshot_id).values(insights=insights))
        await uow.execute(delete(alerts).where(alerts.c.workspace_id == workspace))
        await uow.commit()
    await refresh(tenant, database, as_of="2026-09-01")
    assert [x["announced"] for x in await alerts_of(tenant, sort="-clv_at_risk")] == [True, False]
    assert len(await events_of(tenant, "customer.churn_risk_raised")) == 1


async def test_overdue_customers_are_alerted_and_alerted_again_after_the_cooldown(
    tenant: Tenant, database: Database
) -> None:
    await settle(tenant, min_repeat_buyers=1000)  # the cooldown: 90 days by default
    patched = await tenant.patch("/v1/settings/retention", json={"rescue_window_days": 10})
    assert patched.status_code == 200
    assert (await tenant.patch("/v1/workspace", json={"timezone": "Asia/Tehran"})).status_code == 200
    await sync(tenant, [
        *monthly("l", "late", d(2026, 1, 1), 6),       # every 30 days, last on 2026-05-31
        *monthly("s", "subscriber", d(2026, 1, 2), 6),  # the same rhythm, but on a contract
        order("once", "once", d(2026, 1, 15), "40.00"),  # one purchase: no rhythm of their own
    ])  # fmt: skip
    late, subscriber, once = [await contact_id(tenant, who) for who in ("late", "subscriber", "once")]
    contract = {"contact_id": subscriber, "name": "Tea club", "start_on": "2026-01-01", "end_on": "2027-12-31",
                "renewal_status": "renewed"}  # fmt: skip
    assert (await tenant.post("/v1/contracts", json=contract)).status_code == 201
    await refresh(tenant, database, as_of="2026-07-20")  # 50 days after the last purchase: past 1.5 x 30

    answer = await tenant.get(f"/v1/contacts/{late}/value")
    assert_documented(answer, "/v1/contacts/{contact_id}/value")
    value = answer.json()
    assert value["churn"]["level"] == "low"  # overdue alone cannot reach the threshold
    # The next purchase was expected 30 days after the last, at the start of that day in Tehran.
    assert (value["expected_next_purchase_at"], value["purchase_interval_days"], value["next_purchase_basis"]) == (
        "2026-06-29T20:30:00.000000Z", 30.0, "own_rhythm",
    )  # fmt: skip
    single = (await tenant.get(f"/v1/contacts/{once}/value")).json()  # the workspace's median interval (30)
    assert (single["expected_next_purchase_at"], single["next_purchase_basis"]) == (
        "2026-02-13T20:30:00.000000Z", "workspace_median",
    )  # fmt: skip
    medium = (await tenant.get("/v1/analytics/churn", params={"level": "medium"})).json()["data"]
    assert [(x["contact_id"], x["expected_next_purchase_at"]) for x in medium] == [
        (once, single["expected_next_purchase_at"])
    ]

    # Only "late" is alerted: "subscriber" is judged by its contract, "once" has no rhythm of its own.
    [alert] = await alerts_of(tenant)
    assert (alert["contact_id"], alert["reason"], alert["churn_level"], alert["announced"]) == (
        late, "overdue", "low", True,
    )  # fmt: skip
    assert (alert["days_since_last_purchase"], alert["purchase_interval_days"]) == (50, 30.0)
    assert alert["expected_next_purchase_at"] == value["expected_next_purchase_at"]
    task = (await tenant.get(f"/v1/tasks/{alert['task_id']}")).json()  # rescue tasks are on by default
    assert task["contact_id"] == late and "50 days since the last purchase" in task["notes"]
    [raised] = await events_of(tenant, "customer.churn_risk_raised")
    assert raised["data"]["id"] == alert["id"]

    # Rescued: an order within the window. Its rhythm is now 205 days / 6 = 34.2 days.
    await sync(tenant, [order("l-back", "late", d(2026, 7, 25), "40.00")])
    await refresh(tenant, database, as_of="2026-07-27")
    [rescued] = await events_of(tenant, "customer.rescued")
    assert rescued["data"]["id"] == alert["id"] and rescued["data"]["status"] == "rescued"
    await refresh(tenant, database, as_of="2026-09-20")  # 57 days: overdue again, but 62 days after the alert
    assert len(await alerts_of(tenant)) == 1
    await refresh(tenant, database, as_of="2026-10-20")  # 92 days after the alert: past the cooldown
    again = await alerts_of(tenant, status="open")
    assert [(x["contact_id"], x["reason"], x["raised_on"]) for x in again] == [(late, "overdue", "2026-10-20")]
    assert len(await events_of(tenant, "customer.churn_risk_raised")) == 2

    # Churned: the window passed without an order. Still overdue, but the rescue has run its course:
    # no new alert, even without a cooldown, until the customer buys again.
    await refresh(tenant, database, as_of="2026-11-05")
    [churned] = await events_of(tenant, "customer.churned")
    assert churned["data"]["id"] == again[0]["id"] and churned["data"]["status"] == "churned"
    await settle(tenant, churn_alert_cooldown_days=0)
    await refresh(tenant, database, as_of="2026-11-20")
    assert [x["status"] for x in await alerts_of(tenant)] == ["churned", "rescued"]


async def test_lists_carry_the_contacts_name_and_email_for_keys_that_may_read_contacts(
    tenant: Tenant, database: Database
) -> None:
    await settle(tenant, min_repeat_buyers=1000)
    await sync(tenant, [*monthly("a", "ann", d(2026, 1, 1), 6), *monthly("b", "bob", d(2026, 1, 2), 6)])
    ann, bob = await contact_id(tenant, "ann"), await contact_id(tenant, "bob")
    assert (
        await tenant.patch(f"/v1/contacts/{ann}", json={"first_name": "Ann", "last_name": "Lee"})
    ).status_code == 200
    await refresh(tenant, database, as_of="2026-07-20")  # both overdue: alerted

    both = await tenant.key_with("analytics:read", "contacts:read")
    analytics_only = await tenant.key_with("analytics:read")
    named = {x["contact_id"]: x for x in await alerts_of(tenant, key=both)}
    assert (named[ann]["contact_name"], named[ann]["contact_email"]) == ("Ann Lee", "ann@example.com")
    assert (named[bob]["contact_name"], named[bob]["contact_email"]) == (None, "bob@example.com")  # no name known
    for item in await alerts_of(tenant, key=analytics_only):
        assert "contact_name" not in item and "contact_email" not in item
    for key in (both, analytics_only):  # either way, the answer is the documented one
        assert_documented(await tenant.get("/v1/analytics/churn-alerts", key=key), "/v1/analytics/churn-alerts")
        churn_page = await tenant.get("/v1/analytics/churn", params={"level": "low"}, key=key)
        assert_documented(churn_page, "/v1/analytics/churn")
    churn = (await tenant.get("/v1/analytics/churn", params={"level": "low"}, key=both)).json()["data"]
    assert {(x["contact_id"], x["contact_name"], x["contact_email"]) for x in churn} == {
        (ann, "Ann Lee", "ann@example.com"), (bob, None, "bob@example.com"),
    }  # fmt: skip
    hidden = (await tenant.get("/v1/analytics/churn", params={"level": "low"}, key=analytics_only)).json()["data"]
    assert hidden and all("contact_name" not in x and "contact_email" not in x for x in hidden)
    # The event (read with contacts:read, as every customer.* event) carries them too.
    raised = {e["data"]["contact_id"]: e["data"] for e in await events_of(tenant, "customer.churn_risk_raised")}
    assert raised[ann]["contact_name"] == "Ann Lee"


async def test_replies_count_as_engagement_when_it_falls(tenant: Tenant, database: Database) -> None:
    """A customer who used to answer by SMS and went quiet: engagement fell; one still answering: not."""
    await settle(tenant, min_repeat_buyers=1000)
    today = dt.datetime.now(dt.UTC).date()
    await sync(tenant, [
        *monthly("quiet", "quiet", today - dt.timedelta(days=400), 3),
        *monthly("chatty", "chatty", today - dt.timedelta(days=400), 3),
    ])  # fmt: skip
    quiet, chatty = await contact_id(tenant, "quiet"), await contact_id(tenant, "chatty")
    now = dt.datetime.now(dt.UTC)
    for who, days_ago in [(quiet, 100), (quiet, 120), (quiet, 150), (chatty, 100), (chatty, 130), (chatty, 10),
                          (chatty, 20), (chatty, 30)]:  # fmt: skip
        reply = {"contact_id": who, "type": "sms", "direction": "inbound", "subject": "Reply",
                 "occurred_at": (now - dt.timedelta(days=days_ago)).isoformat()}  # fmt: skip
        assert (await tenant.post("/v1/activities", json=reply)).status_code == 201
    await refresh(tenant, database)
    reasons = {}
    for who in (quiet, chatty):
        churn = (await tenant.get(f"/v1/contacts/{who}/value")).json()["churn"]
        reasons[who] = {r["factor"]: r for r in churn["reasons"]}
    assert reasons[quiet]["falling_engagement"]["value"] == pytest.approx(1.0)  # 3 replies, then none
    assert "falling_engagement" not in reasons[chatty]  # 2, then 3


# -- the workspace's calendar: Jalali cohorts and CLV:CAC months ----------------------------------------

# Esfand 1404 ends on 2026-03-20; 1 Farvardin 1405 (Nowruz) is 2026-03-21, and Farvardin ends on 2026-04-20.
NOWRUZ_ORDERS = [
    order("1", "a", d(2026, 3, 19), "100.00"),  # a: Esfand 1404, again in Farvardin 1405
    order("2", "a", d(2026, 3, 25), "30.00"),
    order("3", "b", d(2026, 3, 22), "50.00"),  # b: Farvardin 1405
]


async def _jalali_shop(database: Database, client: httpx.AsyncClient) -> Tenant:
    shop = await make_tenant(database, client, "Tehran shop", region="IR", timezone="Asia/Tehran")
    assert (await shop.get("/v1/workspace")).json()["calendar"] == "jalali"
    await settle(shop, min_repeat_buyers=1000)
    return shop


def _triangle(report: dict[str, Any]) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    return {
        c["month"]: (c["customers"], [(p["customers"], p["revenue"]) for p in c["periods"]]) for c in report["cohorts"]
    }


async def test_cohorts_follow_the_workspaces_calendar(
    tenant: Tenant, database: Database, client: httpx.AsyncClient
) -> None:
    shop = await _jalali_shop(database, client)
    await settle(tenant, min_repeat_buyers=1000)
    for workspace in (shop, tenant):
        await sync(workspace, NOWRUZ_ORDERS)
        await refresh(workspace, database, as_of="2026-04-10")  # still Farvardin 1405; April 2026

    # Jalali: a's first purchase is in Esfand, b's in Farvardin; a bought again in Farvardin (offset 1).
    # The last month is as_of's Jalali month, Farvardin 1405: Esfand's cohort has two months, Farvardin's one.
    assert _triangle((await shop.get("/v1/analytics/cohorts")).json()) == {
        "1404-12": (1, [(1, "100.00"), (1, "30.00")]),
        "1405-01": (1, [(1, "50.00")]),
    }
    # Gregorian: all three orders in March 2026, one cohort of both; April 2026 is offset 1, empty.
    assert _triangle((await tenant.get("/v1/analytics/cohorts")).json()) == {
        "2026-03": (2, [(2, "180.00"), (0, "0.00")]),
    }

    # A calendar change applies from the next refresh: the stored snapshot keeps its months.
    assert (await tenant.patch("/v1/workspace", json={"calendar": "jalali"})).status_code == 200
    assert set(_triangle((await tenant.get("/v1/analytics/cohorts")).json())) == {"2026-03"}
    await refresh(tenant, database, as_of="2026-04-10")
    assert set(_triangle((await tenant.get("/v1/analytics/cohorts")).json())) == {"1404-12", "1405-01"}


async def test_clv_cac_by_month_shares_a_gregorian_months_cost_among_jalali_months_by_days(
    tenant: Tenant, database: Database, client: httpx.AsyncClient
) -> None:
    shop = await _jalali_shop(database, client)
    await settle(tenant, min_repeat_buyers=1000)
    cost = {"channel": "shopify", "month": "2026-03", "spend": "62.00"}
    for workspace in (shop, tenant):
        await sync(workspace, NOWRUZ_ORDERS)
        assert (await workspace.post("/v1/acquisition-costs", json=cost)).status_code == 201
        await refresh(workspace, database, as_of="2026-04-10")

    # March 2026 has 31 days: 1-20 are Esfand 1404 (20/31 of 62.00 = 40.00), 21-31 Farvardin 1405
    # (11/31 = 22.00). a was acquired in Esfand, b in Farvardin.
    report = (await shop.get("/v1/analytics/clv-cac")).json()
    rows = {(r["channel"], r["month"]): (r["customers"], r["spend"], r["cac"]) for r in report["rows"]}
    assert rows == {("shopify", "1404-12"): (1, "40.00", "40.00"), ("shopify", "1405-01"): (1, "22.00", "22.00")}
    by_month = (await shop.get("/v1/analytics/clv-cac", params={"group": "month"})).json()["rows"]
    assert [(r["month"], r["customers"], r["spend"]) for r in by_month] == [
        ("1404-12", 1, "40.00"),
        ("1405-01", 1, "22.00"),
    ]
    by_channel = (await shop.get("/v1/analytics/clv-cac", params={"group": "channel"})).json()["rows"]
    assert [(r["channel"], r["month"], r["customers"], r["spend"]) for r in by_channel] == [
        ("shopify", None, 2, "62.00")
    ]

    # The same orders and cost in a Gregorian workspace: one month, the whole spend.
    gregorian = (await tenant.get("/v1/analytics/clv-cac", params={"group": "month"})).json()["rows"]
    assert [(r["month"], r["customers"], r["spend"], r["cac"]) for r in gregorian] == [("2026-03", 2, "62.00", "31.00")]
