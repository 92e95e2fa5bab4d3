"""The core rows' TypedDicts name every column of their table, in order, with its Python type."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest
from sqlalchemy import JSON, Column, Table

from app.db import tables
from app.db.repositories.customers.rows import AccountRow, ContactRow, OpportunityRow, OrderRow
from app.db.repositories.leads.rows import FormRow, LeadRow, TaskRow

ROWS = [
    (LeadRow, tables.leads),
    (TaskRow, tables.tasks),
    (FormRow, tables.forms),
    (AccountRow, tables.accounts),
    (ContactRow, tables.contacts),
    (OpportunityRow, tables.opportunities),
    (OrderRow, tables.orders),
]


def _expected(column: Column[Any]) -> Any:
    """The column's Python type: JSON any value; a nullable column's may be None."""
    if isinstance(column.type, JSON):
        return Any
    python_type = getattr(column.type, "impl_instance", column.type).python_type
    return python_type | None if column.nullable else python_type


@pytest.mark.parametrize(("row", "table"), ROWS, ids=[table.name for _, table in ROWS])
def test_row_types_follow_the_table(row: type, table: Table) -> None:
    hints = get_type_hints(row)
    assert list(hints) == [c.name for c in table.columns]
    assert {name: hints[name] for name in hints} == {c.name: _expected(c) for c in table.columns}
    assert row.__required_keys__ == frozenset(hints)  # type: ignore[attr-defined]
