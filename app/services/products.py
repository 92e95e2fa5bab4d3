"""Products: created on first sight by order sync (by SKU), editable here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.db.repositories.base import Row
from app.db.unit_of_work import UnitOfWork
from app.domain.errors import Conflict, ErrorList
from app.domain.money import to_minor
from app.schemas.orders import ProductRead
from app.services import workspaces
from app.services.context import Context
from app.services.records import Kind


async def _product(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    errors = ErrorList()
    prepared = dict(values)
    if "sku" in prepared and current is None:
        taken = await ctx.uow.products(ctx.workspace_id).ids_by_sku([prepared["sku"]])
        if taken:
            raise Conflict(
                "a product with this SKU exists", extensions={"existing_product_id": str(taken[prepared["sku"]])}
            )
    price = prepared.pop("price", None)
    currency = prepared.get("currency") or (current or {}).get("currency") or (await workspaces.get(ctx))["currency"]
    prepared["currency"] = currency
    if "price" in values or current is None:
        try:
            prepared["price_minor"] = to_minor(price, currency) if price is not None else None
        except ValueError as exc:
            errors.add("price", str(exc))
    elif "currency" in values and current is not None and current["price_minor"] is not None:
        errors.add("currency", "changing the currency needs the price in it too")
    errors.raise_if_any()
    return prepared


def _products(uow: UnitOfWork, workspace_id: UUID) -> Any:
    return uow.products(workspace_id)


PRODUCT = Kind("product", _products, ProductRead, _product)
