"""Ids are made by the service, time-ordered (UUIDv7, RFC 9562), so inserts stay local in indexes.

`uuid-utils` (Rust) makes them: monotonic within a process through RFC 9562's sub-millisecond
counter, so a busy process's ids keep the real millisecond (the former `uuid6` generator bumped the
timestamp by 1 ms per id within a millisecond, so a busy process's ids ran ahead of the clock), and
for less CPU (a form submission makes several; benchmarks/README.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from operator import attrgetter

import uuid_utils

_new, _set, _UUID, _UNKNOWN = object.__new__, object.__setattr__, uuid.UUID, uuid.SafeUUID.unknown


def new_id() -> uuid.UUID:
    """A UUIDv7 as the standard library's UUID, made without `UUID.__init__`'s argument checks (the
    value is a valid 128-bit integer by construction): cheaper, and an order batch makes thousands."""
    value = _new(_UUID)
    _set(value, "int", uuid_utils.uuid7().int)
    _set(value, "is_safe", _UNKNOWN)
    return value


# Sorting ids by their integer sorts them exactly as UUID's own `<` does, without a Python-level
# comparison per pair (a batch of 1,000 orders sorts its contacts' ids half a dozen times).
id_order = attrgetter("int")


def sorted_ids(ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return sorted(ids, key=id_order)


def random_hex() -> str:
    """128 random bits as 32 hex digits (request ids)."""
    return uuid_utils.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)
