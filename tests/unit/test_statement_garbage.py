"""Statements the worker builds for every message leave no reference cycles behind: the processes
run the cyclic garbage collector rarely (app/__main__.py `_tune_gc`), so cyclic garbage made per
message piles up until it does."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from app.db import tables
from app.db.repositories.base import next_version
from app.db.repositories.events import delivery_queue, job_queue
from app.db.repositories.journeys import queue as journey_queue

ms = tables.messages
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def cyclic_garbage() -> Iterator[Callable[[Callable[[], Any]], int]]:
    def count(build: Callable[[], Any]) -> int:
        build()  # warm: whatever is built once (and cached) is not garbage
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(10):
                build()
            gc.collect()
            return len(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    yield count


def _settle() -> Any:
    values = {"status": "sent", "lease_until": None, "updated_at": NOW, "sent_at": NOW}
    return (
        update(ms)
        .where(ms.c.workspace_id == uuid4(), ms.c.id == uuid4(), ms.c.status == "sending", ms.c.attempts == 1)
        .values(version=next_version(ms), **values)
        .returning(ms)
    )


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_a_versioned_update_makes_no_cyclic_garbage(
    cyclic_garbage: Callable[[Callable[[], Any]], int], dialect: Any
) -> None:
    assert cyclic_garbage(lambda: _settle().compile(dialect=dialect)) == 0


def test_the_version_bump_is_the_same_sql_as_written_out() -> None:
    ours = update(ms).where(ms.c.id == uuid4()).values(version=next_version(ms))
    written = update(ms).where(ms.c.id == uuid4()).values(version=ms.c.version + 1)
    dialect = postgresql.dialect()
    assert str(ours.compile(dialect=dialect)) == str(written.compile(dialect=dialect))
    assert ours._generate_cache_key() == written._generate_cache_key()


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_the_worker_claims_are_built_once_and_their_passes_make_no_cyclic_garbage(
    cyclic_garbage: Callable[[Callable[[], Any]], int], dialect: Any
) -> None:
    """Every poll of every worker claims jobs and webhook endpoints and asks which workspaces'
    events journeys read: a pass only looks its statement's compiled form up by cache key, the
    statement itself built once."""
    postgres = dialect.name == "postgresql"
    assert job_queue._claim_statement(postgres) is job_queue._claim_statement(postgres)
    assert delivery_queue._candidates_statement() is delivery_queue._candidates_statement()
    statements = (
        job_queue._claim_statement(postgres),
        delivery_queue._candidates_statement(),
        journey_queue._READING_WORKSPACES,
    )
    for statement in statements:
        statement.compile(dialect=dialect)

    def passes() -> None:
        for statement in statements:
            statement._generate_cache_key()  # what a pass's execution does: its compiled form is cached

    assert cyclic_garbage(passes) == 0
