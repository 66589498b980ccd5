"""Outbound connections: correlation, handshake, timeouts, reconnect with backoff."""
from __future__ import annotations

import asyncio
import random
import struct

import pytest

from kraft.net.client import ExponentialBackoff, OutboundConnection
from kraft.net.errors import DisconnectedError, NetworkError, RequestTimeoutError
from kraft.net.framing import encode_frame
from kraft.net.server import InboundRequest, ListenerAddress, RequestServer

from netutil import request_payload, run

HOST = "127.0.0.1"


def echo(request: InboundRequest):
    return encode_frame(struct.pack(">i", request.correlation_id) + request.payload[10:])


def req(body: bytes, api_key: int = 1):
    return lambda correlation_id: encode_frame(request_payload(api_key, 0, correlation_id, body))


async def serve(handler=echo, port=0):
    server = RequestServer([ListenerAddress("PLAINTEXT", HOST, port)], handler)
    await server.start()
    return server, server.bound["PLAINTEXT"][1]


def test_backoff_doubles_to_the_cap_with_bounded_jitter():
    exact = ExponentialBackoff(50, 500, jitter=0)
    assert [exact.backoff_ms(n) for n in range(7)] == [0, 50, 100, 200, 400, 500, 500]
    jittered = ExponentialBackoff(50, 500, jitter=0.2, rng=random.Random(7))
    for n, base in [(1, 50), (2, 100), (5, 500), (40, 500)]:
        value = jittered.backoff_ms(n)
        assert base * 0.8 <= value <= base * 1.2


def test_correlation_ids_increment_and_responses_match():
    async def scenario():
        server, port = await serve()
        seen = []

        def record(request):
            seen.append(request.correlation_id)
            return echo(request)
        server.handler = record
        conn = OutboundConnection(HOST, port)
        try:
            replies = [await conn.send(req(bytes([i])), 2000) for i in range(5)]
            assert seen == [0, 1, 2, 3, 4]
            assert [r[4:] for r in replies] == [bytes([i]) for i in range(5)]
            assert [struct.unpack(">i", r[:4])[0] for r in replies] == seen
            # Concurrent sends are matched to their own responses.
            many = await asyncio.gather(*(conn.send(req(bytes([i])), 2000) for i in range(20)))
            assert [r[4:] for r in many] == [bytes([i]) for i in range(20)]
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_handshake_runs_first_on_every_new_connection():
    async def scenario():
        server, port = await serve()
        order = []

        def record(request):
            order.append(request.payload[10:])
            return echo(request)
        server.handler = record

        async def handshake(connection):
            reply = await connection.send(req(b"hello", api_key=18), 2000)
            connection.peer_info = reply[4:]

        conn = OutboundConnection(HOST, port, handshake=handshake)
        try:
            await asyncio.gather(conn.send(req(b"a"), 2000), conn.send(req(b"b"), 2000))
            assert order[0] == b"hello" and sorted(order[1:]) == [b"a", b"b"]
            assert conn.peer_info == b"hello"
            conn.disconnect()
            await conn.send(req(b"c"), 2000)
            assert order[3:] == [b"hello", b"c"]
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_failed_handshake_counts_as_a_failed_attempt_and_is_retried():
    async def scenario():
        server, port = await serve()
        attempts = 0

        async def flaky(connection):
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise NetworkError("ApiVersions failed: UNSUPPORTED_VERSION")  # what the real handshake raises

        conn = OutboundConnection(HOST, port, handshake=flaky,
                                  backoff=ExponentialBackoff(1, 5, jitter=0))
        try:
            assert (await conn.send(req(b"x"), 5000))[4:] == b"x"
            assert attempts == 3 and conn.consecutive_failures == 0
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_request_timeout_closes_the_connection():
    async def scenario():
        never = asyncio.Event()

        async def silent(request):
            if request.payload[10:] == b"hang":
                await never.wait()
            return echo(request)
        server, port = await serve(silent)
        conn = OutboundConnection(HOST, port)
        try:
            with pytest.raises(RequestTimeoutError, match="within 100 ms"):
                await conn.send(req(b"hang"), 100)
            assert not conn.is_ready
            # The next request reconnects.
            assert (await conn.send(req(b"ok"), 5000))[4:] == b"ok"
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_unexpected_correlation_id_drops_the_connection():
    def liar(request):
        return encode_frame(struct.pack(">i", request.correlation_id + 100))

    async def scenario():
        server, port = await serve(liar)
        conn = OutboundConnection(HOST, port)
        try:
            with pytest.raises(DisconnectedError, match="unexpected correlation id"):
                await conn.send(req(b"x"), 2000)
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_nothing_listening_times_out_after_backed_off_attempts():
    async def scenario():
        server, port = await serve()
        await server.close()  # the port is now free and refusing
        attempts = []

        class Counting(ExponentialBackoff):
            def backoff_ms(self, failures):
                attempts.append(failures)
                return super().backoff_ms(failures)

        conn = OutboundConnection(HOST, port, backoff=Counting(10, 40, jitter=0))
        try:
            with pytest.raises(RequestTimeoutError, match="could not connect"):
                await conn.send(req(b"x"), 300)
            assert attempts[:3] == [1, 2, 3]
            assert conn.consecutive_failures == len(attempts)
        finally:
            await conn.close()
    run(scenario())


def test_reconnects_after_the_peer_restarts():
    async def scenario():
        server, port = await serve()
        conn = OutboundConnection(HOST, port, backoff=ExponentialBackoff(10, 50, jitter=0))
        try:
            assert (await conn.send(req(b"one"), 2000))[4:] == b"one"
            await server.close()
            with pytest.raises((DisconnectedError, RequestTimeoutError)):
                await conn.send(req(b"lost"), 200)
            assert conn.consecutive_failures >= 1
            server, _ = await serve(port=port)
            assert (await conn.send(req(b"two"), 5000))[4:] == b"two"
            assert conn.consecutive_failures == 0 and conn.is_ready
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_in_flight_requests_fail_when_the_peer_goes_away():
    async def scenario():
        gate = asyncio.Event()

        async def parked(request):
            await gate.wait()
            return echo(request)
        server, port = await serve(parked)
        conn = OutboundConnection(HOST, port)
        try:
            pending = asyncio.ensure_future(conn.send(req(b"x"), 5000))
            while server.connection_count == 0:
                await asyncio.sleep(0.01)
            await server.close()
            with pytest.raises(DisconnectedError):
                await pending
        finally:
            await conn.close()
    run(scenario())


def test_closed_connection_refuses_requests():
    async def scenario():
        server, port = await serve()
        conn = OutboundConnection(HOST, port)
        await conn.close()
        try:
            with pytest.raises(DisconnectedError, match="closed"):
                await conn.send(req(b"x"), 1000)
        finally:
            await server.close()
    run(scenario())
