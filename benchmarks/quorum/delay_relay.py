"""A TCP relay that delays every byte by a fixed one-way time, for the distance runs (issue 17).

    python delay_relay.py relay --listen HOST:PORT --to HOST:PORT --delay-ms D
    python delay_relay.py echo --listen HOST:PORT
    python delay_relay.py ping --to HOST:PORT [--count N]

This machine's kernel has no ``sch_netem`` (``tc qdisc add dev lo root netem`` answers "Specified
qdisc kind is unknown" and there are no modules to load), so ``run_distance_bench.py`` puts this
relay in front of each node, inside the node's network namespace: every connection *to* node j
enters j's namespace over the veth bridge at the relay's address, and the relay hands each chunk
it reads to the other side ``D`` ms later, in order, both ways.  A connection therefore gains a
round trip of ``2 D``.  What the relay cannot model: loss, reordering, a bandwidth limit, or the
kernel's own queueing under the delay (TCP's window is the relay's socket buffers, not a long
pipe); and it costs CPU on this 2-core machine.  ``ping`` measures the round trip it gives.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import socket
import statistics
import sys
import time


def _address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


class _Side(asyncio.Protocol):
    """One socket of a relayed connection; what it reads goes to ``peer`` after ``delay`` s."""

    def __init__(self, delay: float):
        self.delay = delay
        self.transport = None
        self.peer: "_Side | None" = None
        self.pending: collections.deque = collections.deque()   # (due, bytes) for the peer
        self.timer = None
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        if self.delay <= 0 and not self.pending and self.peer is not None:
            self.peer.transport.write(data)
            return
        self.pending.append((time.monotonic() + self.delay, data))
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self._deliver)

    def _deliver(self):
        self.timer = None
        if self.peer is None or self.peer.transport is None:
            return      # the relay delivers once the other side is connected
        # time.monotonic, not loop.time: uvloop's clock is cached per iteration in whole milliseconds
        now = time.monotonic()
        out = []
        while self.pending and self.pending[0][0] <= now:
            out.append(self.pending.popleft()[1])
        if out:
            self.peer.transport.write(b"".join(out))
        if self.pending:
            self.timer = asyncio.get_running_loop().call_later(max(0.0, self.pending[0][0] - now), self._deliver)
        elif self.closing:
            self.peer.transport.close()

    def eof_received(self):
        self._end()
        return False

    def connection_lost(self, exc):
        self._end()

    def _end(self):
        if self.closing:
            return
        self.closing = True
        if self.peer is None or self.peer.transport is None:
            return
        if not self.pending:
            self.peer.transport.close()
        # else: _deliver closes the peer after the last delayed chunk

    # flow control: a peer that cannot keep up stops our reading
    def pause_writing(self):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self):
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def relay(listen: tuple[str, int], to: tuple[str, int], delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    delay = delay_ms / 1000.0

    class Inbound(_Side):
        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()
            loop.create_task(self._connect())

        async def _connect(self):
            try:
                _, outbound = await loop.create_connection(lambda: _Side(delay), *to)
            except OSError:
                self.transport.close()
                return
            outbound.peer, self.peer = self, outbound
            if self.pending and self.timer is None:     # read before the outbound side connected
                self._deliver()
            if not self.transport.is_closing():
                self.transport.resume_reading()
            else:
                outbound.transport.close()

    server = await loop.create_server(lambda: Inbound(delay), *listen, reuse_address=True, backlog=128)
    print(f"relay {listen[0]}:{listen[1]} -> {to[0]}:{to[1]} delay {delay_ms} ms each way", flush=True)
    async with server:
        await server.serve_forever()


async def echo(listen: tuple[str, int]) -> None:
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    server = await asyncio.get_running_loop().create_server(Echo, *listen, reuse_address=True)
    print(f"echo {listen[0]}:{listen[1]}", flush=True)
    async with server:
        await server.serve_forever()


def ping(to: tuple[str, int], count: int) -> list[float]:
    """Round trips (ms) of a 64-byte message through ``to`` (an echo behind relays)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            sock = socket.create_connection(to, timeout=10)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * 64
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        sock.sendall(message)
        got = 0
        while got < len(message):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("echo closed")
            got += len(chunk)
        times.append((time.perf_counter() - t0) * 1000)
    sock.close()
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("relay", "echo", "ping"))
    parser.add_argument("--listen", type=_address)
    parser.add_argument("--to", type=_address)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay added in each direction")
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        # the relay's own cost is part of what it adds: uvloop keeps it near 0.05 ms a round trip
        # (the standard loop added ~2 ms: epoll's timeouts are whole milliseconds)
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.mode == "relay":
        asyncio.run(relay(args.listen, args.to, args.delay_ms))
    elif args.mode == "echo":
        asyncio.run(echo(args.listen))
    else:
        times = ping(args.to, args.count)
        print(f"rtt_ms median {statistics.median(times):.3f} p10 {sorted(times)[len(times) // 10]:.3f} "
              f"p90 {sorted(times)[len(times) * 9 // 10]:.3f} n {len(times)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
