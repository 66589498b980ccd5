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
closed (this also reaps half-open connections).

Memory is bounded across connections, as Kafka's ``queued.max.request.bytes``
bounds it: every byte read and not yet handled (partial frames, frames
queued behind the one being handled, the one being handled) counts against
one budget of ``queued_max_request_bytes``.  Reads go through one shared
buffer and a connection reads only as much as the budget has left; when it
is spent, the connections that want to read more are paused (Kafka mutes
them the same way) and resumed, oldest first, as requests complete and free
it.  A connection that stops sending in the middle of a frame for
``partial_request_timeout_ms`` is closed, which frees what it held.
"""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import socket
import ssl
import struct
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Optional, Union

from kraft.net.errors import BindError, FrameTooLargeError, InvalidRequestError
from kraft.net.framing import DEFAULT_MAX_FRAME_BYTES
from kraft.net.ratelimit import DEFAULT_INTERVAL_S, RateLimitedLog, peer_host

log = logging.getLogger("kraft.net")

_HEADER_PREFIX = struct.Struct(">hhi")
_SIZE = struct.Struct(">i")

#: Kafka's ``connections.max.idle.ms`` default (10 minutes).
DEFAULT_CONNECTIONS_MAX_IDLE_MS = 600_000
#: ``queued.max.request.bytes``: bytes read and not yet handled, over all connections (Kafka: -1,
#: unbounded; here 100 MiB, Kafka's ``socket.request.max.bytes``, so any one legal frame fits).
DEFAULT_QUEUED_MAX_REQUEST_BYTES = 104_857_600
#: ``kraft.socket.partial.request.timeout.ms``: how long a connection may stall inside a frame
#: (Kafka's ``request.timeout.ms`` default).
DEFAULT_PARTIAL_REQUEST_TIMEOUT_MS = 30_000
#: One read into the shared buffer takes at most this much.
_READ_CHUNK = 256 * 1024
#: Encrypted bytes a TLS connection may hold before its TLS layer stops reading (asyncio: 256 KiB).
_TLS_READ_AHEAD = 64 * 1024

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


HandlerResult = Optional[Union[bytes, list]]
RequestHandler = Callable[[InboundRequest], Union[HandlerResult, Awaitable[HandlerResult]]]
"""Takes a request; returns the whole response frame (size prefix included) as ``bytes`` or as a
list of buffers to write one after the other (a vectored write: large records are sent from where
they are, not copied), ``None`` to send nothing, or an awaitable of any of these."""


def _peer_name(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class _Connection(asyncio.BufferedProtocol):
    """One accepted connection.

    Reads are sized so that nothing is read that the budget has not granted:
    the 4-byte size prefix first; then, once the frame's declared size is
    reserved (Kafka reserves the same way), its body and the next size prefix.
    """

    def __init__(self, server: "RequestServer", listener_name: str):
        self._server = server
        self._listener_name = listener_name
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._transport: Optional[asyncio.Transport] = None
        self._peer = "?"
        self._busy: Optional[asyncio.Future] = None
        self._paused = False            # too many requests queued on this connection
        self._closed = False
        self._last_activity = 0.0
        self._idle_timer: Optional[asyncio.TimerHandle] = None
        # the frame being read
        self._header = bytearray()
        self._size = -1                 # its declared size, once the prefix is whole
        self._body: Optional[bytearray] = None
        self._reserved = False
        # the budget: bytes this connection holds (frame being read + queued + being handled)
        self._held = 0
        self._handling = 0
        self._waiting_memory = False
        self._unproven_held = 0         # of _held, what was reserved before the first request completed
        #: completed a request: its frames are not limited to the newcomers' half of the budget
        self.proven = False

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
        # over TLS: the TLS layer reads ahead of this protocol, outside the request budget; keep that short
        set_read_limits = getattr(transport, "set_read_buffer_limits", None)
        if set_read_limits is not None:
            set_read_limits(high=_TLS_READ_AHEAD)
        self._server._connections.add(self)
        self._touch()
        self._schedule_idle_check(min(self._server.idle_seconds, self._server.partial_request_seconds))

    @property
    def partial_bytes(self) -> int:
        """Bytes received of the frame being read (size prefix included)."""
        return len(self._header) + (len(self._body) if self._body is not None else 0)

    def get_buffer(self, sizehint):
        if not self._reserved:
            want = 4 - len(self._header)
        else:
            # the rest of the body, and the next size prefix
            want = self._size - len(self._body) + 4
        return self._server.read_buffer[:max(1, min(want, _READ_CHUNK))]

    def buffer_updated(self, nbytes):
        if self._closed:
            return
        self._touch()
        data = self._server.read_buffer
        pos = 0
        while pos < nbytes and not self._closed:
            if not self._reserved:
                take = min(4 - len(self._header), nbytes - pos)
                self._header += data[pos:pos + take]
                pos += take
                if len(self._header) == 4:
                    self._on_size(_SIZE.unpack(self._header)[0])
                    if not self._reserved:
                        return          # closed, or waiting for memory
            else:
                take = min(self._size - len(self._body), nbytes - pos)
                self._body += data[pos:pos + take]
                pos += take
                if len(self._body) == self._size:
                    self._on_frame()

    def _on_size(self, size: int) -> None:
        if size < 0:
            self.close(f"invalid frame size {size}", "bad frame")
            return
        if size > self._server.max_frame_bytes:
            self.close(str(FrameTooLargeError(size, self._server.max_frame_bytes)), "bad frame")
            return
        self._size = size
        if not self._server.try_reserve(self, size):
            self._waiting_memory = True
            self._transport.pause_reading()

    def granted(self) -> None:
        """The server reserved this connection's frame: read its body."""
        self._reserved = True
        self._body = bytearray()
        self._held += self._size
        if self._waiting_memory:
            self._waiting_memory = False
            self._touch()               # waiting for memory is not stalling
            if not self._closed and not self._paused:
                self._transport.resume_reading()
        if self._size == 0:
            self._on_frame()

    def _on_frame(self) -> None:
        payload = bytes(self._body)
        self._header = bytearray()
        self._body = None
        self._reserved = False
        self._size = -1
        self._queue.append(payload)
        self._queued_bytes += len(payload)
        if self._busy is None:
            self._drain()
        if not self._closed and not self._paused and (
                len(self._queue) > _MAX_QUEUED_FRAMES or self._queued_bytes > _MAX_QUEUED_BYTES):
            self._paused = True
            self._transport.pause_reading()

    def _release(self, nbytes: int) -> None:
        if nbytes:
            self._held -= nbytes
            self._server.release(self, nbytes)

    def connection_lost(self, exc):
        self._closed = True
        self._release_all()
        self._server._connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._busy is not None:
            self._busy.cancel()

    # -- request handling ---------------------------------------------------

    def _touch(self):
        self._last_activity = self._server.loop.time()

    def _drain(self):
        while self._queue and not self._closed:
            payload = self._queue.popleft()
            self._queued_bytes -= len(payload)
            self._handling = len(payload)
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
            self._handled()
        if self._paused and not self._closed:
            self._paused = False
            if not self._waiting_memory:
                self._transport.resume_reading()

    def _handled(self) -> None:
        handled, self._handling = self._handling, 0
        self.proven = True
        self._release(handled)

    def _release_all(self) -> None:
        self._queue.clear()
        self._queued_bytes = self._handling = 0
        self._reserved = False
        self._body = None
        held, self._held = self._held, 0
        self._server.forget(self, held)

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
        self._handled()
        self._touch()
        self._drain()

    def _respond(self, frame: HandlerResult):
        if frame is not None and not self._closed:
            if frame.__class__ is list:
                # uvloop writes the parts with one writev and keeps a reference to any part it
                # could not send yet (views of a mapped segment stay valid: see MappedFile)
                self._transport.writelines(frame)
            else:
                self._transport.write(frame)

    # -- lifetime -----------------------------------------------------------

    def _schedule_idle_check(self, delay: float):
        self._idle_timer = self._server.loop.call_later(delay, self._idle_check)

    def _idle_check(self):
        if self._closed:
            return
        idle_for = self._server.loop.time() - self._last_activity
        limit = self._server.idle_seconds
        partial = self.partial_bytes
        stall = self._server.partial_request_seconds
        if partial and not self._waiting_memory and idle_for >= stall:
            self.close(f"stalled for {idle_for:.1f} s in the middle of a frame ({partial} bytes of it "
                       f"received)", "stalled")
            return
        if self._busy is None and idle_for >= limit:
            detail = f" with {partial} bytes of an incomplete frame" if partial else ""
            self.close(f"idle for {idle_for:.1f} s{detail}", "idle")
            return
        # checked at least every partial-request timeout: a frame may start at any time
        due = min(limit, stall) if partial else limit
        self._schedule_idle_check(max(min(due - idle_for, stall), due / 10))

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
        self._release_all()


def _listening_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host:port`` (every IPv4 interface when ``host`` is empty)."""
    family = socket.AF_INET
    if host:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or "0.0.0.0", port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


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
                 log_interval_s: float = DEFAULT_INTERVAL_S,
                 queued_max_request_bytes: int = DEFAULT_QUEUED_MAX_REQUEST_BYTES,
                 partial_request_timeout_ms: int = DEFAULT_PARTIAL_REQUEST_TIMEOUT_MS,
                 ssl_contexts: Optional[Mapping[str, ssl.SSLContext]] = None,
                 ssl_handshake_timeout_ms: int = 10_000):
        if queued_max_request_bytes < 1:
            raise ValueError(f"queued_max_request_bytes must be positive, got {queued_max_request_bytes}")
        self.listeners = list(listeners)
        #: the budget of bytes read and not yet handled, over all connections, and its use
        self.queued_max_bytes = queued_max_request_bytes
        self.queued_bytes = 0
        self.partial_request_seconds = partial_request_timeout_ms / 1000.0
        #: every read lands here first (reads happen one at a time on the loop)
        self.read_buffer = memoryview(bytearray(_READ_CHUNK))
        #: bytes reserved by connections that never completed a request (at most half the budget)
        self.unproven_bytes = 0
        # connections waiting for their frame to be reserved, oldest first: proven ones are served first
        self._waiting: dict[bool, collections.OrderedDict] = {True: collections.OrderedDict(),
                                                               False: collections.OrderedDict()}
        #: connection faults are logged through this: one line per (peer host, kind) per interval
        self.warnings = RateLimitedLog(log, log_interval_s)
        self.handler = handler
        self.max_frame_bytes = max_frame_bytes
        self.idle_seconds = connections_max_idle_ms / 1000.0
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self.bound: dict[str, tuple[str, int]] = {}
        #: listener name -> the TLS context of an SSL listener (others are plaintext)
        self.ssl_contexts = dict(ssl_contexts or {})
        self.ssl_handshake_seconds = ssl_handshake_timeout_ms / 1000.0
        self._handshakes: set[asyncio.Task] = set()
        self._tls_sockets: list[socket.socket] = []
        self._accepting: list[asyncio.Task] = []

    async def start(self) -> None:
        """Bind every listener; raise :class:`BindError` (after unbinding) if one fails."""
        self.loop = asyncio.get_running_loop()
        try:
            for listener in self.listeners:
                host = listener.host or None
                context = self.ssl_contexts.get(listener.name)
                try:
                    if context is not None:
                        sock = _listening_socket(listener.host, listener.port)
                        self._tls_sockets.append(sock)
                        sockname = sock.getsockname()
                    else:
                        server = await self.loop.create_server(
                            lambda name=listener.name: _Connection(self, name), host, listener.port,
                            reuse_address=True)
                        self._servers.append(server)
                        sockname = server.sockets[0].getsockname()
                except OSError as e:
                    where = f"{listener.host or '0.0.0.0'}:{listener.port}"
                    reason = e.strerror or str(e)
                    raise BindError(f"listener {listener.name} cannot bind {where}: {reason}") from e
                if context is not None:
                    self._accepting.append(self.loop.create_task(self._accept_tls(sock, listener.name, context)))
                self.bound[listener.name] = (sockname[0], sockname[1])
                log.info("Listener %s accepting %s connections on %s:%d", listener.name,
                         "SSL" if context is not None else "PLAINTEXT", sockname[0], sockname[1])
        except BaseException:
            await self.close()
            raise

    # -- SSL listeners ----------------------------------------------------------

    async def _accept_tls(self, sock: socket.socket, listener_name: str, context: ssl.SSLContext) -> None:
        """Accept on an SSL listener; each connection's TLS handshake runs in its own task."""
        while True:
            try:
                conn, _ = await self.loop.sock_accept(sock)
            except OSError as e:       # out of file descriptors, and the like: the listener stays
                self.warnings.warning("accept", "accept", "Listener %s cannot accept a connection: %s",
                                      listener_name, e.strerror or e)
                await asyncio.sleep(0.1)
                continue
            task = self.loop.create_task(self._tls_handshake(conn, listener_name, context))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _tls_handshake(self, conn: socket.socket, listener_name: str, context: ssl.SSLContext) -> None:
        """Run the TLS handshake of one accepted socket; the request connection starts once it is done.

        A failure (an untrusted or missing certificate, a plaintext client, a timeout) closes the
        socket with one rate-limited line, as Kafka logs a failed authentication."""
        try:
            peer = conn.getpeername()
            peer = f"{peer[0]}:{peer[1]}"
        except OSError:
            peer = "?"
        try:
            await self.loop.connect_accepted_socket(
                lambda: _Connection(self, listener_name), conn, ssl=context,
                ssl_handshake_timeout=self.ssl_handshake_seconds)
        except asyncio.CancelledError:
            conn.close()
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the handshake closes the socket
            conn.close()
            reason = getattr(e, "verify_message", None) or getattr(e, "reason", None) or str(e) \
                or type(e).__name__
            self.warnings.warning(peer_host(peer), "ssl handshake", "Failed authentication with %s on listener %s "
                                  "(SSL handshake failed: %s)", peer, listener_name, reason)

    # -- the budget (queued.max.request.bytes) ---------------------------------

    def _fits(self, proven: bool, size: int) -> bool:
        # a frame always fits an unused budget, so one larger than it is not stuck forever
        if self.queued_bytes and self.queued_bytes + size > self.queued_max_bytes:
            return False
        return proven or not self.unproven_bytes or self.unproven_bytes + size <= self.queued_max_bytes // 2

    def try_reserve(self, connection: _Connection, size: int) -> bool:
        """Reserve ``size`` bytes for ``connection``'s next frame, or queue it (``False``)."""
        proven = connection.proven
        if not self._waiting[proven] and self._fits(proven, size):
            self._reserve(connection, size)
            return True
        self._waiting[proven][connection] = None
        return False

    def _reserve(self, connection: _Connection, size: int) -> None:
        self.queued_bytes += size
        if not connection.proven:
            self.unproven_bytes += size
            connection._unproven_held += size
        connection.granted()

    def release(self, connection: _Connection, size: int) -> None:
        self.queued_bytes -= size
        unproven = min(size, connection._unproven_held)
        connection._unproven_held -= unproven
        self.unproven_bytes -= unproven
        self._grant_waiting()

    def forget(self, connection: _Connection, held: int) -> None:
        """A closed connection: release what it held and drop it from the queues."""
        for queue in self._waiting.values():
            queue.pop(connection, None)
        if held:
            self.release(connection, held)

    def _grant_waiting(self) -> None:
        for proven in (True, False):
            queue = self._waiting[proven]
            while queue:
                connection = next(iter(queue))
                if not self._fits(proven, connection._size):
                    break
                del queue[connection]
                self._reserve(connection, connection._size)

    def buffered_bytes(self) -> int:
        """Bytes actually held for requests over all connections (received and not yet
        handled); never more than :attr:`queued_bytes`, which counts whole declared frames."""
        return sum(c.partial_bytes + c._queued_bytes + c._handling for c in self._connections)

    @property
    def waiting_for_memory(self) -> int:
        """Connections paused until their next frame fits the budget."""
        return sum(len(queue) for queue in self._waiting.values())

    @property
    def connection_count(self) -> int:
        """Number of open inbound connections."""
        return len(self._connections)

    async def close(self) -> None:
        """Stop accepting and drop every connection."""
        for server in self._servers:
            server.close()
        for task in self._accepting + list(self._handshakes):
            task.cancel()
        for task in self._accepting + list(self._handshakes):
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled, or already reported
                pass
        self._accepting.clear()
        for sock in self._tls_sockets:
            sock.close()
        self._tls_sockets.clear()
        for connection in list(self._connections):
            connection.close(None)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.warnings.flush()
