"""`python -m app serve --workers N`: N API processes on one port (uvicorn's supervisor forks them
and restarts one that dies), PostgreSQL only, and at most one supervised worker child for all of
them, run by this parent process.

The API processes are spawned, fresh interpreters: each builds its app with `serving_app` (the
factory uvicorn imports), configures its logs the same way, and runs no worker of its own. The
parent has already applied the migrations before it starts them. The worker child (unless
`--no-worker`) is supervised from a thread of the parent with its own event loop (restarted with
backoff if it dies, as with one API process; app/worker/process.py) and stopped after the API
processes have drained, when uvicorn's supervisor returns.

SQLite is refused: one process owns the embedded database."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI

from app.config import Settings, get_settings

SQLITE_REFUSAL = (
    "error: --workers needs PostgreSQL. SQLite is an embedded, single-process database: one `serve` "
    "process owns it. Set DATABASE_URL to a PostgreSQL database to run several API processes."
)


def serving_app() -> FastAPI:
    """The app of one API process of `serve --workers N` (uvicorn's factory, in each process)."""
    from app import logs
    from app.main import create_app

    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings, worker=False)


class SupervisedWorker:
    """The worker child of `serve --workers N`, supervised from a thread of the parent."""

    def __init__(self, settings: Settings) -> None:
        from app.worker.process import WorkerProcess
        from app.worker.runner import stop_seconds

        self._settings = settings
        self._grace = stop_seconds(settings)
        self._make = WorkerProcess
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: Any = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._process = self._make(grace_seconds=self._grace)
        self._started.set()
        try:
            loop.run_until_complete(self._process.run())
        finally:
            loop.close()

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def stop(self) -> None:
        """Stop the child (SIGTERM, SIGKILL after its grace) and wait for it to be gone."""
        if self._loop is not None and self._process is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._process.stop)
        self._thread.join(timeout=self._grace + 10)


def sweep_dead_processes(directory: str, every_seconds: float = 5.0) -> threading.Thread:
    """Every few seconds, mark the API processes that uvicorn's supervisor replaced (or that ended)
    dead in the metrics directory: their live gauges (pool connections) stop counting; their
    counters stay in the totals. A daemon thread of the parent."""
    import os
    import re
    import time

    from app import metrics
    from app.metrics_directory import alive

    pid_in_name = re.compile(r"_(\d+)\.db$")
    marked: set[int] = set()

    def sweep() -> None:
        while True:
            time.sleep(every_seconds)
            try:
                names = os.listdir(directory)
            except OSError:
                return
            for name in names:
                found = pid_in_name.search(name)
                pid = int(found.group(1)) if found else 0
                if pid and pid not in marked and not alive(pid):
                    metrics.process_exited(pid)
                    marked.add(pid)

    thread = threading.Thread(target=sweep, name="metrics-sweeper", daemon=True)
    thread.start()
    return thread
