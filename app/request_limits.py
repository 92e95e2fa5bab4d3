"""How long a request's URL and header block may be, answered as problems: 414 `uri-too-long` and
431 `request-header-fields-too-large` (RFC 9110 15.5.15, RFC 6585 5).

Two layers. The app answers past the documented limits (MAX_URL_BYTES, MAX_HEADER_BYTES) with a
full problem document, its request id and CORS headers. The HTTP server (uvicorn with httptools)
is given generous hard limits of its own, so input far past them (which the app would otherwise
have to receive whole: httptools holds a header block of any size in memory) is refused while it
streams in, still as a problem document. Without httptools, uvicorn's h11 caps the head with
`h11_max_incomplete_event_size` and answers a plain 400."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ids import random_hex

PROBLEM_JSON = "application/problem+json"
# httptools parses a URL of at most 65,535 bytes (its offsets are 16-bit); past that its parser
# fails, so the server refuses longer request targets itself.
HARD_URL_BYTES = 65_535
# The least the server holds of a request head before refusing it, whatever MAX_HEADER_BYTES is.
HARD_HEAD_BYTES = 1024 * 1024


def hard_head_bytes(max_header_bytes: int) -> int:
    """What the server reads of a request line and headers before it refuses them unparsed."""
    return max(HARD_HEAD_BYTES, 4 * max_header_bytes)


def _problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> bytes:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    return json.dumps(body).encode()


def uri_too_long(limit: int, request_id: str | None, errors: list[dict[str, str]] | None = None) -> bytes:
    detail = f"the request target (path and query) is longer than the {limit} bytes this API accepts"
    extra: dict[str, Any] = {"instance": None, "request_id": request_id}
    if errors:
        extra["errors"] = errors
    return _problem(414, "uri-too-long", "URI too long", detail, **extra)


def headers_too_large(
    limit: int, request_id: str | None, instance: str | None, errors: list[dict[str, str]] | None = None
) -> bytes:
    detail = f"the request's header fields take more than the {limit} bytes this API accepts"
    extra: dict[str, Any] = {"instance": instance, "request_id": request_id}
    if errors:
        extra["errors"] = errors
    return _problem(431, "request-header-fields-too-large", "Request header fields too large", detail, **extra)


class RequestLimitsMiddleware:
    """414 past `max_url_bytes` of path and query (as sent, percent-encoding included), 431 past
    `max_header_bytes` of header fields (each counted as `name: value` and its line break),
    naming the largest field. Checked before anything else reads the request."""

    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        request_id = scope.get("state", {}).get("request_id")
        if len(raw_path) + (len(query) + 1 if query else 0) > self.max_url_bytes:
            where = "path" if len(raw_path) > self.max_url_bytes else "query"
            error = {"location": where, "field": where, "message": "too long", "type": "too_long"}
            scope.setdefault("state", {})["error_type"] = "/problems/uri-too-long"  # the request's log line
            await _answer(send, 414, uri_too_long(self.max_url_bytes, request_id, [error]))
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if size > self.max_header_bytes:
            name, value = max(headers, key=lambda header: len(header[0]) + len(header[1]))
            error = {
                "location": "header",
                "field": name.decode("latin-1"),
                "message": f"the largest header field ({len(name) + len(value)} bytes)",
                "type": "too_long",
            }
            body = headers_too_large(self.max_header_bytes, request_id, scope["path"], [error])
            scope.setdefault("state", {})["error_type"] = "/problems/request-header-fields-too-large"
            await _answer(send, 431, body)
            return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: bytes) -> None:
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def http_protocol(max_url_bytes: int, max_header_bytes: int) -> Any:
    """The HTTP/1.1 protocol `python -m app serve` runs: httptools (uvicorn's fastest) with the
    hard limits above, or "h11" where httptools is not installed. Its refusals name the limits the
    API documents (the app's), which they exceed all the more."""
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:
        return "h11"
    head_limit = hard_head_bytes(max_header_bytes)

    class _HeadTooLarge(Exception):
        """Raised in a parser callback to stop parsing; uvicorn then calls send_400_response."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, refusing a request head past the hard limits as it
        arrives (414 for the request target, 431 for the rest) and answering what the parser
        rejects as a 400 problem instead of plain text."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes = 0
            self._reading_head = True
            self._request_line_done = False  # its end: the first line break of the head
            self._refusal: int | None = None

        def data_received(self, data: bytes) -> None:
            if self._reading_head:
                self._head_bytes += len(data)
                self._request_line_done = self._request_line_done or b"\n" in data
                if self._head_bytes > head_limit:
                    self._refusal = 431 if self._request_line_done else 414
                    self.send_400_response("request head too large")
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._refusal = None

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            if len(self.url) > HARD_URL_BYTES:
                self._refusal = 414
                raise _HeadTooLarge

        def on_headers_complete(self) -> None:
            self._reading_head = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._reading_head, self._request_line_done = True, False

        def send_400_response(self, msg: str) -> None:
            request_id = random_hex()
            if self._refusal == 414:
                status, body = 414, uri_too_long(max_url_bytes, request_id)
            elif self._refusal == 431:
                status, body = 431, headers_too_large(max_header_bytes, request_id, None)
            else:
                detail = "the request is not valid HTTP/1.1 (its request line or a header field)"
                status, body = 400, _problem(400, "bad-request", "Bad request", detail, request_id=request_id)
            content = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                content.extend([name, b": ", value, b"\r\n"])
            content.extend([
                b"content-type: application/problem+json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"x-request-id: " + request_id.encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ])  # fmt: skip
            self.transport.write(b"".join(content))
            self.transport.close()

    return BoundedHttpToolsProtocol


_served: Any = None


def __getattr__(name: str) -> Any:
    """`ServedHttpProtocol`: `http_protocol` with this process's settings, by an import string that
    each API process of `serve --workers N` resolves for itself (uvicorn spawns them: a class made
    in the parent cannot be pickled to them)."""
    global _served
    if name != "ServedHttpProtocol":
        raise AttributeError(name)
    if _served is None:
        from app.config import get_settings

        settings = get_settings()
        _served = http_protocol(settings.max_url_bytes, settings.max_header_bytes)
    return _served
