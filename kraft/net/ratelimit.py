"""Rate-limited log lines: at most one line per (peer, kind) per interval.

A hostile or broken client can make a node log a line per bad frame or per
connection, tens of thousands a minute.  :class:`RateLimitedLog` lets the
first line of a (peer, kind) through, counts the ones that follow within
``interval_s`` and, when the interval ends, writes one line with that count::

    Closing connection from 127.0.0.1:50214 on listener CONTROLLER: unknown API key 999 ...
    Suppressed 4211 more 'invalid request' lines about 127.0.0.1 in the last 10 s

The count is written by a timer on the running event loop (or, without one,
with the next line of that key).  Keys are bounded: past ``max_keys`` the
oldest quiet windows are forgotten, and if none is quiet the new peer is
counted under ``"other peers"``.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Hashable

#: Default interval between two lines of one (peer, kind).
DEFAULT_INTERVAL_S = 10.0
_MAX_KEYS = 1024
_OTHER = "other peers"


class _Window:
    __slots__ = ("start", "suppressed", "level", "timer")

    def __init__(self, start: float, level: int):
        self.start = start
        self.suppressed = 0
        self.level = level
        self.timer = None


class RateLimitedLog:
    """One line per ``(peer, kind)`` per ``interval_s``, then a count of the rest."""

    def __init__(self, logger: logging.Logger, interval_s: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = _MAX_KEYS):
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[tuple[str, Hashable], _Window] = {}

    def log(self, level: int, peer: str, kind: Hashable, msg: str, *args, **kwargs) -> bool:
        """Log ``msg % args`` unless a line of ``(peer, kind)`` went out less than
        ``interval_s`` ago (then count it); returns whether the line was written."""
        if not self.logger.isEnabledFor(level):
            return False
        now = self._clock()
        key = (peer, kind)
        window = self._windows.get(key)
        if window is None and len(self._windows) >= self._max_keys:
            self._forget_quiet(now)
            if len(self._windows) >= self._max_keys:
                key = (_OTHER, kind)
                window = self._windows.get(key)
        if window is not None and now - window.start < self.interval_s:
            window.suppressed += 1
            window.level = max(window.level, level)
            if window.timer is None:
                window.timer = self._schedule(key, window, window.start + self.interval_s - now)
            return False
        if window is not None:
            self._report(key, window)
        self._windows[key] = _Window(now, level)
        self.logger.log(level, msg, *args, **kwargs)
        return True

    def warning(self, peer: str, kind: Hashable, msg: str, *args, **kwargs) -> bool:
        return self.log(logging.WARNING, peer, kind, msg, *args, **kwargs)

    def error(self, peer: str, kind: Hashable, msg: str, *args, **kwargs) -> bool:
        return self.log(logging.ERROR, peer, kind, msg, *args, **kwargs)

    def _schedule(self, key, window: _Window, delay: float):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False      # no loop: the count goes out with the key's next line
        return loop.call_later(max(delay, 0.0), self._report, key, window)

    def _report(self, key, window: _Window) -> None:
        if window.suppressed:
            peer, kind = key
            self.logger.log(window.level, "Suppressed %d more %r lines about %s in the last %.0f s",
                            window.suppressed, kind, peer, self.interval_s)
            window.suppressed = 0
        if window.timer not in (None, False):
            window.timer.cancel()
        window.timer = None

    def _forget_quiet(self, now: float) -> None:
        for key, window in list(self._windows.items()):
            if now - window.start >= self.interval_s:
                self._report(key, window)
                del self._windows[key]

    def flush(self) -> None:
        """Write every pending count now (on shutdown)."""
        for key, window in list(self._windows.items()):
            self._report(key, window)


def peer_host(peer: str) -> str:
    """``host`` of ``host:port`` (a client reconnecting from new ports is one peer)."""
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer
