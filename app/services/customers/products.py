"""Products: created on first sight by order sync (by SKU), editable here."""

from __future__ import annotations

from typing import Any

from app.db.repositories.base import Row
from app.domain.errors import Conflict, ErrorList
from app.schemas.customers.orders import ProductRead
from app.services.context import Context
from app.services.customers import records
from app.services.customers.records import Kind


async def _product(ctx: Context, values: dict[str, Any], current: Row | None) -> dict[str, Any]:
    errors = ErrorList()
    prepared = dict(values)
    if "sku" in prepared and current is None:
        taken = await ctx.products.ids_by_sku([prepared["sku"]])
        if taken:
            raise Conflict(
                "a product with this SKU exists", extensions={"existing_product_id": str(taken[prepared["sku"]])}
            )
    await records.money_field(ctx, "price", values, current, prepared, errors)
    errors.raise_if_any()
    return prepared


PRODUCT = Kind("product", lambda repos: repos.products, ProductRead, _product)
