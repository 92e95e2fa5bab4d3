"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSON as PG_JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def _utc(value: datetime | None) -> datetime | None:
    """The value as a UTC datetime: no new object when it is UTC already (the clock's, the
    database's); a naive one is a programming error."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        value = _utc(value)
        return value.replace(tzinfo=None) if value is not None and dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """PostgreSQL: `_utc` itself, one call per value instead of TypeDecorator's two (batch
        writes bind hundreds of thousands: every row's timestamps)."""
        if dialect.name == "sqlite" or self.impl_instance.bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        return _utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is UTC:
            return moment
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# JSON values: JSONB on PostgreSQL (containment, equality, indexable), JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")
# The same, where None is SQL NULL rather than JSON `null` (a value absent, not a document saying
# null): a row written with the column given as None reads `IS NULL`, as one that left it out does.
OptionalJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# A document written once and read whole (an event's payload, an order's lines as the shop sent
# them): PostgreSQL's `json` keeps the text as written, so storing it is a syntax check instead of
# building JSONB (faster to COPY in and to read back: benchmarks/README.md), and ANALYZE has no
# values to sort. It has no equality: never filter, group or compare on it.
JsonDocument = JSON().with_variant(PG_JSON(), "postgresql")
# The same, where None is SQL NULL (a document absent or erased, e.g. an audit entry's personal values).
OptionalJsonDocument = JSON(none_as_null=True).with_variant(PG_JSON(none_as_null=True), "postgresql")
