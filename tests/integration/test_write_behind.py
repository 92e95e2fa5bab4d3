"""Write-behind inserts (app/db/bulk/write_behind.py): what a use case queued is written at commit,
all of it or none of it, in one statement on PostgreSQL and in several when it would not fit in one."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.db.bulk import write_behind
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import new_id, utcnow
from tests.conftest import Tenant


def _event(workspace_id: uuid.UUID, n: int) -> dict:  # type: ignore[type-arg]
    return {
        "workspace_id": workspace_id,
        "id": new_id(),
        "type": "member.created",
        "occurred_at": utcnow(),
        "api_version": "2026-11-27",
        "actor": "test",
        "resource_id": str(n),
        "data": {"n": n, "name": "Ünïcode ✓"},
        "previous_attributes": None,
    }


@pytest.mark.parametrize("count", [1, 4_000])  # 4,000 events take more parameters than one statement allows
async def test_queued_rows_are_all_written_at_commit(tenant: Tenant, database: Database, count: int) -> None:
    workspace_id = uuid.UUID(tenant.id)
    events = [_event(workspace_id, n) for n in range(count)]
    groups = write_behind.groups([(tables.events, events)])
    fits = write_behind.parameter_count(groups) <= write_behind.MAX_PARAMETERS
    assert fits == (count == 1)
    async with UnitOfWork(database) as uow:
        for event in events:
            uow.add_event(event)
        await uow.commit()
    e = tables.events
    async with UnitOfWork(database, write=False) as uow:
        rows = (
            await uow.execute(
                select(e.c.id, e.c.resource_id, e.c.data, e.c.previous_attributes).where(
                    e.c.workspace_id == workspace_id, e.c.actor == "test"
                )
            )
        ).all()
    # every queued event, each with its own content: none lost, none doubled, none mixed up
    stored = {row.id: row for row in rows}
    assert len(rows) == count and set(stored) == {event["id"] for event in events}
    for event in events:
        row = stored[event["id"]]
        assert (row.resource_id, row.data, row.previous_attributes) == (event["resource_id"], event["data"], None)
    response = await tenant.get("/v1/events", params={"limit": 1, "resource_id": str(count - 1)})
    assert response.json()["data"][0]["id"] == str(events[-1]["id"])


async def test_a_failing_write_behind_statement_stores_nothing(tenant: Tenant, database: Database) -> None:
    """A lead's tag row points at the lead: if any queued row is refused, none is kept."""
    workspace_id = uuid.UUID(tenant.id)
    good = _event(workspace_id, 1)
    async with UnitOfWork(database) as uow:
        uow.add_event(good)
        uow.defer_insert(tables.lead_tags, [{"workspace_id": workspace_id, "lead_id": new_id(), "tag": "orphan"}])
        with pytest.raises(Exception):  # noqa: B017 - the driver's foreign-key error, whichever it is
            await uow.commit()
    async with UnitOfWork(database, write=False) as uow:
        assert await WorkspaceRepositories(uow, workspace_id).events.get(good["id"]) is None


async def test_batch_updates_store_what_the_row_holds_on_either_path(tenant: Tenant, database: Database) -> None:
    """update_rows sends rows as one JSON document on PostgreSQL, as arrays when a value has no
    exact JSON form there (a 70-digit integer in a JSON column): both store what an insert of the
    same values would, JSON None as JSON null, times to the microsecond, text as given."""
    workspace_id = uuid.UUID(tenant.id)
    placed = utcnow().replace(microsecond=123456)
    created = await tenant.post("/v1/orders/batch", json={"orders": [
        {"source": "shop", "external_id": f"u{n}", "status": "paid", "currency": "USD", "total": "5.00",
         "placed_at": placed.isoformat(), "source_updated_at": placed.isoformat(), "customer": {"email": "a@b.example"}}
        for n in (1, 2)
    ]})  # fmt: skip
    ids = [uuid.UUID(r["id"]) for r in created.json()["results"]]
    huge = 10**70
    later = placed.replace(microsecond=654321)
    async with UnitOfWork(database) as uow:
        for order_id, lines in ((ids[0], [{"name": "Ünïcode ✓"}]), (ids[1], [{"name": "big", "ref": huge}])):
            await uow.update_rows(
                tables.orders,
                [{"workspace_id": workspace_id, "id": order_id, "customer": None, "line_items": lines,
                  "coupon": "ÅÄÖ ✓", "source_updated_at": later}],
                bump_version=True,
            )  # fmt: skip
        await uow.commit()
    async with UnitOfWork(database, write=False) as uow:
        stored = [await WorkspaceRepositories(uow, workspace_id).orders.get(order_id) for order_id in ids]
        o = tables.orders
        null_kind = await uow.execute(
            select(func.count()).select_from(o).where(o.c.workspace_id == workspace_id, o.c.customer.is_(None))
        )
    assert [s["line_items"] for s in stored] == [[{"name": "Ünïcode ✓"}], [{"name": "big", "ref": huge}]]
    assert all(s["customer"] is None and s["coupon"] == "ÅÄÖ ✓" and s["version"] == 2 for s in stored)
    assert all(s["source_updated_at"] == later for s in stored)
    assert null_kind.scalar_one() == 0  # JSON null, as the insert path writes None, not SQL NULL


async def test_a_failed_savepoint_drops_what_it_queued(tenant: Tenant, database: Database) -> None:
    """Events queued inside a savepoint that fails are not written at commit (nor those queued
    after a flush inside it, whose rows the savepoint undid); those of a savepoint that held are."""
    workspace_id = uuid.UUID(tenant.id)
    kept, undone, flushed, after = (_event(workspace_id, n) for n in range(4))
    async with UnitOfWork(database) as uow:
        async with uow.savepoint():
            uow.add_event(kept)
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.add_event(undone)
                raise RuntimeError("an item fails")
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.add_event(flushed)
                await uow.flush()
                uow.add_event(after)
                raise RuntimeError("an item fails after writing")
        await uow.commit()
    e = tables.events
    async with UnitOfWork(database, write=False) as uow:
        stored = (await uow.execute(select(e.c.id).where(e.c.workspace_id == workspace_id, e.c.actor == "test"))).all()
    assert [row.id for row in stored] == [kept["id"]]


async def test_report_settings_last_only_as_long_as_their_transaction(database: Database) -> None:
    """`analytic()` turns JIT off for a report's unit of work on PostgreSQL; the pooled connection
    goes back with the server's settings."""
    from sqlalchemy import text

    if database.is_sqlite:
        async with UnitOfWork(database, write=False) as uow:
            await uow.analytic()  # nothing to tune: no statement sent
            assert (await uow.execute(text("SELECT 1"))).scalar() == 1
        return
    async with UnitOfWork(database, write=False) as uow:
        before = (await uow.execute(text("SHOW jit"))).scalar()
    async with UnitOfWork(database, write=False) as uow:
        await uow.analytic()
        assert (await uow.execute(text("SHOW jit"))).scalar() == "off"
    assert before == "on"  # the server's default: the test would prove nothing otherwise
    async with UnitOfWork(database) as uow:  # a writing unit of work: for its transaction only
        await uow.analytic()
        assert (await uow.execute(text("SHOW jit"))).scalar() == "off"
        await uow.commit()
    for _ in range(3):  # whichever pooled connection comes next
        async with UnitOfWork(database, write=False) as uow:
            assert (await uow.execute(text("SHOW jit"))).scalar() == before


async def test_events_written_before_the_commit_still_wake_the_dispatcher_at_commit(
    tenant: Tenant, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A use case that flushes its events early (a lead merged on create, an order sync) commits
    with nothing queued: the commit still wakes this process's dispatcher for them."""
    from app.db import unit_of_work
    from app.db.wakeups import EVENTS

    woken: list[set[str]] = []
    monkeypatch.setattr(unit_of_work, "wake_local", lambda kinds: woken.append(set(kinds)))
    async with UnitOfWork(database) as uow:
        uow.add_event(_event(uuid.UUID(tenant.id), 1))
        await uow.flush()
        await uow.commit()
    assert woken == [{EVENTS}]
