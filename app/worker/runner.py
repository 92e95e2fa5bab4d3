"""The worker's loops: dispatch new events, deliver webhooks, fire timers, run jobs. Polling is the
safety net (every WORKER_POLL_SECONDS when idle); writers wake the loop their work is for (a NOTIFY
on PostgreSQL whose payload names the kind, a direct call when the worker runs in the writer's
process; see app/db/wakeups.py), the dispatcher wakes the delivery loop when it created
deliveries, and the timer loop sleeps until the next timer is due. On stop it claims nothing new,
lets in-flight work finish for a while (`stop_seconds`; their leases cover a kill), and releases
what it holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

import httpx

from app import logs, metrics, outbound, sealing
from app.config import Settings
from app.db.session import Database
from app.db.unit_of_work import UnitOfWork
from app.db.wakeups import (
    CAMPAIGNS,
    DELIVERIES,
    EVENTS,
    JOBS,
    JOURNEYS,
    LOCAL_WAKERS,
    MESSAGES,
    NOTIFY_EVERY_SECONDS,
    OUTBOX_CHANNEL,
    REPORTS,
    TIMERS,
)
from app.domain.events.webhooks import workspace_share
from app.ids import utcnow
from app.schemas.events.webhooks import MAX_IN_FLIGHT
from app.services.audit import chain as audit_chain
from app.services.campaigns import sending as campaign_sending
from app.services.customers import segment_members
from app.services.journeys import engine as journey_engine
from app.services.journeys import schedules as journey_schedules
from app.services.journeys import signals as journey_signals
from app.services.leads import duplicates, sla
from app.services.outreach import delivery as messages
from app.services.outreach import links
from app.services.reports import digests
from app.worker import deliveries, dispatcher, jobs, recurring, statistics, timers

log = logging.getLogger("app.worker")
ENSURE_EVERY = timedelta(minutes=10)
# After a wake-up, wait this long so a burst makes one pass, not hundreds; as long as writers
# hold back their next NOTIFY, so the pass sees every event of the notification's window.
COALESCE_SECONDS = NOTIFY_EVERY_SECONDS
DISPATCH_BATCH = 500
# A timer found due right after a claim that took nothing (it fell due in between, or the row was
# locked by another worker's claim about to lease it): look again this soon, not later.
TIMER_RECHECK = timedelta(seconds=0.01)
# A scheduled digest due but not taken (another worker holds it): look again then.
REPORT_RECHECK = timedelta(seconds=0.2)
SLA_TICK = timedelta(seconds=0.1)  # breaches falling due close together are swept together
# Duplicate suggestions are for people reviewing leads, not for webhooks racing a clock: new leads
# gather for a second so a pass compares many at once (GET /v1/leads/{id}/duplicates computes its
# answer on demand meanwhile).
DEDUPE_COALESCE = 1.0
# Chain stamps are for verification, not for anyone waiting: entries gather for a second so a pass
# stamps hundreds at once (a pass's fixed cost, its reads and its transaction, paid once a second
# under load instead of at every dispatch pass).
AUDIT_COALESCE = 1.0
# On stop, running jobs get this long to end; then they are cancelled and handed back (their
# leases end at once), so another worker resumes them after their last committed step.
JOB_STOP_GRACE_SECONDS = 5.0
# On stop, deliveries in flight get their attempt's deadline (WEBHOOK_TIMEOUT_SECONDS) and this
# long to record it; then they are cancelled and get RELEASE_GRACE_SECONDS to hand their endpoints
# back (a lease left behind would hold the endpoint's queue for WORKER_LEASE_SECONDS).
DELIVERY_STOP_GRACE_SECONDS = 5.0
RELEASE_GRACE_SECONDS = 2.0
# For the loops to end the pass they are in and the database to close, on top of the above.
STOP_MARGIN_SECONDS = 5.0


def stop_seconds(settings: Settings) -> float:
    """How long a worker asked to stop may take (jobs and deliveries are stopped side by side):
    what a supervisor waits before killing it (app/worker/process.py)."""
    for_jobs = 2 * JOB_STOP_GRACE_SECONDS
    for_deliveries = settings.webhook_timeout_seconds + DELIVERY_STOP_GRACE_SECONDS + RELEASE_GRACE_SECONDS
    return max(for_jobs, for_deliveries) + STOP_MARGIN_SECONDS


class Worker:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        sealing.configure(settings)
        links.configure(settings)  # the worker renders outside any request: PUBLIC_BASE_URL
        self._stop = asyncio.Event()
        self._active: set[asyncio.Task[int]] = set()
        self._running_jobs: set[asyncio.Task[None]] = set()
        self._busy: Counter[UUID] = Counter()  # endpoints being sent to, per workspace (its fair share)
        self._next_ensure: datetime | None = None
        self._outbox_wake = asyncio.Event()
        self._delivery_wake = asyncio.Event()
        self._timer_wake = asyncio.Event()
        self._job_wake = asyncio.Event()
        self._dedupe_wake = asyncio.Event()  # set by dispatch passes: new leads may be queued
        self._audit_wake = asyncio.Event()  # set by dispatch passes: writes committed, their audit entries with them
        self._message_wake = asyncio.Event()
        self._journey_wake = asyncio.Event()  # an enrolment made, or events numbered (triggers, exits)
        self._campaign_wake = asyncio.Event()  # a campaign launched or resumed
        self._next_campaign: datetime | None = None
        self._report_wake = asyncio.Event()  # a report schedule made or changed
        self._next_report: datetime | None = None  # the next digest due, as last seen
        self._next_journey: datetime | None = None
        self._next_segments: datetime | None = None  # when saved segments are evaluated next
        self._message_limits = messages.RateLimits()
        self._next_message: datetime | None = None
        self._wakes = {
            EVENTS: self._outbox_wake,
            DELIVERIES: self._delivery_wake,
            TIMERS: self._timer_wake,
            JOBS: self._job_wake,
            MESSAGES: self._message_wake,
            JOURNEYS: self._journey_wake,
            CAMPAIGNS: self._campaign_wake,
            REPORTS: self._report_wake,
        }
        self._next_timer: datetime | None = None  # when the next pending timer is due, as last seen
        self._next_sla: datetime | None = None  # the next first-response deadline, as last seen
        self._next_analyze: datetime | None = None
        self._next_observe: datetime | None = None  # when the metrics' backlog and pool are read next
        self._loop_of_run: asyncio.AbstractEventLoop | None = None
        # Set once wake-ups can reach this worker: LISTEN is in place (PostgreSQL) or the local
        # waker is registered (SQLite). Before that, only polling finds new work.
        self.ready = asyncio.Event()

    def wake(self, kind: str) -> None:
        """Work of `kind` was committed (a NOTIFY payload, or a unit of work in this process)."""
        event = self._wakes.get(kind)
        loop = self._loop_of_run
        if event is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _idle(
        self, wake: asyncio.Event | None, until: datetime | None = None, coalesce: float = COALESCE_SECONDS
    ) -> None:
        """Wait for the poll interval, or less when `wake` is set or `until` comes first; after a
        wake-up, `coalesce` seconds more so a burst makes one pass."""
        timeout = self.settings.worker_poll_seconds
        if until is not None:
            timeout = min(timeout, max((until - utcnow()).total_seconds(), 0.0))
        waiters = {asyncio.ensure_future(self._stop.wait())}
        if wake is not None:
            waiters.add(asyncio.ensure_future(wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if wake is not None and wake.is_set():
            wake.clear()
            await self._sleep(coalesce)

    async def _loop(
        self,
        name: str,
        step: Callable[[], Awaitable[int]],
        wake: asyncio.Event | None = None,
        until: Callable[[], datetime | None] = lambda: None,
        coalesce: float = COALESCE_SECONDS,
    ) -> None:
        while not self._stop.is_set():
            try:
                busy = await step()
            except Exception:
                log.exception("worker %s loop failed; retrying", name)
                busy = 0
            if not busy:
                await self._idle(wake, until(), coalesce)

    async def _dispatch(self) -> int:
        started = time.perf_counter()
        done = await dispatcher.dispatch(self.database, utcnow(), limit=DISPATCH_BATCH)
        if done.events:
            logs.structured(
                log,
                "dispatch_pass",
                "events dispatched",
                events=done.events,
                deliveries=done.deliveries,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        if done.deliveries:
            self._delivery_wake.set()  # new deliveries: let the delivery loop look now
        if done.events:
            self._dedupe_wake.set()  # lead.created among them: their duplicate search is queued
            self._audit_wake.set()  # the writes that recorded them recorded audit entries too
            self._journey_wake.set()  # a journey's trigger, exit or awaited event among them
        # Only a full batch means a backlog worth an immediate next pass; otherwise wait for the
        # next notification (coalesced), so steady traffic makes passes of many events, not of one.
        return int(done.events >= DISPATCH_BATCH)

    async def _timers(self) -> int:
        now = utcnow()
        if self._next_ensure is None or now >= self._next_ensure:  # at start, then every 10 minutes
            await recurring.ensure(self.database, now)
            self._next_ensure = now + ENSURE_EVERY
        fired = await timers.fire_due(self.database, self.settings)
        if not fired:
            # Timers fall due every few milliseconds under load: the next one often comes due between
            # the claim and this read. It is claimable now, so look again at once (TIMER_RECHECK),
            # not after a tick or at the next poll. Timers other workers hold count from the end of
            # their lease (theirs to fire until then).
            due = await timers.next_due(self.database)
            now = utcnow()
            self._next_timer = None if due is None else due if due > now else now + TIMER_RECHECK
        return fired

    def _timer_due(self) -> datetime | None:
        return self._next_timer

    async def _sla(self) -> int:
        """Breach leads whose first-response deadline passed; then sleep until the next deadline
        (a new lead's deadline is at least the SLA target away, so the poll sees it in time)."""
        due = await sla.next_due(self.database)  # a read: no write transaction while nothing is due
        if due is None or due > utcnow():
            self._next_sla = due
            return 0
        breached = await sla.sweep(self.database, utcnow())
        if breached >= sla.SWEEP_BATCH:
            return 1  # a backlog: at once
        # Let the next deadlines gather for a tick (deadlines every few ms would otherwise make a
        # transaction per lead); nothing breached means another worker holds them: poll.
        self._next_sla = utcnow() + SLA_TICK if breached else None
        return 0

    async def _dedupe(self) -> int:
        """Look for likely duplicates of new leads (queued by the dispatcher); a full batch: again."""
        return int(await duplicates.find_for_new_leads(self.database, utcnow()) >= duplicates.DEDUPE_BATCH)

    async def _audit(self) -> int:
        """Chain new audit entries (a full batch: at once again). Woken after dispatch passes (most
        writes record events); polling finds the entries of writes that recorded none. Requests
        never wake it: their one INSERT is all the audit log costs them."""
        return int(await audit_chain.stamp(self.database) >= audit_chain.BATCH)

    async def _observe(self) -> int:
        """Every few seconds (metrics.SAMPLE_SECONDS): the undelivered work (the readiness backlog)
        and this process's pool, for the metrics endpoint."""
        now = utcnow()
        if self._next_observe is None or now >= self._next_observe:
            self._next_observe = now + timedelta(seconds=metrics.SAMPLE_SECONDS)
            async with UnitOfWork(self.database, write=False) as uow:
                backlog, oldest = await uow.system().backlog()
            metrics.EVENTS_BACKLOG.set(backlog)
            metrics.EVENTS_OLDEST_AGE.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
            metrics.sample_pool(self.database.engine.pool)
            metrics.WORKER_HEARTBEAT.set(time.time())  # this loop runs and the database answers
        return 0

    def _observe_due(self) -> datetime | None:
        return self._next_observe

    async def _statistics(self) -> int:
        """Every WORKER_ANALYZE_SECONDS: ANALYZE tables whose statistics fell behind (PostgreSQL)."""
        now = utcnow()
        if self._next_analyze is None or now >= self._next_analyze:
            self._next_analyze = now + timedelta(seconds=self.settings.worker_analyze_seconds)
            await statistics.refresh(self.database)
        return 0

    async def _messages(self) -> int:
        """Send the messages due now (a full batch: at once again); then sleep until the next is due."""
        sent = await messages.deliver_due(self.database, self.settings, self._message_limits, stopping=self.stopping)
        if sent >= messages.CLAIM_BATCH:
            return 1
        self._next_message = await messages.next_due(self.database)
        return 0

    def _message_due(self) -> datetime | None:
        return self._next_message

    async def _journeys(self) -> int:
        """Events for journeys (triggers, exits, awaited events), then the enrolments due now (a full
        batch: at once again); then sleep until the next is due."""
        now = utcnow()
        if self._next_segments is None or now >= self._next_segments:
            self._next_segments = now + timedelta(seconds=self.settings.segment_refresh_seconds)
            await self._stage("segments", segment_members.evaluate_all(self.database, now))
        await self._stage("schedules", journey_schedules.run_due(self.database, now))
        read = await self._stage("journey events", journey_signals.process(self.database, now))
        advanced = await self._stage("journey steps", journey_engine.advance_due(self.database, utcnow()))
        if advanced >= journey_engine.BATCH or read >= journey_signals.BATCH:
            return 1
        self._next_journey = await journey_engine.next_due(self.database)  # the schedules' next run included
        return 0

    async def _campaigns(self) -> int:
        """Launched campaigns, each a step on (a batch handed out: at once again); while any
        sends, look again every couple of seconds (its messages' progress, the pilot's figures)."""
        now = utcnow()
        if await campaign_sending.advance_due(self.database, now):
            return 1
        self._next_campaign = await campaign_sending.next_due(self.database, utcnow())
        return 0

    def _campaign_due(self) -> datetime | None:
        return self._next_campaign

    async def _reports(self) -> int:
        """Scheduled digests whose occurrence has come (a full batch: at once again); then sleep
        until the next is due. One due but not taken (another worker holds it): look again shortly."""
        if await digests.run_due(self.database, utcnow()) >= digests.BATCH:
            return 1
        due = await digests.next_due(self.database)
        now = utcnow()
        self._next_report = None if due is None else due if due > now else now + REPORT_RECHECK
        return 0

    def _report_due(self) -> datetime | None:
        return self._next_report

    async def _stage(self, name: str, work: Awaitable[int]) -> int:
        """One stage of a loop's pass: its failure is logged and never keeps the others from running."""
        try:
            return await work
        except Exception:
            log.exception("worker %s failed; the pass goes on", name)
            return 0

    def _journey_due(self) -> datetime | None:
        due = [d for d in (self._next_journey, self._next_segments) if d is not None]
        return min(due) if due else None

    def _analyze_due(self) -> datetime | None:
        return self._next_analyze

    def _sla_due(self) -> datetime | None:
        return self._next_sla

    async def _jobs(self) -> int:
        """Fill this worker's free job slots (WORKER_JOBS_CONCURRENCY) from the fair queue. A job
        runs as a task of its own, so a long one never keeps the others' slots from being refilled;
        each one ending wakes this loop (a job of the same kind of its workspace may start now)."""
        free = self.settings.worker_jobs_concurrency - len(self._running_jobs)
        if free <= 0 or self._stop.is_set():
            return 0
        claimed = await jobs.claim(self.database, self.settings, free)
        for job in claimed:
            task = asyncio.create_task(jobs.run(self.database, self.settings, job))
            self._running_jobs.add(task)
            task.add_done_callback(self._job_done)
        return len(claimed)  # some claimed: more may be waiting, look again at once

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._running_jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job run failed", exc_info=task.exception())
        self._job_wake.set()

    async def _stop_jobs(self) -> None:
        if not self._running_jobs:
            return
        _, pending = await asyncio.wait(self._running_jobs, timeout=JOB_STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=JOB_STOP_GRACE_SECONDS)

    async def _stop_deliveries(self) -> None:
        if not self._active:
            return
        grace = self.settings.webhook_timeout_seconds + DELIVERY_STOP_GRACE_SECONDS
        _, pending = await asyncio.wait(set(self._active), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:  # cancelled, each still releases its lease on the way out: let it
            await asyncio.wait(pending, timeout=RELEASE_GRACE_SECONDS)

    async def _deliver(self, client: httpx.AsyncClient) -> int:
        free = self.settings.worker_concurrency - len(self._active)
        if free <= 0 or self._stop.is_set():
            return 0
        claimed = await deliveries.claim(self.database, self.settings, free, self._busy)
        for endpoint in claimed:
            workspace_id = endpoint["workspace_id"]
            task = asyncio.create_task(
                deliveries.deliver_endpoint(self.database, self.settings, client, endpoint, self.stopping)
            )
            self._active.add(task)
            self._busy[workspace_id] += 1
            task.add_done_callback(partial(self._delivered, workspace_id, endpoint["id"]))
        return len(claimed)

    def _delivered(self, workspace_id: UUID, endpoint_id: UUID, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # The endpoint rests before it is claimed again (deliveries.FAILED_TURN_BACKOFF_SECONDS).
            log.error(
                "webhook delivery failed workspace_id=%s endpoint_id=%s",
                workspace_id,
                endpoint_id,
                exc_info=task.exception(),
            )
        share = workspace_share(self.settings.worker_concurrency, self.settings.webhook_workspace_share)
        # Was something due perhaps held back (every slot taken, or the workspace at its share)?
        # Then look again now rather than at the next poll.
        held_back = len(self._active) >= self.settings.worker_concurrency or self._busy[workspace_id] >= share
        self._active.discard(task)
        self._busy[workspace_id] -= 1
        if self._busy[workspace_id] <= 0:
            del self._busy[workspace_id]
        if held_back:
            self._delivery_wake.set()

    async def _listen(self) -> None:
        """LISTEN crm_outbox on a connection of its own (PostgreSQL); reconnects after failures."""
        import asyncpg

        dsn = self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        while not self._stop.is_set():
            try:
                connection = await asyncpg.connect(dsn, server_settings={"application_name": "crm-worker-listen"})
            except (OSError, asyncpg.PostgresError):
                log.warning("worker cannot LISTEN for outbox notifications; polling only, retrying in 5 s")
                await self._sleep(5)
                continue
            try:
                await connection.add_listener(OUTBOX_CHANNEL, lambda *args: self.wake(args[-1]))
                # Notifications sent while not listening (start, reconnect) are lost: look once now.
                for event in self._wakes.values():
                    event.set()
                self.ready.set()
                while not self._stop.is_set() and not connection.is_closed():
                    await self._sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def run(self) -> None:
        # Enough connections for every endpoint this worker leases at once, each at its highest
        # max_in_flight: a send never waits for a connection (that wait would count against its
        # attempt's deadline, and one workspace's slow receiver would fail others' attempts).
        # Connections are opened on demand; this is a cap, not a pool kept open.
        connections = self.settings.worker_concurrency * MAX_IN_FLIGHT
        async with outbound.guarded_client(
            allow_loopback=self.settings.outbound_allow_loopback, max_connections=connections
        ) as client:
            self._loop_of_run = asyncio.get_running_loop()
            if self.database.is_sqlite:  # PostgreSQL's NOTIFY reaches every worker, in this process or not
                LOCAL_WAKERS.add(self.wake)
                self.ready.set()
            loops = [
                asyncio.create_task(self._loop("dispatch", self._dispatch, self._outbox_wake)),
                asyncio.create_task(self._loop("deliver", lambda: self._deliver(client), self._delivery_wake)),
                asyncio.create_task(self._loop("timers", self._timers, self._timer_wake, self._timer_due)),
                asyncio.create_task(self._loop("jobs", self._jobs, self._job_wake)),
                asyncio.create_task(self._loop("sla", self._sla, None, self._sla_due)),
                asyncio.create_task(self._loop("dedupe", self._dedupe, self._dedupe_wake, coalesce=DEDUPE_COALESCE)),
                asyncio.create_task(self._loop("audit", self._audit, self._audit_wake, coalesce=AUDIT_COALESCE)),
                asyncio.create_task(
                    self._loop("journeys", self._journeys, self._journey_wake, self._journey_due, coalesce=0.0)
                ),
                asyncio.create_task(
                    self._loop("messages", self._messages, self._message_wake, self._message_due, coalesce=0.0)
                ),
                asyncio.create_task(
                    self._loop("campaigns", self._campaigns, self._campaign_wake, self._campaign_due, coalesce=0.0)
                ),
                asyncio.create_task(self._loop("reports", self._reports, self._report_wake, self._report_due)),
            ]
            if self.settings.metrics_port:
                loops.append(asyncio.create_task(self._loop("metrics", self._observe, None, self._observe_due)))
            if not self.database.is_sqlite:
                loops.append(asyncio.create_task(self._listen()))
                if self.settings.worker_analyze_seconds > 0:
                    statistics_loop = self._loop("statistics", self._statistics, None, self._analyze_due)
                    loops.append(asyncio.create_task(statistics_loop))
            log.info("worker started")
            try:
                await self._stop.wait()
            finally:
                LOCAL_WAKERS.discard(self.wake)
            await asyncio.gather(*loops, return_exceptions=True)
            await asyncio.gather(self._stop_jobs(), self._stop_deliveries())  # side by side: see stop_seconds
            await messages.close_connections()
            log.info("worker stopped")

    def stop(self) -> None:
        self._stop.set()
