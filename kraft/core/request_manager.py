"""Per-destination request bookkeeping (Kafka's ``RequestManager``), clock passed in.

A destination is READY (no entry), AWAITING_RESPONSE (one correlation id in
flight since a send time) or BACKING_OFF (since a failure time).  An awaited
request that gets no answer within ``request_timeout_ms`` makes the
destination ready again; an unsuccessful answer backs it off for
``retry_backoff_ms``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

_AWAITING = "awaiting"
_BACKING_OFF = "backing-off"


@dataclass
class _Connection:
    state: str
    correlation_id: Optional[int]
    since_ms: int


class RequestManager:
    def __init__(self, request_timeout_ms: int, retry_backoff_ms: int, bootstrap_servers: Sequence[int] = ()):
        self.request_timeout_ms = request_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.bootstrap_servers = tuple(bootstrap_servers)
        self._connections: dict[int, _Connection] = {}

    def _expired(self, conn: _Connection, now: int) -> bool:
        if conn.state == _AWAITING:
            return now >= conn.since_ms + self.request_timeout_ms
        return now >= conn.since_ms + self.retry_backoff_ms

    def is_ready(self, node: int, now: int) -> bool:
        conn = self._connections.get(node)
        if conn is None:
            return True
        if self._expired(conn, now):
            del self._connections[node]
            return True
        return False

    def is_backing_off(self, node: int, now: int) -> bool:
        conn = self._connections.get(node)
        return conn is not None and conn.state == _BACKING_OFF and not self._expired(conn, now)

    def has_request_timed_out(self, node: int, now: int) -> bool:
        conn = self._connections.get(node)
        return conn is not None and conn.state == _AWAITING and self._expired(conn, now)

    def remaining_request_time_ms(self, node: int, now: int) -> int:
        conn = self._connections.get(node)
        if conn is None or conn.state != _AWAITING or self._expired(conn, now):
            return 0
        return conn.since_ms + self.request_timeout_ms - now

    def remaining_backoff_ms(self, node: int, now: int) -> int:
        conn = self._connections.get(node)
        if conn is None or conn.state != _BACKING_OFF or self._expired(conn, now):
            return 0
        return conn.since_ms + self.retry_backoff_ms - now

    def is_response_expected(self, node: int, correlation_id: int) -> bool:
        conn = self._connections.get(node)
        return conn is not None and conn.state == _AWAITING and conn.correlation_id == correlation_id

    def on_request_sent(self, node: int, correlation_id: int, now: int) -> None:
        self._connections[node] = _Connection(_AWAITING, correlation_id, now)

    def on_response_result(self, node: int, correlation_id: int, success: bool, now: int) -> None:
        if not self.is_response_expected(node, correlation_id):
            return
        if success:
            del self._connections[node]
        else:
            self._connections[node] = _Connection(_BACKING_OFF, None, now)

    def has_any_inflight_request(self, now: int) -> bool:
        for node in list(self._connections):
            conn = self._connections[node]
            if self._expired(conn, now):
                del self._connections[node]
            elif conn.state == _AWAITING:
                return True
        return False

    def find_ready_bootstrap_server(self, now: int, rng, exclude: Optional[int] = None) -> Optional[int]:
        """A random ready bootstrap server (never ``exclude``), but only when nothing is in flight anywhere."""
        if not self.bootstrap_servers or self.has_any_inflight_request(now):
            return None
        start = rng.randrange(len(self.bootstrap_servers))
        for i in range(len(self.bootstrap_servers)):
            node = self.bootstrap_servers[(start + i) % len(self.bootstrap_servers)]
            if node != exclude and self.is_ready(node, now):
                return node
        return None

    def backoff_before_available_bootstrap_server(self, now: int, exclude: Optional[int] = None) -> int:
        minimum = self.retry_backoff_ms
        for node in list(self._connections):
            conn = self._connections[node]
            if self._expired(conn, now):
                del self._connections[node]
            elif conn.state == _AWAITING:
                return conn.since_ms + self.request_timeout_ms - now
            else:
                minimum = min(minimum, conn.since_ms + self.retry_backoff_ms - now)
        if any(n != exclude and self.is_ready(n, now) for n in self.bootstrap_servers):
            return 0
        return minimum

    def reset(self, node: int) -> None:
        self._connections.pop(node, None)

    def reset_all(self) -> None:
        self._connections.clear()
