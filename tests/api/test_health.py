"""Liveness and readiness through HTTP: anyone learns ready or not; the details behind it (migration
revisions, outbox backlog) only an admin secret key, with `verbose=1`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.db.session import Database
from app.main import create_app
from tests.conftest import Tenant, assert_problem

DETAILS = {"database", "migration", "expected_migration", "outbox_backlog", "oldest_undelivered_age_seconds"}


async def test_liveness_is_for_anyone(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_anyone_learns_only_that_the_service_is_ready(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for headers in ({}, tenant.auth):  # a key changes nothing without verbose
        response = await client.get("/readyz", headers=headers)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
    response = await client.get("/readyz", params={"verbose": "0"})
    assert response.json() == {"status": "ok"}


async def test_an_admin_key_reads_the_details_with_verbose(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await tenant.get("/readyz", params={"verbose": "1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"status", *DETAILS}
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["migration"] == body["expected_migration"] and body["migration"]
    assert isinstance(body["outbox_backlog"], int) and body["outbox_backlog"] >= 0


async def test_verbose_without_a_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz", params={"verbose": "1"})
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not DETAILS & set(body)
    bad = await client.get("/readyz", params={"verbose": "true"}, headers={"Authorization": "Bearer sk_unknown"})
    assert_problem(bad, 401)


async def test_verbose_with_a_key_that_is_not_admin_is_forbidden(client: httpx.AsyncClient, tenant: Tenant) -> None:
    reader = await tenant.key_with("leads:read")
    response = await tenant.get("/readyz", params={"verbose": "1"}, key=reader)
    body = assert_problem(response, 403)
    assert "admin" in body["detail"] and not DETAILS & set(body)
    publishable = await tenant.get("/readyz", params={"verbose": "1"}, key=tenant.publishable_key)
    assert_problem(publishable, 403)


async def test_verbose_must_be_a_boolean(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/readyz", params={"verbose": "lots"}), 422, "verbose")


@pytest.fixture
async def behind(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a newer release whose migration the database has not had yet."""
    settings = Settings(database_url=database.settings.database_url, rate_limit_auth_failures_per_minute=10**6)
    app = create_app(settings, database=database)
    app.state.migration_head = "9999_not_applied"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_not_ready_says_only_so_to_anyone(behind: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await behind.get("/readyz")
    body = assert_problem(response, 503)
    assert body["detail"] == "not ready"
    assert "9999_not_applied" not in response.text and "migration" not in response.text
    assert not DETAILS & set(body)


async def test_not_ready_tells_an_admin_key_why(behind: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await behind.get("/readyz", params={"verbose": "1"}, headers=tenant.auth)
    body = assert_problem(response, 503)
    assert "9999_not_applied" in body["detail"]
    assert_problem(await behind.get("/readyz", params={"verbose": "1"}), 401)
