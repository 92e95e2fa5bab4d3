"""`python -m app serve` with the audit log's writers replaced by no-ops: the reference a
benchmark compares the shipped server with, to tell what recording one entry per write request
costs (benchmarks/privacy.py). Benchmark-only: the product has no switch to stop auditing.

    .venv/bin/python -m benchmarks.serve_without_audit [serve's options, e.g. --port 8001 --no-worker]

Both writers are looked up on the module at each call (`audit.record(...)`,
`audit.request_written(...)`), so replacing them there reaches every caller. serve's worker child
(`python -m app worker`) runs unpatched: it writes no request entries, and with none written its
chain stamping has nothing to do."""

from __future__ import annotations

import sys
from typing import Any

import app.blas  # noqa: F401  (first, as in app/__main__.py: BLAS threads are set before numpy loads)
from app.services.audit import audit


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


audit.record = _nothing
audit.request_written = _nothing

if __name__ == "__main__":
    from app.__main__ import main

    sys.exit(main(["serve", *sys.argv[1:]]))
