"""One transaction per use case. Repositories execute statements and never commit; whoever runs
the use case (the HTTP route wrapper or the worker) commits once, before a response is sent."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from uuid import UUID

from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from app.db import tables
from app.db.repositories.api_keys import ApiKeyRepository
from app.db.repositories.events import EventRepository
from app.db.repositories.forms import FormRepository, SubmissionRepository
from app.db.repositories.idempotency import IdempotencyRepository
from app.db.repositories.jobs import JobRepository
from app.db.repositories.leads import CustomFieldRepository, LeadRepository
from app.db.repositories.members import MemberRepository
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.settings import SettingsRepository
from app.db.repositories.system import SystemRepository
from app.db.repositories.timers import TimerRepository
from app.db.repositories.webhooks import DeliveryRepository, WebhookEndpointRepository
from app.db.repositories.workspaces import WorkspaceRepository
from app.db.session import Database


class UnitOfWork:
    def __init__(self, database: Database, *, write: bool = True) -> None:
        self.database = database
        self.write = write
        self._conn: AsyncConnection | None = None
        # Events recorded by the use case, written together just before the commit (one INSERT).
        self._events: list[dict[str, Any]] = []

    def add_event(self, row: dict[str, Any]) -> None:
        self._events.append(row)

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self.database.connect(write=self.write)
        return self._conn

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        conn = await self.connection()
        return await conn.execute(statement, params)

    async def commit(self) -> None:
        if self._events:
            rows, self._events = self._events, []
            await self.execute(tables.events.insert(), rows)
        if self._conn is not None:
            await self._conn.commit()
            await self._close()

    async def rollback(self) -> None:
        self._events = []
        if self._conn is not None:
            try:
                await self._conn.rollback()
            finally:
                await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    # Repositories, each made for one workspace.
    def workspaces(self, workspace_id: UUID) -> WorkspaceRepository:
        return WorkspaceRepository(self, workspace_id)

    def members(self, workspace_id: UUID) -> MemberRepository:
        return MemberRepository(self, workspace_id)

    def api_keys(self, workspace_id: UUID) -> ApiKeyRepository:
        return ApiKeyRepository(self, workspace_id)

    def settings(self, workspace_id: UUID) -> SettingsRepository:
        return SettingsRepository(self, workspace_id)

    def idempotency(self, workspace_id: UUID) -> IdempotencyRepository:
        return IdempotencyRepository(self, workspace_id)

    def events(self, workspace_id: UUID) -> EventRepository:
        return EventRepository(self, workspace_id)

    def webhook_endpoints(self, workspace_id: UUID) -> WebhookEndpointRepository:
        return WebhookEndpointRepository(self, workspace_id)

    def deliveries(self, workspace_id: UUID) -> DeliveryRepository:
        return DeliveryRepository(self, workspace_id)

    def timers(self, workspace_id: UUID) -> TimerRepository:
        return TimerRepository(self, workspace_id)

    def jobs(self, workspace_id: UUID) -> JobRepository:
        return JobRepository(self, workspace_id)

    def leads(self, workspace_id: UUID) -> LeadRepository:
        return LeadRepository(self, workspace_id)

    def custom_fields(self, workspace_id: UUID) -> CustomFieldRepository:
        return CustomFieldRepository(self, workspace_id)

    def forms(self, workspace_id: UUID) -> FormRepository:
        return FormRepository(self, workspace_id)

    def submissions(self, workspace_id: UUID) -> SubmissionRepository:
        return SubmissionRepository(self, workspace_id)

    # The named cross-workspace repositories.
    def system(self) -> SystemRepository:
        return SystemRepository(self)

    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self)
