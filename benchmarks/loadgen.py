"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets, so the client costs far less
CPU than the server it measures (httpx would be the bottleneck on a 2-core machine).

Throughput counts only 2xx answers: a server that answers 429 or 500 quickly must not look fast.
Every other answer is counted apart (`errors`, `statuses`) and its latency left out of the
percentiles, which describe the successful requests."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

RequestFactory = Callable[[int], bytes]


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes used so far (Linux /proc; 0 where unavailable)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (serve's worker runs as a child process on PostgreSQL)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def postgres_pids() -> list[int]:
    """Every PostgreSQL process of this machine (`postgres.cpu_seconds()` narrows the count to the
    benchmark's own cluster, so other databases' work is not billed to the request)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() in ("postgres", "postmaster"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@dataclass
class Result:
    requests: int  # 2xx answers in the measured window: the throughput
    errors: int  # every other answer in the measured window
    seconds: float
    latencies_ms: list[float]  # of the 2xx answers
    statuses: dict[int, int]  # every answer in the measured window, by status
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    children_cpu_seconds: float = 0.0  # the part of server_cpu_seconds spent by child processes (serve's worker)

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU per measured request."""
        return self.server_cpu_seconds * 1000 / max(self.requests, 1)

    @property
    def children_cpu_ms(self) -> float:
        return self.children_cpu_seconds * 1000 / max(self.requests, 1)

    @property
    def database_cpu_ms(self) -> float:
        return self.database_cpu_seconds * 1000 / max(self.requests, 1)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def run(
    port: int,
    make_request: RequestFactory,
    *,
    connections: int,
    seconds: float,
    warmup: float = 1.0,
    server_pid: int | None = None,
) -> Result:
    """Keep `connections` connections busy for `seconds` after `warmup`; with `server_pid`, also
    the CPU the server (with its child processes) and PostgreSQL spent in the measured window."""
    counter = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker() -> None:
        nonlocal counter, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (now := time.perf_counter()) < stop_at:
                counter += 1
                writer.write(make_request(counter))
                status = await _read_response(reader)
                done = time.perf_counter()
                if now >= measure_from:
                    statuses[status] = statuses.get(status, 0) + 1
                    if 200 <= status < 300:
                        latencies.append((done - now) * 1000)
                    else:
                        errors += 1
        finally:
            writer.close()

    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        if server_pid is None:
            return
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        from benchmarks import postgres  # it imports this module

        server = process_tree(server_pid)
        children = [pid for pid in server if pid != server_pid]
        cpu["server"], cpu["database"] = cpu_seconds(server), postgres.cpu_seconds()
        cpu["children"] = cpu_seconds(children)
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        cpu["server"] = cpu_seconds(server) - cpu["server"]
        cpu["database"] = postgres.cpu_seconds() - cpu["database"]
        cpu["children"] = cpu_seconds(children) - cpu["children"]

    await asyncio.gather(sample_cpu(), *(worker() for _ in range(connections)))
    return Result(
        len(latencies),
        errors,
        seconds,
        latencies,
        statuses,
        cpu.get("server", 0.0),
        cpu.get("database", 0.0),
        cpu.get("children", 0.0),
    )
