"""JSON in and out at orjson's speed (several times the json module's), read and written exactly as
the json module would: orjson reads integers past 64 bits as doubles and cannot write them, and
refuses NaN, infinities and lone surrogates. Text with a run of 19 digits, and anything orjson
refuses, goes through the json module, so a form's 25-digit reference number is stored and
returned as sent."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson

_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))  # a digit as "0", anything else a space
_LONG = b"0" * 19  # 19 digits in a row: maybe an integer past 64 bits (a C pass; a regex is slower than parsing)


def loads(data: str | bytes) -> Any:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _LONG in raw.translate(_DIGITS):
        return json.loads(data)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(data)  # NaN, infinities, lone surrogates: read as the json module reads them


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits
        return json.dumps(value, default=_default, ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_bytes(value: Any) -> bytes:
    """`value` as compact JSON bytes, written exactly as pydantic writes values it was given without a
    schema: text, numbers, booleans, null, arrays, objects with text keys, enums by their value, UUIDs
    as their text, dates and times in ISO 8601 (UTC as `Z`). Anything else raises TypeError (an
    integer past 64 bits, a key that is not text, a set)."""
    return orjson.dumps(value, default=_uuid_text, option=orjson.OPT_UTC_Z)


def _uuid_text(value: Any) -> str:
    if isinstance(value, UUID):  # the driver's own UUID type, which orjson does not take
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written here")
