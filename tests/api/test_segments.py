"""Contact profile (addresses, referrals), the contacts list's segment filters and saved segments,
through HTTP on both databases."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant, assert_problem


async def contact(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await tenant.post("/v1/contacts", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def order(n: int, email: str, total: str, placed: str) -> dict[str, Any]:
    return {"source": "shop", "external_id": f"o-{n}", "status": "paid", "currency": "USD", "total": total,
            "placed_at": placed, "source_updated_at": placed, "customer": {"email": email}}  # fmt: skip


async def test_addresses_and_referrals(tenant: Tenant) -> None:
    sara = await contact(tenant, first_name="Sara", email="sara@x.io")
    address = {"type": "billing", "country": "IR", "province": "Tehran", "city": "Tehran", "postal_code": "1234567890",
               "line1": "Valiasr St. 12"}  # fmt: skip
    reza = await contact(tenant, first_name="Reza", email="reza@x.io", addresses=[address],
                         referred_by_contact_id=sara["id"])  # fmt: skip
    assert reza["addresses"][0]["city"] == "Tehran" and reza["referred_by_contact_id"] == sara["id"]
    await contact(tenant, first_name="Mina", referred_by_contact_id=sara["id"], email="mina@x.io")
    assert (await tenant.get(f"/v1/contacts/{sara['id']}")).json()["referrals_count"] == 2
    referred = (await tenant.get("/v1/contacts", params={"referred_by_contact_id": sara["id"]})).json()["data"]
    assert {c["first_name"] for c in referred} == {"Reza", "Mina"}
    # moving the referral moves the counts
    ali = await contact(tenant, first_name="Ali", email="ali@x.io")
    moved = await tenant.patch(f"/v1/contacts/{reza['id']}", json={"referred_by_contact_id": ali["id"]})
    assert moved.status_code == 200, moved.text
    assert (await tenant.get(f"/v1/contacts/{sara['id']}")).json()["referrals_count"] == 1
    assert (await tenant.get(f"/v1/contacts/{ali['id']}")).json()["referrals_count"] == 1
    assert_problem(await tenant.patch(f"/v1/contacts/{ali['id']}", json={"referred_by_contact_id": ali["id"]}), 422,
                   "referred_by_contact_id")  # fmt: skip
    unknown = {"first_name": "X", "email": "x@x.io", "referred_by_contact_id": "01a21ee6-55d5-7034-983d-1bd4223576cc"}
    assert_problem(await tenant.post("/v1/contacts", json=unknown), 422, "referred_by_contact_id")
    bad_address = {"first_name": "Y", "email": "y@x.io", "addresses": [{"type": "home"}]}
    assert_problem(await tenant.post("/v1/contacts", json=bad_address), 422)


async def test_segment_filters_on_the_contacts_list(tenant: Tenant) -> None:
    await contact(tenant, first_name="Vip", email="vip@x.io", tags=["VIP"], interests=["tea"], province="Fars",
                  city="Shiraz")  # fmt: skip
    await contact(tenant, first_name="Plain", email="plain@x.io", tags=["legacy"], interests=["coffee"])
    orders = [order(1, "vip@x.io", "120.00", "2026-06-01T10:00:00Z"), order(2, "vip@x.io", "30.00",
              "2026-10-01T10:00:00Z"), order(3, "plain@x.io", "10.00", "2026-01-01T10:00:00Z")]  # fmt: skip
    assert (await tenant.post("/v1/orders/batch", json={"orders": orders})).status_code == 200

    async def names(**params: Any) -> set[str]:
        response = await tenant.get("/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        return {c["first_name"] for c in response.json()["data"]}

    assert await names(tag="VIP") == {"Vip"}
    assert await names(tag="vip") == set()  # tags are exact
    assert await names(interest="coffee") == {"Plain"}
    assert await names(province="Fars", city="Shiraz") == {"Vip"}
    assert await names(last_order_after="2026-09-01T00:00:00Z") == {"Vip"}
    assert await names(last_order_before="2026-09-01T00:00:00Z") == {"Plain"}
    assert await names(revenue_min="150") == {"Vip"}
    assert await names(revenue_min="10", revenue_max="149.99") == {"Plain"}
    assert await names(has_orders="true", tag="legacy") == {"Plain"}
    assert_problem(await tenant.get("/v1/contacts", params={"revenue_min": "1.234"}), 422, "revenue_min")


async def test_saved_segments_count_and_list_their_contacts(tenant: Tenant, other_tenant: Tenant) -> None:
    for n in range(3):
        await contact(tenant, first_name=f"V{n}", email=f"v{n}@x.io", tags=["VIP"])
    await contact(tenant, first_name="Other", email="o@x.io")
    created = await tenant.post("/v1/segments", json={"name": "VIPs", "filters": {"tag": "VIP"}})
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["filters"] == {"tag": "VIP"} and segment["count"] == 3
    await contact(tenant, first_name="V3", email="v3@x.io", tags=["VIP"])
    shown = (await tenant.get(f"/v1/segments/{segment['id']}")).json()
    assert shown["count"] == 4  # counted when read
    members = (await tenant.get(f"/v1/segments/{segment['id']}/contacts", params={"limit": 2})).json()
    assert len(members["data"]) == 2 and members["next_cursor"]
    changed = await tenant.patch(f"/v1/segments/{segment['id']}", json={"filters": {"tag": "VIP", "email": "v1@x.io"}})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert (await tenant.get(f"/v1/segments/{segment['id']}")).json()["count"] == 1
    assert_problem(await tenant.post("/v1/segments", json={"name": "Bad", "filters": {"bogus": 1}}), 422)
    assert_problem(await tenant.post("/v1/segments", json={"name": "Bad", "filters": {"revenue_min": "x"}}), 422)
    assert_problem(await other_tenant.get(f"/v1/segments/{segment['id']}"), 404)
    assert (await other_tenant.get("/v1/segments")).json()["data"] == []
    types = {e["type"] for e in (await tenant.get("/v1/events", params={"limit": 100})).json()["data"]}
    assert {"segment.created", "segment.updated"} <= types
