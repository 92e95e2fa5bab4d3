"""The multiprocess directory of the metrics (app/metrics.py), kept apart from them: it must be
chosen before anything imports prometheus-client, which reads PROMETHEUS_MULTIPROC_DIR once, at
its import."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "crm-metrics-"


def use_directory() -> str:
    """A fresh temporary directory for this process and the ones it starts (they inherit the
    environment), exported as PROMETHEUS_MULTIPROC_DIR. Removed at a normal exit; a server that
    ended otherwise (killed, or ended by a re-raised signal, as uvicorn does on SIGTERM) leaves
    its directory, removed by the next server that starts."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus-client was imported before its multiprocess directory was chosen")
    _remove_orphans()
    directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    os.environ[MULTIPROC_ENV] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _remove_orphans() -> None:
    """Directories of servers no longer running (their process id is in the name)."""
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = path.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
