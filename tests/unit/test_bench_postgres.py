"""The benchmarks' own PostgreSQL: a throwaway cluster with autovacuum on (as in production, unlike
a development server that may run without it), gone when the benchmark ends."""

from __future__ import annotations

import asyncio
import glob
from pathlib import Path

import asyncpg
import pytest

from benchmarks import postgres


async def _show(url: str) -> tuple[str, str]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SHOW autovacuum"), await conn.fetchval("SHOW listen_addresses")
    finally:
        await conn.close()


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="no PostgreSQL binaries")
def test_benchmarks_run_on_a_throwaway_cluster_with_autovacuum_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    with postgres.server() as server:
        assert server.postmaster_pid is not None
        assert postgres.admin_url() == server.admin_url and ":5432/" not in server.admin_url
        assert asyncio.run(_show(server.admin_url)) == ("on", "127.0.0.1")
        assert server.autovacuum == "on"
        assert server.postmaster_pid in postgres.pids()
        assert postgres.cpu_seconds() >= 0
        folder = Path(server.description.split("initdb in ", 1)[1].split(",", 1)[0])
        assert folder.is_dir()
        postmaster = server.postmaster_pid
    assert not folder.exists()
    assert not _running(postmaster)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent (init) to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_given_server_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    monkeypatch.setenv("BENCH_DATABASE_URL", url)
    try:
        with postgres.server() as server:
            assert server.postmaster_pid is None and postgres.admin_url() == url
            assert postgres.database_url("crm_x") == "postgresql://postgres@127.0.0.1:5432/crm_x"
            assert server.autovacuum in ("on", "off")
    except OSError:
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")


def test_the_baseline_pools_as_many_connections_as_the_api() -> None:
    from app.config import Settings
    from benchmarks import baseline_app

    assert Settings().database_pool_size == baseline_app.POOL_SIZE
