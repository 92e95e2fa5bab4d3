"""The PostgreSQL server the benchmarks run on.

Unless `BENCH_DATABASE_URL` names a server, each benchmark starts its own throwaway cluster: initdb
into a temporary directory (PostgreSQL's own binaries, /usr/lib/postgresql/<newest>/bin), its
defaults with `autovacuum = on` as in production, listening on a free port of 127.0.0.1, stopped
and removed when the benchmark ends. So the figures do not depend on a shared server's settings
(a development server may run with autovacuum off, which changes plans as tables grow) nor include
the CPU of other databases' backends.

    with postgres.server():          # prints which way it runs and the server's autovacuum
        asyncio.run(main())
    postgres.admin_url()             # the `postgres` database of the server in use
    postgres.database_url("crm_x")   # another database on it
    postgres.pids()                  # its processes, for CPU accounting
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SHARED_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Server:
    admin_url: str
    postmaster_pid: int | None  # None: a server given by URL, whose processes we cannot tell apart
    description: str
    autovacuum: str = "?"


_current: Server | None = None


def current() -> Server:
    if _current is not None:
        return _current
    # Imported without `server()` (a helper used on its own): the given server, as before.
    url = os.environ.get("BENCH_DATABASE_URL", SHARED_DEFAULT)
    return Server(url, None, f"server given: {url}")


def admin_url() -> str:
    return current().admin_url


def database_url(name: str) -> str:
    return admin_url().rsplit("/", 1)[0] + f"/{name}"


def pids() -> list[int]:
    """The server's processes: the throwaway cluster's postmaster and its children; on a given
    server, every PostgreSQL process of this machine (other databases' work included)."""
    from benchmarks.loadgen import postgres_pids, process_tree

    server = current()
    if server.postmaster_pid is None:
        return postgres_pids()
    return process_tree(server.postmaster_pid)


def cpu_seconds() -> float:
    """CPU the server has used so far. On the throwaway cluster: its live processes plus what the
    postmaster has collected from exited backends (/proc cutime, cstime), so a backend that exits
    or starts within a measured window is still counted. On a given server: its live processes."""
    from benchmarks.loadgen import cpu_seconds as live_cpu

    server = current()
    if server.postmaster_pid is None:
        return live_cpu(pids())
    try:
        with open(f"/proc/{server.postmaster_pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        reaped = 0.0
    return live_cpu(pids()) + reaped


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


async def _show(url: str, setting: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval(f"SHOW {setting}"))
    finally:
        await conn.close()


def _read_setting(url: str, setting: str) -> str:
    import asyncio

    return asyncio.run(_show(url, setting))


@contextmanager
def server() -> Iterator[Server]:
    global _current
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        _current = Server(given, None, f"server given by BENCH_DATABASE_URL ({given})")
        _current.autovacuum = _read_setting(given, "autovacuum")
        print(f"PostgreSQL: {_current.description}; autovacuum = {_current.autovacuum} (SHOW autovacuum)", flush=True)
        try:
            yield _current
        finally:
            _current = None
        return
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not binaries:
        raise SystemExit("no PostgreSQL binaries under /usr/lib/postgresql/*/bin: set BENCH_DATABASE_URL")
    bindir = Path(binaries[-1])
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    started = False
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        port = _free_port()
        options = f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} -c autovacuum=on"
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                          "start"]),
            check=True, capture_output=True,
        )  # fmt: skip
        started = True
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _current = Server(url, postmaster, f"throwaway cluster ({bindir.parent.name}, initdb in {folder}, port {port})")
        _current.autovacuum = _read_setting(url, "autovacuum")
        print(f"PostgreSQL: {_current.description}; autovacuum = {_current.autovacuum} (SHOW autovacuum)", flush=True)
        yield _current
    finally:
        _current = None
        if started:
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                check=False, capture_output=True,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
