"""Jobs as requests: what makes two job requests the same one, and what a tenant is told when a job
fails (the cause stays in the operators' logs)."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID


def fingerprint(kind: str, params: dict[str, Any]) -> str:
    """sha256 of the kind and the canonical JSON of its parameters (keys sorted, no spaces): two
    requests for the same work have the same fingerprint, whatever order their fields came in."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{kind}\n{canonical}".encode()).hexdigest()


def failure_problem(job_id: UUID, *, subject: str = "job") -> dict[str, Any]:
    """The problem document a tenant sees for a job that raised: generic, with the job's id to quote
    to the operators. The exception's text may hold anything (a connection string, another row's
    data), so it goes to the logs only, under the same id."""
    return {
        "type": f"/problems/{subject}-failed",
        "title": "Import failed" if subject == "import" else "Job failed",
        "status": 500,
        "detail": f"The {subject} could not be completed because of an internal error. "
        f"Quote job {job_id} to the operators; the cause is in their logs.",
        "job_id": str(job_id),
    }
