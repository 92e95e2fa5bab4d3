from typing import Any
from uuid import UUID

from pydantic import Field

from app.schemas.common import Actor, RequestModel, ResourceRead, UtcDatetime
from app.schemas.common import Problem as ProblemBody


class JobProblem(ProblemBody):
    """Why a job (or the import it ran) failed: a generic message and the job's id to quote to the
    operators. The cause itself is kept in the operators' logs, never shown."""

    job_id: UUID | None = Field(default=None, description="The job that failed (/v1/jobs/{id})")


class JobRead(ResourceRead):
    id: UUID
    kind: str = Field(examples=["events.redact"])
    status: str = Field(description="queued | running | succeeded | failed")
    params: dict[str, Any]
    progress: dict[str, Any] | None = Field(description='e.g. {"done": 1200, "total": 5000}')
    result: dict[str, Any] | None
    problem: JobProblem | None = Field(
        description="Why it failed, as a problem document: generic, with the job's id (the cause is in the "
        "operators' logs). Set while a failed attempt waits for its retry, too."
    )
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    created_by: Actor


class RedactionCreate(RequestModel):
    resource_id: str = Field(
        min_length=1, max_length=64, description="Erase the data of every event about this resource"
    )
