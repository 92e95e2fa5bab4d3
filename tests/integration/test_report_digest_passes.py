# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""How a digest pass behaves on SQLite and PostgreSQL, through `/v1/report-schedules` and a real
worker pass: the report is computed read-only, holding no write lock, and delivered in a short
write; a schedule changed meanwhile sends what it says now; a digest that cannot be prepared is
tried again later and later, then paused, its error shown on the schedule (a wrong input pauses it
at once), until a change of the schedule clears it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from app.db.session import Database
from app.ids import utcnow
from app.services.reports import digests
from tests.conftest import Tenant
from tests.integration.test_email_messages import (  # noqa: F401  (the email tests' fixtures)
    app,
    client,
    running_worker,
    setup,
    tenant,
    until,
)
from tests.integration.test_report_digests import _moved, deliveries, make_due, member, schedule
from tests.smtp_server import SmtpServer


def wrapped(monkeypatch: pytest.MonkeyPatch, report: str, around: Callable[..., Any]) -> list[Any]:
    """Run `around(ctx, n)` before each computation of `report`'s figures; the contexts seen."""
    entry = digests.REPORTS[report]
    seen: list[Any] = []

    async def figures(ctx: Any, params: Any, scope: Any) -> dict[str, Any]:
        seen.append(ctx)
        await around(ctx, len(seen))
        return await entry.figures(ctx, params, scope)

    monkeypatch.setitem(digests.REPORTS, report, replace(entry, figures=figures))
    return seen


async def test_the_report_is_computed_read_only_and_a_write_meanwhile_goes_through(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a pass computes a digest, the API writes: on SQLite a pass holding the database's
    write lock over the computation would keep this lead from being created until it ended."""

    async def write_meanwhile(ctx: Any, n: int) -> None:
        assert ctx.uow.write is False  # a read-only unit of work
        created = await asyncio.wait_for(
            tenant.post("/v1/leads", json={"first_name": "Meanwhile", "email": f"m{n}@example.com"}), 10
        )
        assert created.status_code == 201, created.text

    seen = wrapped(monkeypatch, "funnel", write_meanwhile)
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        created = await schedule(tenant, name="Daily", cadence={"type": "daily", "at": "08:00"}, member_ids=[boss])
        await make_due(database, created["id"])
        async with running_worker(database):
            [received] = await until(lambda: _async(smtp.to("boss@acme.example")))
            await until(lambda: _moved(tenant, created["id"]))
    assert len(seen) == 1 and "Daily" in received.message["Subject"]
    [row] = await deliveries(database, created["id"])
    assert len(row["message_ids"]) == 1


async def test_a_schedule_changed_while_its_digest_is_computed_sends_what_it_says_now(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    url: list[str] = []

    async def rename_first_time(ctx: Any, n: int) -> None:
        if n == 1:
            renamed = await tenant.patch(url[0], json={"name": "Renamed", "params": {"mode": "activity"}})
            assert renamed.status_code == 200, renamed.text

    seen = wrapped(monkeypatch, "funnel", rename_first_time)
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        created = await schedule(tenant, name="Original", cadence={"type": "daily", "at": "08:00"},
                                 member_ids=[boss], emit_event=True)  # fmt: skip
        url.append(f"/v1/report-schedules/{created['id']}")
        await make_due(database, created["id"])
        # The first computation is thrown away (the schedule changed under it); the same pass
        # takes the schedule again and sends it as it is now, once.
        assert await digests.run_due(database, utcnow()) == 2
        async with running_worker(database):
            [received] = await until(lambda: _async(smtp.to("boss@acme.example")))
            await asyncio.sleep(0.3)
    assert len(seen) == 2 and "Renamed" in received.message["Subject"]
    assert len(smtp.to("boss@acme.example")) == 1
    [row] = await deliveries(database, created["id"])
    assert row["figures"]["mode"] == "activity"
    [event] = (await tenant.get("/v1/events", params={"type": "report.delivered"})).json()["data"]
    assert event["data"]["name"] == "Renamed" and event["data"]["params"] == {"mode": "activity"}
    assert await _moved(tenant, created["id"])


async def _async(value: Any) -> Any:
    return value
