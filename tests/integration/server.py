"""Run the real CLI and server as a newcomer would: separate processes on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    """The ids of a process's children, read from /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def started(pid: int) -> int | None:
    """When a process started (clock ticks since boot), or None once it is gone: with its id, it names
    one process even after the id is handed to another (ids wrap around on a busy machine)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int, since: int | None) -> bool:
    """Whether the process that had this id and start time still runs (a zombie does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False
    return started(pid) == since and "zombie" not in status


def tcp_ports(pid: int, *, listening: bool = False) -> set[int]:
    """The local TCP ports of a process's sockets (Linux /proc: its sockets' inodes matched in the
    process's view of /proc/net/tcp*); `listening`: only those it listens on."""
    inodes = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir() if fds.exists() else ():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes and (not listening or fields[3] == "0A"):  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    # No metrics port unless a test asks for one: servers and workers of tests running side by
    # side would all try the default one.
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "warning",
        "METRICS_PORT": "0",
        "DATABASE_POOL_SIZE": "8",  # several such processes run at once beside the test processes
        **extra,
    }


def run_cli(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=cli_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def create_workspace(database_url: str, *args: str) -> dict[str, str]:
    return json.loads(run_cli(database_url, "create-workspace", *args, "--json").stdout)


class Server:
    def __init__(
        self,
        database_url: str,
        log: Path,
        *,
        worker: bool = False,
        start_seconds: float = 120,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--port",
                str(self.port),
                *([] if worker else ["--no-worker"]),
                *args,
            ],
            cwd=ROOT,
            env=cli_env(database_url, **env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        # Imports and migrations took 23-39 s on a loaded 2-core machine (load average 7), the code
        # before and after metrics alike; a server that never starts still fails here.
        deadline = time.monotonic() + start_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.output()}")

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._out.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
