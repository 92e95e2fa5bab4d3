"""Referrals by customers through HTTP on both databases: a referred lead scores as a referral, its
referrer is credited once when it converts (qualification or its person's first purchase), the
optional reward lands once on the referrer's ledger, and advocacy counts rewards given, so
redeeming points never lowers it. On PostgreSQL, concurrent order syncs, qualifications and
corrections of the same person convert the referral once and never undo a referrer named meanwhile."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from app.db.session import Database
from app.services.customers import records, relationships
from app.services.customers import shop_customers as customers
from tests.api.test_analytics import contact_id, order, refresh, settle, sync
from tests.conftest import Tenant, assert_problem


async def created(tenant: Tenant, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await tenant.post(url, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def contact(tenant: Tenant, contact_id: str) -> dict[str, Any]:
    return dict((await tenant.get(f"/v1/contacts/{contact_id}")).json())


async def conversions(tenant: Tenant) -> list[dict[str, Any]]:
    params = {"type": "contact.referral_converted", "limit": 200, "sort": "id"}
    response = await tenant.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    return [e["data"] for e in response.json()["data"]]


async def ledger(tenant: Tenant, contact_id: str) -> list[dict[str, Any]]:
    return list((await tenant.get(f"/v1/contacts/{contact_id}/loyalty", params={"limit": 200})).json()["data"])


async def test_a_referred_leads_referrer_is_credited_once_when_it_converts(tenant: Tenant) -> None:
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    assert (await tenant.patch("/v1/settings/retention", json={"referral_reward_points": 50})).status_code == 200

    # A lead a customer referred is a referral lead: the default `referral` fit rule counts it.
    friend = await created(tenant, "/v1/leads", {"email": "friend@example.com", "referred_by_contact_id": sara["id"]})
    plain = await created(tenant, "/v1/leads", {"email": "stranger@example.com"})
    assert friend["fit_score"] - plain["fit_score"] == 25
    score = (await tenant.get(f"/v1/leads/{friend['id']}/score")).json()
    assert "referred by someone we know" in {line["label"] for line in score["lines"]}
    # Naming the referrer later rescores the lead in the same change.
    named = await tenant.patch(f"/v1/leads/{plain['id']}", json={"referred_by_contact_id": sara["id"]})
    assert named.json()["fit_score"] == friend["fit_score"]
    # Not converted yet: not counted.
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 0

    # Qualification converts it: the contact carries the referrer, the referrer counts it once.
    qualified = await tenant.post(f"/v1/leads/{friend['id']}/qualify", json={})
    assert qualified.status_code == 200, qualified.text
    person = qualified.json()["contact_id"]
    assert (await contact(tenant, person))["referred_by_contact_id"] == sara["id"]
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 1
    assert await conversions(tenant) == [{
        "referrer_contact_id": sara["id"], "referred_contact_id": person, "lead_id": friend["id"],
        "converted_by": "qualification", "order_id": None,
    }]  # fmt: skip
    assert await ledger(tenant, sara["id"]) == []  # the reward waits for a purchase

    # Then the person buys: the referrer is rewarded once, not counted a second time.
    first = order("1001", "friend", dt.date(2026, 5, 2), "80.00")
    await sync(tenant, [first, order("1002", "friend", dt.date(2026, 5, 9), "20.00")])
    await sync(tenant, [order("1003", "friend", dt.date(2026, 6, 1), "20.00")])
    assert await contact_id(tenant, "friend") == person
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 1
    assert len(await conversions(tenant)) == 1
    [reward] = await ledger(tenant, sara["id"])
    assert (reward["kind"], reward["points"], reward["reference"]) == ("earn", 50, f"referral:{person}")
    assert reward["order_id"] is not None
    assert (await contact(tenant, sara["id"]))["loyalty_points"] == 50
    # The reward's reference is recorded once: the shop sending the same reference gets that entry.
    again = await tenant.post(f"/v1/contacts/{sara['id']}/loyalty",
                              json={"kind": "earn", "points": 50, "reference": f"referral:{person}"})  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == reward["id"]


async def test_a_first_purchase_converts_a_referred_lead(tenant: Tenant) -> None:
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    ali = await created(tenant, "/v1/contacts", {"first_name": "Ali", "email": "ali@x.io"})
    lead = await created(tenant, "/v1/leads", {"email": "reza@example.com", "referred_by_contact_id": sara["id"]})
    later = await created(tenant, "/v1/leads", {"email": "reza2@example.com", "referred_by_contact_id": ali["id"]})

    # The rewards are off by default: the conversion is counted, nothing is credited.
    await sync(tenant, [order("2001", "reza", dt.date(2026, 5, 2), "40.00")])
    reza = await contact_id(tenant, "reza")
    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["status"] == "qualified"
    assert (await contact(tenant, reza))["referred_by_contact_id"] == sara["id"]
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 1
    [converted] = await conversions(tenant)
    assert converted["converted_by"] == "first_order" and converted["lead_id"] == lead["id"]
    assert (converted["referrer_contact_id"], converted["referred_contact_id"]) == (sara["id"], reza)
    orders = (await tenant.get("/v1/orders", params={"contact_id": reza})).json()["data"]
    assert converted["order_id"] == orders[0]["id"]
    assert await ledger(tenant, sara["id"]) == []

    # A contact keeps the referrer it names: qualifying another lead of the person into it does
    # not move the referral, and nobody is counted twice.
    qualified = await tenant.post(f"/v1/leads/{later['id']}/qualify", json={"contact_id": reza})
    assert qualified.status_code == 200, qualified.text
    assert (await contact(tenant, reza))["referred_by_contact_id"] == sara["id"]
    assert [(await contact(tenant, c["id"]))["referrals_count"] for c in (sara, ali)] == [1, 0]
    assert len(await conversions(tenant)) == 1


async def test_a_lead_referred_by_the_contact_it_becomes_is_no_referral(tenant: Tenant) -> None:
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    lead = await created(tenant, "/v1/leads", {"email": "sara+work@x.io", "referred_by_contact_id": sara["id"]})
    qualified = await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"contact_id": sara["id"]})
    assert qualified.status_code == 200, qualified.text
    assert (await contact(tenant, sara["id"]))["referred_by_contact_id"] is None
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 0 and await conversions(tenant) == []


async def test_a_contact_recorded_with_its_referrer_converts_once(tenant: Tenant) -> None:
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    ali = await created(tenant, "/v1/contacts", {"first_name": "Ali", "email": "ali@x.io"})
    referred = {"first_name": "Mina", "email": "mina@x.io", "referred_by_contact_id": sara["id"]}
    mina = await created(tenant, "/v1/contacts", referred)
    assert [(c["converted_by"], c["referred_contact_id"], c["lead_id"]) for c in await conversions(tenant)] == [
        ("contact", mina["id"], None)
    ]
    # A correction of who referred moves the count and announces no second conversion.
    moved = await tenant.patch(f"/v1/contacts/{mina['id']}", json={"referred_by_contact_id": ali["id"]})
    assert moved.status_code == 200, moved.text
    assert [(await contact(tenant, c["id"]))["referrals_count"] for c in (sara, ali)] == [0, 1]
    assert len(await conversions(tenant)) == 1


async def test_the_reward_setting_is_bounded_and_off_by_default(tenant: Tenant) -> None:
    settings = (await tenant.get("/v1/settings/retention")).json()
    assert settings["referral_reward_points"] is None
    assert_problem(await tenant.patch("/v1/settings/retention", json={"referral_reward_points": -1}), 422,
                   "referral_reward_points")  # fmt: skip
    assert_problem(await tenant.patch("/v1/settings/retention", json={"referral_reward_points": 1_000_001}), 422,
                   "referral_reward_points")  # fmt: skip
    off = await tenant.patch("/v1/settings/retention", json={"referral_reward_points": 0})
    assert off.status_code == 200 and off.json()["referral_reward_points"] == 0


async def test_redeeming_points_does_not_lower_advocacy(tenant: Tenant, database: Database) -> None:
    await settle(tenant, min_repeat_buyers=1000)
    d = dt.date
    await sync(tenant, [order(f"{who}-{k}", who, d(2026, 1, 5) + dt.timedelta(days=30 * k), "40.00")
                        for who in ("keeper", "spender") for k in range(3)])  # fmt: skip
    keeper, spender = await contact_id(tenant, "keeper"), await contact_id(tenant, "spender")
    for who in (keeper, spender):
        earned = await tenant.post(f"/v1/contacts/{who}/loyalty", json={"kind": "earn", "points": 600})
        assert earned.status_code == 201, earned.text
    await refresh(tenant, database, as_of="2026-04-30")
    before = (await tenant.get(f"/v1/contacts/{spender}/value")).json()["advocacy"]

    spent = await tenant.post(f"/v1/contacts/{spender}/loyalty", json={"kind": "redeem", "points": 500})
    assert spent.status_code == 201, spent.text
    await refresh(tenant, database, as_of="2026-04-30")
    after = (await tenant.get(f"/v1/contacts/{spender}/value")).json()["advocacy"]
    kept = (await tenant.get(f"/v1/contacts/{keeper}/value")).json()["advocacy"]
    # Rewards given: 600 earned (0.6) for the keeper; 600 earned + 500 redeemed (capped at 1) for the spender.
    assert (before["parts"]["rewards"], kept["parts"]["rewards"], after["parts"]["rewards"]) == (0.6, 0.6, 1.0)
    assert after["score"] > before["score"] == kept["score"]
    advocates = (await tenant.get("/v1/analytics/advocates")).json()["data"]
    assert [a["contact_id"] for a in advocates[:2]] == [spender, keeper]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_concurrent_first_purchases_reward_the_referrer_once(tenant: Tenant) -> None:
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    assert (await tenant.patch("/v1/settings/retention", json={"referral_reward_points": 50})).status_code == 200
    await created(tenant, "/v1/contacts",
                  {"email": "omid@example.com", "referred_by_contact_id": sara["id"]})  # fmt: skip
    batches = [[order(f"30{k}", "omid", dt.date(2026, 5, 2), "10.00")] for k in range(6)]
    answers = await asyncio.gather(*(tenant.post("/v1/orders/batch", json={"orders": b}) for b in batches))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    rewards = [
        e for e in await ledger(tenant, sara["id"]) if e["reference"] == f"referral:{await contact_id(tenant, 'omid')}"
    ]
    assert len(rewards) == 1 and (await contact(tenant, sara["id"]))["loyalty_points"] == 50


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_concurrent_first_purchases_convert_a_referred_lead_once(tenant: Tenant) -> None:
    # Omid names no referrer; his open lead names Sara. Six order batches of his arrive at once:
    # one converts the lead, and the others neither undo the referral nor count it again.
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    assert (await tenant.patch("/v1/settings/retention", json={"referral_reward_points": 50})).status_code == 200
    omid = await created(tenant, "/v1/contacts", {"first_name": "Omid", "email": "omid@example.com"})
    lead = await created(tenant, "/v1/leads", {"email": "omid@example.com", "referred_by_contact_id": sara["id"]})
    batches = [[order(f"40{k}", "omid", dt.date(2026, 5, 2), "10.00")] for k in range(6)]
    answers = await asyncio.gather(*(tenant.post("/v1/orders/batch", json={"orders": b}) for b in batches))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]

    assert await contact_id(tenant, "omid") == omid["id"]
    assert (await contact(tenant, omid["id"]))["referred_by_contact_id"] == sara["id"]
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 1
    [converted] = await conversions(tenant)
    assert (converted["referred_contact_id"], converted["lead_id"], converted["converted_by"]) == (
        omid["id"], lead["id"], "first_order"
    )  # fmt: skip
    assert [e["reference"] for e in await ledger(tenant, sara["id"])] == [f"referral:{omid['id']}"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_a_qualification_racing_a_first_purchase_converts_the_referral_once(tenant: Tenant) -> None:
    # The lead naming Sara is qualified into Omid while his first orders sync: whichever converts
    # the lead, Omid ends up naming Sara, who is counted and announced once.
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    omid = await created(tenant, "/v1/contacts", {"first_name": "Omid", "email": "omid@example.com"})
    lead = await created(tenant, "/v1/leads", {"email": "omid@example.com", "referred_by_contact_id": sara["id"]})
    batches = [[order(f"50{k}", "omid", dt.date(2026, 5, 2), "10.00")] for k in range(5)]
    qualify = tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"contact_id": omid["id"]})
    answers = await asyncio.gather(qualify, *(tenant.post("/v1/orders/batch", json={"orders": b}) for b in batches))
    # The qualification answers 409 when a first purchase converted the lead before it.
    assert answers[0].status_code in (200, 409), answers[0].text
    assert all(a.status_code == 200 for a in answers[1:]), [a.text for a in answers[1:]]

    assert (await tenant.get(f"/v1/leads/{lead['id']}")).json()["status"] == "qualified"
    assert (await contact(tenant, omid["id"]))["referred_by_contact_id"] == sara["id"]
    assert (await contact(tenant, sara["id"]))["referrals_count"] == 1
    [converted] = await conversions(tenant)
    assert (converted["referred_contact_id"], converted["lead_id"]) == (omid["id"], lead["id"])


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_an_order_sync_never_restores_a_corrected_referrer(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mina's referrer is corrected from Sara to Ali after a refund sync of hers has read her
    # contact and before it writes her facts (the correction is made to land in that window).
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    ali = await created(tenant, "/v1/contacts", {"first_name": "Ali", "email": "ali@x.io"})
    mina = await created(tenant, "/v1/contacts", {"email": "mina@example.com", "referred_by_contact_id": sara["id"]})
    await sync(tenant, [order("6001", "mina", dt.date(2026, 5, 2), "10.00")])
    corrections: list[Any] = []
    convert_leads = customers._convert_leads

    async def corrected_meanwhile(ctx: Any, contacts: Any) -> Any:
        if not corrections:
            patch = tenant.patch(f"/v1/contacts/{mina['id']}", json={"referred_by_contact_id": ali["id"]})
            corrections.append(await asyncio.wait_for(patch, 30))
        return await convert_leads(ctx, contacts)

    monkeypatch.setattr(customers, "_convert_leads", corrected_meanwhile)
    refunded = order("6001", "mina", dt.date(2026, 5, 2), "10.00", status="partially_refunded",
                     refunded_total="1.00", source_updated_at="2026-06-01T12:00:00Z")  # fmt: skip
    await sync(tenant, [refunded])
    assert [c.status_code for c in corrections] == [200], [c.text for c in corrections]

    assert (await contact(tenant, mina["id"]))["referred_by_contact_id"] == ali["id"]
    assert [(await contact(tenant, c["id"]))["referrals_count"] for c in (sara, ali)] == [0, 1]
    # Naming Ali again is no change: no second count, no second conversion.
    again = await tenant.patch(f"/v1/contacts/{mina['id']}", json={"referred_by_contact_id": ali["id"]})
    assert again.status_code == 200, again.text
    assert [(await contact(tenant, c["id"]))["referrals_count"] for c in (sara, ali)] == [0, 1]
    assert len(await conversions(tenant)) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_a_qualification_never_replaces_a_referrer_named_meanwhile(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lead naming Sara is qualified into Omid, who names nobody when the qualification reads
    # him; Ali is named his referrer before it writes. Omid keeps Ali: one referral, Ali's.
    sara = await created(tenant, "/v1/contacts", {"first_name": "Sara", "email": "sara@x.io"})
    ali = await created(tenant, "/v1/contacts", {"first_name": "Ali", "email": "ali@x.io"})
    omid = await created(tenant, "/v1/contacts", {"first_name": "Omid", "email": "omid@example.com"})
    lead = await created(tenant, "/v1/leads", {"email": "omid@example.com", "referred_by_contact_id": sara["id"]})
    corrections: list[Any] = []
    update = records.update

    async def named_meanwhile(ctx: Any, kind: Any, record_id: Any, changes: Any, **options: Any) -> Any:
        if kind is relationships.CONTACT and not corrections:
            corrections.append(None)
            patch = tenant.patch(f"/v1/contacts/{omid['id']}", json={"referred_by_contact_id": ali["id"]})
            corrections[0] = await asyncio.wait_for(patch, 30)
        return await update(ctx, kind, record_id, changes, **options)

    monkeypatch.setattr(records, "update", named_meanwhile)
    qualified = await tenant.post(f"/v1/leads/{lead['id']}/qualify", json={"contact_id": omid["id"]})
    assert qualified.status_code == 200, qualified.text
    assert corrections[0].status_code == 200, corrections[0].text

    assert (await contact(tenant, omid["id"]))["referred_by_contact_id"] == ali["id"]
    assert [(await contact(tenant, c["id"]))["referrals_count"] for c in (sara, ali)] == [0, 1]
    assert [(c["referrer_contact_id"], c["converted_by"]) for c in await conversions(tenant)] == [
        (ali["id"], "contact")
    ]
