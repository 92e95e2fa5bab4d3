# ruff: noqa: F811  (the fixtures `app`, `client` and `tenant` are the email tests', imported by name)
"""How a digest pass behaves on SQLite and PostgreSQL, through `/v1/report-schedules` and a real
worker pass: the report is computed read-only, holding no write lock, and delivered in a short
write; a schedule changed meanwhile sends what it says now; a digest that cannot be prepared is
tried again later and later, then paused, its error shown on the schedule (a wrong input pauses it
at once), until a change of the schedule clears it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.db.session import Database
from app.ids import utcnow
from app.services.reports import digests
from tests.conftest import Tenant, assert_problem
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


def at(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.fromisoformat(text)


async def test_a_digest_whose_input_went_wrong_pauses_at_once_and_says_why_until_it_is_changed(
    database: Database, tenant: Tenant
) -> None:
    """A team digest whose team was deleted since: retrying cannot mend it."""
    async with SmtpServer() as smtp:
        await setup(tenant, smtp)
        boss = await member(tenant, "boss@acme.example", "Boss")
        team = await tenant.post("/v1/teams", json={"name": "North", "member_ids": [boss]})
        assert team.status_code == 201, team.text
        created = await schedule(tenant, name="North daily", report="team", params={"team_id": team.json()["id"]},
                                 cadence={"type": "daily", "at": "08:00"}, member_ids=[boss],
                                 emit_event=True)  # fmt: skip
        assert (created["failures"], created["last_error"], created["last_failed_at"]) == (0, None, None)
        url = f"/v1/report-schedules/{created['id']}"
        assert (await tenant.delete(f"/v1/teams/{team.json()['id']}")).status_code == 200
        await make_due(database, created["id"])
        async with running_worker(database):
            paused = await until(lambda: _paused(tenant, url))
        assert paused["failures"] == 1 and paused["next_run_at"] is None
        assert paused["last_error"] == "Invalid input: params.team_id: no team with this id in the workspace"
        assert paused["last_failed_at"] is not None and paused["version"] == created["version"] + 1
        assert paused["updated_by"] == {"type": "system", "id": None}
        assert await deliveries(database, created["id"]) == [] and smtp.to("boss@acme.example") == []
        assert (await tenant.get("/v1/events", params={"type": "report.delivered"})).json()["data"] == []
        [event] = (await tenant.get("/v1/events", params={"type": "report.failed"})).json()["data"]
        assert event["data"] == paused
        by_resource = await tenant.get("/v1/events", params={"resource_id": created["id"], "type": "report.failed"})
        assert [e["id"] for e in by_resource.json()["data"]] == [event["id"]]
        reader = await tenant.key_with("events:read", "reports:read")
        assert (await tenant.get("/v1/events", params={"type": "report.failed"}, key=reader)).status_code == 200
        assert_problem(await tenant.get("/v1/events", params={"type": "report.failed"},
                                        key=await tenant.key_with("events:read")), 403)  # fmt: skip
        assert (await tenant.get(url, headers={"If-None-Match": f'"{created["version"]}"'})).status_code == 200

        # The fix: a change clears the error; resumed, the next occurrence is delivered.
        fixed = await tenant.patch(
            url, json={"params": {}, "paused": False}, headers={"If-Match": f'"{paused["version"]}"'}
        )
        assert fixed.status_code == 200, fixed.text
        assert (fixed.json()["failures"], fixed.json()["last_error"], fixed.json()["paused"]) == (0, None, False)
        assert fixed.json()["last_failed_at"] == paused["last_failed_at"] and fixed.json()["next_run_at"] is not None
        await make_due(database, created["id"])
        async with running_worker(database):
            [received] = await until(lambda: _async(smtp.to("boss@acme.example")))
            await until(lambda: _moved(tenant, created["id"]))
    assert "North daily" in received.message["Subject"]
    assert len(await deliveries(database, created["id"])) == 1
    assert len((await tenant.get("/v1/events", params={"type": "report.failed"})).json()["data"]) == 1


async def test_a_digest_that_keeps_failing_is_tried_later_and_later_then_paused(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(ctx: Any, n: int) -> None:
        raise RuntimeError("connection to 10.0.0.7 refused")  # nothing of it reaches the schedule

    wrapped(monkeypatch, "funnel", boom)
    created = await schedule(tenant, name="Daily", cadence={"type": "daily", "at": "08:00"}, emit_event=True)
    url = f"/v1/report-schedules/{created['id']}"
    for n, minutes in enumerate([10, 20, 40, 80], 1):
        await make_due(database, created["id"])
        await digests.run_due(database, utcnow())
        row = (await tenant.get(url)).json()
        assert (row["failures"], row["paused"]) == (n, False), row
        assert row["last_error"] == "Internal error: the digest could not be prepared; it is tried again later"
        assert at(row["next_run_at"]) - at(row["last_failed_at"]) == dt.timedelta(minutes=minutes)
    assert (await tenant.get("/v1/events", params={"type": "report.failed"})).json()["data"] == []
    await make_due(database, created["id"])
    await digests.run_due(database, utcnow())
    row = (await tenant.get(url)).json()
    assert (row["failures"], row["paused"], row["next_run_at"]) == (5, True, None)
    [event] = (await tenant.get("/v1/events", params={"type": "report.failed"})).json()["data"]
    assert event["data"]["failures"] == 5 and event["data"]["paused"] is True
    assert (await tenant.get("/v1/report-schedules")).json()["data"][0]["last_error"] == row["last_error"]
    assert await deliveries(database, created["id"]) == []


async def test_a_delivery_after_failures_and_a_change_while_waiting_reset_the_count(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [True]

    async def sometimes(ctx: Any, n: int) -> None:
        if failing[0]:
            raise RuntimeError("not now")

    wrapped(monkeypatch, "funnel", sometimes)
    first = await schedule(tenant, name="First", cadence={"type": "daily", "at": "08:00"}, emit_event=True)
    second = await schedule(tenant, name="Second", cadence={"type": "daily", "at": "08:00"}, emit_event=True)
    for _ in range(2):
        await make_due(database, first["id"])
        await make_due(database, second["id"])
        await digests.run_due(database, utcnow())
    failed = {s["id"]: s for s in (await tenant.get("/v1/report-schedules")).json()["data"]}
    assert [failed[s["id"]]["failures"] for s in (first, second)] == [2, 2]

    # The first is delivered at last: its errors are over (when it last failed stays known).
    failing[0] = False
    await make_due(database, first["id"])
    await digests.run_due(database, utcnow())
    delivered = (await tenant.get(f"/v1/report-schedules/{first['id']}")).json()
    assert (delivered["failures"], delivered["last_error"]) == (0, None)
    assert delivered["last_failed_at"] == failed[first["id"]]["last_failed_at"]
    assert at(delivered["next_run_at"]) > utcnow() and len(await deliveries(database, first["id"])) == 1

    # The second, waiting to be tried again, is changed: its count starts again and it is due now.
    waiting = failed[second["id"]]
    assert at(waiting["next_run_at"]) > utcnow()
    changed = (await tenant.patch(f"/v1/report-schedules/{second['id']}", json={"name": "Second, fixed"})).json()
    assert (changed["failures"], changed["last_error"]) == (0, None)
    assert at(changed["next_run_at"]) <= utcnow()
    await digests.run_due(database, utcnow())
    assert len(await deliveries(database, second["id"])) == 1
    names = [
        e["data"]["name"] for e in (await tenant.get("/v1/events", params={"type": "report.delivered"})).json()["data"]
    ]
    assert sorted(names) == ["First", "Second, fixed"]


async def _paused(tenant: Tenant, url: str) -> dict[str, Any] | None:
    row: dict[str, Any] = (await tenant.get(url)).json()
    return row if row["paused"] else None


async def test_a_time_of_day_changed_after_the_days_digest_went_does_not_send_its_window_again(
    database: Database, tenant: Tenant
) -> None:
    """Once per period: a daily digest went at 00:00; moved to 00:01 the same day, it waits for
    tomorrow instead of sending the same window a second time."""
    zone = (await tenant.get("/v1/workspace")).json()["timezone"]
    local = utcnow().astimezone(ZoneInfo(zone))
    if local.time() < dt.time(0, 2):
        pytest.skip("the two occurrences must fall on today; it is just past midnight in the workspace")
    daily = await schedule(tenant, name="Daily", cadence={"type": "daily", "at": "00:00"}, emit_event=True)
    await make_due(database, daily["id"])
    await digests.run_due(database, utcnow())
    [went] = await deliveries(database, daily["id"])
    assert went["occurrence"] == f"{local.date().isoformat()}T00:00"
    moved = await tenant.patch(
        f"/v1/report-schedules/{daily['id']}", json={"cadence": {"type": "daily", "at": "00:01"}}
    )
    assert moved.status_code == 200, moved.text
    await make_due(database, daily["id"])
    await digests.run_due(database, utcnow())
    assert len(await deliveries(database, daily["id"])) == 1
    after = (await tenant.get(f"/v1/report-schedules/{daily['id']}")).json()
    assert at(after["next_run_at"]).astimezone(ZoneInfo(zone)).date() == local.date() + dt.timedelta(days=1)
