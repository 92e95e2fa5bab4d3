"""Composite reads see one moment: a row and its children read by one request are never from
either side of another transaction's commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.db.repositories.journeys.journeys import EnrolmentRepository
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.services.journeys import engine
from app.services.workspace import workspaces
from tests.conftest import Tenant
from tests.integration.test_journeys import enrol, enrolment, journey, lead, settled_before


async def _workspaces(uow: UnitOfWork) -> int:
    return int((await uow.execute(select(func.count()).select_from(tables.workspaces))).scalar_one())


async def _create_workspace(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await workspaces.create(uow, name="Meanwhile", now=datetime.now(UTC))
        await uow.commit()


async def test_a_snapshot_read_does_not_see_a_commit_made_between_its_statements(database: Database) -> None:
    async with UnitOfWork(database, write=False) as reader:
        await reader.snapshot()
        before = await _workspaces(reader)
        await _create_workspace(database)
        assert await _workspaces(reader) == before  # the commit came after its snapshot
    async with UnitOfWork(database, write=False) as reader:
        assert await _workspaces(reader) == before + 1
    if not database.is_sqlite:
        # Without it, PostgreSQL's reads run in autocommit, each statement seeing what is committed
        # by then (SQLite's read transaction keeps one snapshot anyway).
        async with UnitOfWork(database, write=False) as reader:
            before = await _workspaces(reader)
            await _create_workspace(database)
            assert await _workspaces(reader) == before + 1


async def test_a_snapshot_read_writes_nothing(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite's read units of work have no snapshot transaction of their own")
    async with UnitOfWork(database, write=False) as reader:
        await reader.snapshot()
        with pytest.raises(Exception, match="read-only"):
            await reader.execute(tables.workspaces.delete())


async def test_an_enrolment_reads_as_of_one_moment_while_the_worker_advances_it(
    database: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {"name": "Next week", "audience": "leads", "trigger": {"type": "manual"},
                "steps": [{"id": "pause", "type": "wait", "seconds": 7 * 86400},
                          {"id": "tag", "type": "update", "set": {"tags": {"add": ["waited"]}}}]}  # fmt: skip
    created = await journey(tenant, document)
    await settled_before(database)
    begun = await enrol(tenant, created["id"], await lead(tenant))
    read_steps = EnrolmentRepository.steps_of
    advanced: list[int] = []

    async def steps_after_the_worker_ran(self: EnrolmentRepository, enrolment_id: UUID) -> list[Any]:
        if not advanced:  # the worker commits the first step between the request's two reads
            advanced.append(await engine.advance_due(database, datetime.now(UTC)))
        return await read_steps(self, enrolment_id)

    monkeypatch.setattr(EnrolmentRepository, "steps_of", steps_after_the_worker_ran)
    found = await enrolment(tenant, begun["id"])
    assert advanced == [1]
    # as enrolled: due now, no step run yet (not the enrolment of then with the run of after)
    assert (found["current_step"], found["due_at"], found["steps"]) == ("pause", begun["due_at"], [])
    monkeypatch.undo()
    now = await enrolment(tenant, begun["id"])
    [run] = now["steps"]
    assert (now["current_step"], run["step_id"], run["finished_at"]) == ("pause", "pause", None)
    waited = datetime.fromisoformat(now["due_at"]) - datetime.fromisoformat(begun["due_at"])
    assert waited > timedelta(days=6)


async def test_a_snapshot_asked_after_the_first_read_is_refused(database: Database) -> None:
    """Too late: the reads before it would not agree with those after it."""
    if database.is_sqlite:
        pytest.skip("SQLite's read transaction keeps one snapshot from its first read")
    async with UnitOfWork(database, write=False) as reader:
        await _workspaces(reader)
        with pytest.raises(RuntimeError, match="before the unit of work's first statement"):
            await reader.snapshot()
    async with UnitOfWork(database) as writer:  # a write unit of work keeps its transaction: no-op
        await _workspaces(writer)
        await writer.snapshot()
        assert await _workspaces(writer) >= 1
