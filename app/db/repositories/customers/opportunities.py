"""Opportunities (deals) of one workspace."""

from __future__ import annotations

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key
from app.db.repositories.customers.rows import OpportunityRow

op = tables.opportunities


class OpportunityRepository(RecordRepository[OpportunityRow]):
    table = op
    sortable = {"created_at": datetime_key(op.c.created_at)}
