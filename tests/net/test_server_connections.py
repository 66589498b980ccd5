"""The acceptor over real sockets: bad clients are dropped, good ones keep being served."""
from __future__ import annotations

import asyncio
import logging
import socket
import struct

import pytest

from kraft.net.errors import BindError, InvalidRequestError
from kraft.net.framing import encode_frame
from kraft.net.server import InboundRequest, ListenerAddress, RequestServer

from netutil import closed_by_peer, echo_round_trip, open_raw, read_frame, request_payload, run

HOST = "127.0.0.1"


def echo(request: InboundRequest):
    """Response = correlation id + the request body (after the 10-byte v1 header)."""
    if request.api_key == 999:
        raise InvalidRequestError(f"unknown api key {request.api_key}")
    if request.api_key == 998:
        raise RuntimeError("handler bug")
    return encode_frame(struct.pack(">i", request.correlation_id) + request.payload[10:])


async def start(handler=echo, **kwargs) -> tuple[RequestServer, int]:
    server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], handler, **kwargs)
    await server.start()
    return server, server.bound["PLAINTEXT"][1]


def test_echo_and_partial_writes():
    async def scenario():
        server, port = await start()
        try:
            reader, writer = await open_raw(HOST, port)
            frame = encode_frame(request_payload(18, 3, 41, b"body"))
            for i in range(len(frame)):  # one byte per write
                writer.write(frame[i:i + 1])
                await writer.drain()
                await asyncio.sleep(0)
            assert await read_frame(reader) == struct.pack(">i", 41) + b"body"
            writer.close()
        finally:
            await server.close()
    run(scenario())


def test_pipelined_requests_answered_in_order_even_when_handlers_finish_out_of_order():
    async def slow_first(request):
        # The first request takes longest; responses must still come back in order.
        await asyncio.sleep(0.05 if request.correlation_id == 0 else 0)
        return echo(request)

    async def scenario():
        server, port = await start(slow_first)
        try:
            reader, writer = await open_raw(HOST, port)
            writer.write(b"".join(encode_frame(request_payload(1, 0, i, bytes([i]))) for i in range(20)))
            got = [await read_frame(reader) for _ in range(20)]
            assert got == [struct.pack(">i", i) + bytes([i]) for i in range(20)]
            writer.close()
        finally:
            await server.close()
    run(scenario())


@pytest.mark.parametrize("bad_bytes, reason", [
    (struct.pack(">i", -5) + b"xxxx", "invalid frame size"),
    (struct.pack(">i", 1 << 30), "exceeds the maximum"),
    (encode_frame(b"\x00\x12\x00"), "too short"),
    (encode_frame(request_payload(999, 0, 1)), "unknown api key"),
    (encode_frame(request_payload(998, 0, 1)), "request handler failed"),
])
def test_bad_client_is_dropped_while_another_keeps_being_served(bad_bytes, reason, caplog):
    async def scenario():
        server, port = await start(max_frame_bytes=1 << 20)
        try:
            good_reader, good_writer = await open_raw(HOST, port)
            good_writer.write(encode_frame(request_payload(1, 0, 1, b"a")))
            assert await read_frame(good_reader) == struct.pack(">i", 1) + b"a"

            bad_reader, bad_writer = await open_raw(HOST, port)
            bad_writer.write(bad_bytes)
            assert await closed_by_peer(bad_reader)
            bad_writer.close()

            good_writer.write(encode_frame(request_payload(1, 0, 2, b"b")))
            assert await read_frame(good_reader) == struct.pack(">i", 2) + b"b"
            assert await echo_round_trip(HOST, port, 3, b"new") == struct.pack(">i", 3) + b"new"
            good_writer.close()
        finally:
            await server.close()
    with caplog.at_level(logging.WARNING, logger="kraft.net"):
        run(scenario())
    closing = [r for r in caplog.records if "Closing connection" in r.getMessage()]
    assert len(closing) == 1
    assert reason in closing[0].getMessage() or reason in (closing[0].exc_text or "")


def test_half_a_frame_then_nothing_is_closed_when_idle_and_others_unaffected(caplog):
    async def scenario():
        server, port = await start(connections_max_idle_ms=200)
        try:
            reader, writer = await open_raw(HOST, port)
            writer.write(encode_frame(request_payload(1, 0, 1, b"x" * 50))[:20])
            # A good client keeps talking meanwhile.
            for i in range(5):
                assert await echo_round_trip(HOST, port, i, b"ok") == struct.pack(">i", i) + b"ok"
            assert await closed_by_peer(reader)
            writer.close()
        finally:
            await server.close()
    with caplog.at_level(logging.WARNING, logger="kraft.net"):
        run(scenario())
    assert any("incomplete frame" in r.getMessage() for r in caplog.records)


def test_idle_connection_closed_but_one_waiting_on_a_slow_request_is_not():
    release = None

    async def parked(request):
        if request.api_key == 1:
            await release.wait()  # a long-poll Fetch, say
        return echo(request)

    async def scenario():
        nonlocal release
        release = asyncio.Event()
        server, port = await start(parked, connections_max_idle_ms=100)
        try:
            idle_reader, idle_writer = await open_raw(HOST, port)
            busy_reader, busy_writer = await open_raw(HOST, port)
            busy_writer.write(encode_frame(request_payload(1, 0, 5, b"wait")))
            assert await closed_by_peer(idle_reader)
            # The idle one is gone; the busy one is still open and gets its answer.
            assert server.connection_count == 1
            release.set()
            assert await read_frame(busy_reader) == struct.pack(">i", 5) + b"wait"
            idle_writer.close()
            busy_writer.close()
        finally:
            await server.close()
    run(scenario())


def test_port_in_use_is_a_bind_error_naming_the_listener():
    async def scenario():
        holder = socket.socket()
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        try:
            server = RequestServer([ListenerAddress("CONTROLLER", HOST, port)], echo)
            with pytest.raises(BindError, match=f"CONTROLLER cannot bind {HOST}:{port}"):
                await server.start()
        finally:
            holder.close()
    run(scenario())


def test_close_drops_connections():
    async def scenario():
        server, port = await start()
        reader, writer = await open_raw(HOST, port)
        writer.write(encode_frame(request_payload(1, 0, 1)))
        await read_frame(reader)
        await server.close()
        assert await closed_by_peer(reader)
        writer.close()
        with pytest.raises(OSError):
            await open_raw(HOST, port)
    run(scenario())


def test_a_pipelining_client_is_paused_not_buffered_without_bound():
    gate = None

    async def slow(request):
        await gate.wait()
        return echo(request)

    async def scenario():
        nonlocal gate
        gate = asyncio.Event()
        server, port = await start(slow)
        try:
            reader, writer = await open_raw(HOST, port)
            frame = encode_frame(request_payload(1, 0, 1, b"x" * 200_000))
            writer.write(frame * 40)  # 8 MB of pipelined requests while the first one waits
            for _ in range(1000):  # bounded: until the server has read past its limit
                connections = list(server._connections)
                if connections and connections[0]._paused:
                    break
                await asyncio.sleep(0.01)
            (connection,) = server._connections
            assert connection._paused
            assert connection._queued_bytes <= 2 * (1 << 20) + len(frame)
            gate.set()
            for _ in range(40):
                assert len(await read_frame(reader)) == 4 + 200_000
            writer.close()
        finally:
            await server.close()
    run(scenario())
