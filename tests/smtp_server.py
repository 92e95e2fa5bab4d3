"""A real SMTP server on loopback for the email tests (aiosmtpd, in a thread of its own), which
keeps every message it accepted and can refuse a recipient (5xx at RCPT), defer a message (4xx
at DATA) a given number of times, or hang up after DATA without answering."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.data, policy=default)  # type: ignore[assignment]
        return parsed


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550 at RCPT
    defer: Counter[str] = field(default_factory=Counter)  # recipient -> DATA answers of 451 still to give
    hang_up_after_data: set[str] = field(default_factory=set)  # recipients whose DATA gets no answer
    on_data: Any = None  # called (in the server's thread) with each accepted message, before the answer
    one_message_per_session: bool = False  # a session's second MAIL FROM gets 421 and the session closes
    sessions: int = 0  # EHLOs: the connections clients opened
    lock: threading.Lock = field(default_factory=threading.Lock)
    _used: set[int] = field(default_factory=set)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.one_message_per_session and id(session) in self._used:
            assert server.transport is not None
            server.transport.close()
            return "421 4.4.2 Closing idle session"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipients = [r.lower() for r in envelope.rcpt_tos]
        with self.lock:
            for recipient in recipients:
                if self.defer[recipient] > 0:
                    self.defer[recipient] -= 1
                    return "451 4.3.0 Try again later"
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        item = Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
        with self.lock:
            self.received.append(item)
            self._used.add(id(session))
        if self.on_data is not None:
            self.on_data(item)
        if any(r in self.hang_up_after_data for r in recipients):
            assert server.transport is not None
            server.transport.close()  # the message arrived; the answer never does
            await asyncio.sleep(0.1)
        return "250 2.0.0 Accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """`async with SmtpServer() as smtp:` a server on 127.0.0.1:`smtp.port`."""

    def __init__(self) -> None:
        self.handler = Handler()
        self.port = _free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    async def __aenter__(self) -> SmtpServer:
        await asyncio.to_thread(self._controller.start)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self._controller.stop)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (x.lower() for x in r.recipients)]
