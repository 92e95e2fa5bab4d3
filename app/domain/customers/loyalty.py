"""Loyalty points: what each kind of ledger entry does to a contact's balance. Pure."""

from __future__ import annotations

from enum import StrEnum

MAX_POINTS = 10**12


class EntryKind(StrEnum):
    EARN = "earn"  # points given (an order, a referral, a review …)
    REDEEM = "redeem"  # points spent on a reward
    EXPIRE = "expire"  # points that lapsed
    ADJUST = "adjust"  # a correction by a person, either way


def delta(kind: EntryKind, points: int) -> int:
    """The change of the balance: earn adds, redeem and expire take away (give them as positive
    numbers), adjust is signed. ValueError for a zero, a wrong sign or too many points."""
    if points == 0:
        raise ValueError("a ledger entry moves at least one point")
    if abs(points) >= MAX_POINTS:
        raise ValueError("too many points")
    if kind == EntryKind.ADJUST:
        return points
    if points < 0:
        raise ValueError(f"give {kind.value} points as a positive number (adjust takes a sign)")
    return points if kind == EntryKind.EARN else -points
