"""A customer's service and finance records: tickets, contracts, quotes, invoices and payments
(the shared record routes: create, list with filters, get, update, archive)."""

from typing import Annotated
from uuid import UUID

from fastapi import Request
from starlette.responses import Response

from app.routers.dependencies import IfMatch, require, resource_response
from app.routers.v1.customers.records import record_routes
from app.schemas.customers.service_records import (
    ContractCreate,
    ContractFilters,
    ContractRead,
    ContractUpdate,
    InvoiceCreate,
    InvoiceFilters,
    InvoiceRead,
    InvoiceUpdate,
    PaymentCreate,
    PaymentFilters,
    PaymentRead,
    PaymentUpdate,
    QuoteCreate,
    QuoteFilters,
    QuoteRead,
    QuoteUpdate,
    TicketCreate,
    TicketFilters,
    TicketRead,
    TicketUpdate,
)
from app.services.context import Context
from app.services.customers import service_records as sr

tickets = record_routes(
    prefix="tickets", tag="Tickets", scope="tickets", kind=sr.TICKET, create_model=TicketCreate,
    update_model=TicketUpdate, read_model=TicketRead, filters_model=TicketFilters,
)  # fmt: skip
contracts = record_routes(
    prefix="contracts", tag="Contracts", scope="contracts", kind=sr.CONTRACT, create_model=ContractCreate,
    update_model=ContractUpdate, read_model=ContractRead, filters_model=ContractFilters,
    list_records=sr.list_contracts,
)  # fmt: skip
quotes = record_routes(
    prefix="quotes", tag="Quotes", scope="quotes", kind=sr.QUOTE, create_model=QuoteCreate,
    update_model=QuoteUpdate, read_model=QuoteRead, filters_model=QuoteFilters,
)  # fmt: skip
invoices = record_routes(
    prefix="invoices", tag="Invoices", scope="invoices", kind=sr.INVOICE, create_model=InvoiceCreate,
    update_model=InvoiceUpdate, read_model=InvoiceRead, filters_model=InvoiceFilters,
    list_records=sr.list_invoices,
)  # fmt: skip
payments = record_routes(
    prefix="payments", tag="Payments", scope="payments", kind=sr.PAYMENT, create_model=PaymentCreate,
    update_model=PaymentUpdate, read_model=PaymentRead, filters_model=PaymentFilters, create=sr.create_payment,
    archive=False,
)  # fmt: skip


@payments.delete(
    "/{payment_id}",
    summary="Void a payment: its amount no longer counts as paid (the invoice's status follows)",
    response_model=PaymentRead,
)
async def void_payment(
    request: Request, payment_id: UUID, ctx: Annotated[Context, require("payments:write")], if_match: IfMatch = None
) -> Response:
    return resource_response(request, PaymentRead.model_validate(await sr.void_payment(ctx, payment_id,
                                                                                       if_match=if_match)))  # fmt: skip
