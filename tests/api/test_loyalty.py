"""Loyalty points through HTTP on both databases: the ledger's arithmetic, a balance that never
goes below zero (also under concurrent redemptions on PostgreSQL), references recorded once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Tenant, assert_problem


async def contact(tenant: Tenant) -> dict[str, Any]:
    response = await tenant.post("/v1/contacts", json={"first_name": "Mina", "email": "mina@x.io"})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def entry(tenant: Tenant, contact_id: str, **body: Any) -> Any:
    return await tenant.post(f"/v1/contacts/{contact_id}/loyalty", json=body)


async def test_earn_redeem_expire_adjust_and_the_balance(tenant: Tenant) -> None:
    mina = await contact(tenant)
    path = f"/v1/contacts/{mina['id']}"
    steps = [("earn", 120, 120), ("redeem", 50, 70), ("expire", 20, 50), ("adjust", -5, 45), ("adjust", 15, 60)]
    for kind, points, balance in steps:
        response = await entry(tenant, mina["id"], kind=kind, points=points, reason=f"{kind} test")
        assert response.status_code == 201, response.text
        assert response.json()["balance_after"] == balance
    shown = (await tenant.get(path)).json()
    assert shown["loyalty_points"] == 60 and shown["version"] > mina["version"]
    ledger = (await tenant.get(f"{path}/loyalty")).json()["data"]
    assert [(e["kind"], e["points"], e["balance_after"]) for e in ledger] == [
        ("adjust", 15, 60), ("adjust", -5, 45), ("expire", -20, 50), ("redeem", -50, 70), ("earn", 120, 120)
    ]  # fmt: skip
    assert sum(e["points"] for e in ledger) == 60
    changed = (await tenant.get("/v1/events", params={"type": "contact.loyalty_changed"})).json()["data"]
    assert len(changed) == 5 and {e["data"]["contact_id"] for e in changed} == {mina["id"]}
    by_resource = (await tenant.get("/v1/events", params={"resource_id": mina["id"]})).json()["data"]
    assert "contact.loyalty_changed" in {e["type"] for e in by_resource}


async def test_the_balance_never_goes_below_zero_and_bad_entries_change_nothing(tenant: Tenant) -> None:
    mina = await contact(tenant)
    await entry(tenant, mina["id"], kind="earn", points=30)
    refused = await entry(tenant, mina["id"], kind="redeem", points=31)
    assert assert_problem(refused, 409)["balance"] == 30
    assert_problem(await entry(tenant, mina["id"], kind="adjust", points=-31), 409)
    for body, field in (
        ({"kind": "redeem", "points": -5}, "points"),
        ({"kind": "earn", "points": 0}, "points"),
        ({"kind": "gift", "points": 5}, "kind"),
        ({"kind": "earn", "points": 5, "order_id": "01a21ee6-55d5-7034-983d-1bd4223576cc"}, "order_id"),
    ):
        assert_problem(await entry(tenant, mina["id"], **body), 422, field)
    assert (await tenant.get(f"/v1/contacts/{mina['id']}")).json()["loyalty_points"] == 30
    assert len((await tenant.get(f"/v1/contacts/{mina['id']}/loyalty")).json()["data"]) == 1
    assert_problem(await entry(tenant, "01a21ee6-55d5-7034-983d-1bd4223576cc", kind="earn", points=5), 404)


async def test_a_reference_is_recorded_once(tenant: Tenant) -> None:
    mina = await contact(tenant)
    first = await entry(tenant, mina["id"], kind="earn", points=40, reference="order-1001")
    again = await entry(tenant, mina["id"], kind="earn", points=40, reference="order-1001")
    assert (first.status_code, again.status_code) == (201, 200) and again.json() == first.json()
    other = await entry(tenant, mina["id"], kind="earn", points=50, reference="order-1001")
    assert_problem(other, 409)
    assert (await tenant.get(f"/v1/contacts/{mina['id']}")).json()["loyalty_points"] == 40


async def test_another_workspace_cannot_see_or_move_the_points(tenant: Tenant, other_tenant: Tenant) -> None:
    mina = await contact(tenant)
    await entry(tenant, mina["id"], kind="earn", points=10)
    assert_problem(await entry(other_tenant, mina["id"], kind="redeem", points=10), 404)
    assert_problem(await other_tenant.get(f"/v1/contacts/{mina['id']}/loyalty"), 404)
    assert (await tenant.get(f"/v1/contacts/{mina['id']}")).json()["loyalty_points"] == 10


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # real concurrent transactions
async def test_concurrent_redemptions_never_overdraw(tenant: Tenant) -> None:
    mina = await contact(tenant)
    await entry(tenant, mina["id"], kind="earn", points=100)
    answers = await asyncio.gather(*(entry(tenant, mina["id"], kind="redeem", points=10) for _ in range(25)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 10 and statuses.count(409) == 15, statuses
    assert (await tenant.get(f"/v1/contacts/{mina['id']}")).json()["loyalty_points"] == 0
    ledger = (await tenant.get(f"/v1/contacts/{mina['id']}/loyalty", params={"limit": 100})).json()["data"]
    assert sum(e["points"] for e in ledger) == 0 and len(ledger) == 11
    assert sorted(e["balance_after"] for e in ledger if e["kind"] == "redeem") == list(range(0, 100, 10))
    # the same reference sent concurrently is recorded once
    await entry(tenant, mina["id"], kind="earn", points=5)
    same = await asyncio.gather(
        *(entry(tenant, mina["id"], kind="redeem", points=5, reference="reward-7") for _ in range(5))
    )
    assert sorted(a.status_code for a in same) == [200, 200, 200, 200, 201]
    assert (await tenant.get(f"/v1/contacts/{mina['id']}")).json()["loyalty_points"] == 0
