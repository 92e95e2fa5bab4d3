"""Types every resource shares: RFC 3339 UTC timestamps, actors, pages, problems."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from app.domain.errors import FieldError, InvalidInput
from app.domain.workspace import workspaces as locale


def rfc3339(value: datetime) -> str:
    if value.tzinfo is UTC:  # as the database and the clock give them: no conversion
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _as_utc(value: datetime) -> datetime:
    """An aware time given in any offset, held as UTC from here on (pydantic's parsed offsets are
    its own tzinfo objects: every later write and format would convert again). Naive times are left
    to the field's own check."""
    if value.tzinfo is None or value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00: past the last representable instant
        raise ValueError("is out of the range of representable times") from None


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-27T09:30:00.000000Z"]}),
]


def _check(predicate: Any, what: str) -> Any:
    def validate(value: Any) -> Any:
        if value is not None and not predicate(value):
            raise ValueError(what)
        return value

    return validate


Country = Annotated[
    str,
    AfterValidator(_check(locale.is_country, "must be an ISO 3166-1 alpha-2 country code such as IR or US")),
    Field(min_length=2, max_length=2, examples=["IR"]),
]
TimeZone = Annotated[
    str,
    AfterValidator(_check(locale.is_timezone, "must be an IANA time zone such as Asia/Tehran or UTC")),
    Field(max_length=64, examples=["Asia/Tehran"]),
]
Currency = Annotated[
    str,
    AfterValidator(_check(locale.is_currency, "must be an ISO 4217 currency code such as USD or IRR")),
    Field(min_length=3, max_length=3, examples=["USD"]),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ActorRead(BaseModel):
    """Who made a change: the member bound to the key, else the API key, or `system`."""

    type: str = Field(examples=["member"], description="member | api_key | system | integration (a shop webhook)")
    id: str | None = None


def actor_json(value: Any) -> Any:
    """A stored actor (`member:<id>`, `system`) as the API shows it; other values unchanged."""
    if isinstance(value, str):
        kind, _, ident = value.partition(":")
        return {"type": kind, "id": ident or None}
    return value


Actor = Annotated[ActorRead, BeforeValidator(actor_json)]


# Default of a PATCH field that may be left out but not set to null: an omitted field is not in
# `model_dump(exclude_unset=True)`, and an explicit null fails validation with the field's name.
Unset: Any = None


def _storable(value: Any) -> None:
    """Text a database stores: no NUL character (PostgreSQL refuses it) and no unpaired surrogate
    (not encodable as UTF-8), in strings, lists and objects alike."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        if value.isascii():  # no surrogate possible; no copy made to find out
            return
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("contains a character that is not valid Unicode text") from exc
    elif isinstance(value, (list, tuple)):
        for item in value:
            _storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)


class RequestModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error instead of a silent no-op, and
    text no database can store (a 422 naming the field, never a 500 from the driver)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # the common case inline (every field of every item of a batch comes through here)
        if type(value) is str and "\x00" not in value and value.isascii():
            return value
        if value is not None and type(value) not in (int, bool, float):
            _storable(value)
        return value


class BatchRequest(RequestModel):
    """A batch body whose items are validated one by one as request models of their own (so one
    bad item does not reject the batch): their text is checked there, not walked twice."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return value


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int = Field(description="Increments on every change; the ETag is this number, quoted.")
    created_at: UtcDatetime
    updated_at: UtcDatetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class ProblemFieldError(BaseModel):
    location: str = Field(description="body | query | path | header", examples=["body"])
    field: str = Field(description="Dotted path of the invalid field", examples=["manager_id"])
    message: str
    type: str = Field(examples=["value_error"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def invalid_input(exc: ValidationError, *, location: str = "body") -> InvalidInput:
    """A pydantic validation failure inside a use case, as the 422 that names each field."""
    errors = [FieldError(location, ".".join(map(str, e["loc"])), e["msg"], e["type"]) for e in exc.errors()]
    return InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
