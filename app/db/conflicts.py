"""Recognising the database's answers that mean "someone else got there first"."""

from __future__ import annotations


def is_open_identity_conflict(error: BaseException) -> bool:
    """A unique violation of "one open lead per email / per phone" (app/db/tables.py), as
    PostgreSQL (index name) or SQLite (column names) reports it, wrapped by SQLAlchemy or not."""
    text = str(error)
    return "ix_leads_open_" in text or "leads.email_key" in text or "leads.phone_e164" in text
