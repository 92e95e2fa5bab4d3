"""Oversized request lines and header blocks against the real server process: 414 and 431
problem documents from the app past the documented limits, and from the server itself past its
hard ones (never uvicorn's bare `400 Invalid HTTP request received.`); the server keeps serving."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import httpx

from tests.integration.server import Server

MAX_URL_BYTES = 8 * 1024  # documented defaults
MAX_HEADER_BYTES = 32 * 1024


def _exchange(url: str, head: bytes) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    """Send a raw request head (the server may refuse it before reading all of it) and read the
    answer to the end of the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused while still sending
            connection.sendall(head)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    status_line, _, rest = received.partition(b"\r\n")
    raw_headers, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in raw_headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode().strip()
    assert headers.get("content-type", "").startswith("application/problem+json"), received[:300]
    return int(status_line.split()[1]), headers, json.loads(body)


def _request(target: bytes, *extra: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: api.example\r\n" + b"".join(extra) + b"Connection: close\r\n\r\n"


def test_oversized_targets_and_headers_are_414_and_431_problems(tmp_path: Path) -> None:
    with Server(f"sqlite:///{tmp_path / 'crm.db'}", tmp_path / "server.log") as server:
        base = server.url
        # within the limits: answered as usual
        query = "q=" + "a" * (MAX_URL_BYTES - len("/healthz?q=") - 8)
        assert httpx.get(f"{base}/healthz?{query}").status_code == 200
        assert httpx.get(f"{base}/healthz", headers={"X-Note": "n" * (MAX_HEADER_BYTES - 2048)}).status_code == 200

        # past the documented limits: the app's problems, with their request id
        status, headers, problem = _exchange(base, _request(b"/healthz?q=" + b"a" * MAX_URL_BYTES))
        assert (status, problem["type"], problem["status"]) == (414, "/problems/uri-too-long", 414)
        assert problem["request_id"] == headers["x-request-id"] and str(MAX_URL_BYTES) in problem["detail"]
        assert problem["errors"][0]["location"] == "query"
        status, headers, problem = _exchange(base, _request(b"/v1/" + b"p" * MAX_URL_BYTES))
        assert status == 414 and problem["errors"][0]["location"] == "path"
        big = b"X-Tracking: " + b"t" * MAX_HEADER_BYTES + b"\r\n"
        status, headers, problem = _exchange(base, _request(b"/v1/leads", b"Cookie: a=1\r\n", big))
        assert (status, problem["type"]) == (431, "/problems/request-header-fields-too-large")
        assert problem["errors"][0] == {"location": "header", "field": "x-tracking", "type": "too_long",
                                        "message": problem["errors"][0]["message"]}  # fmt: skip
        assert problem["request_id"] == headers["x-request-id"]
        many = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 100) for n in range(400))
        assert _exchange(base, _request(b"/healthz", many))[0] == 431

        # far past them: refused by the server as they stream in, still as problems
        for target, expected in ((b"/healthz?q=" + b"a" * 70_000, 414), (b"/" + b"a" * 3_000_000, 414)):
            status, headers, problem = _exchange(base, _request(target))
            assert (status, problem["type"], problem["status"]) == (expected, "/problems/uri-too-long", expected)
            assert problem["request_id"] == headers["x-request-id"]
        for size in (900_000, 3_000_000):  # the app refuses the first, the server the second
            status, _, problem = _exchange(base, _request(b"/healthz", b"X-Big: " + b"b" * size + b"\r\n"))
            assert (status, problem["type"]) == (431, "/problems/request-header-fields-too-large")
        # what the parser cannot read at all is a 400 problem too
        status, _, problem = _exchange(base, b"GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n")
        assert (status, problem["type"]) == (400, "/problems/bad-request")

        assert httpx.get(f"{base}/healthz").status_code == 200  # still serving
        assert "Traceback" not in server.output()
