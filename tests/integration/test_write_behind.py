"""Write-behind inserts (app/db/bulk.py): what a use case queued is written at commit, all of it or
none of it, in one statement on PostgreSQL and in several when it would not fit in one."""

from __future__ import annotations

import uuid

import pytest

from app.db import bulk, tables
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
    groups = bulk.groups([(tables.events, events)])
    fits = bulk.parameter_count(groups) <= bulk.MAX_PARAMETERS
    assert fits == (count == 1)
    async with UnitOfWork(database) as uow:
        for event in events:
            uow.add_event(event)
        await uow.commit()
    async with UnitOfWork(database, write=False) as uow:
        stored = await uow.events(workspace_id).get(events[-1]["id"])
    assert stored is not None and stored["data"] == {"n": count - 1, "name": "Ünïcode ✓"}
    assert stored["previous_attributes"] is None
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
        assert await uow.events(workspace_id).get(good["id"]) is None
