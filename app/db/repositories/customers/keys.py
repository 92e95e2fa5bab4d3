"""Rows looked up by many keys at once (order sync's batches): IN lists of any size as one prepared
statement on PostgreSQL, (source, external id) pairs, and batches cut into chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, any_, bindparam, func, true
from sqlalchemy.dialects import postgresql

from app.ids import sorted_ids

Key = tuple[str, str]  # (source, external_id)
CHUNK = 500  # keys per IN list


def one_of(column: Any, values: Sequence[Any], dialect: str) -> Any:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY($1)`), so a batch of any size
    is one prepared statement, whose generic plan still probes the index once per value."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def among_values(table: Any, column: Any, values: Sequence[Any], dialect: str) -> tuple[Any, Any]:
    """(FROM clause, WHERE clause) for the rows whose `column` is one of `values`. PostgreSQL: the
    values unnested from one array parameter and joined, so every batch size is one prepared
    statement and even its generic plan probes the index once per value (`= ANY` let the planner
    of a never-analysed table scan the whole workspace and filter: a cost growing with the table,
    against a fixed cost per key). SQLite: an IN list."""
    if dialect == "postgresql":
        distinct = set(values)
        ordered = sorted_ids(distinct) if isinstance(next(iter(distinct), None), UUID) else sorted(distinct)
        keys = func.unnest(bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
        derived = keys.table_valued("value").render_derived()
        # IS NOT NULL lets the planner use partial indexes "WHERE column IS NOT NULL" (a join
        # condition alone does not prove it)
        return derived.join(table, column == derived.c.value), column.is_not(None)
    return table, column.in_(list(values))


def by_keys(table: Any, keys: Sequence[Key], workspace_id: UUID, dialect: str) -> tuple[Any, Any]:
    """(FROM clause, WHERE clause) for the rows of these (source, external_id) pairs. PostgreSQL:
    the pairs unnested from two array parameters and joined on the unique index (a generic plan
    filtering on two ANY lists scanned the whole workspace: benchmarks/README.md). SQLite: two IN
    lists; the caller keeps the exact pairs."""
    if dialect == "postgresql":
        pairs = (
            func.unnest(
                bindparam(None, [k[0] for k in keys], type_=postgresql.ARRAY(table.c.source.type)),
                bindparam(None, [k[1] for k in keys], type_=postgresql.ARRAY(table.c.external_id.type)),
            )
            .table_valued("source", "external_id")
            .render_derived()
        )
        on = and_(
            table.c.workspace_id == workspace_id,
            table.c.source == pairs.c.source,
            table.c.external_id == pairs.c.external_id,
        )
        return pairs.join(table, on), true()
    where = and_(
        table.c.workspace_id == workspace_id,
        table.c.source.in_(sorted({k[0] for k in keys})),
        table.c.external_id.in_(sorted({k[1] for k in keys})),
    )
    return table, where


def chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
