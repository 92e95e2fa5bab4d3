"""CSV imports on the wire."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import Actor, ResourceRead, UtcDatetime
from app.schemas.events.jobs import JobProblem

Entity = Literal["leads", "contacts", "orders"]


class ImportRead(ResourceRead):
    id: UUID
    entity: Entity
    status: Literal["uploading", "queued", "running", "completed", "failed"]
    file_name: str | None
    mapping: dict[str, str] = Field(description="Field -> the CSV column it is read from")
    options: dict[str, Any]
    columns: list[str] = Field(description="The file's header")
    ignored_columns: list[str] = Field(
        default_factory=list, description="Columns of the file no field reads: their cells are not imported"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What the import did not do that the file may have meant, e.g. the columns it did not read, "
        "named with the field each was likely meant for",
    )
    bytes: int
    rows_total: int = Field(description="Data rows in the file (the header aside)")
    rows_done: int = Field(description="Rows applied so far (progress)")
    rows_created: int
    rows_updated: int
    rows_unchanged: int
    rows_merged: int = Field(
        description="Leads: rows merged into an open lead with the same email or phone (deduplication "
        "on_duplicate=merge when the file was uploaded)",
    )
    rows_failed: int = Field(description="Rows kept under /errors with why")
    job_id: UUID | None = Field(description="The job applying it (/v1/jobs/{id})")
    problem: JobProblem | None = Field(
        description="Why the import failed as a whole: generic, with the id of the job that ran it (the cause is "
        "in the operators' logs)"
    )
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    created_by: Actor


class RowError(BaseModel):
    field: str | None = Field(description="The field (not the column) at fault; null for the whole row")
    message: str | None


class ImportRowError(BaseModel):
    row_number: int = Field(description="The data row: 1 is the first row after the header")
    errors: list[RowError]
    values: dict[str, str] = Field(description="The row as read, by column")


class ImportErrorPage(BaseModel):
    data: list[ImportRowError]
    next_cursor: str | None


class DryRunResult(BaseModel):
    entity: Entity
    columns: list[str]
    mapping: dict[str, str] = Field(description="Field -> column, as the import would read them")
    ignored_columns: list[str] = Field(description="Columns no field reads: their cells would not be imported")
    warnings: list[str] = Field(
        description="What the import would not do that the file may have meant, e.g. a warning naming the columns "
        "no field reads, with the field each was likely meant for"
    )
    delimiter: str | None
    rows_checked: int = Field(description="The first rows of the file (at most 100)")
    rows_failed: int
    errors: list[ImportRowError]
