"""One workspace's key never sees or changes another workspace's data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.conftest import Tenant, assert_problem


async def _member(tenant: Tenant) -> str:
    return str((await tenant.post("/v1/members", json={"name": "Owned", "email": "owned@x.io"})).json()["id"])


async def _api_key(tenant: Tenant) -> str:
    return str((await tenant.post("/v1/api-keys", json={"name": "k", "scopes": ["members:read"]})).json()["id"])


# Every operation with an id in its path: how to make that resource, and a body for writes.
# A new route with an id must be added here (test_every_route_with_an_id_is_listed fails otherwise).
Factory = Callable[[Tenant], Awaitable[str]]
ROUTES: dict[tuple[str, str], tuple[Factory, dict | None]] = {
    ("GET", "/v1/members/{member_id}"): (_member, None),
    ("PATCH", "/v1/members/{member_id}"): (_member, {"name": "Hijacked"}),
    ("GET", "/v1/api-keys/{key_id}"): (_api_key, None),
    ("DELETE", "/v1/api-keys/{key_id}"): (_api_key, None),
}


def test_every_route_with_an_id_is_listed(app) -> None:  # type: ignore[no-untyped-def]
    with_ids = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    }
    assert with_ids == set(ROUTES), f"add these to ROUTES: {with_ids - set(ROUTES)}"


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
async def test_key_of_another_workspace_gets_404(method: str, path: str, tenant: Tenant, other_tenant: Tenant) -> None:
    factory, body = ROUTES[(method, path)]
    resource_id = await factory(tenant)
    url = path.split("{")[0] + resource_id
    before = (await tenant.get(url)).json()
    response = await other_tenant.request(method, url, json=body) if body else await other_tenant.request(method, url)
    assert_problem(response, 404)
    assert (await tenant.get(url)).json() == before  # untouched


async def test_lists_show_only_the_callers_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await _member(tenant)
    await _api_key(tenant)
    assert (await other_tenant.get("/v1/members")).json()["data"] == []
    other_keys = (await other_tenant.get("/v1/api-keys")).json()["data"]
    assert {k["name"] for k in other_keys} == {"Default secret key", "Default publishable key"}
    assert (await other_tenant.get("/v1/workspace")).json()["id"] == other_tenant.id


async def test_settings_are_per_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await tenant.patch("/v1/settings/retention", json={"idempotency_key_hours": 100})
    assert (await other_tenant.get("/v1/settings/retention")).json()["idempotency_key_hours"] == 24
