"""Members: the people of a workspace who own leads and log work."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


def manager_cycle(member_id: str, new_manager_id: str, manager_of: Mapping[str, str | None]) -> bool:
    """True when making `new_manager_id` the manager of `member_id` would close a loop.

    `manager_of` maps member ids to their current manager along the new manager's chain.
    """
    seen: set[str] = set()
    current: str | None = new_manager_id
    while current is not None and current not in seen:
        if current == member_id:
            return True
        seen.add(current)
        current = manager_of.get(current)
    return False
