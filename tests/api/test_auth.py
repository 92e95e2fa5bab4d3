"""API keys: who may call what, and what a key shows of itself."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.workspace.api_keys import SCOPES
from tests.conftest import Tenant, assert_problem


async def test_request_without_key_is_401_problem_with_bearer_challenge(client) -> None:
    response = await client.get("/v1/workspace")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_or_malformed_key_is_401(client) -> None:
    for token in ("sk_" + "x" * 43, "not-a-key", "pk_nope"):
        response = await client.get("/v1/workspace", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401)


async def test_a_key_without_the_bearer_scheme_is_malformed_not_missing(tenant: Tenant) -> None:
    for header in (tenant.secret_key, f"Token {tenant.secret_key}", "Bearer"):
        response = await tenant.client.get("/v1/workspace", headers={"Authorization": header})
        body = assert_problem(response, 401)
        assert "malformed Authorization header" in body["detail"] and "Bearer <key>" in body["detail"], body
    nothing = assert_problem(await tenant.client.get("/v1/workspace"), 401)
    assert nothing["detail"].startswith("missing API key")
    # A form post sends its publishable key the same way.
    form = (await tenant.post("/v1/forms", json={"name": "Contact"})).json()
    posted = await tenant.client.post(
        f"/v1/forms/{form['id']}/submissions",
        json={"email": "a@x.io"},
        headers={"Authorization": tenant.publishable_key},
    )
    assert "malformed Authorization header" in assert_problem(posted, 401)["detail"]


async def test_publishable_key_cannot_use_the_management_api(tenant: Tenant) -> None:
    for method, url in (("GET", "/v1/workspace"), ("GET", "/v1/members"), ("GET", "/v1/api-keys")):
        assert_problem(await tenant.request(method, url, key=tenant.publishable_key), 403)


async def test_missing_scope_is_403_and_write_implies_read(tenant: Tenant) -> None:
    reader = await tenant.key_with("members:read")
    writer = await tenant.key_with("members:write")
    assert (await tenant.get("/v1/members", key=reader)).status_code == 200
    assert_problem(await tenant.post("/v1/members", key=reader, json={"name": "A", "email": "a@x.io"}), 403)
    assert (await tenant.get("/v1/members", key=writer)).status_code == 200
    assert (await tenant.post("/v1/members", key=writer, json={"name": "A", "email": "a@x.io"})).status_code == 201
    assert_problem(await tenant.get("/v1/workspace", key=writer), 403)
    assert_problem(await tenant.get("/v1/api-keys", key=writer), 403)


async def test_admin_key_has_every_scope(tenant: Tenant) -> None:
    admin = await tenant.key_with("admin")
    for url in ("/v1/workspace", "/v1/members", "/v1/api-keys", "/v1/settings/retention"):
        assert (await tenant.get(url, key=admin)).status_code == 200, url


async def test_created_key_is_shown_once_and_stored_redacted(tenant: Tenant) -> None:
    response = await tenant.post("/v1/api-keys", json={"name": "CI", "scopes": ["members:read"]})
    assert response.status_code == 201
    created = response.json()
    assert created["key"].startswith("sk_") and len(created["key"]) >= 3 + 43  # 256 random bits
    assert created["redacted_key"] == f"sk_…{created['key'][-4:]}"
    assert response.headers["location"] == f"/v1/api-keys/{created['id']}"
    fetched = (await tenant.get(f"/v1/api-keys/{created['id']}")).json()
    assert "key" not in fetched and fetched["scopes"] == ["members:read"] and fetched["revoked_at"] is None
    listed = (await tenant.get("/v1/api-keys")).json()["data"]
    assert created["key"] not in str(listed)


async def test_revoked_key_stops_working_at_once(tenant: Tenant) -> None:
    response = await tenant.post("/v1/api-keys", json={"name": "temp", "scopes": ["members:read"]})
    key, key_id = response.json()["key"], response.json()["id"]
    assert (await tenant.get("/v1/members", key=key)).status_code == 200  # now cached
    revoked = await tenant.delete(f"/v1/api-keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(await tenant.get("/v1/members", key=key), 401)
    assert (await tenant.get("/v1/api-keys?revoked=true")).json()["data"][0]["id"] == key_id
    live = [k["id"] for k in (await tenant.get("/v1/api-keys?revoked=false")).json()["data"]]
    assert key_id not in live
    again = await tenant.delete(f"/v1/api-keys/{key_id}")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_last_used_at_is_recorded(tenant: Tenant) -> None:
    response = await tenant.post("/v1/api-keys", json={"name": "used", "scopes": ["members:read"]})
    key_id = response.json()["id"]
    assert response.json()["last_used_at"] is None
    await tenant.get("/v1/members", key=response.json()["key"])
    used = (await tenant.get(f"/v1/api-keys/{key_id}")).json()
    assert used["last_used_at"] is not None and used["last_used_at"].endswith("Z")
    assert used["version"] == 1  # bookkeeping, not a change of the key


async def test_a_burst_of_requests_with_an_uncached_key_reads_it_once(
    tenant: Tenant,
    app,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """Every request in flight when a key's cache entry expires used to read the key (and record
    its use) on its own; now they share one read and one write."""
    key = (await tenant.post("/v1/api-keys", json={"name": "burst", "scopes": ["members:read"]})).json()["key"]
    resolver = app.state.keys
    calls = {"_load": 0, "_touch": 0}
    for name in calls:
        original = getattr(resolver, name)

        async def counted(*args, _original=original, _name=name):  # type: ignore[no-untyped-def]
            calls[_name] += 1
            await asyncio.sleep(0.01)  # a database round trip
            return await _original(*args)

        monkeypatch.setattr(resolver, name, counted)
    answers = await asyncio.gather(*(tenant.get("/v1/members", key=key) for _ in range(16)))
    assert [a.status_code for a in answers] == [200] * 16
    assert calls == {"_load": 1, "_touch": 1}


async def test_invalid_key_specs_name_the_field(tenant: Tenant) -> None:
    bad = await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["members:read", "leads:fly"]})
    assert_problem(bad, 422, "scopes.1")
    assert_problem(await tenant.post("/v1/api-keys", json={"name": "x", "scopes": []}), 422, "scopes")
    pk = await tenant.post("/v1/api-keys", json={"name": "x", "kind": "publishable", "scopes": ["admin"]})
    assert_problem(pk, 422, "scopes")
    origins = await tenant.post(
        "/v1/api-keys", json={"name": "x", "kind": "publishable", "allowed_origins": ["https://ok.example", "ftp://no"]}
    )
    assert_problem(origins, 422, "allowed_origins.1")
    member = await tenant.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["admin"], "member_id": "01a21ccd-0000-7000-8000-000000000000"}
    )
    assert_problem(member, 422, "member_id")


async def test_publishable_key_keeps_normalized_origins(tenant: Tenant) -> None:
    response = await tenant.post(
        "/v1/api-keys",
        json={
            "name": "site",
            "kind": "publishable",
            "allowed_origins": ["https://WWW.Example.com:443/", "http://a.io:8080"],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"].startswith("pk_") and body["scopes"] == []
    assert body["allowed_origins"] == ["https://www.example.com", "http://a.io:8080"]


async def test_key_bound_to_member_records_the_member_as_actor(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()
    key = await tenant.key_with("members:write", member_id=member["id"])
    created = (await tenant.post("/v1/members", key=key, json={"name": "New", "email": "new@x.io"})).json()
    assert created["created_by"] == {"type": "member", "id": member["id"]}
    admin_made = (await tenant.post("/v1/members", json={"name": "B", "email": "b@x.io"})).json()
    assert admin_made["created_by"]["type"] == "api_key"


def test_scope_catalogue_covers_this_issues_resources() -> None:
    assert {
        "admin",
        "workspace:read",
        "workspace:write",
        "members:read",
        "members:write",
        "settings:read",
        "settings:write",
    } <= SCOPES
