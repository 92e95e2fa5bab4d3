"""`serve` on PostgreSQL runs the worker as a child process (`python -m app worker`) instead of on
the API's event loop: dispatching events, delivering webhooks and firing timers then use another
core instead of competing with requests for the API process's interpreter lock (measured in
benchmarks/README.md). The child is restarted with backoff if it dies, stopped (SIGTERM, then
SIGKILL after the grace period) when the server stops, and exits on its own if the server is
killed outright. On SQLite the worker stays in-process: one process owns the embedded database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

from app import metrics

if TYPE_CHECKING:
    from app.worker.runner import Worker

log = logging.getLogger("app.worker")
MAX_BACKOFF_SECONDS = 30.0


class WorkerProcess:
    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._stop = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None

    async def run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            # In a session of its own: a signal sent to the server's process group (Ctrl-C in a
            # terminal, an init that signals the group) reaches the server alone, which stops the
            # worker once requests in flight are done, instead of the worker stopping at once and
            # being restarted while they drain.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                "worker",
                "--parent-pid",
                str(os.getpid()),
                env=os.environ.copy(),
                start_new_session=True,
            )
            exited = asyncio.ensure_future(self.process.wait())
            stopping = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if self._stop.is_set():
                await self._terminate(exited)
                metrics.process_exited(self.process.pid)
                return
            metrics.process_exited(self.process.pid)  # its live gauges (pool, backlog) no longer count
            log.warning("worker process exited with %s; restarting in %.0f s", self.process.returncode, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _terminate(self, exited: asyncio.Future[int]) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(exited), self.grace_seconds)
            except TimeoutError:
                self.process.kill()
        await exited

    def stop(self) -> None:
        self._stop.set()


async def exit_with_parent(parent_pid: int, worker: Worker) -> None:
    """In the child: stop when the server that started it is gone (its parent changes)."""
    while not worker.stopping():
        if os.getppid() != parent_pid:
            log.warning("the server that started this worker is gone; stopping")
            worker.stop()
            return
        await asyncio.sleep(1.0)
