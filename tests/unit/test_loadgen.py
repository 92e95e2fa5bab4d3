"""The benchmarks' load generator counts only successful answers as throughput: a server that
answers 429 or 500 quickly must not look fast."""

from __future__ import annotations

import asyncio
import itertools

from benchmarks.loadgen import build_request, run

# Answers cycle through these statuses, so a third of them are successes.
STATUSES = (201, 429, 500)
REASONS = {201: b"Created", 429: b"Too Many Requests", 500: b"Internal Server Error"}


async def _serve() -> tuple[asyncio.Server, int]:
    answers = itertools.cycle(STATUSES)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                status = next(answers)
                body = b'{"ok": true}' if status == 201 else b'{"title": "no"}'
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, REASONS[status], len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_only_2xx_answers_count_as_throughput() -> None:
    server, port = await _serve()
    request = build_request("POST", "/submissions", {"Content-Type": "application/json"}, b"{}")
    try:
        result = await run(port, lambda _: request, connections=3, seconds=0.5, warmup=0.1)
    finally:
        server.close()
        await server.wait_closed()

    ok = result.statuses.get(201, 0)
    refused = result.statuses.get(429, 0) + result.statuses.get(500, 0)
    assert ok > 0 and refused > 0, result.statuses
    # Two answers in three were refusals: only the 201s are throughput.
    assert result.requests == ok
    assert result.errors == refused
    assert result.rps == ok / result.seconds
    assert len(result.latencies_ms) == ok  # percentiles describe the successful requests
    assert set(result.statuses) <= set(STATUSES)
