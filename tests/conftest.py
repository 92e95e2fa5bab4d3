"""Test databases: every API test runs on SQLite and on PostgreSQL. Each run creates its own
databases (never a shared one) and migrates them once; tests isolate themselves by creating their
own workspaces, which every query is scoped by, so nothing needs cleaning up between tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

# One secrets key for the run and every process it starts (servers, workers), instead of a key
# file generated in the working directory.
os.environ.setdefault("SECRETS_KEY", Fernet.generate_key().decode("ascii"))
# Smaller database pools than production's 20: `make test` runs four test processes at once, each
# keeping its databases' idle pooled connections, beside multi-process tests (their servers and
# workers get 8, tests/integration/server.py), and the test server allows 100 connections in all.
# 14 still serves the tests' bursts of concurrent requests that each hold two connections.
os.environ.setdefault("DATABASE_POOL_SIZE", "14")

from app.config import Settings
from app.db.migrate import upgrade
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import utcnow
from app.main import create_app
from app.services.workspace import workspaces

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(_asyncpg_dsn(PG_URL), timeout=5)


async def postgres_unavailable() -> str | None:
    try:
        conn = await _pg_admin()
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {PG_URL} unreachable ({type(exc).__name__}: {exc}); set TEST_DATABASE_URL"
    await conn.close()
    return None


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


class ScratchDatabases:
    """Creates and drops uniquely named PostgreSQL databases on the test server."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self) -> str:
        name = f"crm_test_{uuid.uuid4().hex[:12]}"
        conn = await _pg_admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        base = PG_URL.rsplit("/", 1)[0]
        return f"{base}/{name}"

    async def drop_all(self) -> None:
        if not self.created:
            return
        conn = await _pg_admin()
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


SLOW_TEST_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (stable otherwise): spread over `pytest -n N` processes they run beside
    the many short ones instead of after them, so the run ends when its work does."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    for item in items:
        # A slow test starts real processes (each start 20-40 s on a loaded 2-core machine): the
        # suite's 120 s is a hang detector too tight for it; its own waits bound what it measures.
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


@pytest.fixture(scope="session")
async def scratch() -> AsyncIterator[ScratchDatabases]:
    databases = ScratchDatabases()
    yield databases
    await databases.drop_all()


async def database_url(backend: str, tmp_path: Path, scratch: ScratchDatabases) -> str:
    """A fresh, empty database of the given backend (skips or fails when PostgreSQL is missing)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
    reason = await postgres_unavailable()
    if reason:
        _skip_or_fail(reason)
    return await scratch.create()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, scratch: ScratchDatabases
) -> AsyncIterator[Database]:
    """A new database of the backend, migrated to head, disposed of afterwards."""
    url = await database_url(backend, tmp_path_factory.mktemp(backend), scratch)
    db = Database(Settings(database_url=url))
    await upgrade(db)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
async def database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, scratch: ScratchDatabases
) -> AsyncIterator[Database]:
    async for db in migrated_database(backend, tmp_path_factory, scratch):
        yield db


def api_for(database: Database):  # type: ignore[no-untyped-def]
    """The API over a test database. Tests share one client address; rate limits have their own
    tests with their own app."""
    settings = Settings(
        database_url=database.settings.database_url,
        rate_limit_api_per_minute=10**6,
        rate_limit_form_per_minute=10**6,
        rate_limit_auth_failures_per_minute=10**6,
    )
    return create_app(settings, database=database)


@pytest.fixture(scope="session")
def app(database: Database):  # type: ignore[no-untyped-def]
    return api_for(database)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Tenant:
    """A fresh workspace with its admin secret key and publishable key."""

    id: str
    secret_key: str
    publishable_key: str
    client: httpx.AsyncClient

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    async def request(self, method: str, url: str, *, key: str | None = None, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {key or self.secret_key}", **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return await self.request("DELETE", url, **kwargs)

    async def key_with(self, *scopes: str, **extra) -> str:  # type: ignore[no-untyped-def]
        body = {"name": f"key {' '.join(scopes)}", "scopes": list(scopes), **extra}
        response = await self.post("/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    async def lead_of(self, submission: httpx.Response) -> str | None:
        """The lead a public form submission became, as a secret key reads it (the public answer
        names only the submission)."""
        listed = (await self.get(submission.request.url.path, params={"limit": 100})).json()["data"]
        [found] = [s for s in listed if s["id"] == submission.json()["submission_id"]]
        return found["lead_id"]  # type: ignore[no-any-return]


async def make_tenant(database: Database, client: httpx.AsyncClient, name: str = "Acme", **options) -> Tenant:  # type: ignore[no-untyped-def]
    async with UnitOfWork(database) as uow:
        created = await workspaces.create(uow, name=name, now=utcnow(), **options)
        await uow.commit()
    return Tenant(str(created.workspace["id"]), created.secret_key, created.publishable_key, client)


@pytest.fixture
async def tenant(database: Database, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(database, client)


@pytest.fixture
async def other_tenant(database: Database, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(database, client, name="Other Co")


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict:  # type: ignore[type-arg]
    """An RFC 9457 problem with this status, naming each of `fields` in `errors`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("/problems/")
    named = {e["field"] for e in body.get("errors") or []}
    for field in fields:
        assert field in named, f"{field!r} not named in {body}"
    return body


async def drain_dispatch(database: Database) -> None:
    """Dispatch until nothing is queued: earlier tests sharing this database may have left more
    than one pass of events ahead of the ones a test looks for."""
    from app.worker.dispatcher import dispatch

    while (await dispatch(database, utcnow())).events:
        pass
