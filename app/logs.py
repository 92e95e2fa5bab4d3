"""Logs: one structured line per request (replacing uvicorn's access log), per worker job, delivery
batch and timer pass; JSON lines (LOG_FORMAT=json) or readable text (LOG_FORMAT=text).

What never appears: request bodies, query strings, emails, phone numbers, keys and secrets. A
request line names the route's template (`/v1/leads/{lead_id}`), never the path as sent; free text
(exception messages, tracebacks, other libraries' lines) passes through `scrub` before it is
written. Structured lines carry only ids, counts, names and timings.

A request's time in the database (`db_ms`) is summed in a context variable around every statement
SQLAlchemy sends (cursor events on the engine: asyncpg and aiosqlite alike) and every statement
sent straight on a driver connection (`Database._alone`). The ids of the events a request
committed are kept the same way and named by its line (`event_ids`), so its webhook deliveries,
whose lines name their `event_id`, can be traced back to it."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = logging.getLogger("app.requests")
FORMATS = ("json", "text")
# The event ids a request line names at most (a batch of thousands records as many events).
EVENT_IDS_SHOWN = 20
UNMATCHED = "unmatched"  # the route of a request no route matched (never the path as sent)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/leads/{lead_id}`), else `unmatched`. Routes that
    answer outside the router name theirs in scope["route_template"] (the form fast lane)."""
    template = scope.get("route_template")
    if template is not None:
        return str(template)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Trace:
    """What a request gathers while it runs: time in the database, the events it committed."""

    __slots__ = ("db_seconds", "event_ids")

    def __init__(self) -> None:
        self.db_seconds = 0.0
        self.event_ids: list[str] = []


_trace: ContextVar[Trace | None] = ContextVar("request_trace", default=None)
# The current request's id, set by the request id middleware whatever the log level: events store it.
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


@contextmanager
def request_scope(request_id: str) -> Iterator[None]:
    """Inside it, `request_id()` is this request's id."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def add_db_time(seconds: float) -> None:
    trace = _trace.get()
    if trace is not None:
        trace.db_seconds += seconds


def note_events(ids: list[Any]) -> None:
    """The ids of events just committed by the current request (if any)."""
    trace = _trace.get()
    if trace is not None and len(trace.event_ids) < EVENT_IDS_SHOWN:
        trace.event_ids.extend(str(i) for i in ids[: EVENT_IDS_SHOWN - len(trace.event_ids)])


def request_id() -> str | None:
    """The current request's id (None outside a request): events record it, and the worker's lines
    about them (deliveries) carry it."""
    return _request_id.get()


def tracing() -> bool:
    return _trace.get() is not None


class RequestLogMiddleware:
    """One line per HTTP request (pure ASGI: a send wrapper and a dict, nothing else per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not REQUESTS.isEnabledFor(logging.ERROR):  # 5xx lines are errors
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        trace = Trace()
        token = _trace.set(trace)
        status = 500
        error_type: str | None = None

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            # Unhandled: the server's error middleware answers 500 once it has passed through here.
            error_type = type(exc).__name__
            raise
        finally:
            _trace.reset(token)
            if error_type is None and status >= 400:
                error_type = state.get("error_type") or state.get("problem_type")
            caller = state.get("caller")
            fields: dict[str, Any] = {
                "request_id": state.get("request_id"),
                "workspace_id": str(caller.workspace_id) if caller is not None else None,
                "key_id": str(caller.key_id) if caller is not None else None,
                "method": scope["method"],
                "route": route_template(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "db_ms": round(trace.db_seconds * 1000, 3),
                "error_type": error_type,
            }
            if trace.event_ids:
                fields["event_ids"] = trace.event_ids
            level = logging.ERROR if status >= 500 else logging.INFO
            if REQUESTS.isEnabledFor(level):  # the record made directly: no caller lookup (a frame walk)
                REQUESTS.handle(
                    REQUESTS.makeRecord(REQUESTS.name, level, "", 0, "request", (), None, None, {"fields": fields})
                )


def structured(logger: logging.Logger, kind: str, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """A structured line: `kind` (e.g. `webhook_delivery`), a short fixed `message`, then `fields`
    (ids, counts, timings; never personal data)."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": {"kind": kind, "message": message, **fields}})


# Free text is scrubbed: emails, phone-like digit runs, the service's keys and secrets, pydantic's
# echo of an input (`input_value=...`) and SQL parameters.
_SCRUB = (
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1[secret]@"),  # a password in a URL (a connection string)
    (re.compile(r"(?<![A-Za-z0-9])(?:sk_|pk_|whsec_)[A-Za-z0-9+/=_\-]{8,}"), "[secret]"),
    (re.compile(r"Bearer\s+\S+", re.IGNORECASE), "Bearer [secret]"),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\+\d[\d ()\-]{6,}\d|(?<![\w.\-])\d{9,15}(?![\w.\-])"), "[number]"),
    (re.compile(r"input_value=.*?(?=, input_type=|\]|$)", re.MULTILINE), "input_value=[hidden]"),
    (re.compile(r"\[parameters: .*?\]$", re.MULTILINE | re.DOTALL), "[parameters: hidden]"),
)


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _timestamp(created: float) -> str:
    """RFC 3339 UTC with microseconds and `Z` (the second's text is reused within the second)."""
    whole = int(created)
    if _second[0] != whole:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int((created - whole) * 1_000_000):06d}Z"


def _exception(record: logging.LogRecord) -> tuple[str | None, str | None]:
    if not record.exc_info or record.exc_info[0] is None:
        return None, None
    kind = record.exc_info[0].__name__
    return kind, scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts` (RFC 3339 UTC), `level`, then a structured line's fields, or
    `logger` and `message` (scrubbed) for any other line, with `exc_type` / `exc` for exceptions."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": _timestamp(record.created), "level": record.levelname.lower()}
        fields = getattr(record, "fields", None)
        if fields is not None:
            line.update(fields)
        else:
            line["logger"] = record.name
            line["message"] = scrub(record.getMessage())
        exc_type, exc = _exception(record)
        if exc_type is not None:
            line["exc_type"], line["exc"] = exc_type, exc
        try:
            return orjson.dumps(line, default=str).decode()
        except TypeError:  # past orjson (an integer over 64 bits, a lone surrogate)
            return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`<ts> <LEVEL> <logger> <message> key=value ...`: a request reads
    `GET /v1/leads/{lead_id} 200 3.2ms db=1.1ms request_id=...`."""

    def format(self, record: logging.LogRecord) -> str:
        head = f"{_timestamp(record.created)} {record.levelname} {record.name}"
        fields = getattr(record, "fields", None)
        if fields is None:
            text = f"{head} {scrub(record.getMessage())}"
        elif "route" in fields and "status" in fields:
            rest = {k: v for k, v in fields.items() if k not in _REQUEST_HEAD and v is not None}
            text = (
                f"{head} {fields['method']} {fields['route']} {fields['status']} {fields['duration_ms']}ms "
                f"db={fields['db_ms']}ms {_pairs(rest)}"
            ).rstrip()
        else:
            rest = {k: v for k, v in fields.items() if k not in ("kind", "message") and v is not None}
            text = f"{head} {fields.get('message', record.getMessage())} {_pairs(rest)}".rstrip()
        _, exc = _exception(record)
        return f"{text}\n{exc}" if exc else text


_REQUEST_HEAD = ("method", "route", "status", "duration_ms", "db_ms")


def _pairs(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in fields.items())


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, level: str) -> None:
    """The process's logging: one handler on the root logger (stderr) with the chosen format;
    uvicorn's loggers propagate to it (uvicorn is run with `log_config=None`, `access_log=False`:
    requests are logged by `RequestLogMiddleware`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # What no line shows, not gathered for every record (the logging HOWTO's "Optimization").
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False  # replaced by the request log
    access.disabled = True
