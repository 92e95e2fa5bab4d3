from __future__ import annotations

from tests.conftest import Tenant, assert_problem


async def test_workspace_shows_its_locale_with_utc_timestamps(tenant: Tenant) -> None:
    response = await tenant.get("/v1/workspace")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == tenant.id and body["name"] == "Acme"
    assert (body["timezone"], body["currency"], body["default_region"]) == ("UTC", "USD", None)
    assert body["created_at"].endswith("Z") and body["version"] == 1
    assert response.headers["etag"] == '"1"'


async def test_patch_changes_locale_and_bumps_version(tenant: Tenant) -> None:
    response = await tenant.patch(
        "/v1/workspace", json={"default_region": "IR", "timezone": "Asia/Tehran", "currency": "IRR"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["default_region"], body["timezone"], body["currency"], body["version"]) == (
        "IR",
        "Asia/Tehran",
        "IRR",
        2,
    )
    assert response.headers["etag"] == '"2"'
    assert body["updated_at"] > body["created_at"]


async def test_patch_with_same_values_does_not_churn_the_version(tenant: Tenant) -> None:
    response = await tenant.patch("/v1/workspace", json={"name": "Acme", "currency": "USD"})
    assert response.json()["version"] == 1


async def test_invalid_locale_values_are_422_naming_each_field(tenant: Tenant) -> None:
    response = await tenant.patch(
        "/v1/workspace", json={"default_region": "XX", "timezone": "Mars/Olympus", "currency": "ABC"}
    )
    assert_problem(response, 422, "default_region", "timezone", "currency")
    assert_problem(await tenant.patch("/v1/workspace", json={"name": None}), 422, "name")
    wrong_types = await tenant.patch("/v1/workspace", json={"default_region": True, "timezone": 5, "currency": []})
    assert_problem(wrong_types, 422, "default_region", "timezone", "currency")
    assert_problem(await tenant.patch("/v1/workspace", json={"colour": "red"}), 422, "colour")
    assert (await tenant.get("/v1/workspace")).json()["version"] == 1  # nothing half-written


async def test_if_none_match_answers_304_and_if_match_guards_updates(tenant: Tenant) -> None:
    etag = (await tenant.get("/v1/workspace")).headers["etag"]
    not_modified = await tenant.get("/v1/workspace", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    ok = await tenant.patch("/v1/workspace", json={"name": "Acme 2"}, headers={"If-Match": etag})
    assert ok.status_code == 200
    stale = await tenant.patch("/v1/workspace", json={"name": "Acme 3"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    assert (await tenant.get("/v1/workspace")).json()["name"] == "Acme 2"
    assert (await tenant.get("/v1/workspace", headers={"If-None-Match": etag})).status_code == 200
