"""Micro-benchmark: the request log's cost per request and per statement (app/logs.py).

    python -m benchmarks.request_log

Per request: the middleware around a trivial ASGI app, its line formatted as JSON into a handler
that drops it, against the bare app. Per statement: SQLite `SELECT 1` with and without the cursor-event
timing, inside a request's trace."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import create_engine, text

from app import logs

N = 20_000


class Formatted(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(message: Any) -> None:
    return None


async def _receive() -> Any:
    return {"type": "http.request", "body": b""}


async def _per_request(app: Any) -> float:
    started = time.perf_counter()
    for _ in range(N):
        scope = {"type": "http", "method": "POST", "path": "/v1/forms/x/submissions", "state": {"request_id": "r"}}
        await app(scope, _receive, _send)
    return (time.perf_counter() - started) / N * 1e6


def _per_statement(timed: bool) -> float:
    """A synchronous in-memory SQLite engine (no thread hop to blur the listeners' cost); the same
    listeners run on the async engines' sync engine."""
    engine = create_engine("sqlite://")
    if timed:
        logs.instrument(engine)
    token = logs._trace.set(logs.Trace())
    try:
        with engine.connect() as conn:
            statement = text("SELECT 1")
            for _ in range(1000):
                conn.execute(statement)
            started = time.perf_counter()
            for _ in range(N):
                conn.execute(statement)
            return (time.perf_counter() - started) / N * 1e6
    finally:
        logs._trace.reset(token)
        engine.dispose()


async def main() -> None:
    logs.REQUESTS.addHandler(Formatted())
    logs.REQUESTS.setLevel(logging.INFO)
    logs.REQUESTS.propagate = False
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False  # as logs.configure does
    bare = min([await _per_request(_app) for _ in range(7)])
    logged = min([await _per_request(logs.RequestLogMiddleware(_app)) for _ in range(7)])
    print(f"per request: bare {bare:.2f} us, with the request log {logged:.2f} us (+{logged - bare:.2f} us)")
    plain = min([_per_statement(False) for _ in range(7)])
    timed = min([_per_statement(True) for _ in range(7)])
    print(f"per statement (SQLite SELECT 1): {plain:.1f} us, timed {timed:.1f} us (+{timed - plain:.1f} us)")


if __name__ == "__main__":
    asyncio.run(main())
