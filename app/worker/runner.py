"""The worker's loops: dispatch new events, deliver webhooks, fire timers. Polling is the truth
(every WORKER_POLL_SECONDS when idle). On stop it claims nothing new, lets in-flight deliveries
finish (their leases cover a kill), and releases what it holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import httpx

from app.config import Settings
from app.db.session import Database
from app.ids import utcnow
from app.worker import deliveries, dispatcher, jobs, recurring, timers

log = logging.getLogger("app.worker")
ENSURE_EVERY = timedelta(minutes=10)


class Worker:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._stop = asyncio.Event()
        self._active: set[asyncio.Task[int]] = set()
        # Set by a PostgreSQL NOTIFY (events written) or by the dispatcher (deliveries created).
        self._wake = asyncio.Event()
        self._next_ensure: datetime | None = None

    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _idle(self) -> None:
        """Wait for a wake-up or the poll interval, whichever comes first (polling is the truth)."""
        stop, wake = asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {stop, wake}, timeout=self.settings.worker_poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
            wake.cancel()
        self._wake.clear()

    async def _loop(self, name: str, step: object) -> None:
        while not self._stop.is_set():
            try:
                busy = await step()  # type: ignore[operator]
            except Exception:
                log.exception("worker %s loop failed; retrying", name)
                busy = 0
            if not busy:
                await self._idle()

    async def _dispatch(self) -> int:
        dispatched = await dispatcher.dispatch(self.database, utcnow())
        if dispatched:
            self._wake.set()  # new deliveries: let the delivery loop look now
        return dispatched

    async def _listen(self) -> None:
        """LISTEN crm_outbox on a connection of its own (PostgreSQL); reconnects after failures."""
        import asyncpg

        dsn = self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        while not self._stop.is_set():
            try:
                connection = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError):
                log.warning("worker cannot LISTEN for outbox notifications; polling only, retrying in 5 s")
                await self._sleep(5)
                continue
            try:
                await connection.add_listener("crm_outbox", lambda *_: self._wake.set())
                while not self._stop.is_set() and not connection.is_closed():
                    await self._sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _timers(self) -> int:
        now = utcnow()
        if self._next_ensure is None or now >= self._next_ensure:  # at start, then every 10 minutes
            await recurring.ensure(self.database, now)
            self._next_ensure = now + ENSURE_EVERY
        return await timers.fire_due(self.database, self.settings)

    async def _jobs(self) -> int:
        return await jobs.run_due(self.database, self.settings)

    async def _deliver(self, client: httpx.AsyncClient) -> int:
        free = self.settings.worker_concurrency - len(self._active)
        if free <= 0:
            return 0
        claimed = await deliveries.claim(self.database, self.settings, free)
        for endpoint in claimed:
            task = asyncio.create_task(
                deliveries.deliver_endpoint(self.database, self.settings, client, endpoint, self.stopping)
            )
            self._active.add(task)
            task.add_done_callback(self._active.discard)
        return len(claimed)

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.settings.worker_concurrency * 2)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
            loops = [
                asyncio.create_task(self._loop("dispatch", self._dispatch)),
                asyncio.create_task(self._loop("deliver", lambda: self._deliver(client))),
                asyncio.create_task(self._loop("timers", self._timers)),
                asyncio.create_task(self._loop("jobs", self._jobs)),
                *([] if self.database.is_sqlite else [asyncio.create_task(self._listen())]),
            ]
            log.info("worker started")
            await self._stop.wait()
            await asyncio.gather(*loops, return_exceptions=True)
            if self._active:
                _, pending = await asyncio.wait(self._active, timeout=self.settings.webhook_timeout_seconds + 5)
                for task in pending:
                    task.cancel()
            log.info("worker stopped")

    def stop(self) -> None:
        self._stop.set()
