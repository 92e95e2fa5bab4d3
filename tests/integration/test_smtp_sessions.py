"""SMTP sessions are reused for a channel's next messages, and a session the server closed while
idle costs nothing: the message goes over a fresh one at once (nothing had been handed off)."""

from __future__ import annotations

from uuid import uuid4

from app.domain.outreach.delivery import ChannelConfig, Outcome, Outgoing
from app.domain.outreach.messages import EmailParts, build_email
from app.domain.outreach.vocabulary import ChannelType, Provider
from app.ids import utcnow
from app.services.outreach.providers.smtp import SmtpAdapter
from tests.smtp_server import SmtpServer


def _channel(port: int) -> ChannelConfig:
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "from_email": "news@shop.example"}
    return ChannelConfig(uuid4(), uuid4(), ChannelType.EMAIL, Provider.SMTP, settings, {}, "https://crm.example/cb")


def _mail(to: str) -> Outgoing:
    mime, _ = build_email(EmailParts("news@shop.example", None, to, "Hi", "Hello", None), now=utcnow())
    return Outgoing(uuid4(), ChannelType.EMAIL, to, mime=mime, envelope_from="news@shop.example")


async def test_a_channels_messages_share_one_session() -> None:
    adapter = SmtpAdapter()
    async with SmtpServer() as smtp:
        channel = _channel(smtp.port)
        results = [await adapter.send(channel, _mail(f"p{n}@example.com"), allow_loopback=True, timeout=5)
                   for n in range(5)]  # fmt: skip
        await adapter.connections.close_all()
    assert [r.outcome for r in results] == [Outcome.SENT] * 5
    assert smtp.handler.sessions == 1 and len(smtp.received) == 5


async def test_a_session_closed_while_idle_is_replaced_at_once() -> None:
    adapter = SmtpAdapter()
    async with SmtpServer() as smtp:
        smtp.handler.one_message_per_session = True
        channel = _channel(smtp.port)
        results = [await adapter.send(channel, _mail(f"p{n}@example.com"), allow_loopback=True, timeout=5)
                   for n in range(3)]  # fmt: skip
        await adapter.connections.close_all()
    assert [r.outcome for r in results] == [Outcome.SENT] * 3  # never RETRY: nothing was handed off
    assert smtp.handler.sessions == 3 and len(smtp.received) == 3


async def test_a_changed_password_never_reuses_the_old_session() -> None:
    adapter = SmtpAdapter()
    async with SmtpServer() as smtp:
        channel = _channel(smtp.port)
        assert (await adapter.send(channel, _mail("a@example.com"), allow_loopback=True, timeout=5)).outcome is (
            Outcome.SENT
        )
        changed = ChannelConfig(
            channel.id,
            channel.workspace_id,
            channel.type,
            channel.provider,
            {**channel.settings, "username": "u"},
            {"password": "new"},
            channel.callback_url,
        )
        await adapter.send(changed, _mail("b@example.com"), allow_loopback=True, timeout=5)
        await adapter.connections.close_all()
    assert smtp.handler.sessions == 2
