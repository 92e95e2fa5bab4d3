"""A real HTTP receiver on loopback for webhook tests: records every request and answers with the
statuses (and delays) a test scripts, or with a reply of its own (`reply`: one that never comes,
one that trickles, one of hundreds of MB streamed from one reused piece, a redirect)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


def never() -> Reply:
    """Take the request and never answer (the connection stays open until the sender leaves)."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    return reply


def trickle(every: float, size: int = 1000, status: int = 200, *, head: bool = False) -> Reply:
    """Answer the status line at once, then the body one byte every `every` seconds (with `head`:
    the headers too, one byte at a time)."""

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {status} OK\r\n".encode())
        slow = f"X-Padding: {'p' * size}\r\nContent-Length: 0\r\n\r\n" if head else "x" * size
        if not head:
            writer.write(f"Content-Length: {size}\r\n\r\n".encode())
        for byte in slow.encode():
            await writer.drain()
            await asyncio.sleep(every)
            writer.write(bytes([byte]))
        await writer.drain()

    return reply


def huge(total: int, sent: list[int], status: int = 200) -> Reply:
    """A reply of `total` bytes, written from one reused 64 KiB piece (never held whole);
    `sent` gets how many body bytes went out before the sender closed the connection."""
    piece = (b"0123456789abcdef" * 4096)[: 64 * 1024]

    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {status} OK\r\nContent-Length: {total}\r\n\r\n".encode())
        written = 0
        try:
            while written < total:
                chunk = piece[: total - written]
                writer.write(chunk)
                await writer.drain()
                written += len(chunk)
        finally:
            sent.append(written)

    return reply


def redirect(location: str, status: int = 307) -> Reply:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {status} X\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()

    return reply


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`script`: (status, delay seconds) answers in order; afterwards `default` forever, or
    `reply` when set."""

    default: int = 200
    script: deque[tuple[int, float]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    reply: Reply | None = None
    _server: asyncio.AbstractServer | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for handler in list(self._handlers):  # replies that never end end here
            handler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append(Received(path, headers, body))
                if self.reply is not None and not self.script:
                    await self.reply(writer)
                    continue
                status, delay = self.script.popleft() if self.script else (self.default, 0.0)
                if delay:
                    await asyncio.sleep(delay)
                payload = b'{"ok":true}'
                head = (
                    f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\nContent-Type: application/json\r\n\r\n"
                )
                writer.write(head.encode() + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"received {len(self.received)} of {count} webhooks in {timeout} s")
            await asyncio.sleep(0.02)
        return self.received
