"""The one way out: every connection the service opens to an address a tenant chose (webhook
endpoints; providers' callbacks later) goes through the guard here, so a name that resolves to an
internal address (cloud metadata, the database, a private network) is never reached.

- `guarded_client()`: an httpx client whose every TCP connection is opened by `GuardedBackend`,
  which resolves the host once, refuses it when ANY of its addresses is not allowed
  (app/domain/addresses.py), and connects only to an address it checked, so a resolver that
  answers differently a second time (DNS rebinding) changes nothing. TLS still verifies the host
  name, and connections are pooled by host name. Redirects are never followed.
- `exchange()`: one request under one deadline (connect, send, the whole reply), keeping at most
  the first `keep` bytes of the reply and closing the connection instead of reading more.

What a tenant is told never includes what a name resolved to: `AddressNotAllowed` says only
"address not allowed" (the address goes to the operator's log)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import contextvars
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpcore
import httpx

from app.domain.addresses import NOT_ALLOWED, address_allowed, parse_address

log = logging.getLogger("app.outbound")

# Name lookups block a thread each (getaddrinfo); they get threads of their own so a slow resolver
# never holds up the event loop's default executor, which the rest of the process shares. A lookup
# can outlive the attempt that started it (the resolver's own timeouts run to their end), so:
# - lookups of a name already being looked up wait for that one (whatever the port: the answer
#   is the same), so a name whose servers never answer ties up one thread, not one per attempt;
# - a lookup every waiter gave up on before it started is cancelled, so abandoned lookups never
#   queue up in front of the ones someone still waits for;
# - at most MAX_PENDING_LOOKUPS are queued or running, and at most MAX_PENDING_LOOKUPS_PER_WORKSPACE
#   started on behalf of one workspace (`on_behalf_of`): past that an attempt fails at once
#   (`LookupBusy`, retried like any failed attempt), so a workspace whose names never resolve
#   keeps most threads free for everyone else's.
LOOKUP_THREADS = 16
MAX_PENDING_LOOKUPS = 64
MAX_PENDING_LOOKUPS_PER_WORKSPACE = 4
_LOOKUP_THREADS = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="outbound-lookup")
# Reentrant: cancelling a queued lookup runs its done-callback (which takes the lock) at once.
_IN_FLIGHT_LOCK = threading.RLock()
# Whom the current task's outbound connections are for (a workspace id; None: the service itself).
WORKSPACE: contextvars.ContextVar[object | None] = contextvars.ContextVar("outbound_workspace", default=None)


@dataclass(eq=False)
class _Lookup:
    future: Future[list[tuple[Any, ...]]]
    workspace: object | None  # on whose behalf it was started (what it counts against)
    waiters: int = 0


_IN_FLIGHT: dict[str, _Lookup] = {}


@contextlib.contextmanager
def on_behalf_of(workspace: object) -> Iterator[None]:
    """Name lookups made inside the block (in this task) count against `workspace`'s share."""
    token = WORKSPACE.set(workspace)
    try:
        yield
    finally:
        WORKSPACE.reset(token)


class AddressNotAllowed(Exception):
    """The target is, or resolves to, an address the service does not connect to."""

    def __init__(self) -> None:
        super().__init__(NOT_ALLOWED)


class LookupBusy(Exception):
    """Too many name lookups are pending (in the process, or for this workspace): not tried now."""

    def __init__(self) -> None:
        super().__init__("name lookup busy")


class HostNotFound(Exception):
    """The target's host name does not resolve."""

    def __init__(self, host: str) -> None:
        super().__init__(f"cannot resolve {host}")


def _getaddrinfo(host: str) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)  # looked up when called: tests patch it


def _forget(host: str, entry: _Lookup, _: Future[list[tuple[Any, ...]]]) -> None:
    with _IN_FLIGHT_LOCK:
        if _IN_FLIGHT.get(host) is entry:
            del _IN_FLIGHT[host]


def _retrieved(waiting: asyncio.Future[Any]) -> None:
    """Mark a lookup's failure as seen when the attempt waiting for it gave up first."""
    if not waiting.cancelled():
        waiting.exception()


def _join(host: str) -> _Lookup:
    """The lookup of `host` in flight, or a new one; counted as waited for."""
    with _IN_FLIGHT_LOCK:
        entry = _IN_FLIGHT.get(host)
        if entry is None:
            workspace = WORKSPACE.get()
            if len(_IN_FLIGHT) >= MAX_PENDING_LOOKUPS or (
                workspace is not None
                and sum(1 for other in _IN_FLIGHT.values() if other.workspace == workspace)
                >= MAX_PENDING_LOOKUPS_PER_WORKSPACE
            ):
                log.warning("outbound name lookup refused: too many pending host=%s workspace=%s", host, workspace)
                raise LookupBusy()
            entry = _IN_FLIGHT[host] = _Lookup(_LOOKUP_THREADS.submit(_getaddrinfo, host), workspace)
            entry.future.add_done_callback(partial(_forget, host, entry))
        entry.waiters += 1
        return entry


def _leave(entry: _Lookup) -> None:
    with _IN_FLIGHT_LOCK:
        entry.waiters -= 1
        if entry.waiters == 0:
            # No one waits any more: a lookup still queued never runs (cancel() refuses a running or
            # finished one, which leaves the table when it ends).
            entry.future.cancel()


async def lookup(host: str) -> list[str]:
    """The addresses a host name resolves to (the resolver every guarded connection uses)."""
    entry = _join(host)
    try:
        waiting = asyncio.wrap_future(entry.future)
        waiting.add_done_callback(_retrieved)
        # Shielded: an attempt that gives up must not cancel the lookup others wait for.
        infos = await asyncio.shield(waiting)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostNotFound(host) from exc
    finally:
        _leave(entry)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


async def checked_addresses(host: str, port: int, *, allow_loopback: bool) -> list[str]:
    """The addresses to connect to for `host`, each one allowed; AddressNotAllowed when any is
    not (a name that also points inside is refused, not tried elsewhere)."""
    literal = parse_address(host)
    addresses = [str(literal)] if literal is not None else await lookup(host)
    if not addresses:
        raise HostNotFound(host)
    for address in addresses:
        if not address_allowed(address, allow_loopback=allow_loopback):
            log.warning("outbound connection refused host=%s address=%s", host, address)
            raise AddressNotAllowed()
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the guard in front of every TCP connection."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, allow_loopback=self.allow_loopback)
        failure: Exception | None = None
        for address in addresses:  # the checked ones only, in the resolver's order
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed()  # never a local socket on a tenant's behalf

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_loopback: bool, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)  # no proxy from the environment
        # httpx offers no public way to give its pool a network backend: the pool it built is
        # replaced by the same pool over the guarded backend (httpcore's public constructor). That
        # reaches into httpx (pinned below 1.0 in pyproject.toml), so it is checked at run time, not
        # with an assert (stripped under -O): a client that might connect unguarded is never made.
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("this httpx keeps no httpcore pool in _pool: outbound connections cannot be guarded")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_loopback=allow_loopback),
        )
        backend = getattr(self._pool, "_network_backend", None)
        if not isinstance(backend, GuardedBackend):
            raise RuntimeError("the connection pool does not use the guarded network backend")


def guarded_client(*, allow_loopback: bool, max_connections: int = 100) -> httpx.AsyncClient:
    """An httpx client whose connections all pass the guard and which follows no redirect."""
    limits = httpx.Limits(max_connections=max_connections)
    return httpx.AsyncClient(
        transport=_GuardedTransport(allow_loopback=allow_loopback, limits=limits),
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class Reply:
    status_code: int | None  # None when no complete reply came (see `error`)
    excerpt: str | None  # the reply's first `keep` bytes as text (UTF-8, undecodable bytes replaced)
    error: str | None  # what went wrong, in words a tenant may read
    duration_ms: int
    timed_out: bool = False


def _excerpt(data: bytes, complete: bool) -> str:
    # A multi-byte character cut at the limit is dropped, not shown as garbage; NUL, which no
    # database column stores as text, becomes U+FFFD like any undecodable byte.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=complete)
    return text.replace("\x00", "\ufffd")


def _failure(exc: Exception) -> str:
    """Words for a failed exchange that say what happened without naming the address connected to
    (exception texts of the network layers do)."""
    if isinstance(exc, AddressNotAllowed | HostNotFound | LookupBusy):
        return str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the reply is not valid HTTP/1.1"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection broke"
    return type(exc).__name__


async def exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes,
    deadline_seconds: float,
    keep: int,
) -> Reply:
    """Send one request and read at most `keep` bytes of the reply, all within `deadline_seconds`
    (a receiver that trickles its reply is cut at the deadline: a timeout)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    kept = bytearray()
    status: int | None = None
    complete = False
    try:
        async with asyncio.timeout(deadline_seconds):
            request = client.build_request(
                method,
                url,
                content=content,
                # The raw bytes are read: a compressed reply would be inflated before it is counted.
                headers={**headers, "accept-encoding": "identity"},
                timeout=httpx.Timeout(deadline_seconds),
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                async for chunk in response.aiter_raw():
                    kept += chunk[: keep - len(kept)]
                    if len(kept) >= keep:
                        break  # the rest is never read: closing drops the connection
                else:
                    complete = True
            finally:
                await response.aclose()
    except TimeoutError:
        return Reply(None, None, f"timed out after {deadline_seconds:g} s", elapsed(), timed_out=True)
    except httpx.TimeoutException:
        return Reply(None, None, f"timed out after {deadline_seconds:g} s", elapsed(), timed_out=True)
    except (httpx.HTTPError, AddressNotAllowed, HostNotFound, LookupBusy) as exc:
        return Reply(None, None, _failure(exc)[:500], elapsed())
    except (httpx.InvalidURL, UnicodeError, ValueError):  # a host no resolver takes (e.g. "xn--")
        return Reply(None, None, "invalid URL", elapsed())
    return Reply(status, _excerpt(bytes(kept), complete), None, elapsed())


async def connected_socket(host: str, port: int, *, allow_loopback: bool) -> socket.socket:
    """A non-blocking TCP socket connected to one of the host's checked addresses (for protocols
    other than HTTP, e.g. SMTP: the caller speaks over it; TLS, when any, verifies the host name)."""
    addresses = await checked_addresses(host, port, allow_loopback=allow_loopback)
    loop = asyncio.get_running_loop()
    failure: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (address, port))
            return sock
        except OSError as exc:
            sock.close()
            failure = exc
        except BaseException:
            sock.close()
            raise
    assert failure is not None
    raise failure
