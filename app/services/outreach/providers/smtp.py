"""Email through an SMTP server the channel names (aiosmtplib).

The connection passes the address guard (app/outbound.py): the host is resolved once, refused when
any of its addresses is not allowed, and the socket is connected to a checked address only; TLS
(implicit or STARTTLS) still verifies the certificate against the host name. `security`: none,
starttls (required, never silently skipped) or tls (implicit TLS, usually port 465).

Outcomes by the stage an answer or a failure came at: anything before the end of DATA is
provably not handed off (RETRY on a 4xx, a refused connection, a TLS failure, a lost
connection), a 5xx at RCPT that refuses the recipient itself (550/551/553, 5.1.x) bounces it
(BOUNCED, which suppresses the address); any other 5xx (MAIL FROM, a refused login, relaying
denied or a policy 5.7.x at RCPT, a message refused at DATA) is the channel's or the content's
fault (FAILED, the address stays usable); a connection lost or a deadline passed while the
message was being transferred or its final answer awaited is UNKNOWN."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from enum import Enum

import aiosmtplib

from app.domain.outreach import mail_reports
from app.domain.outreach.delivery import CallbackEvent, CallbackRequest, ChannelConfig, Outcome, Outgoing, SendResult
from app.outbound import AddressNotAllowed, HostNotFound, LookupBusy, connected_socket
from app.services.outreach.providers.base import MAIL


class Stage(Enum):
    CONNECT = "connect"
    LOGIN = "login"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the message is being transferred or its answer awaited


def _message_id(mime: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(mime).get("Message-ID")
    return str(value).strip() if value else None


def _tls_failure(exc: BaseException) -> str | None:
    """What went wrong with TLS, when that is why the exchange failed (aiosmtplib wraps it)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {cause.reason or type(cause).__name__}"
        cause = cause.__cause__ or cause.__context__
    return None


def _answer(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()[:300]


def _recipient_refused(exc: aiosmtplib.SMTPResponseException, *, at_data: bool = False) -> bool:
    """A permanent refusal of this recipient, at RCPT or at DATA (servers that accept every RCPT
    refuse unknown or disabled mailboxes once the message is in): enhanced `5.1.x` (a bad or
    unknown address) or `5.2.1` (mailbox disabled); without an enhanced code 550, 551 or 553 (and
    554 at RCPT) not naming relaying. Not a refusal of the sender, the channel or the content:
    relaying denied, policy, spam or authentication (`5.7.x`), a full mailbox or a message too large
    (`5.2.2`, `5.2.3`, 552), content (`5.6.x`, `5.3.x`) would otherwise suppress every recipient of
    a misconfigured channel or of a message a filter did not like."""
    enhanced = exc.message.strip().split(" ", 1)[0].lstrip("-")
    if enhanced.count(".") == 2 and enhanced[0].isdigit():
        return enhanced.startswith("5.1.") or enhanced == "5.2.1"
    codes = (550, 551, 553) if at_data else (550, 551, 553, 554)
    return exc.code in codes and "relay" not in exc.message.lower()


def _by_code(code: int, detail: str, *, refused: Outcome) -> SendResult:
    return SendResult(Outcome.RETRY if 400 <= code < 500 else refused, detail=detail)


# An open connection is reused for the channel's next message (a batch of a thousand emails goes
# over a few connections, not a thousand handshakes), one send at a time; one left idle longer
# than this is closed rather than reused (servers drop idle sessions after a few minutes).
IDLE_SECONDS = 30.0
MAX_IDLE_PER_CHANNEL = 16


@dataclass
class _Idle:
    client: aiosmtplib.SMTP
    since: float


class Connections:
    """Idle SMTP connections by channel and the settings they were opened with (a changed host or
    password never reuses a session opened with the old one)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, ...], list[_Idle]] = {}

    def take(self, key: tuple[str, ...]) -> aiosmtplib.SMTP | None:
        idle = self._idle.get(key, [])
        now = time.monotonic()
        while idle:
            entry = idle.pop()  # most recently used: the least likely to have been dropped
            if entry.client.is_connected and now - entry.since < IDLE_SECONDS:
                return entry.client
            entry.client.close()
        return None

    def give(self, key: tuple[str, ...], client: aiosmtplib.SMTP) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= MAX_IDLE_PER_CHANNEL or not client.is_connected:
            client.close()
            return
        idle.append(_Idle(client, time.monotonic()))

    async def close_all(self) -> None:
        idle, self._idle = self._idle, {}
        for entries in idle.values():
            for entry in entries:
                try:
                    async with asyncio.timeout(2):
                        await entry.client.quit()
                except (aiosmtplib.SMTPException, TimeoutError, OSError):
                    entry.client.close()


def _key(channel: ChannelConfig) -> tuple[str, ...]:
    settings, secrets = channel.settings, channel.secrets
    password = hashlib.sha256(str(secrets.get("password") or "").encode()).hexdigest()
    return (str(channel.id), str(settings["host"]), str(settings["port"]), str(settings.get("security")),
            str(settings.get("username") or ""), password)  # fmt: skip


class SmtpAdapter:
    # Reports come back as mail: a complaint (ARF) or a late bounce (DSN) forwarded whole.
    callback_media_types: frozenset[str] = frozenset({MAIL})

    def __init__(self) -> None:
        self.connections = Connections()

    async def send(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        *,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109 - the adapters' interface
    ) -> SendResult:
        if outgoing.mime is None:
            return SendResult(Outcome.FAILED, detail="no message to send")
        key = _key(channel)
        reused = self.connections.take(key)
        if reused is not None:
            result, client = await self._attempt(channel, outgoing, reused, allow_loopback, timeout)
            if result is not None:
                return self._done(key, result, client)
            # the reused session was gone before the server took anything: a fresh one, at once
        result, client = await self._attempt(channel, outgoing, None, allow_loopback, timeout)
        assert result is not None
        return self._done(key, result, client)

    def _done(self, key: tuple[str, ...], result: SendResult, client: aiosmtplib.SMTP | None) -> SendResult:
        if client is not None:
            if result.outcome is Outcome.SENT:
                self.connections.give(key, client)
            else:
                client.close()  # a session left mid-transaction is never reused
        return result

    async def _attempt(
        self,
        channel: ChannelConfig,
        outgoing: Outgoing,
        reused: aiosmtplib.SMTP | None,
        allow_loopback: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[SendResult | None, aiosmtplib.SMTP | None]:
        """(the outcome, the open client to keep or close); (None, None) when a reused session
        turned out closed before MAIL FROM was accepted: nothing was handed off, try a fresh one."""
        assert outgoing.mime is not None
        settings, secrets = channel.settings, channel.secrets
        host, port = str(settings["host"]), int(settings["port"])
        security = str(settings.get("security") or "starttls")
        sender = outgoing.envelope_from or str(settings.get("from_email") or "")
        stage = Stage.MAIL if reused is not None else Stage.CONNECT
        client: aiosmtplib.SMTP | None = reused
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(timeout):
                if client is None:
                    sock = await connected_socket(host, port, allow_loopback=allow_loopback)
                    client = aiosmtplib.SMTP(
                        hostname=host,
                        sock=sock,
                        use_tls=security == "tls",
                        start_tls=security == "starttls",
                        tls_context=ssl.create_default_context() if security != "none" else None,
                        local_hostname=sender.rpartition("@")[2] or "localhost",
                        timeout=timeout,
                    )
                    await client.connect()  # with start_tls, refuses a server that does not offer STARTTLS
                    sock = None  # the client's transport owns it now
                    stage = Stage.LOGIN
                    if settings.get("username") and secrets.get("password"):
                        await client.login(str(settings["username"]), secrets["password"])
                    stage = Stage.MAIL
                try:
                    await client.mail(sender)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError, OSError):
                    if reused is not None:
                        client.close()
                        return None, None
                    raise
                except aiosmtplib.SMTPResponseException as exc:
                    if reused is not None and exc.code == 421:  # the server is closing the idle session
                        client.close()
                        return None, None
                    raise
                stage = Stage.RCPT
                await client.rcpt(outgoing.to)
                stage = Stage.DATA
                answer = await client.data(outgoing.mime)
                detail = f"{answer.code} {answer.message}".strip()[:300]
                return SendResult(Outcome.SENT, _message_id(outgoing.mime) or answer.message[:200], detail), client
        except AddressNotAllowed as exc:
            return SendResult(Outcome.FAILED, detail=str(exc)), client
        except (HostNotFound, LookupBusy) as exc:
            return SendResult(Outcome.RETRY, detail=str(exc)), client
        except aiosmtplib.SMTPAuthenticationError as exc:
            return SendResult(Outcome.FAILED, detail="login refused: " + _answer(exc)), client
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code < 400:  # an answer of another kind than expected (no valid reply)
                outcome = Outcome.UNKNOWN if stage == Stage.DATA else Outcome.RETRY
                return SendResult(outcome, detail=_answer(exc)), client
            if stage in (Stage.RCPT, Stage.DATA) and _recipient_refused(exc, at_data=stage == Stage.DATA):
                return _by_code(exc.code, _answer(exc), refused=Outcome.BOUNCED), client
            return _by_code(exc.code, _answer(exc), refused=Outcome.FAILED), client
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            if stage == Stage.DATA:
                detail = f"timed out after {timeout:g} s while sending the message"
                return SendResult(Outcome.UNKNOWN, detail=detail), client
            return SendResult(Outcome.RETRY, detail=f"timed out after {timeout:g} s ({stage.value})"), client
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPReadTimeoutError, ConnectionError) as exc:
            tls = _tls_failure(exc)
            if tls is not None and stage != Stage.DATA:
                return SendResult(Outcome.RETRY, detail=tls), client
            if stage == Stage.DATA:
                return SendResult(Outcome.UNKNOWN, detail="the connection was lost while sending the message"), client
            if stage == Stage.CONNECT and isinstance(exc, ConnectionRefusedError | ConnectionResetError):
                return SendResult(Outcome.RETRY, detail=f"could not connect ({type(exc).__name__})"), client
            detail = f"the connection was lost ({stage.value}): {type(exc).__name__}"
            return SendResult(Outcome.RETRY, detail=detail), client
        except ssl.SSLError as exc:
            return SendResult(Outcome.RETRY, detail=_tls_failure(exc) or "TLS failed"), client
        except aiosmtplib.SMTPException as exc:  # e.g. STARTTLS required but not offered
            if "STARTTLS" in str(exc):
                return SendResult(Outcome.FAILED, detail="the server does not offer STARTTLS"), client
            if stage == Stage.DATA:
                return SendResult(Outcome.UNKNOWN, detail=str(exc)[:300]), client
            return SendResult(Outcome.RETRY, detail=str(exc)[:300]), client
        except OSError as exc:
            if stage == Stage.DATA:
                return SendResult(Outcome.UNKNOWN, detail="the connection broke while sending the message"), client
            return SendResult(Outcome.RETRY, detail=f"could not connect ({exc.strerror or type(exc).__name__})"), client
        finally:
            if sock is not None:
                sock.close()  # a socket no transport took over (a failed handshake)

    def verify_callback(self, channel: ChannelConfig, request: CallbackRequest) -> bool:
        return True  # a forwarded report is unsigned: the URL's token (checked before) is the proof

    def parse_callback(self, channel: ChannelConfig, request: CallbackRequest) -> list[CallbackEvent]:
        """A complaint (ARF) or a bounce mailed back (DSN), forwarded as the raw message."""
        return mail_reports.parse(request.body)


ADAPTER = SmtpAdapter()
