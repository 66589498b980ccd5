"""Memory under hostile clients, over real sockets: the bytes held for requests not yet handled are
bounded across all connections (``queued.max.request.bytes``: each frame's declared size is reserved
before its body is read, connections that never completed a request share half of it), and a
connection that stalls in the middle of a frame is closed after the partial-request timeout, freeing
what it held."""
from __future__ import annotations

import asyncio
import gc
import logging
import struct
import weakref

from kraft.net.framing import encode_frame
from kraft.net.server import ListenerAddress, RequestServer

from netutil import closed_by_peer, echo_round_trip, open_raw, read_frame, request_payload, run
from test_server_connections import HOST, echo

BUDGET = 256 * 1024
DECLARED = 100 * 1024      # each hostile connection declares this frame size...
SENT = 50 * 1024           # ...and sends half of it


async def start(**kwargs):
    server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], echo, max_frame_bytes=1 << 20, **kwargs)
    await server.start()
    return server, server.bound["PLAINTEXT"][1]


async def settle(server, timeout_s=10.0):
    """Wait until the server's buffered bytes stop changing (bounded); return them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last, stable = -1, 0
    while stable < 10 and loop.time() < deadline:
        now = (server.buffered_bytes(), server.queued_bytes, server.waiting_for_memory)
        stable = stable + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.02)
    return server.buffered_bytes()


async def half_frame(port):
    reader, writer = await open_raw(HOST, port)
    writer.write(struct.pack(">i", DECLARED) + request_payload(1, 0, 1, b"x" * (SENT - 10)))
    return reader, writer


def test_buffered_bytes_stay_within_the_budget_across_connections():
    async def scenario():
        server, port = await start(queued_max_request_bytes=BUDGET)
        try:
            # a peer that completed a request before the flood
            peer_reader, peer_writer = await open_raw(HOST, port)
            peer_writer.write(encode_frame(request_payload(1, 0, 1, b"hello")))
            await read_frame(peer_reader)

            clients = [await half_frame(port) for _ in range(5)]   # 250 KiB offered, 500 KiB declared
            held = await settle(server)
            connections = [weakref.ref(c) for c in server._connections]
            # newcomers get half the budget: one declared frame fits, four wait having read 4 bytes each
            assert server.queued_bytes == DECLARED <= BUDGET // 2
            assert held == (4 + SENT) + 4 * 4
            assert server.waiting_for_memory == 4
            # the proven peer still has the other half: a 100 KiB request goes through at once
            body = b"p" * (100 * 1024)
            peer_writer.write(encode_frame(request_payload(1, 0, 2, body)))
            assert await read_frame(peer_reader) == struct.pack(">i", 2) + body

            # closing the holder frees its share: the next one waiting gets it, still within the bound
            clients[0][1].close()
            assert await closed_by_peer(clients[0][0])
            held = await settle(server)
            assert server.queued_bytes == DECLARED and held == (4 + SENT) + 3 * 4
            assert server.waiting_for_memory == 3
            for _, writer in clients[1:]:
                writer.close()
            peer_writer.close()
            for _ in range(500):                                    # bounded: until all are gone
                if server.connection_count == 0:
                    break
                await asyncio.sleep(0.02)
            assert (server.queued_bytes, server.unproven_bytes, server.buffered_bytes()) == (0, 0, 0)
            # closed by their clients: nothing (no pending timer) keeps them or their half frames alive
            gc.collect()
            assert [r for r in connections if r() is not None] == []
        finally:
            await server.close()
    run(scenario())


def test_a_connection_stalled_mid_frame_is_closed_and_its_memory_freed(caplog):
    async def scenario():
        server, port = await start(queued_max_request_bytes=BUDGET, partial_request_timeout_ms=300)
        try:
            stalled = [await half_frame(port) for _ in range(3)]
            assert await settle(server) > 0
            held = [weakref.ref(c) for c in server._connections]
            # a new client waits behind them for memory, then is served as the stalled ones are closed
            assert await echo_round_trip(HOST, port, 9, b"ok") == struct.pack(">i", 9) + b"ok"
            for reader, writer in stalled:
                assert await closed_by_peer(reader)
                writer.close()
            for _ in range(500):
                if server.connection_count == 0:
                    break
                await asyncio.sleep(0.02)
            assert (server.queued_bytes, server.buffered_bytes()) == (0, 0)
            # nothing keeps a closed connection (and the frame it was reading) alive: no timer, no queue
            gc.collect()
            assert [r for r in held if r() is not None] == []
        finally:
            await server.close()
    with caplog.at_level(logging.WARNING, logger="kraft.net"):
        run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "kraft.net"]
    assert sum("in the middle of a frame" in m and f"({4 + SENT} bytes of it received)" in m for m in lines) >= 1, lines


def test_whole_frames_and_pipelined_requests_still_flow_through_a_small_budget():
    async def scenario():
        server, port = await start(queued_max_request_bytes=64 * 1024)
        try:
            reader, writer = await open_raw(HOST, port)
            body = bytes(range(256)) * 200                      # 51,200 bytes: most of the budget
            for i in range(3):
                writer.write(encode_frame(request_payload(1, 0, i, body)))
            for i in range(3):
                assert await read_frame(reader) == struct.pack(">i", i) + body
            # many small requests in one write
            writer.write(b"".join(encode_frame(request_payload(1, 0, 10 + i, b"s%d" % i)) for i in range(50)))
            for i in range(50):
                assert await read_frame(reader) == struct.pack(">i", 10 + i) + b"s%d" % i
            writer.close()
            assert await closed_by_peer(reader)
        finally:
            await server.close()
    run(scenario())
