"""The metrics' multiprocess directories: one left by a server that is gone is removed by the next
server; a running server's is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from app import metrics_directory


def test_directories_of_servers_no_longer_running_are_removed() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # reaped: its process id names no process now
    gone = Path(tempfile.mkdtemp(prefix=f"{metrics_directory.PREFIX}{ended.pid}-"))
    (gone / "counter_1.db").write_bytes(b"x")
    running = Path(tempfile.mkdtemp(prefix=f"{metrics_directory.PREFIX}{os.getpid()}-"))
    try:
        metrics_directory._remove_orphans()
        assert not gone.exists()
        assert running.exists()
    finally:
        shutil.rmtree(gone, ignore_errors=True)
        shutil.rmtree(running, ignore_errors=True)
