"""What a provider's verified callback changes: delivery reports move a message's status,
replies and complaints reach consent and suppressions.

Not written yet: `apply_callback` accepts the events and records nothing."""

from __future__ import annotations

from app.domain.outreach.delivery import CallbackEvent, ChannelConfig
from app.services.context import Context


async def apply_callback(ctx: Context, channel: ChannelConfig, events: list[CallbackEvent]) -> None:
    """Apply a verified callback's events to the channel's messages and people (to be written)."""
    return None
