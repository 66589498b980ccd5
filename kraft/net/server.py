"""The inbound side: one acceptor per listener, one request at a time per connection.

As Kafka's socket server does, a connection's requests are handled in the
order they arrive and each response is written before the next request of
that connection is handled, so responses come back in request order.  A
malformed or oversize frame, or a request the handler refuses with
:class:`~kraft.net.errors.InvalidRequestError`, closes that connection with
one log line (rate-limited: at most one line per peer host and kind of
fault per ``log_interval_s``, then one line counting the rest); nothing else
on the node is disturbed.  Connections with no
traffic and no request in progress for ``connections_max_idle_ms`` are
closed (this also reaps half-open connections and clients that sent half a
frame and went quiet).
"""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Awaitable, Callable, Optional, Union

from kraft.net.errors import BindError, FrameError, InvalidRequestError
from kraft.net.framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder
from kraft.net.ratelimit import DEFAULT_INTERVAL_S, RateLimitedLog, peer_host

log = logging.getLogger("kraft.net")

_HEADER_PREFIX = struct.Struct(">hhi")

#: Kafka's ``connections.max.idle.ms`` default (10 minutes).
DEFAULT_CONNECTIONS_MAX_IDLE_MS = 600_000

# Requests read ahead of the one being handled before the socket stops reading (Kafka reads
# none ahead); by count and by bytes, so a pipelining client cannot make us buffer much.
_MAX_QUEUED_FRAMES = 16
_MAX_QUEUED_BYTES = 1 << 20


@dataclass(frozen=True)
class ListenerAddress:
    """Where one listener accepts connections: ``NAME://host:port``."""

    name: str
    host: str
    port: int


@dataclass(slots=True)
class InboundRequest:
    """One request frame as received, with the fields every header starts with.

    ``payload`` is the frame without its size prefix (request header + body).
    """

    listener_name: str
    peer: str
    api_key: int
    api_version: int
    correlation_id: int
    payload: bytes


HandlerResult = Optional[bytes]
RequestHandler = Callable[[InboundRequest], Union[HandlerResult, Awaitable[HandlerResult]]]
"""Takes a request; returns the whole response frame (size prefix included),
``None`` to send nothing, or an awaitable of either."""


def _peer_name(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class _Connection(asyncio.Protocol):
    """One accepted connection."""

    def __init__(self, server: "RequestServer", listener_name: str):
        self._server = server
        self._listener_name = listener_name
        self._decoder = FrameDecoder(server.max_frame_bytes)
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._transport: Optional[asyncio.Transport] = None
        self._peer = "?"
        self._busy: Optional[asyncio.Future] = None
        self._paused = False
        self._closed = False
        self._last_activity = 0.0
        self._idle_timer: Optional[asyncio.TimerHandle] = None

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport):
        self._transport = transport
        self._peer = _peer_name(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        self._server._connections.add(self)
        self._touch()
        self._schedule_idle_check(self._server.idle_seconds)

    def data_received(self, data):
        if self._closed:
            return
        self._touch()
        try:
            frames = self._decoder.feed(data)
        except FrameError as e:
            self.close(f"{e}", "bad frame")
            return
        if not frames:
            return
        self._queue.extend(frames)
        self._queued_bytes += sum(len(f) for f in frames)
        if self._busy is None:
            self._drain()
        if (len(self._queue) > _MAX_QUEUED_FRAMES or self._queued_bytes > _MAX_QUEUED_BYTES) \
                and not self._paused and not self._closed:
            self._paused = True
            self._transport.pause_reading()

    def connection_lost(self, exc):
        self._closed = True
        self._server._connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._busy is not None:
            self._busy.cancel()

    # -- request handling ---------------------------------------------------

    def _touch(self):
        self._last_activity = self._server.loop.time()

    def _drain(self):
        while self._queue and not self._closed:
            payload = self._queue.popleft()
            self._queued_bytes -= len(payload)
            if len(payload) < _HEADER_PREFIX.size:
                self.close(f"request of {len(payload)} bytes is too short for a request header", "bad frame")
                return
            api_key, api_version, correlation_id = _HEADER_PREFIX.unpack_from(payload)
            request = InboundRequest(self._listener_name, self._peer, api_key, api_version,
                                     correlation_id, payload)
            try:
                result = self._server.handler(request)
            except InvalidRequestError as e:
                self.close(f"{e}", "invalid request")
                return
            except Exception:
                self._server.warnings.error(
                    peer_host(self._peer), "request handler failed",
                    "Closing connection from %s on %s: request handler failed (api key %d, version %d, "
                    "correlation id %d)", self._peer, self._listener_name, api_key, api_version,
                    correlation_id, exc_info=True)
                self.close(None)
                return
            if inspect.isawaitable(result):
                self._busy = asyncio.ensure_future(result)
                self._busy.add_done_callback(lambda f, r=request: self._on_handled(f, r))
                return
            self._respond(result)
        if self._paused and not self._closed:
            self._paused = False
            self._transport.resume_reading()

    def _on_handled(self, future: asyncio.Future, request: InboundRequest):
        self._busy = None
        if self._closed or future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, InvalidRequestError):
            self.close(f"{exc}", "invalid request")
            return
        if exc is not None:
            self._server.warnings.error(
                peer_host(self._peer), "request handler failed",
                "Closing connection from %s on %s: request handler failed (api key %d, version %d, "
                "correlation id %d)", self._peer, self._listener_name, request.api_key,
                request.api_version, request.correlation_id, exc_info=exc)
            self.close(None)
            return
        self._respond(future.result())
        self._touch()
        self._drain()

    def _respond(self, frame: HandlerResult):
        if frame is not None and not self._closed:
            self._transport.write(frame)

    # -- lifetime -----------------------------------------------------------

    def _schedule_idle_check(self, delay: float):
        self._idle_timer = self._server.loop.call_later(delay, self._idle_check)

    def _idle_check(self):
        if self._closed:
            return
        idle_for = self._server.loop.time() - self._last_activity
        limit = self._server.idle_seconds
        if self._busy is None and idle_for >= limit:
            partial = self._decoder.buffered
            detail = f" with {partial} bytes of an incomplete frame" if partial else ""
            self.close(f"idle for {idle_for:.1f} s{detail}", "idle")
            return
        self._schedule_idle_check(max(limit - idle_for, limit / 10))

    def close(self, reason: Optional[str], kind: str = "closed"):
        """Drop the connection (logging one line with ``reason`` if given, rate-limited
        per peer host and ``kind``)."""
        if self._closed:
            return
        self._closed = True
        if reason is not None:
            self._server.warnings.warning(
                peer_host(self._peer), kind, "Closing connection from %s on listener %s: %s",
                self._peer, self._listener_name, reason)
        if self._busy is not None:
            self._busy.cancel()
        if self._transport is not None:
            self._transport.abort()


class RequestServer:
    """Accepts connections on every listener and passes each request to ``handler``.

    ``handler`` is called on the event loop with an :class:`InboundRequest`; it
    returns the response frame, ``None`` for no response, or an awaitable of
    either (the connection waits for it before handling its next request).
    Raising :class:`~kraft.net.errors.InvalidRequestError` closes the connection.
    """

    def __init__(self, listeners: list[ListenerAddress], handler: RequestHandler, *,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 connections_max_idle_ms: int = DEFAULT_CONNECTIONS_MAX_IDLE_MS,
                 log_interval_s: float = DEFAULT_INTERVAL_S):
        self.listeners = list(listeners)
        #: connection faults are logged through this: one line per (peer host, kind) per interval
        self.warnings = RateLimitedLog(log, log_interval_s)
        self.handler = handler
        self.max_frame_bytes = max_frame_bytes
        self.idle_seconds = connections_max_idle_ms / 1000.0
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self.bound: dict[str, tuple[str, int]] = {}

    async def start(self) -> None:
        """Bind every listener; raise :class:`BindError` (after unbinding) if one fails."""
        self.loop = asyncio.get_running_loop()
        try:
            for listener in self.listeners:
                host = listener.host or None
                try:
                    server = await self.loop.create_server(
                        lambda name=listener.name: _Connection(self, name), host, listener.port,
                        reuse_address=True)
                except OSError as e:
                    where = f"{listener.host or '0.0.0.0'}:{listener.port}"
                    reason = e.strerror or str(e)
                    raise BindError(f"listener {listener.name} cannot bind {where}: {reason}") from e
                self._servers.append(server)
                sockname = server.sockets[0].getsockname()
                self.bound[listener.name] = (sockname[0], sockname[1])
                log.info("Listener %s accepting connections on %s:%d", listener.name, sockname[0], sockname[1])
        except BaseException:
            await self.close()
            raise

    @property
    def connection_count(self) -> int:
        """Number of open inbound connections."""
        return len(self._connections)

    async def close(self) -> None:
        """Stop accepting and drop every connection."""
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.close(None)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.warnings.flush()
