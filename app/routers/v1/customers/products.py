"""Products: what orders sell (created from the first order naming a SKU, or here)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.routers.answers import Answer, Row, RowPage
from app.routers.dependencies import IfMatch, Paging, paging, require, require_idempotent, sort_enum
from app.routers.route import CrmRoute
from app.schemas.common import Page
from app.schemas.customers.orders import ProductCreate, ProductRead, ProductUpdate
from app.services.context import Context
from app.services.customers import records
from app.services.customers.products import PRODUCT

router = APIRouter(prefix="/v1/products", tags=["Products"], route_class=CrmRoute)
ProductsSort = sort_enum("ProductsSort", "created_at", "sku")


class ProductFilters(BaseModel):
    archived: bool = Field(default=False, description="true: only archived products")
    category: str | None = Field(default=None, max_length=200)
    sku: str | None = Field(default=None, max_length=255)


@router.post("", status_code=201, summary="Create a product", response_model=ProductRead)
async def create_product(body: ProductCreate, ctx: Annotated[Context, require_idempotent("products:write")]) -> Answer:
    row = await records.create(ctx, PRODUCT, body.model_dump())
    return Answer(row, location=f"/v1/products/{row['id']}")


@router.get("", summary="List products", response_model=Page[ProductRead])
async def list_products(
    ctx: Annotated[Context, require("products:read")],
    page: Annotated[Paging, paging(ProductsSort)],
    filters: Annotated[ProductFilters, Query()],
) -> RowPage:
    return await records.list_records(
        ctx, PRODUCT, sort=page.sort, cursor=page.cursor, limit=page.limit, **filters.model_dump()
    )


@router.get("/{product_id}", summary="Get a product", response_model=ProductRead, openapi_extra={"x-conditional": True})
async def get_product(product_id: UUID, ctx: Annotated[Context, require("products:read")]) -> Row:
    return await records.get(ctx, PRODUCT, product_id)


@router.patch("/{product_id}", summary="Update a product", response_model=ProductRead)
async def update_product(
    product_id: UUID, body: ProductUpdate, ctx: Annotated[Context, require("products:write")], if_match: IfMatch = None
) -> Row:
    _, row = await records.update(ctx, PRODUCT, product_id, body.model_dump(exclude_unset=True), if_match=if_match)
    return row


@router.delete(
    "/{product_id}", summary="Archive a product (hidden from lists unless archived=true)", response_model=ProductRead
)
async def archive_product(
    product_id: UUID, ctx: Annotated[Context, require("products:write")], if_match: IfMatch = None
) -> Row:
    return await records.archive(ctx, PRODUCT, product_id, if_match=if_match)
