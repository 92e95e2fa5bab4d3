"""Column lists and bind processors shared by the writers: values go through each column type's
own bind processor, exactly as SQLAlchemy would send them, looked up once per table and columns."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

Processors = tuple[tuple[int, Callable[[Any], Any]], ...]  # (position in the row, bind processor)


@lru_cache(maxsize=1024)
def column_list(table: Table, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The table's columns among `keys`, in the table's order."""
    return tuple(c.name for c in table.columns if c.name in keys)


@lru_cache(maxsize=256)
def bind_processors(dialect: Dialect, table: Table, names: tuple[str, ...]) -> Processors:
    """The bind processors of these columns (by position), leaving out columns that need none."""
    bound = ((i, table.c[c].type._cached_bind_processor(dialect)) for i, c in enumerate(names))
    return tuple((i, p) for i, p in bound if p is not None)
