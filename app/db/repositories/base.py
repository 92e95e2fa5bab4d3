"""Shared repository machinery: workspace scoping, keyset pages, version-checked updates, optional
filters, and the plain CRUD of records (`RecordRepository`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, cast
from uuid import UUID

from sqlalchemy import Select, Table, bindparam, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement
from typing_extensions import TypeVar

from app.domain.errors import InvalidInput
from app.domain.pagination import BadCursor, Sort, decode_cursor, encode_cursor
from app.domain.pagination import Page as Page  # the pages repositories return (re-exported)

if TYPE_CHECKING:
    from app.db.unit_of_work import UnitOfWork

Row = dict[str, Any]
# The rows a repository reads: its table's TypedDict for the core resources (`LeadRow`, `ContactRow`:
# the `rows.py` of each context), else a plain `Row`. Only a type: at run time every row is a dict.
RowT = TypeVar("RowT", bound=Mapping[str, Any], default=Row)
SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class SortKey:
    """A column a list can be sorted by, with how its value goes into and out of a cursor."""

    column: ColumnElement[Any]
    dump: Callable[[Any], Any] = lambda v: v
    load: Callable[[Any], Any] = lambda v: v
    # Rows without a value cannot be placed by a keyset cursor: a nullable column lists only the
    # rows that have one (e.g. leads by last activity).
    only: ColumnElement[bool] | None = None


def text_value(value: Any) -> str:
    """A text sort key's value out of a cursor: cursors are not signed, so a number or a list
    there is the caller's mistake (422), not a value for the database to reject (500)."""
    if not isinstance(value, str):
        raise TypeError("the cursor's value is not text")
    return value


def text_key(column: ColumnElement[Any]) -> SortKey:
    return SortKey(column, str, text_value)


def datetime_key(column: ColumnElement[Any]) -> SortKey:
    return SortKey(column, lambda v: v.isoformat(), aware_datetime)


def aware_datetime(value: Any) -> datetime:
    """A timestamp sort key's value out of a cursor: one with its offset, as cursors carry them."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("the cursor's time has no offset")
    return moment


def equal_conditions(filters: Mapping[Any, Any]) -> list[ColumnElement[bool]]:
    """`column == value` for each {column: value} given a value (None: no filter), in order."""
    return [column == value for column, value in filters.items() if value is not None]


def range_conditions(ranges: Iterable[tuple[Any, Any, Any]], *, closed: bool = False) -> list[ColumnElement[bool]]:
    """`lower <= column < upper` for each (column, lower, upper), each bound only when given (None:
    open on that side), in order; `closed`: `column <= upper`."""
    conditions: list[ColumnElement[bool]] = []
    for column, lower, upper in ranges:
        if lower is not None:
            conditions.append(column >= lower)
        if upper is not None:
            conditions.append(column <= upper if closed else column < upper)
    return conditions


def where_equal(statement: SelectT, filters: Mapping[Any, Any]) -> SelectT:
    """The statement filtered on each {column: value} given a value (a list's optional filters)."""
    conditions = equal_conditions(filters)
    return statement.where(*conditions) if conditions else statement


def where_between(statement: SelectT, ranges: Iterable[tuple[Any, Any, Any]], *, closed: bool = False) -> SelectT:
    """The statement filtered on each (column, lower, upper) range's given bounds: `lower <= column
    < upper` (`closed`: `<= upper`)."""
    conditions = range_conditions(ranges, closed=closed)
    return statement.where(*conditions) if conditions else statement


# Hot statements are built once and executed with parameters: building a statement and its cache
# key per call cost more CPU than the database round trip (measured in benchmarks/README.md).
@cache
def select_by_id(table: Table) -> Select[Any]:
    return select(table).where(table.c.workspace_id == bindparam("_ws"), table.c.id == bindparam("_id"))


@cache
def next_version(table: Table) -> ColumnElement[Any]:
    """`version + 1`, the bump of a versioned update, built once per table: built per statement,
    its literal's bind parameter is a reference cycle (SQLAlchemy keeps its comparator on it),
    freed only by the cyclic garbage collector, which the processes run rarely (app/__main__.py
    `_tune_gc`): a worker sending messages piled up two a message until it did."""
    return table.c.version + 1


_LIVE_PAGES: dict[tuple[str, str, bool, bool], Select[Any]] = {}


def live_page(table: Table, field: str, key: SortKey, *, descending: bool, after: bool) -> Select[Any]:
    """The prebuilt statement of `_live_page` (built once per table, sort field and direction, and
    whether a cursor is given): parameters `_ws`, `_limit` and, after a cursor, `_after` (the
    sort value) and `_after_id`."""
    built = _LIVE_PAGES.get((table.name, field, descending, after))
    if built is None:
        built = _LIVE_PAGES[(table.name, field, descending, after)] = _live_page(table, key, descending, after)
    return built


def _live_page(table: Table, key: SortKey, descending: bool, after: bool) -> Select[Any]:
    id_col = table.c.id
    statement = select(table).where(table.c.workspace_id == bindparam("_ws"))
    if "archived_at" in table.c:
        statement = statement.where(table.c.archived_at.is_(None))
    if key.only is not None:
        statement = statement.where(key.only)
    if after:
        pair = tuple_(key.column, id_col)
        start = tuple_(bindparam("_after", type_=key.column.type), bindparam("_after_id", type_=id_col.type))
        statement = statement.where(pair < start if descending else pair > start)
    order = (key.column.desc(), id_col.desc()) if descending else (key.column.asc(), id_col.asc())
    return statement.order_by(*order).limit(bindparam("_limit"))


def _sort_key(sortable: Mapping[str, SortKey], sort: Sort) -> SortKey:
    key = sortable.get(sort.field)
    if key is None:
        raise InvalidInput.field(
            "sort", f"cannot sort by {sort.field!r}; use one of {', '.join(sorted(sortable))}", location="query"
        )
    return key


def aging_page(
    table: Table,
    column: ColumnElement[Any],
    *columns: ColumnElement[Any],
    workspace_id: UUID,
    start: datetime | None,
    end: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """A page of a retention pass: the workspace's rows whose `column` (a time) is in [start, end)
    after the keyset position `after` (time, id), oldest first, read along an index that starts
    with (workspace_id, [`conditions`' equalities,] column, id). `columns`: what to read (id and
    `column` always)."""
    statement = select(table.c.id, column, *columns).where(table.c.workspace_id == workspace_id, *conditions)
    statement = statement.where(column < end)
    if start is not None:
        statement = statement.where(column >= start)
    if after is not None:
        moment, row_id = after
        position = tuple_(literal(moment, type_=column.type), literal(row_id, type_=table.c.id.type))
        statement = statement.where(tuple_(column, table.c.id) > position)
    return statement.order_by(column, table.c.id).limit(limit)


def dialect_insert(dialect: str) -> Any:
    """The dialect's INSERT construct (ON CONFLICT clauses differ per dialect in SQLAlchemy)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@cache
def insert_returning(table: Table, dialect: str, *, on_conflict_do_nothing: bool) -> Any:
    statement = dialect_insert(dialect)(table)
    if on_conflict_do_nothing:
        statement = statement.on_conflict_do_nothing()
    return statement.returning(table)


def decode_after(cursor: str, sort: Sort, load: Callable[[Any], Any]) -> tuple[Any, UUID]:
    """The (sort value, id) a keyset page starts after; a 422 naming `cursor` when it is not ours."""
    try:
        raw_value, raw_id = decode_cursor(cursor, sort)
        return load(raw_value), UUID(raw_id)
    except (BadCursor, ValueError, TypeError) as exc:
        raise InvalidInput.field("cursor", str(exc) or "malformed cursor", location="query") from exc


class TenantRepository(Generic[RowT]):
    """Base of every tenant repository: it cannot be made without a workspace. `RowT` is the type
    of its table's rows (`TenantRepository[LeadRow]`)."""

    table: Table

    def __init__(self, uow: UnitOfWork, workspace_id: UUID) -> None:
        if not isinstance(workspace_id, UUID):
            raise TypeError("a tenant repository needs the workspace id it is scoped to")
        self.uow = uow
        self.workspace_id = workspace_id

    @property
    def scope(self) -> ColumnElement[bool]:
        return self.table.c.workspace_id == self.workspace_id

    async def _one(self, statement: Any) -> Row | None:
        row = (await self.uow.execute(statement)).mappings().first()
        return dict(row) if row is not None else None

    async def _row(self, statement: Any) -> RowT | None:
        """`_one` of a statement that selects or returns whole rows of this repository's table."""
        return cast("RowT | None", await self._one(statement))

    async def _rows(self, statement: Any) -> list[RowT]:
        """Every row of a statement that selects or returns whole rows of this repository's table."""
        return cast("list[RowT]", [dict(r) for r in (await self.uow.execute(statement)).mappings()])

    async def _get_by_id(self, row_id: UUID) -> RowT | None:
        rows = await self.uow.fetch_rows(select_by_id(self.table), {"_ws": self.workspace_id, "_id": row_id})
        return cast("RowT", rows[0]) if rows else None

    async def _insert(self, values: Mapping[str, Any]) -> RowT:
        statement = insert_returning(self.table, await self._dialect(), on_conflict_do_nothing=False)
        row = (await self.uow.execute(statement, {"workspace_id": self.workspace_id, **values})).mappings().one()
        return cast("RowT", dict(row))

    async def _insert_unless_exists(self, values: Mapping[str, Any]) -> RowT | None:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: None when a unique key already holds a row.
        One round trip, and the transaction stays usable (no savepoint needed)."""
        statement = insert_returning(self.table, await self._dialect(), on_conflict_do_nothing=True)
        row = (await self.uow.execute(statement, {"workspace_id": self.workspace_id, **values})).mappings().first()
        return cast("RowT", dict(row)) if row is not None else None

    async def _dialect(self) -> str:
        return str((await self.uow.connection()).dialect.name)

    async def _update_versioned(self, row_id: UUID, version: int, values: Mapping[str, Any]) -> RowT | None:
        """Compare-and-set on `version`: None when another writer changed the row first."""
        statement = (
            update(self.table)
            .where(self.scope, self.table.c.id == row_id, self.table.c.version == version)
            .values(version=next_version(self.table), **values)
            .returning(self.table)
        )
        row = (await self.uow.execute(statement)).mappings().first()
        return cast("RowT", dict(row)) if row is not None else None

    async def _page(
        self,
        statement: Select[Any],
        *,
        sortable: Mapping[str, SortKey],
        sort: Sort,
        cursor: str | None,
        limit: int,
    ) -> Page[RowT]:
        """A keyset page of the statement's rows (whole rows of this table, the statement may add
        columns)."""
        key = _sort_key(sortable, sort)
        id_col = self.table.c.id
        if key.only is not None:
            statement = statement.where(key.only)
        if cursor is not None:
            after = decode_after(cursor, sort, key.load)
            pair = tuple_(key.column, id_col)
            statement = statement.where(pair < after if sort.descending else pair > after)
        order = (key.column.desc(), id_col.desc()) if sort.descending else (key.column.asc(), id_col.asc())
        rows = [dict(r) for r in (await self.uow.execute(statement.order_by(*order).limit(limit + 1))).mappings()]
        return self._paged(rows, key, sort, limit)

    async def _live_page(
        self, *, sortable: Mapping[str, SortKey], sort: Sort, cursor: str | None, limit: int
    ) -> Page[RowT]:
        """The keyset page `_page` gives for the workspace's rows with no filter (live rows only, for
        a table with `archived_at`): the list every screen opens first, read by a statement built
        once per sort and direction (UnitOfWork.fetch_rows)."""
        key = _sort_key(sortable, sort)
        params: dict[str, Any] = {"_ws": self.workspace_id, "_limit": limit + 1}
        if cursor is not None:
            params["_after"], params["_after_id"] = decode_after(cursor, sort, key.load)
        statement = live_page(self.table, sort.field, key, descending=sort.descending, after=cursor is not None)
        rows = await self.uow.fetch_rows(statement, params)
        return self._paged(rows, key, sort, limit)

    def _paged(self, rows: list[Row], key: SortKey, sort: Sort, limit: int) -> Page[RowT]:
        """The page of `limit` rows read with one more, which tells whether there is a next page."""
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(sort, key.dump(last[key.column.key]), str(last["id"]))
        return Page(cast("list[RowT]", rows), next_cursor)


class RecordRepository(TenantRepository[RowT]):
    """CRUD with equality filters and keyset pages; archived rows only when asked."""

    sortable: Mapping[str, SortKey]

    async def get(self, record_id: UUID) -> RowT | None:
        return await self._get_by_id(record_id)

    async def existing(self, record_ids: Sequence[UUID]) -> set[UUID]:
        ids = [i for i in record_ids if i is not None]
        if not ids:
            return set()
        statement = select(self.table.c.id).where(self.scope, self.table.c.id.in_(ids))
        return set((await self.uow.execute(statement)).scalars())

    async def create(self, values: Mapping[str, Any]) -> RowT:
        return await self._insert(values)

    async def by_column(self, column: str, value: Any) -> RowT | None:
        """The record whose unique `column` (a number, a reference) is `value`."""
        return await self._row(select(self.table).where(self.scope, self.table.c[column] == value))

    async def update(self, record_id: UUID, version: int, values: Mapping[str, Any]) -> RowT | None:
        return await self._update_versioned(record_id, version, values)

    async def list(
        self,
        *,
        sort: Any,
        cursor: str | None,
        limit: int,
        archived: bool | None = False,
        ranges: Sequence[tuple[str, Any, Any]] = (),
        conditions: Sequence[Any] = (),
        **equal: Any,
    ) -> Page[RowT]:
        """Records matching `conditions`, each {column name: value} of `equal` given a value, and
        each (column name, lower, upper) of `ranges` (`lower <= column < upper`)."""
        t: Table = self.table
        if (
            not conditions
            and archived is False
            and all(v is None for v in equal.values())
            and all(lower is None and upper is None for _, lower, upper in ranges)
        ):
            return await self._live_page(sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)
        statement = select(t).where(self.scope, *conditions)
        if archived is not None and "archived_at" in t.c:
            statement = statement.where(t.c.archived_at.is_not(None) if archived else t.c.archived_at.is_(None))
        statement = where_equal(statement, {t.c[column]: value for column, value in equal.items()})
        statement = where_between(statement, [(t.c[column], lower, upper) for column, lower, upper in ranges])
        return await self._page(statement, sortable=self.sortable, sort=sort, cursor=cursor, limit=limit)
