"""Every /v1 operation's answer is rendered here, once. A handler returns its result: a row or a
page the service read, a pydantic model, `None` for no body, or an `Answer` when the route's
defaults do not say it all (another status, the created resource's Location, extra headers). The
route class (app/routers/route.py) renders it against the operation's response model: JSON as
pydantic would write it, the ETag of a versioned resource (`ResourceRead`; a GET whose
If-None-Match is current answers 304 there), Location, the status code.

Rows are written straight through the response model's schema: a serializer built once per model
(`Rows`) picks each field from the row and writes it with orjson (app/jsonio.py), without
validating again what the service has just read. It covers the fields whose JSON it can write
exactly as pydantic does: text, numbers, booleans, UUIDs, dates, RFC 3339 timestamps
(`UtcDatetime`), actors, enums and literals, lists of text and JSON objects, each optional. A model
with anything else (nested models, validators, serializers, aliases) is validated and dumped by
pydantic as before, and so is a row the serializer cannot write (a key missing, a value of an
unexpected type, an integer past 64 bits)."""

from __future__ import annotations

import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, cached_property
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from starlette.responses import Response

from app import jsonio
from app.domain.concurrency import etag
from app.domain.pagination import Page as RowPage
from app.schemas.common import ActorRead, ResourceRead, actor_json, rfc3339

JSON = "application/json"
Row = dict[str, Any]  # a row as a use case returns it
__all__ = ["JSON", "Answer", "Renderer", "Row", "RowPage", "Rows"]


@dataclass(frozen=True, slots=True)
class Answer:
    """An operation's result with what its route does not say by itself: another status than the
    route's (a create that merged answers 200), the Location of what it created, headers of its
    own (CORS). `value` is rendered as any result is; `None` sends no body."""

    value: Any = None
    status_code: int | None = None
    location: str | None = None
    headers: Mapping[str, str] | None = None


class Renderer:
    """How one operation answers: its response model, status code and whether it is versioned."""

    def __init__(self, response_model: Any, status_code: int | None) -> None:
        self.status_code = status_code or 200
        self.versioned = isinstance(response_model, type) and issubclass(response_model, ResourceRead)
        self.item = _page_item(response_model)  # X of a Page[X]: a page's rows are X
        model = isinstance(response_model, type) and issubclass(response_model, BaseModel) and self.item is None
        self.model = response_model if model else None  # a row is one of these

    def render(self, result: Any) -> Response:
        """`result` as this operation's response (a Response is sent as it is)."""
        if isinstance(result, Response):
            return result
        answer = result if isinstance(result, Answer) else Answer(result)
        value = answer.value
        headers: dict[str, str] = {}
        if self.versioned and isinstance(value, Mapping):
            headers["ETag"] = etag(value["version"])
        elif self.versioned and isinstance(value, ResourceRead):
            headers["ETag"] = etag(value.version)
        if answer.location is not None:
            headers["Location"] = answer.location
        if answer.headers:
            headers.update(answer.headers)
        status = answer.status_code or self.status_code
        if value is None:
            return Response(status_code=status, headers=headers)
        return Response(self._body(value), status_code=status, headers=headers, media_type=JSON)

    def _body(self, value: Any) -> bytes:
        if isinstance(value, bytes):  # JSON the operation wrote itself (fields that depend on the caller)
            return value
        if isinstance(value, BaseModel):
            return value.__pydantic_serializer__.to_json(value)
        if isinstance(value, RowPage) and self.item is not None:
            cursor = jsonio.dump_bytes(value.next_cursor)
            return b'{"data":' + Rows.of(self.item).many(value.rows) + b',"next_cursor":' + cursor + b"}"
        if isinstance(value, Mapping) and self.model is not None:
            return Rows.of(self.model).one(value)
        raise TypeError(f"cannot answer {type(value).__name__} as this operation's response")


def _page_item(model: Any) -> type[BaseModel] | None:
    """X of a `Page[X]` response model."""
    metadata = getattr(model, "__pydantic_generic_metadata__", None)
    if metadata and metadata.get("origin") is not None and metadata["origin"].__name__ == "Page":
        item = metadata["args"][0]
        return item if isinstance(item, type) and issubclass(item, BaseModel) else None
    return None


class Rows:
    """Rows of one read model written as JSON. `one` and `many` give the bytes pydantic's
    `model_validate(row).model_dump_json()` would; through `convert`, a function generated once
    that builds each row's JSON object in one expression, when the model allows (see the module's
    docstring), else through pydantic."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.convert = _converter(model)

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.model)

    @cached_property
    def list_adapter(self) -> TypeAdapter[list[Any]]:
        return TypeAdapter(list[self.model])  # type: ignore[name-defined]

    @staticmethod
    @cache
    def of(model: type[BaseModel]) -> Rows:
        return Rows(model)

    def one(self, row: Mapping[str, Any]) -> bytes:
        if self.convert is not None:
            try:
                return jsonio.dump_bytes(self.convert(row))
            except (KeyError, TypeError, ValueError, AttributeError):
                pass  # written as pydantic writes it (or refused as it refuses it)
        return self.adapter.dump_json(self.adapter.validate_python(row))

    def many(self, rows: Sequence[Mapping[str, Any]]) -> bytes:
        if self.convert is not None:
            convert = self.convert
            try:
                return jsonio.dump_bytes([convert(row) for row in rows])
            except (KeyError, TypeError, ValueError, AttributeError):
                pass
        return self.list_adapter.dump_json(self.list_adapter.validate_python(rows))


# -- the generated converters ----------------------------------------------------------------------

_NONE: Any = types.NoneType


def _timestamp(value: Any) -> str:
    """A `UtcDatetime` as pydantic writes it."""
    if not isinstance(value, datetime):
        raise TypeError("not a datetime")
    return rfc3339(value)


_ACTORS: dict[str, dict[str, Any]] = {}  # an actor's JSON object by its stored text: few actors write many rows


def _actor(value: Any) -> dict[str, Any]:
    if type(value) is not str:
        raise TypeError("an actor is stored as text")
    if len(_ACTORS) >= 10_000:
        _ACTORS.clear()
    shown: dict[str, Any] = actor_json(value)
    _ACTORS[value] = shown
    return shown


def _float(value: Any) -> float:
    if type(value) is int:
        return float(value)
    raise TypeError("not a number")


def _uuid(value: Any) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _texts(value: Any) -> list[str]:
    if type(value) is list and all(type(item) is str for item in value):
        return value
    raise TypeError("not a list of text")


def _text_object(value: Any) -> dict[str, str]:
    if type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return value
    raise TypeError("not an object of text")


def _refuse(value: Any) -> Any:
    raise TypeError(f"unexpected {type(value).__name__}")


def _documents_only(metadata: list[Any]) -> bool:
    """Metadata that changes nothing in what is written (a description, a documented schema)."""
    return all(isinstance(m, FieldInfo) or type(m).__name__ == "WithJsonSchema" for m in metadata)


# How a field's value is written: an expression of the value, where `{v}` is its first use (it
# binds `v`), and for an enum or literal `_helper`, the values it may take. Every expression checks the value's type;
# a value of another type raises, and the row is written by pydantic instead. orjson writes text,
# numbers, UUIDs, dates, times and nested JSON values as pydantic does (app/jsonio.py).
_EXACT = "(v if {v}.__class__ is %s else _refuse(v))"


def _writer(annotation: Any, metadata: list[Any]) -> tuple[str, frozenset[str] | None] | None:
    """(expression, values) for a field of this type, or None when only pydantic writes it exactly."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _writer(base, [*metadata, *extra])
    if annotation is datetime and any(getattr(m, "func", None) is rfc3339 for m in metadata):
        # UtcDatetime (app/schemas/common.py): orjson writes a UTC time with its microseconds as rfc3339 does
        return "(v if {v}.microsecond and v.tzinfo is _UTC else _timestamp(v))", None
    if annotation is ActorRead and any(getattr(m, "func", None) is actor_json for m in metadata):
        return "(_ACTORS.get({v}) or _actor(v))", None
    if not _documents_only(metadata):
        return None
    if annotation in (str, int, bool, date):  # exact types: a bool is not written for an int
        return _EXACT % ("_date" if annotation is date else annotation.__name__), None
    if annotation is float:
        return "(v if {v}.__class__ is float else _float(v))", None
    if annotation is uuid.UUID:
        return "(v if isinstance({v}, _UUID) else _uuid(v))", None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = frozenset(member.value for member in annotation)
        if not all(type(value) is str for value in values):
            return None
        return "(v if {v} in _helper else _refuse(v))", values  # a member, or its value
    if origin is Literal and all(type(a) is str for a in typing.get_args(annotation)):
        return "(v if {v}.__class__ is str and v in _helper else _refuse(v))", frozenset(typing.get_args(annotation))
    if origin is list and typing.get_args(annotation) == (str,):
        return "_texts({v})", None
    if origin is dict and typing.get_args(annotation) == (str, Any):  # orjson refuses keys that are not text
        return _EXACT % "dict", None
    if origin is dict and typing.get_args(annotation) == (str, str):
        return "_text_object({v})", None
    return None


def _keys(name: str, validation_alias: Any) -> list[str] | None:
    """The keys a field is read from, in the order pydantic tries them; None for an alias path."""
    if validation_alias is None:
        return [name]
    if isinstance(validation_alias, str):
        return [validation_alias]
    if isinstance(validation_alias, AliasChoices) and all(isinstance(c, str) for c in validation_alias.choices):
        return [str(choice) for choice in validation_alias.choices]
    return None


# Model settings that leave a row's JSON as the serializer writes it.
_NEUTRAL_CONFIG = frozenset({
    "extra", "from_attributes", "title", "json_schema_extra", "populate_by_name", "validate_by_name",
    "validate_by_alias", "protected_namespaces", "frozen", "defer_build", "arbitrary_types_allowed",
    "use_attribute_docstrings", "json_schema_mode_override",
})  # fmt: skip


def _converter(model: type[BaseModel]) -> Callable[[Mapping[str, Any]], dict[str, Any]] | None:
    """A function building a row's JSON object for `model` in one dict expression, or None when
    the model has a field (or a feature) whose JSON only pydantic writes exactly."""
    decorators = model.__pydantic_decorators__
    if any((decorators.validators, decorators.field_validators, decorators.root_validators,
            decorators.field_serializers, decorators.model_serializers, decorators.model_validators,
            decorators.computed_fields)):  # fmt: skip
        return None
    config = model.model_config
    # Only settings known not to change what a row's JSON is; any other (extra="allow", stripping or
    # lowering text, inf/nan as constants, an alias generator, enum values...) goes through pydantic.
    if any(key not in _NEUTRAL_CONFIG for key in config) or config.get("extra") not in (None, "ignore"):
        return None
    namespace: dict[str, Any] = {
        "_ACTORS": _ACTORS,
        "_actor": _actor,
        "_texts": _texts,
        "_text_object": _text_object,
        "_refuse": _refuse,
        "_UTC": UTC,
        "_timestamp": _timestamp,
        "_UUID": uuid.UUID,
        "_date": date,
        "_float": _float,
        "_uuid": _uuid,
    }
    entries = []
    for index, (name, field) in enumerate(model.model_fields.items()):
        if field.alias or field.serialization_alias or field.exclude or getattr(field, "exclude_if", None):
            return None
        keys = _keys(name, field.validation_alias)
        if keys is None:
            return None
        annotation, optional = field.annotation, False
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not _NONE]
            if len(members) != 1 or len(members) == len(typing.get_args(annotation)):
                return None
            annotation, optional = members[0], True
        writer = _writer(annotation, list(field.metadata))
        if writer is None:
            return None
        expression, values = writer
        if values is not None:  # the field's own: its enum's or literal's values
            expression = expression.replace("_helper", f"_values{index}")
            namespace[f"_values{index}"] = values
        get = f"r[{keys[-1]!r}]"
        for key in reversed(keys[:-1]):  # the first of the keys the row has, as pydantic reads them
            get = f"(r[{key!r}] if {key!r} in r else {get})"
        if optional:
            value = f"(None if (v := {get}) is None else {expression.format(v='v')})"
        else:
            value = expression.format(v=f"(v := {get})")
        if not field.is_required():
            default = field.default
            if field.default_factory is not None or not (default is None or type(default) in (str, int, bool, float)):
                return None
            if (type(default) is float) != (annotation is float and default is not None):
                return None  # a default is written as it is, never converted
            namespace[f"_default{index}"] = default
            present = " or ".join(f"{key!r} in r" for key in keys)
            value = f"({value} if {present} else _default{index})"
        entries.append(f"{name!r}: {value}")
    source = "def convert(r):\n    return {" + ", ".join(entries) + "}\n"
    exec(compile(source, f"<row converter of {model.__name__}>", "exec"), namespace)
    return namespace["convert"]  # type: ignore[no-any-return]
