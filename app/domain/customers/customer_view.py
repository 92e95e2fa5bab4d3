"""Which sections of the customer 360 view a key may see. Each section belongs to a resource and
shows only to a key holding that resource's read scope, so the view is never a way round a 403
on the resource's own endpoint; the others are named in `withheld`."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.workspace.api_keys import allows

# Section -> the scope it needs, beyond the customer's own (`contacts:read` for a contact,
# `accounts:read` for an account), which the profile, loyalty, referrals and timeline need.
SECTION_SCOPES: dict[str, str] = {
    "orders": "orders:read",
    "tickets": "tickets:read",
    "contracts": "contracts:read",
    "quotes": "quotes:read",
    "invoices": "invoices:read",  # with their payments (amounts paid, balances)
    "value_added_deals": "opportunities:read",  # won upsell and cross-sell opportunities
}
# In the view's order.
SECTIONS: tuple[str, ...] = (
    "profile", "orders", "loyalty_points", "referrals", "tickets", "contracts", "quotes", "invoices",
    "value_added_deals", "timeline",
)  # fmt: skip


def own_scope(kind: str) -> str:
    """The read scope of the customer itself: `contact` -> contacts:read, `account` -> accounts:read."""
    return f"{kind}s:read"


def section_scope(kind: str, section: str) -> str:
    return SECTION_SCOPES.get(section) or own_scope(kind)


def visible_sections(kind: str, granted: Iterable[str]) -> list[str]:
    """The sections a key with `granted` scopes sees, in the view's order."""
    scopes = frozenset(granted)
    return [s for s in SECTIONS if allows(scopes, section_scope(kind, s))]
