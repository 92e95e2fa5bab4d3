"""Custom fields: a workspace's own lead attributes, each with a type, validated on write."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.domain.errors import ErrorList

# Numbers are kept as JSON numbers: integers while every integer up to this is exact in a double
# (2**53), doubles beyond it (a 25-digit integer would otherwise overflow a 64-bit JSON writer).
EXACT_INTEGERS = 2**53


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class FieldDefinition:
    key: str
    type: FieldType
    required: bool
    options: tuple[str, ...] = ()
    sensitive: bool = False  # its values: read one lead at a time with `sensitive:read`, never listed


def coerce(definition: FieldDefinition, value: Any) -> Any:
    """The stored form of a value, or ValueError. Form posts send strings, so they are accepted."""
    if definition.type is FieldType.TEXT:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("must be text")
        text = str(value)
        if len(text) > 2000:
            raise ValueError("at most 2000 characters")
        return text
    if definition.type is FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError("must be a number") from exc
        if not math.isfinite(number):  # NaN and infinities have no JSON form
            raise ValueError("must be a finite number")
        return int(number) if number.is_integer() and abs(number) <= EXACT_INTEGERS else number
    if definition.type is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.strip().lower() in ("true", "1", "yes", "on")
        raise ValueError("must be true or false")
    if definition.type is FieldType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError("must be a date such as 2026-11-27") from exc
    if str(value) not in definition.options:
        raise ValueError(f"must be one of {', '.join(definition.options)}")
    return str(value)


def validate(
    definitions: Sequence[FieldDefinition],
    values: Mapping[str, Any],
    errors: ErrorList,
    *,
    require_all: bool,
    prefix: str = "custom_fields.",
) -> dict[str, Any]:
    """Known keys only, each coerced to its type; required ones present when `require_all`
    (creation). A null value removes the field."""
    by_key = {d.key: d for d in definitions}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors.add(f"{prefix}{key}", "no such custom field; define it under /v1/custom-fields")
            continue
        if value is None:
            clean[key] = None
            continue
        try:
            clean[key] = coerce(definition, value)
        except ValueError as exc:
            errors.add(f"{prefix}{key}", str(exc))
    if require_all:
        for definition in definitions:
            if definition.required and clean.get(definition.key) is None:
                errors.add(f"{prefix}{definition.key}", "required")
    return clean
