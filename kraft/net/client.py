"""The outbound side: a connection to one peer, with reconnect, backoff and correlation ids.

An :class:`OutboundConnection` connects lazily on the first request, runs an
optional handshake (the ApiVersions exchange) before anything else is sent,
numbers requests with an incrementing correlation id per connection and
matches each response to its request.  When the connection fails or drops,
the requests in flight fail with :class:`DisconnectedError` and the next
attempt waits for an exponential backoff (Kafka's reconnect backoff: 50 ms
doubling to 500 ms, with 20 % jitter).  A request that gets no response
within its timeout fails with :class:`RequestTimeoutError` and, as Kafka's
NetworkClient does, the connection is closed.

A failed connection attempt is logged at WARN as Kafka's NetworkClient does
("Connection to node 3 (localhost:9094) could not be established. Node may
not be available."), at most once per ``log_interval_s`` per peer, with a
count of the attempts not logged; so are connections closed on error.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import struct
from typing import Awaitable, Callable, Optional

from kraft.net.errors import DisconnectedError, FrameError, NetworkError, RequestTimeoutError
from kraft.net.framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder
from kraft.protocol import ProtocolError
from kraft.net.ratelimit import DEFAULT_INTERVAL_S, RateLimitedLog

log = logging.getLogger("kraft.net")

_CORRELATION = struct.Struct(">i")
_INT32_MAX = 2**31 - 1

#: Kafka's ``reconnect.backoff.ms`` / ``reconnect.backoff.max.ms`` as the raft client uses them.
RECONNECT_BACKOFF_MS = 50
RECONNECT_BACKOFF_MAX_MS = 500
#: Kafka's ``socket.connection.setup.timeout.ms`` default.
CONNECTION_SETUP_TIMEOUT_MS = 10_000


class ExponentialBackoff:
    """Kafka's ExponentialBackoff: ``initial * 2**failures`` capped at ``maximum``, +/- ``jitter``."""

    def __init__(self, initial_ms: float, maximum_ms: float, jitter: float = 0.2,
                 rng: Optional[random.Random] = None):
        self.initial_ms = initial_ms
        self.maximum_ms = maximum_ms
        self.jitter = jitter
        self._rng = rng or random.Random()

    def backoff_ms(self, failures: int) -> float:
        """Delay before the next attempt after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        base = min(self.initial_ms * (2 ** min(failures - 1, 30)), self.maximum_ms)
        if self.jitter:
            base *= 1 + self._rng.uniform(-self.jitter, self.jitter)
        return base


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, owner: "OutboundConnection"):
        self._owner = owner
        self._decoder = FrameDecoder(owner.max_frame_bytes)
        self.transport: Optional[asyncio.Transport] = None
        self.in_flight: dict[int, asyncio.Future] = {}
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass

    def data_received(self, data):
        try:
            frames = self._decoder.feed(data)
        except FrameError as e:
            self.abort(f"bad response frame: {e}")
            return
        for frame in frames:
            if len(frame) < 4:
                self.abort(f"response of {len(frame)} bytes has no correlation id")
                return
            (correlation_id,) = _CORRELATION.unpack_from(frame)
            future = self.in_flight.pop(correlation_id, None)
            if future is None:
                self.abort(f"response with unexpected correlation id {correlation_id}")
                return
            if not future.done():
                future.set_result(frame)

    def connection_lost(self, exc):
        self.closed = True
        self._fail_all(DisconnectedError(f"connection to {self._owner.address} lost"
                                         + (f": {exc}" if exc else "")))
        self._owner._on_lost(self)

    def _fail_all(self, error: Exception):
        in_flight, self.in_flight = self.in_flight, {}
        for future in in_flight.values():
            if not future.done():
                future.set_exception(error)

    def abort(self, reason: str, quiet: bool = False):
        if self.closed:
            return
        if not quiet:
            self._owner.warnings.warning(self._owner.address, "closing", "Closing connection to %s: %s",
                                         self._owner.label, reason)
        self.closed = True
        self._fail_all(DisconnectedError(f"connection to {self._owner.address} closed: {reason}"))
        if self.transport is not None:
            self.transport.abort()


def _retrieve_exception(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()


Handshake = Callable[["OutboundConnection"], Awaitable[None]]


class OutboundConnection:
    """Requests to one ``host:port``, over a connection (re)made as needed.

    ``handshake`` (optional) is awaited after each new TCP connection; it may
    send requests with :meth:`send` (they bypass the readiness wait) and raise
    to reject the connection, which then counts as a failed attempt.
    """

    def __init__(self, host: str, port: int, *, handshake: Optional[Handshake] = None,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 connection_setup_timeout_ms: int = CONNECTION_SETUP_TIMEOUT_MS,
                 backoff: Optional[ExponentialBackoff] = None, name: Optional[str] = None,
                 log_interval_s: float = DEFAULT_INTERVAL_S, ssl_context: Optional[ssl.SSLContext] = None):
        self.host = host
        #: connect over TLS with this context (the handshake counts in the connection setup timeout)
        self.ssl_context = ssl_context
        self.port = port
        #: who is at the address, for log lines ("node 3"), if known
        self.name = name
        self.warnings = RateLimitedLog(log, log_interval_s)
        self.max_frame_bytes = max_frame_bytes
        self._handshake = handshake
        self._setup_timeout = connection_setup_timeout_ms / 1000.0
        self._backoff = backoff or ExponentialBackoff(RECONNECT_BACKOFF_MS, RECONNECT_BACKOFF_MAX_MS)
        self._protocol: Optional[_ClientProtocol] = None
        self._ready = False
        self._connecting: Optional[asyncio.Task] = None
        self._failures = 0
        self._next_attempt = 0.0
        self._next_correlation_id = 0
        self._closed = False
        #: Filled by the handshake: whatever it learnt about the peer (e.g. its API versions).
        self.peer_info: object = None
        #: Called with the error each time a connection attempt fails (refused, reset, timed out).
        self.on_connect_failure: Optional[Callable[[BaseException], None]] = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """``node 3 (host:port)``, or just the address when the peer's name is unknown."""
        return f"{self.name} ({self.address})" if self.name else self.address

    @property
    def is_ready(self) -> bool:
        """Connected and past the handshake."""
        return self._ready and self._protocol is not None and not self._protocol.closed

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def next_correlation_id(self) -> int:
        correlation_id = self._next_correlation_id
        self._next_correlation_id = 0 if correlation_id == _INT32_MAX else correlation_id + 1
        return correlation_id

    async def send(self, encode: Callable[[int], bytes], timeout_ms: float) -> bytes:
        """Send one request and return its response frame (without size prefix).

        ``encode(correlation_id)`` builds the whole request frame.  Waits for
        the connection (and reconnect backoff) within ``timeout_ms``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000.0
        if not self.is_ready:
            connecting = self._connecting
            if connecting is None or asyncio.current_task() is not connecting:
                await self._wait_ready(deadline)
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise DisconnectedError(f"connection to {self.address} lost")
        correlation_id = self.next_correlation_id()
        frame = encode(correlation_id)
        future = loop.create_future()
        protocol.in_flight[correlation_id] = future
        protocol.transport.write(frame)
        expired = []

        def expire():
            if not future.done():
                expired.append(True)
                future.cancel()
        timer = loop.call_at(deadline, expire)
        try:
            return await future
        except asyncio.CancelledError:
            if not expired:
                raise
            protocol.in_flight.pop(correlation_id, None)
            protocol.abort(f"request with correlation id {correlation_id} timed out after {timeout_ms} ms")
            raise RequestTimeoutError(f"no response from {self.address} within {timeout_ms} ms") from None
        finally:
            timer.cancel()

    async def connect(self, timeout_ms: float) -> None:
        """Connect (and run the handshake) now, unless connected; the request timeout's errors."""
        if not self.is_ready:
            await self._wait_ready(asyncio.get_running_loop().time() + timeout_ms / 1000.0)

    async def _wait_ready(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        last_error: Optional[BaseException] = None
        while not self.is_ready:
            if self._closed:
                raise DisconnectedError(f"connection to {self.address} is closed")
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
                # Waiters may have given up; the outcome is reported to the next waiter, not lost.
                self._connecting.add_done_callback(_retrieve_exception)
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                await asyncio.wait_for(asyncio.shield(self._connecting), remaining)
            except asyncio.TimeoutError:
                detail = f" (last error: {last_error})" if last_error else ""
                raise RequestTimeoutError(f"could not connect to {self.address} in time{detail}") from None
            except (NetworkError, OSError, ProtocolError) as e:
                # A network failure (or a peer's garbled handshake): retry after the backoff, within the
                # deadline.  Anything else is a bug or a broken installation and is raised as it is:
                # retrying it would only turn it into a timeout.
                last_error = e

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            delay = self._next_attempt - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            protocol = _ClientProtocol(self)
            try:
                if self.ssl_context is not None:
                    connecting = loop.create_connection(lambda: protocol, self.host, self.port, ssl=self.ssl_context,
                                                        ssl_handshake_timeout=self._setup_timeout)
                else:
                    connecting = loop.create_connection(lambda: protocol, self.host, self.port)
                await asyncio.wait_for(connecting, self._setup_timeout)
            except asyncio.TimeoutError:
                raise DisconnectedError(f"connecting to {self.address} timed out") from None
            self._protocol = protocol
            if self._handshake is not None:
                await self._handshake(self)
            if protocol.closed:
                raise DisconnectedError(f"connection to {self.address} lost during the handshake")
            self._ready = True
            self._failures = 0
            log.debug("Connected to %s", self.address)
        except BaseException as e:
            self._ready = False
            if self._protocol is not None:
                self._protocol.abort(f"connection setup failed: {e}")
                self._protocol = None
            self._failures += 1
            self._next_attempt = loop.time() + self._backoff.backoff_ms(self._failures) / 1000.0
            if isinstance(e, (OSError, DisconnectedError)):
                self.warnings.warning(self.address, "connect",
                                      "Connection to %s could not be established. Node may not be available. (%s)",
                                      self.label, (e.strerror or e) if isinstance(e, OSError) else e)
                if self.on_connect_failure is not None:
                    self.on_connect_failure(e)
            if isinstance(e, OSError):
                raise DisconnectedError(f"cannot connect to {self.address}: {e.strerror or e}") from e
            raise
        finally:
            self._connecting = None

    def _on_lost(self, protocol: _ClientProtocol) -> None:
        if protocol is self._protocol:
            if self._ready:
                # A drop after a good connection: back off once before reconnecting.
                self._failures = max(self._failures, 0) + 1
                self._next_attempt = asyncio.get_running_loop().time() + \
                    self._backoff.backoff_ms(self._failures) / 1000.0
            self._ready = False
            self._protocol = None

    def disconnect(self) -> None:
        """Drop the current connection (it is remade on the next request)."""
        if self._protocol is not None:
            self._protocol.abort("disconnect requested", quiet=True)

    async def close(self) -> None:
        """Drop the connection for good; pending and later requests fail."""
        self._closed = True
        self.warnings.flush()
        if self._connecting is not None:
            self._connecting.cancel()
            try:
                await self._connecting
            except BaseException:
                pass
        self.disconnect()
