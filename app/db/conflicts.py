"""Recognising the database's answers that mean "someone else got there first"."""

from __future__ import annotations


def is_open_identity_conflict(error: BaseException) -> bool:
    """A unique violation of "one open lead per email / per phone" (app/db/tables.py), as
    PostgreSQL (index name) or SQLite (column names) reports it, wrapped by SQLAlchemy or not."""
    text = str(error)
    return "ix_leads_open_" in text or "leads.email_key" in text or "leads.phone_e164" in text


# Unique keys that concurrent order syncs can race on: the loser runs again and sees the winner's rows.
_SYNC_KEYS = ("uq_orders_source_key", "orders.source", "pk_contact_identities", "contact_identities.")
# ... and a loyalty entry's reference another request recorded first (the rerun answers with it).
_LEDGER_KEYS = ("ix_loyalty_entries_workspace_id_contact_id_reference", "loyalty_entries.reference")
# ... and a number or reference another request took first (the rerun answers 409 naming it).
_NUMBER_KEYS = ("ix_quotes_workspace_id_number", "quotes.number", "ix_invoices_workspace_id_number", "invoices.number",
                "ix_payments_workspace_id_reference", "payments.reference")  # fmt: skip
# ... and the one default channel of a type, which two first channels of that type both claimed.
_DEFAULT_KEYS = ("uq_channels_default", "channels.workspace_id, channels.type")


def is_retryable_conflict(error: BaseException) -> bool:
    """A unique violation that running the request again resolves: an open lead's identity, or an
    order / shop customer another request created first; or a deadlock PostgreSQL broke by
    aborting this request (concurrent message batches locking the same addresses in another order)."""
    text = str(error)
    if "deadlock detected" in text:  # PostgreSQL chose this request to break a lock cycle: nothing of it stayed
        return True
    return is_open_identity_conflict(error) or any(
        key in text for key in (*_SYNC_KEYS, *_LEDGER_KEYS, *_NUMBER_KEYS, *_DEFAULT_KEYS)
    )
