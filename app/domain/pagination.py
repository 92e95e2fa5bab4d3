"""Opaque keyset cursors: the sort key of the last row seen, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic

from typing_extensions import TypeVar

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


# A page's rows: a repository's typed rows (`LeadRow`), a use case's views, or plain dicts.
PageRowT = TypeVar("PageRowT", default=Any)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page(Generic[PageRowT]):
    """One keyset page of a list: its rows and the cursor of the next page (None: the last)."""

    rows: list[PageRowT]
    next_cursor: str | None


@dataclass(frozen=True)
class Sort:
    """`sort=field` ascending, `sort=-field` descending; ties broken by id in the same direction."""

    field: str
    descending: bool

    @classmethod
    def parse(cls, raw: str) -> Sort:
        raw = raw.strip()
        return cls(raw.lstrip("-"), raw.startswith("-"))

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.field


def encode_cursor(sort: Sort, value: Any, row_id: str) -> str:
    payload = json.dumps({"s": str(sort), "v": value, "i": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    """The (value, id) after which the next page starts; the cursor must match the sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or not isinstance(data.get("i"), str):
            raise BadCursor("malformed cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("malformed cursor") from exc
    if data.get("s") != str(sort):
        raise BadCursor("the cursor was made for another sort order")
    return data.get("v"), data["i"]
