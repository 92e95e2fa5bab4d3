"""Saved customer segments of one workspace."""

from __future__ import annotations

from app.db import tables
from app.db.repositories.base import RecordRepository, datetime_key


class SegmentRepository(RecordRepository):
    table = tables.segments
    sortable = {"created_at": datetime_key(tables.segments.c.created_at)}
