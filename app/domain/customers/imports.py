"""CSV import rules, pure: which column feeds which field (the mapping), a row as the item the
batch use cases take, and order rows grouped into orders."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.csv_stream import normalise_header, unescape_formula
from app.domain.errors import ErrorList, InvalidInput

CUSTOM_PREFIX = "custom_fields."
_LIST_SPLIT = re.compile(r"\s*[;|,]\s*")


@dataclass(frozen=True)
class ColumnMap:
    """Target field -> column index; columns no field reads."""

    columns: dict[str, int]
    ignored: list[str]


def resolve_mapping(
    header: Sequence[str],
    mapping: Mapping[str, str] | None,
    targets: Collection[str],
    *,
    custom_keys: Collection[str] = (),
) -> ColumnMap:
    """The given mapping (field -> column name) checked against the header, or, without one, every
    column whose name is a field's (case, spaces and dashes aside). InvalidInput names the bad
    `mapping.<field>`."""
    errors = ErrorList()
    by_name: dict[str, int] = {}
    for index, name in enumerate(header):
        by_name.setdefault(name.strip(), index)
    allowed = set(targets) | {f"{CUSTOM_PREFIX}{key}" for key in custom_keys}
    columns: dict[str, int] = {}
    if mapping:
        for field, column in mapping.items():
            if field not in allowed:
                errors.add(f"mapping.{field}", "not a field of this import; see the import's field list")
            elif column.strip() not in by_name:
                errors.add(f"mapping.{field}", f"no column {column!r} in the file's header")
            else:
                columns[field] = by_name[column.strip()]
    else:
        normalised = {normalise_header(name): index for index, name in reversed(list(enumerate(header)))}
        for field in sorted(allowed):
            key = normalise_header(field)
            if key in normalised:
                columns[field] = normalised[key]
    errors.raise_if_any()
    if not columns:
        raise InvalidInput.field("mapping", "no column of the file maps to a field; give a mapping")
    used = set(columns.values())
    return ColumnMap(columns, [name for index, name in enumerate(header) if index not in used])


def unknown_columns_warning(ignored: Sequence[str], targets: Collection[str]) -> str | None:
    """The warning for columns no field reads (their cells are not imported), naming each and the
    field it was likely meant for: an orders file with `sku` instead of `line_sku` otherwise
    imports orders without lines, and nothing says why. None when every column is read."""
    if not ignored:
        return None
    known = {normalise_header(target): target for target in targets}
    named = []
    for name in ignored:
        key = normalise_header(name)
        hint = next((known[p + key] for p in ("", "line_", "customer_") if key and p + key in known), None)
        named.append(f"{name!r} (meant for {hint!r}?)" if hint else repr(name))
    return (
        f"{len(named)} column{'s' if len(named) > 1 else ''} no field reads, not imported: {', '.join(named)}. "
        "Name the column like a field, map it (mapping), or remove it"
    )


def item(
    row: Sequence[str],
    mapping: ColumnMap,
    *,
    lists: Collection[str] = (),
    json_fields: Collection[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A row as the item a batch takes: empty cells left out, list fields split on ; | or ,,
    `custom_fields.<key>` gathered, JSON fields parsed (ValueError naming the field)."""
    values: dict[str, Any] = dict(defaults or {})
    custom: dict[str, Any] = {}
    for field, index in mapping.columns.items():
        cell = unescape_formula(row[index].strip()) if index < len(row) else ""
        if cell == "":
            continue
        if field.startswith(CUSTOM_PREFIX):
            custom[field.removeprefix(CUSTOM_PREFIX)] = cell
        elif field in lists:
            values[field] = [part for part in _LIST_SPLIT.split(cell) if part]
        elif field in json_fields:
            try:
                values[field] = json.loads(cell)
            except ValueError as exc:
                raise ValueError(f"{field}: not valid JSON ({exc.args[0]})") from exc
        else:
            values[field] = cell
    if custom:
        given = values.get("custom_fields")
        values["custom_fields"] = {**given, **custom} if isinstance(given, dict) else custom
    return values


ORDER_FIELDS = (
    "source", "external_id", "status", "currency", "subtotal", "discount", "tax", "shipping", "total",
    "refunded_total", "cost", "reporting_total", "reporting_currency", "placed_at", "source_updated_at",
    "coupon", "sales_channel",
)  # fmt: skip
ORDER_CUSTOMER_FIELDS = ("external_id", "email", "phone", "first_name", "last_name")
ORDER_LINE_FIELDS = ("sku", "name", "category", "quantity", "unit_price", "total")
ORDER_TARGETS = (
    *ORDER_FIELDS,
    *(f"customer_{f}" for f in ORDER_CUSTOMER_FIELDS),
    "line_items",
    *(f"line_{f}" for f in ORDER_LINE_FIELDS),
)


MAX_ORDER_ROWS = 1000  # line items of one order (the orders batch's limit)


def order_key(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """Rows with the same key are one order's; a row without an external_id is an order of its
    own (None: it groups with nothing)."""
    external_id = str(values.get("external_id") or "").strip()
    return (str(values.get("source") or ""), external_id) if external_id else None


def order_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Consecutive rows of one order (flat: order columns repeated, a line item per row, as shops
    export them; or one row with `line_items` as a JSON array) as one order item."""
    first = rows[0]
    order: dict[str, Any] = {k: v for k, v in first.items() if k in ORDER_FIELDS}
    customer = {f: first[f"customer_{f}"] for f in ORDER_CUSTOMER_FIELDS if f"customer_{f}" in first}
    if customer:
        order["customer"] = customer
    order.setdefault("source_updated_at", order.get("placed_at"))
    lines: list[Any] = list(first.get("line_items") or [])
    for row in rows:
        line = {f: row[f"line_{f}"] for f in ORDER_LINE_FIELDS if f"line_{f}" in row}
        if line:
            lines.append(line)
    order["line_items"] = lines
    return order
