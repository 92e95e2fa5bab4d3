"""Journeys of one workspace, each version's document, enrolments and the steps they ran."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, func, insert, select, update

from app.db import tables
from app.db.repositories.base import Page, RecordRepository, Row, datetime_key, dialect_insert, next_version, text_key

j = tables.journeys
jv = tables.journey_versions
jr = tables.journey_reviews
# An enrolment's columns that advancing it changes (`write_positions`).
POSITION = ("status", "exit_reason", "current_step", "visit", "variant", "due_at", "waiting_event", "failures",
            "ended_at", "updated_at", "updated_by")  # fmt: skip
en = tables.enrolments
es = tables.enrolment_steps


class JourneyRepository(RecordRepository[Row]):
    table = j
    sortable = {"created_at": datetime_key(j.c.created_at), "name": text_key(j.c.name)}

    async def add_version(self, journey_id: UUID, number: int, document: Mapping[str, Any], at: datetime,
                          by: str, *, contributors: Sequence[str] = ()) -> None:  # fmt: skip
        """A new draft version, not submitted for review; `contributors`: the member who wrote it."""
        await self.uow.execute(
            insert(jv).values(
                workspace_id=self.workspace_id,
                journey_id=journey_id,
                number=number,
                document=dict(document),
                created_at=at,
                created_by=by,
                updated_at=at,
                contributors=list(contributors),
                approvals=0,
                review_groups=0,
            )
        )

    async def version(self, journey_id: UUID, number: int) -> Row | None:
        statement = select(jv).where(
            jv.c.workspace_id == self.workspace_id, jv.c.journey_id == journey_id, jv.c.number == number
        )
        return await self._one(statement)

    async def versions(self, journey_id: UUID, numbers: Sequence[int]) -> dict[int, Row]:
        statement = select(jv).where(
            jv.c.workspace_id == self.workspace_id, jv.c.journey_id == journey_id, jv.c.number.in_(list(numbers))
        )
        return {r["number"]: dict(r) for r in (await self.uow.execute(statement)).mappings()}

    async def set_version(self, journey_id: UUID, number: int, values: Mapping[str, Any]) -> None:
        await self.uow.execute(
            update(jv)
            .where(jv.c.workspace_id == self.workspace_id, jv.c.journey_id == journey_id, jv.c.number == number)
            .values(**values)
        )

    async def set_fields(self, journey_id: UUID, values: Mapping[str, Any]) -> None:
        """Bookkeeping of the worker's (no new version of the journey)."""
        await self.uow.execute(update(j).where(self.scope, j.c.id == journey_id).values(**values))

    async def triggered_by(self, event_type: str) -> list[Row]:
        """Active journeys whose trigger is this event type."""
        statement = select(j).where(
            self.scope, j.c.status == "active", j.c.trigger_type == "event", j.c.trigger_event == event_type
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def running(self) -> list[Row]:
        """Journeys with a published version that is not archived (active or paused)."""
        statement = select(j).where(self.scope, j.c.status.in_(("active", "paused")))
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def audience_page(self, audience: str, after: UUID | None, limit: int) -> list[Row]:
        """The next `limit` people of an audience (live leads not merged, or live contacts) by id."""
        table = tables.leads if audience == "leads" else tables.contacts
        statement = select(table).where(table.c.workspace_id == self.workspace_id, table.c.archived_at.is_(None))
        if audience == "leads":
            statement = statement.where(table.c.merged_into_id.is_(None))
        if after is not None:
            statement = statement.where(table.c.id > after)
        statement = statement.order_by(table.c.id).limit(limit)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]


class JourneyReviewRepository(RecordRepository[Row]):
    """Every review of a journey's draft versions."""

    table = jr
    sortable = {"created_at": datetime_key(jr.c.created_at)}

    async def add(self, values: dict[str, Any]) -> Row:
        return await self._insert(values)

    async def counting(self, journey_id: UUID, version: int) -> list[Row]:
        """The approvals of this version that count now (member_id, review_group), oldest first:
        those of members still active (a member deactivated before the bar is reached no longer counts)."""
        m = tables.members
        statement = (
            select(jr.c.member_id, jr.c.review_group)
            .join(m, (m.c.workspace_id == jr.c.workspace_id) & (m.c.id == jr.c.member_id))
            .where(
                self.scope,
                jr.c.journey_id == journey_id,
                jr.c.version == version,
                jr.c.counts.is_(True),
                m.c.active.is_(True),
            )
            .order_by(jr.c.created_at, jr.c.id)
        )
        return [dict(row) for row in (await self.uow.execute(statement)).mappings()]

    async def withdraw(self, journey_id: UUID, version: int, at: datetime, *, member_id: UUID | None = None) -> None:
        """The version's current approvals (of one member, when named) no longer count."""
        statement = update(jr).where(
            self.scope, jr.c.journey_id == journey_id, jr.c.version == version, jr.c.counts.is_(True)
        )
        if member_id is not None:
            statement = statement.where(jr.c.member_id == member_id)
        await self.uow.execute(statement.values(counts=False, withdrawn_at=at))

    async def history(
        self, journey_id: UUID, *, version: int | None, sort: Any, cursor: str | None, limit: int
    ) -> Page[Row]:
        return await self.list(sort=sort, cursor=cursor, limit=limit, archived=None, journey_id=journey_id,
                               version=version)  # fmt: skip


class EnrolmentRepository(RecordRepository[Row]):
    table = en
    sortable = {"created_at": datetime_key(en.c.created_at)}

    async def enrol(self, values: Mapping[str, Any]) -> Row | None:
        """A new active enrolment; None when the person already has one in this journey (the partial
        unique index keeps one active per journey and person, also between concurrent writers)."""
        return await self._insert_unless_exists(values)

    async def last_of(self, journey_id: UUID, column: str, person_id: UUID) -> Row | None:
        """The person's latest enrolment in this journey (any status)."""
        statement = (
            select(en)
            .where(self.scope, en.c.journey_id == journey_id, en.c[column] == person_id)
            .order_by(en.c.enrolled_at.desc(), en.c.id.desc())
            .limit(1)
        )
        return await self._one(statement)

    async def active_of_person(self, column: str, person_id: UUID) -> list[Row]:
        statement = select(en).where(self.scope, en.c.status == "active", en.c[column] == person_id)
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def set_fields(self, enrolment_id: UUID, values: Mapping[str, Any]) -> Row | None:
        statement = (
            update(en)
            .where(self.scope, en.c.id == enrolment_id)
            .values(version=next_version(en), **values)
            .returning(en)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def end_if_active(self, enrolment_id: UUID, values: Mapping[str, Any]) -> Row | None:
        """End an enrolment that is still active (None: it ended meanwhile)."""
        statement = (
            update(en)
            .where(self.scope, en.c.id == enrolment_id, en.c.status == "active")
            .values(version=next_version(en), **values)
            .returning(en)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def active_of_person_locked(self, column: str, person_id: UUID) -> list[Row]:
        """The person's active enrolments, locked until commit (PostgreSQL): a worker advancing one
        finishes first, and what is read is what it left."""
        statement = select(en).where(self.scope, en.c.status == "active", en.c[column] == person_id)
        if str((await self.uow.connection()).dialect.name) == "postgresql":
            statement = statement.with_for_update()
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    # -- step runs --------------------------------------------------------------------------------

    async def start_step(self, values: Mapping[str, Any]) -> bool:
        """Record that a step run begins (enrolment, step, visit); False when that run exists."""
        statement = dialect_insert(await self._dialect())(es).on_conflict_do_nothing()
        return bool((await self.uow.execute(statement, {"workspace_id": self.workspace_id, **values})).rowcount)

    async def finish_step(self, enrolment_id: UUID, step_id: str, visit: int, result: Mapping[str, Any] | None,
                          at: datetime) -> None:  # fmt: skip
        await self.uow.execute(
            update(es)
            .where(
                es.c.workspace_id == self.workspace_id,
                es.c.enrolment_id == enrolment_id,
                es.c.step_id == step_id,
                es.c.visit == visit,
            )
            .values(result=dict(result) if result is not None else None, finished_at=at)
        )

    async def add_steps(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Step runs that began (each with every column but the workspace's; all with the same keys):
        a worker's pass writes those of its batch together, its enrolments locked meanwhile."""
        await self.uow.insert_rows(es, rows, {"workspace_id": self.workspace_id})

    async def finish_steps(self, finished: Sequence[tuple[UUID, str, int, Mapping[str, Any] | None, datetime]]) -> None:
        """`finish_step` for many step runs begun earlier: (enrolment id, step, visit, result, at) each."""
        if not finished:
            return
        statement = (
            update(es)
            .where(
                es.c.workspace_id == self.workspace_id,
                es.c.enrolment_id == bindparam("_enrolment"),
                es.c.step_id == bindparam("_step"),
                es.c.visit == bindparam("_visit"),
            )
            .values(result=bindparam("_result", type_=es.c.result.type), finished_at=bindparam("_at"))
        )
        params = [
            {"_enrolment": enrolment_id, "_step": step_id, "_visit": visit,
             "_result": dict(result) if result is not None else None, "_at": at}
            for enrolment_id, step_id, visit, result, at in finished
        ]  # fmt: skip
        await self.uow.execute(statement, params)

    async def write_positions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Where a pass left each of many enrolments (rows as read, with its changes), in one
        statement, each a new version."""
        if not rows:
            return
        values = [{"workspace_id": self.workspace_id, "id": r["id"], **{c: r[c] for c in POSITION}} for r in rows]
        await self.uow.update_rows(en, values, bump_version=True)

    async def step_runs_of(self, enrolment_ids: Sequence[UUID]) -> list[Row]:
        """The step runs of these enrolments (enrolment_id, step_id, visit, result, finished_at): a
        worker's pass reads those of its whole batch at once."""
        statement = select(es.c.enrolment_id, es.c.step_id, es.c.visit, es.c.result, es.c.finished_at).where(
            es.c.workspace_id == self.workspace_id, es.c.enrolment_id.in_(list(enrolment_ids))
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def steps_of(self, enrolment_id: UUID) -> list[Row]:
        statement = (
            select(es)
            .where(es.c.workspace_id == self.workspace_id, es.c.enrolment_id == enrolment_id)
            .order_by(es.c.number)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def step_rows(self, journey_id: UUID) -> list[Row]:
        """(step_id, enrolment status, exit reason, current step, finished) of every step run of the
        journey's enrolments, for its statistics."""
        statement = (
            select(es.c.step_id, es.c.finished_at, en.c.status, en.c.exit_reason, en.c.current_step, en.c.variant)
            .select_from(es.join(en, and_(en.c.workspace_id == es.c.workspace_id, en.c.id == es.c.enrolment_id)))
            .where(en.c.workspace_id == self.workspace_id, en.c.journey_id == journey_id)
        )
        return [dict(r) for r in (await self.uow.execute(statement)).mappings()]

    async def counts(self, journey_id: UUID) -> dict[tuple[str, str | None, str | None], int]:
        """Enrolments by (status, exit reason, variant)."""
        statement = (
            select(en.c.status, en.c.exit_reason, en.c.variant, func.count())
            .where(self.scope, en.c.journey_id == journey_id)
            .group_by(en.c.status, en.c.exit_reason, en.c.variant)
        )
        return {(r[0], r[1], r[2]): int(r[3]) for r in (await self.uow.execute(statement)).all()}

    async def list_of(self, journey_id: UUID, *, sort: Any, cursor: str | None, limit: int, **equal: Any) -> Page[Row]:
        return await self.list(sort=sort, cursor=cursor, limit=limit, archived=None, journey_id=journey_id, **equal)
