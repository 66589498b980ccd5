"""TCP proxies for the nemesis: one per directed link between nodes, each able to cut its link.

Every proxy listens on its own loopback port and forwards to one node's
listener.  A link is ``up`` (bytes pass both ways), ``dropped`` (its
connections are reset and new ones closed at once: the peer sees refused
connections) or ``blackholed`` (connections are accepted and held, bytes are
swallowed both ways: the peer sees timeouts).  The proxies run on an asyncio
loop in a thread of the test process.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Optional

UP, DROPPED, BLACKHOLED = "up", "dropped", "blackholed"


class LinkProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.state = UP
        self.port: Optional[int] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state == DROPPED:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.state == UP:
                    writer.write(data)
                    await writer.drain()
                elif self.state == DROPPED:
                    break
                # blackholed: swallowed
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    def set_state(self, state: str) -> None:
        self.state = state
        if state == DROPPED:
            for w in list(self._writers):
                w.transport.abort()

    async def close(self) -> None:
        self.set_state(DROPPED)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class Proxies:
    """A proxy for every ordered pair of nodes, on a loop in a background thread."""

    def __init__(self, ports: dict[int, int]):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.links: dict[tuple[int, int], LinkProxy] = {}
        for src in ports:
            for dst, port in ports.items():
                if src != dst:
                    self.links[(src, dst)] = LinkProxy(port)
        self._call(self._start_all())

    def _call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start_all(self):
        for link in self.links.values():
            await link.start()

    def port(self, src: int, dst: int) -> int:
        """Where ``src`` reaches ``dst``."""
        return self.links[(src, dst)].port

    def set(self, src: int, dst: int, state: str) -> None:
        async def apply():
            self.links[(src, dst)].set_state(state)
        self._call(apply())

    def heal(self) -> None:
        for src, dst in self.links:
            self.set(src, dst, UP)

    def close(self) -> None:
        async def close_all():
            for link in self.links.values():
                await link.close()
        try:
            self._call(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
