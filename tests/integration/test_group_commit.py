"""Group commit (app/db/bulk/group_commit.py): units of work writing at the same moment share one
statement on PostgreSQL, and each unit still succeeds or fails on its own: a unit whose rows are
refused takes nobody else's rows down with it, and nobody's rows are stored twice. The outcomes are
asserted on both databases (SQLite writes each unit in its own transaction)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from app.db import tables
from app.db.bulk import write_behind
from app.db.bulk.copy import COPY_FROM_ROWS
from app.db.repositories.registry import WorkspaceRepositories
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.ids import new_id, utcnow
from tests.conftest import Tenant


def _event(workspace_id: uuid.UUID, n: int, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": event_id or new_id(),
        "type": "member.created",
        "occurred_at": utcnow(),
        "api_version": "2026-11-27",
        "actor": "test",
        "resource_id": str(n),
        "data": {"n": n},
        "previous_attributes": None,
    }


async def _write(database: Database, events: Sequence[dict[str, Any]]) -> None:
    async with UnitOfWork(database) as uow:
        for event in events:
            uow.add_event(event)
        await uow.commit()


async def _stored(database: Database, workspace_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> int:
    async with UnitOfWork(database, write=False) as uow:
        repository = WorkspaceRepositories(uow, workspace_id).events
        return sum([await repository.get(event_id) is not None for event_id in ids])


@pytest.fixture
def statements(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows in each statement the group commit sent (PostgreSQL only)."""
    sent: list[int] = []
    if database.is_sqlite:
        return sent
    together = database._together
    execute = together._execute

    async def counting(sql: str, args: Sequence[Any]) -> None:
        # rows: events only here, each with its queue row (workspace_id, id, type, resource_id)
        sent.append(len(args) // (len(_event(uuid.uuid4(), 0)) + len(tables.event_queue.c)))
        await execute(sql, args)

    monkeypatch.setattr(together, "_execute", counting)
    return sent


async def test_units_writing_at_once_share_a_statement(
    tenant: Tenant, database: Database, statements: list[int]
) -> None:
    workspace_id = uuid.UUID(tenant.id)
    units = [[_event(workspace_id, n)] for n in range(20)]
    await asyncio.gather(*(_write(database, unit) for unit in units))
    assert await _stored(database, workspace_id, [unit[0]["id"] for unit in units]) == 20
    if not database.is_sqlite:
        assert len(statements) < 20 and sum(statements) == 20  # combined, every row once

    await _write(database, [_event(workspace_id, 99)])  # alone: written at once, on its own
    if not database.is_sqlite:
        assert statements[-1] == 1


async def test_a_refused_unit_fails_alone(tenant: Tenant, database: Database, statements: list[int]) -> None:
    """One unit repeats an event id already stored: its write fails as it would alone; the units
    sharing its statement are stored exactly once."""
    workspace_id = uuid.UUID(tenant.id)
    taken = _event(workspace_id, 0)
    await _write(database, [taken])
    good = [[_event(workspace_id, n), _event(workspace_id, n)] for n in range(1, 9)]
    bad = [_event(workspace_id, 100), _event(workspace_id, 101, event_id=taken["id"])]
    outcomes = await asyncio.gather(
        *(_write(database, unit) for unit in [*good[:4], bad, *good[4:]]), return_exceptions=True
    )
    failed = [outcome for outcome in outcomes if outcome is not None]
    assert len(failed) == 1 and outcomes[4] is failed[0]
    assert await _stored(database, workspace_id, [event["id"] for unit in good for event in unit]) == 16
    assert await _stored(database, workspace_id, [bad[0]["id"]]) == 0  # all of the refused unit or none
    if not database.is_sqlite:
        assert statements[1] == 18  # the combined attempt, refused as a whole, then each unit alone
        assert sorted(statements[2:]) == [2] * 9


async def test_units_that_clash_with_each_other(tenant: Tenant, database: Database) -> None:
    """Two units written together carry the same id: one is stored, the other refused."""
    workspace_id = uuid.UUID(tenant.id)
    same = new_id()
    units = [[_event(workspace_id, 1, event_id=same)], [_event(workspace_id, 2, event_id=same)]]
    outcomes = await asyncio.gather(*(_write(database, unit) for unit in units), return_exceptions=True)
    assert sorted(outcome is None for outcome in outcomes) == [False, True]
    winner = outcomes.index(None) + 1
    async with UnitOfWork(database, write=False) as uow:
        stored = await WorkspaceRepositories(uow, workspace_id).events.get(same)
    assert stored is not None and stored["data"] == {"n": winner}


async def test_a_statement_takes_no_more_than_fits(tenant: Tenant, database: Database, statements: list[int]) -> None:
    """Units whose rows together would pass PostgreSQL's parameter limit go in several statements."""
    workspace_id = uuid.UUID(tenant.id)
    per_unit = COPY_FROM_ROWS - 1  # the most rows a unit writes by statement rather than COPY
    units = [[_event(workspace_id, n * 100 + i) for i in range(per_unit)] for n in range(80)]
    groups = write_behind.groups([(tables.events, [e for u in units for e in u])])
    assert write_behind.parameter_count(groups) > write_behind.MAX_PARAMETERS
    await asyncio.gather(*(_write(database, unit) for unit in units))
    assert await _stored(database, workspace_id, [event["id"] for unit in units for event in unit]) == 80 * per_unit
    if not database.is_sqlite:
        assert len(statements) >= 2 and sum(statements) == 80 * per_unit


async def test_a_unit_cancelled_while_waiting_is_not_written(tenant: Tenant, database: Database) -> None:
    """A request cancelled (say, at shutdown) before its rows were sent: they are not sent; the
    units around it are written."""
    workspace_id = uuid.UUID(tenant.id)
    units = [[_event(workspace_id, n)] for n in range(10)]
    tasks = [asyncio.create_task(_write(database, unit)) for unit in units]
    await asyncio.sleep(0)  # every unit queued, no statement sent yet
    tasks[3].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[3], asyncio.CancelledError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [None] * 9
    others = [unit[0]["id"] for i, unit in enumerate(units) if i != 3]
    assert await _stored(database, workspace_id, others) == 9
    if not database.is_sqlite:
        assert await _stored(database, workspace_id, [units[3][0]["id"]]) == 0
    await _write(database, [_event(workspace_id, 50)])  # still writing
