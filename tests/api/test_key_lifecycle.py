"""API keys mean what they say, through HTTP on both databases: a deactivated member's keys stop
working, an expired key is refused, wrong keys are rate-limited per client IP without locking out
good keys that share the address, made-up keys never push good ones out of the lookup cache, and
every process sees a revocation within API_KEY_CACHE_SECONDS. A second app instance on the same
database, with caches of its own, stands for a second API process."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.config import Settings
from app.db import tables
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.workspace.api_keys import digest
from app.ids import utcnow
from app.main import create_app
from tests.conftest import Tenant, assert_problem, make_tenant

SITE = "https://www.shop.example"


def api_process(database: Database, **settings: Any) -> FastAPI:
    """One more API process: its own key cache and its own in-memory rate limiter."""
    values: dict[str, Any] = {
        "database_url": database.settings.database_url,
        "rate_limit_api_per_minute": 10**6,
        "rate_limit_form_per_minute": 10**6,
        "rate_limit_auth_failures_per_minute": 10**6,
        **settings,
    }
    return create_app(Settings(**values), database=database)


@asynccontextmanager
async def client_of(app: FastAPI, ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def eventually_status(tenant: Tenant, url: str, key: str, status: int, *, within: float) -> float:
    """Seconds until `url` answers `status` for `key`; fails after `within` seconds."""
    started = time.monotonic()
    while True:
        answered = (await tenant.get(url, key=key)).status_code
        waited = time.monotonic() - started
        if answered == status:
            return waited
        assert waited < within, f"still {answered} after {waited:.1f} s, expected {status}"
        await asyncio.sleep(0.1)


async def whole_window_ahead(seconds: float = 20) -> None:
    """Rate limits count per clock minute: start a counting test early enough in one."""
    left = 60 - time.time() % 60
    if left < seconds:
        await asyncio.sleep(left + 0.05)


def random_key() -> str:
    return "sk_" + secrets.token_urlsafe(32)


# -- member deactivation ---------------------------------------------------------------------


def counted_loads(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key digests this app's resolver looks up in the database, in order."""
    loads: list[str] = []
    original = app.state.keys._load

    async def counted(key_digest: str) -> Any:
        loads.append(key_digest)
        return await original(key_digest)

    monkeypatch.setattr(app.state.keys, "_load", counted)
    return loads


async def test_a_deactivated_members_key_is_refused_at_once_and_works_again_on_reactivation(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()
    key = await tenant.key_with("members:read", member_id=member["id"])
    revoked = (
        await tenant.post("/v1/api-keys", json={"name": "old", "scopes": ["members:read"], "member_id": member["id"]})
    ).json()
    assert (await tenant.get("/v1/members", key=key)).status_code == 200  # cached now
    assert (await tenant.get("/v1/members", key=revoked["key"])).status_code == 200
    assert (await tenant.delete(f"/v1/api-keys/{revoked['id']}")).status_code == 200

    assert (await tenant.patch(f"/v1/members/{member['id']}", json={"active": False})).status_code == 200
    refused = assert_problem(await tenant.get("/v1/members", key=key), 401)
    assert "deactivated" in refused["detail"]
    assert (await tenant.get("/v1/members", key=key)).headers["www-authenticate"].startswith("Bearer")

    assert (await tenant.patch(f"/v1/members/{member['id']}", json={"active": True})).status_code == 200
    assert (await tenant.get("/v1/members", key=key)).status_code == 200
    assert_problem(await tenant.get("/v1/members", key=revoked["key"]), 401)  # revoked stays revoked


async def test_a_deactivation_reaches_other_processes_within_the_cache_time(database: Database, tenant: Tenant) -> None:
    ttl = 1.0
    async with client_of(api_process(database, api_key_cache_seconds=ttl)) as other_client:
        other = replace(tenant, client=other_client)
        member = (await tenant.post("/v1/members", json={"name": "Rep", "email": "rep@x.io"})).json()
        key = await tenant.key_with("members:read", member_id=member["id"])
        assert (await other.get("/v1/members", key=key)).status_code == 200  # cached over there

        assert (await tenant.patch(f"/v1/members/{member['id']}", json={"active": False})).status_code == 200
        assert_problem(await tenant.get("/v1/members", key=key), 401)
        await eventually_status(other, "/v1/members", key, 401, within=ttl + 10)

        assert (await tenant.patch(f"/v1/members/{member['id']}", json={"active": True})).status_code == 200
        await eventually_status(other, "/v1/members", key, 200, within=ttl + 10)


async def test_a_key_cannot_be_bound_to_a_deactivated_member(tenant: Tenant) -> None:
    member = (await tenant.post("/v1/members", json={"name": "Gone", "email": "gone@x.io", "active": False})).json()
    response = await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"], "member_id": member["id"]})
    assert_problem(response, 422, "member_id")


# -- expiry ----------------------------------------------------------------------------------


async def test_expires_at_is_kept_shown_and_must_be_in_the_future(tenant: Tenant) -> None:
    later = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    created = await tenant.post(
        "/v1/api-keys", json={"name": "temp", "scopes": ["members:read"], "expires_at": later.isoformat()}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["expires_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert (await tenant.get(f"/v1/api-keys/{body['id']}")).json()["expires_at"] == body["expires_at"]
    listed = {k["id"]: k for k in (await tenant.get("/v1/api-keys")).json()["data"]}
    assert listed[body["id"]]["expires_at"] == body["expires_at"]
    assert (await tenant.get("/v1/members", key=body["key"])).status_code == 200
    forever = (await tenant.post("/v1/api-keys", json={"name": "f", "scopes": ["members:read"]})).json()
    assert forever["expires_at"] is None

    past = (utcnow() - timedelta(seconds=1)).isoformat()
    assert_problem(
        await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"], "expires_at": past}),
        422,
        "expires_at",
    )
    naive = (utcnow() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    assert_problem(
        await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"], "expires_at": naive}),
        422,
        "expires_at",
    )
    garbage = await tenant.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"], "expires_at": "soon"})
    assert_problem(garbage, 422, "expires_at")


async def test_an_expired_key_is_refused_though_its_lookup_is_cached(database: Database, tenant: Tenant) -> None:
    async with client_of(api_process(database, api_key_cache_seconds=600)) as long_cache:
        caller = replace(tenant, client=long_cache)
        expires = utcnow() + timedelta(seconds=5)
        created = await tenant.post(
            "/v1/api-keys", json={"name": "brief", "scopes": ["members:read"], "expires_at": expires.isoformat()}
        )
        key = created.json()["key"]
        assert (await caller.get("/v1/members", key=key)).status_code == 200  # cached for ten minutes
        await asyncio.sleep(max((expires - utcnow()).total_seconds(), 0) + 0.1)
        refused = assert_problem(await caller.get("/v1/members", key=key), 401)
        assert "expired" in refused["detail"]
        assert_problem(await tenant.get("/v1/members", key=key), 401)


# -- failed authentications per client IP ------------------------------------------------------


async def test_failed_authentications_are_limited_per_client_ip(database: Database) -> None:
    app = api_process(database, rate_limit_auth_failures_per_minute=3)
    await whole_window_ahead()
    async with client_of(app, "198.51.100.7") as guesser_client, client_of(app, "203.0.113.9") as neighbour_client:
        tenant = await make_tenant(database, guesser_client)
        for _ in range(5):  # good keys never count
            assert (await tenant.get("/v1/workspace")).status_code == 200
        assert_problem(await guesser_client.get("/v1/workspace"), 401)  # no key at all: nothing guessed
        for token in (random_key(), "not-a-key", random_key()):
            assert_problem(await tenant.get("/v1/workspace", key=token), 401)

        limited = assert_problem(await tenant.get("/v1/workspace", key=random_key()), 429)
        assert limited["type"] == "/problems/rate-limited"
        refused = await tenant.get("/v1/workspace", key=random_key())
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-policy"] == '"auth-failures";q=3;w=60'

        neighbour = replace(tenant, client=neighbour_client)
        assert (await neighbour.get("/v1/workspace")).status_code == 200
        assert_problem(await neighbour.get("/v1/workspace", key=random_key()), 401)


async def test_a_key_seen_good_keeps_working_from_an_address_over_the_failure_limit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An office's shared egress address: someone there fails 30+ times in a minute; the company's
    backend integration on the same address, whose key this process has served before, keeps
    working. Any other key from there is refused without being looked up."""
    ttl = 0.5
    app = api_process(database, rate_limit_auth_failures_per_minute=30, api_key_cache_seconds=ttl)
    loads = counted_loads(app, monkeypatch)
    await whole_window_ahead()
    async with client_of(app, "198.51.100.20") as office_client, client_of(app, "203.0.113.20") as elsewhere:
        backend = await make_tenant(database, office_client)
        assert (await backend.get("/v1/workspace")).status_code == 200  # the integration, served here
        async with client_of(api_process(database)) as admin_client:  # a key this process never saw
            unused = await replace(backend, client=admin_client).key_with("workspace:read")
        for _ in range(31):
            assert (await backend.get("/v1/workspace", key=random_key())).status_code in (401, 429)
        assert_problem(await backend.get("/v1/workspace", key=random_key()), 429)

        for _ in range(3):
            assert (await backend.get("/v1/workspace")).status_code == 200
        await asyncio.sleep(ttl + 0.2)  # out of the lookup cache: looked up again, and still served
        assert (await backend.get("/v1/workspace")).status_code == 200

        looked_up = len(loads)
        refused = await backend.get("/v1/workspace", key=unused)  # a good key, but not one seen here
        assert_problem(refused, 429)
        assert refused.headers["ratelimit-policy"] == '"auth-failures";q=30;w=60'
        assert_problem(await backend.get("/v1/workspace", key=random_key()), 429)
        assert len(loads) == looked_up, "a key from an address over the limit was looked up"

        neighbour = replace(backend, client=elsewhere)
        assert_problem(await neighbour.get("/v1/workspace", key=random_key()), 401)
        assert (await neighbour.get("/v1/workspace", key=unused)).status_code == 200
        assert (await neighbour.get("/v1/workspace")).status_code == 200


async def test_a_stale_publishable_key_in_a_web_page_does_not_lock_out_secret_keys(database: Database) -> None:
    """A site still embeds a revoked publishable key; its tracking snippet fails on every page view
    from the office's address. Publishable keys have a failure budget of their own, so the secret
    key of the company's backend on that address is served, even by a process that never saw it."""
    app = api_process(database, rate_limit_auth_failures_per_minute=5)
    await whole_window_ahead()
    async with client_of(api_process(database)) as admin_client, client_of(app, "198.51.100.30") as office:
        admin = await make_tenant(database, admin_client)
        stale = (await admin.post("/v1/api-keys", json={"name": "old site", "kind": "publishable"})).json()
        assert (await admin.delete(f"/v1/api-keys/{stale['id']}")).status_code == 200
        backend_key = await admin.key_with("workspace:read")

        beacon = {"visitor_id": "visitor-1", "type": "page_view"}
        answers = [
            (await office.post(f"/v1/tracking/engagements?key={stale['key']}", json=beacon)).status_code
            for _ in range(8)
        ]
        assert answers == [401] * 5 + [429] * 3

        served = await office.get("/v1/workspace", headers={"Authorization": f"Bearer {backend_key}"})
        assert served.status_code == 200, served.text
        refused = await office.post(f"/v1/tracking/engagements?key={stale['key']}", json=beacon)
        assert refused.headers["ratelimit-policy"] == '"auth-failures-publishable";q=5;w=60'


async def test_a_cached_key_is_served_without_asking_the_failure_limiter(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = api_process(database, api_key_cache_seconds=600, rate_limit_auth_failures_per_minute=30)
    limiter = app.state.rate_limiter
    peeks: list[str] = []
    original = limiter.peek

    async def counted(bucket: str, limit: int) -> Any:
        peeks.append(bucket)
        return await original(bucket, limit)

    monkeypatch.setattr(limiter, "peek", counted)
    async with client_of(app) as client:
        caller = replace(tenant, client=client)
        for _ in range(5):
            assert (await caller.get("/v1/workspace")).status_code == 200
    assert len(peeks) == 1, f"the failure limiter was asked {len(peeks)} times for one cached key"


async def test_wrong_publishable_keys_on_forms_count_as_failed_authentications(database: Database) -> None:
    app = api_process(database, rate_limit_auth_failures_per_minute=2)
    await whole_window_ahead()
    async with client_of(app, "198.51.100.8") as client:
        tenant = await make_tenant(database, client)
        form = (await tenant.post("/v1/forms", json={"name": "Contact", "allowed_origins": [SITE]})).json()
        url = f"/v1/forms/{form['id']}/submissions"
        wrong = "pk_" + secrets.token_urlsafe(32)
        for _ in range(2):
            assert_problem(
                await client.post(url, json={"email": "a@x.io"}, headers={"Authorization": f"Bearer {wrong}"}), 401
            )
        preflight = await client.options(
            f"{url}?key={wrong}", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}
        )
        assert_problem(preflight, 429)  # a key in a preflight's URL is a guess like any other
        right = await client.post(
            url, json={"email": "a@x.io"}, headers={"Authorization": f"Bearer {tenant.publishable_key}"}
        )
        assert_problem(right, 429)
        assert "retry-after" in right.headers


# -- the lookup cache --------------------------------------------------------------------------


async def test_a_flood_of_unknown_keys_never_evicts_a_cached_good_key(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = api_process(database, api_key_cache_seconds=600, api_key_cache_size=4)
    loads = counted_loads(app, monkeypatch)
    async with client_of(app) as client:
        caller = replace(tenant, client=client)
        assert (await caller.get("/v1/workspace")).status_code == 200
        for _ in range(40):  # ten times what the cache holds
            assert_problem(await caller.get("/v1/workspace", key=random_key()), 401)
        assert (await caller.get("/v1/workspace")).status_code == 200
    assert loads.count(digest(tenant.secret_key)) == 1, "the good key was read again: it had been evicted"


async def test_a_revocation_reaches_other_processes_within_the_cache_time(database: Database, tenant: Tenant) -> None:
    ttl = 1.0
    async with client_of(api_process(database, api_key_cache_seconds=ttl)) as other_client:
        other = replace(tenant, client=other_client)
        created = (await tenant.post("/v1/api-keys", json={"name": "ci", "scopes": ["members:read"]})).json()
        key = created["key"]
        assert (await other.get("/v1/members", key=key)).status_code == 200  # cached over there
        assert (await tenant.delete(f"/v1/api-keys/{created['id']}")).status_code == 200
        assert_problem(await tenant.get("/v1/members", key=key), 401)  # at once where it was revoked
        await eventually_status(other, "/v1/members", key, 401, within=ttl + 10)


async def test_last_used_at_is_written_at_most_once_a_minute_across_processes(
    database: Database, tenant: Tenant
) -> None:
    ttl = 0.3
    first = api_process(database, api_key_cache_seconds=ttl)
    second = api_process(database, api_key_cache_seconds=ttl)
    async with client_of(first) as first_client, client_of(second) as second_client:
        created = (await tenant.post("/v1/api-keys", json={"name": "ci", "scopes": ["members:read"]})).json()
        key, url = created["key"], f"/v1/api-keys/{created['id']}"
        assert (await first_client.get("/v1/members", headers={"Authorization": f"Bearer {key}"})).status_code == 200
        used = (await tenant.get(url)).json()
        assert used["last_used_at"] is not None and used["version"] == 1
        for _ in range(3):  # each round both processes read the key afresh
            await asyncio.sleep(ttl + 0.1)
            for client in (first_client, second_client):
                assert (await client.get("/v1/members", headers={"Authorization": f"Bearer {key}"})).status_code == 200
        assert (await tenant.get(url)).json()["last_used_at"] == used["last_used_at"]

        # A minute later (the stored time moved back), the next use is recorded again.
        async with UnitOfWork(database) as uow:
            k = tables.api_keys
            moved_back = utcnow() - timedelta(minutes=2)
            await uow.execute(update(k).where(k.c.id == UUID(created["id"])).values(last_used_at=moved_back))
            await uow.commit()
        await asyncio.sleep(ttl + 0.1)
        before = utcnow()
        assert (await second_client.get("/v1/members", headers={"Authorization": f"Bearer {key}"})).status_code == 200
        again = (await tenant.get(url)).json()
        assert datetime.fromisoformat(again["last_used_at"]) >= before and again["version"] == 1


async def test_an_expiry_past_the_representable_range_is_a_422_not_a_500(tenant: Tenant) -> None:
    for edge in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00"):
        body = {"name": "x", "scopes": ["admin"], "expires_at": edge}
        assert_problem(await tenant.post("/v1/api-keys", json=body), 422, "expires_at")
