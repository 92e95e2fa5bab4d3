from __future__ import annotations

import uuid

from tests.conftest import Tenant, assert_problem


async def add(tenant: Tenant, name: str, email: str | None = None, **fields) -> dict:  # type: ignore[no-untyped-def]
    response = await tenant.post("/v1/members", json={"name": name, "email": email or f"{name.lower()}@x.io", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_member_is_created_with_defaults_and_normalized_email(tenant: Tenant) -> None:
    member = await add(tenant, "Sara", "  Sara@Example.COM ", timezone="Asia/Tehran", capacity=30)
    assert member["email"] == "sara@example.com"
    assert (member["role"], member["active"], member["timezone"], member["capacity"]) == (
        "member",
        True,
        "Asia/Tehran",
        30,
    )
    uuid.UUID(member["id"])
    fetched = await tenant.get(f"/v1/members/{member['id']}")
    assert fetched.json() == member and fetched.headers["etag"] == '"1"'


async def test_ids_are_time_ordered(tenant: Tenant) -> None:
    first, second = await add(tenant, "One"), await add(tenant, "Two")
    assert uuid.UUID(first["id"]).version == 7 and first["id"] < second["id"]


async def test_email_is_unique_within_a_workspace_only(tenant: Tenant, other_tenant: Tenant) -> None:
    await add(tenant, "Sara", "sara@x.io")
    assert_problem(await tenant.post("/v1/members", json={"name": "S2", "email": "SARA@x.io"}), 409)
    assert (await other_tenant.post("/v1/members", json={"name": "Sara", "email": "sara@x.io"})).status_code == 201


async def test_invalid_member_fields_are_named(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/members",
        json={"name": "", "email": "nope", "role": "boss", "timezone": "Nowhere/City", "capacity": -1},
    )
    assert_problem(response, 422, "name", "email", "role", "timezone", "capacity")
    assert_problem(await tenant.post("/v1/members", json={"email": "a@x.io"}), 422, "name")
    assert (await tenant.get("/v1/members")).json()["data"] == []


async def test_update_member_and_deactivate(tenant: Tenant) -> None:
    member = await add(tenant, "Ali")
    response = await tenant.patch(f"/v1/members/{member['id']}", json={"role": "admin", "active": False})
    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["active"], body["version"]) == ("admin", False, 2)
    assert_problem(await tenant.patch(f"/v1/members/{member['id']}", json={"email": None}), 422, "email")
    assert_problem(await tenant.patch(f"/v1/members/{member['id']}", json={"nickname": "x"}), 422, "nickname")


async def test_email_change_to_a_taken_address_is_409_and_changes_nothing(tenant: Tenant) -> None:
    await add(tenant, "A")
    b = await add(tenant, "B")
    assert_problem(await tenant.patch(f"/v1/members/{b['id']}", json={"email": "a@x.io", "name": "Bee"}), 409)
    assert (await tenant.get(f"/v1/members/{b['id']}")).json() == b


async def test_manager_must_exist_in_the_workspace_and_never_form_a_loop(tenant: Tenant, other_tenant: Tenant) -> None:
    boss = await add(tenant, "Boss")
    lead = await add(tenant, "Lead", manager_id=boss["id"])
    rep = await add(tenant, "Rep", manager_id=lead["id"])
    assert rep["manager_id"] == lead["id"]
    assert_problem(await tenant.patch(f"/v1/members/{boss['id']}", json={"manager_id": rep["id"]}), 422, "manager_id")
    assert_problem(await tenant.patch(f"/v1/members/{boss['id']}", json={"manager_id": boss["id"]}), 422, "manager_id")
    foreign = await add(other_tenant, "Foreign")
    assert_problem(
        await tenant.post("/v1/members", json={"name": "X", "email": "x@x.io", "manager_id": foreign["id"]}),
        422,
        "manager_id",
    )
    reports = (await tenant.get(f"/v1/members?manager_id={lead['id']}")).json()["data"]
    assert [m["id"] for m in reports] == [rep["id"]]
    cleared = await tenant.patch(f"/v1/members/{rep['id']}", json={"manager_id": None})
    assert cleared.json()["manager_id"] is None


async def test_list_filters_and_sorts(tenant: Tenant) -> None:
    await add(tenant, "Cyrus", role="admin")
    await add(tenant, "Arash")
    bita = await add(tenant, "Bita")
    await tenant.patch(f"/v1/members/{bita['id']}", json={"active": False})
    names = [m["name"] for m in (await tenant.get("/v1/members?sort=name")).json()["data"]]
    assert names == ["Arash", "Bita", "Cyrus"]
    names = [m["name"] for m in (await tenant.get("/v1/members?sort=-name")).json()["data"]]
    assert names == ["Cyrus", "Bita", "Arash"]
    assert [m["name"] for m in (await tenant.get("/v1/members?role=admin")).json()["data"]] == ["Cyrus"]
    assert [m["name"] for m in (await tenant.get("/v1/members?active=false")).json()["data"]] == ["Bita"]
    assert [m["name"] for m in (await tenant.get("/v1/members?email=ARASH@x.io")).json()["data"]] == ["Arash"]
    assert_problem(await tenant.get("/v1/members?sort=password"), 422, "sort")
    assert_problem(await tenant.get("/v1/members?limit=201"), 422, "limit")


async def test_cursor_pages_cover_everything_once_even_with_inserts_between_pages(tenant: Tenant) -> None:
    for i in range(7):
        await add(tenant, f"M{i}")
    seen: list[str] = []
    page = (await tenant.get("/v1/members?limit=3&sort=-created_at")).json()
    seen += [m["id"] for m in page["data"]]
    await add(tenant, "Late")  # newer than everything: must not shift what the cursor shows next
    while page["next_cursor"]:
        page = (await tenant.get(f"/v1/members?limit=3&sort=-created_at&cursor={page['next_cursor']}")).json()
        seen += [m["id"] for m in page["data"]]
    assert len(seen) == 7 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


async def test_bad_cursor_is_422(tenant: Tenant) -> None:
    assert_problem(await tenant.get("/v1/members?cursor=garbage!"), 422, "cursor")
    for i in range(2):
        await add(tenant, f"P{i}")
    cursor = (await tenant.get("/v1/members?limit=1&sort=name")).json()["next_cursor"]
    assert_problem(await tenant.get(f"/v1/members?sort=email&cursor={cursor}"), 422, "cursor")


async def test_a_cursor_made_by_hand_with_a_value_of_the_wrong_type_is_422(tenant: Tenant) -> None:
    """Cursors are not signed: one carrying a number where the sort key is text (or the reverse, on
    the churn-alert list) is the caller's mistake, a 422 naming `cursor`, on both databases."""
    from app.domain.pagination import Sort, encode_cursor

    await add(tenant, "Ava")
    row_id = str(uuid.uuid4())
    for path, sort, value in [
        ("/v1/members", "name", 123),
        ("/v1/members", "-email", ["a"]),
        ("/v1/analytics/churn-alerts", "-clv_at_risk", "abc"),
        ("/v1/analytics/churn-alerts", "churn_score", "high"),
    ]:
        cursor = encode_cursor(Sort.parse(sort), value, row_id)
        assert_problem(await tenant.get(path, params={"sort": sort, "cursor": cursor}), 422, "cursor")
