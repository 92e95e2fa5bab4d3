"""What every batch route shares: an item's failure as its per-item result."""

from __future__ import annotations

from typing import Any

from app.domain.errors import DomainError


def problem_of(exc: DomainError) -> dict[str, Any]:
    """A batch item's failure: its reason and the problem document a single request would get."""
    problem = {"type": f"/problems/{exc.slug}", "title": exc.title, "status": exc.status, "detail": exc.detail}
    if exc.errors:
        problem["errors"] = [
            {"location": e.location, "field": e.field, "message": e.message, "type": e.type} for e in exc.errors
        ]
    return {"reason": exc.detail, "problem": problem}


def item_error(index: int, exc: DomainError) -> dict[str, Any]:
    """The result of batch item `index` that failed with `exc`."""
    return {"index": index, "status": "error", **problem_of(exc)}
