"""Connection warnings are rate-limited per peer and kind, over real sockets.

A hostile client once made a leader write 124,295 warning lines (19 MB). Now a flood of bad
frames from one host gives one line per kind per interval, then one line with the count of
what was suppressed.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct

from kraft.net.client import ExponentialBackoff, OutboundConnection
from kraft.net.errors import DisconnectedError, RequestTimeoutError
from kraft.net.framing import encode_frame
from kraft.net.ratelimit import RateLimitedLog
from kraft.net.server import ListenerAddress, RequestServer

from netutil import closed_by_peer, open_raw, request_payload, run
from test_server_connections import HOST, echo

FLOOD = 150
INTERVAL_S = 0.5


def net_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "kraft.net"]


async def wait_for(condition, timeout_s=10.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_flood_of_bad_frames_gives_a_bounded_number_of_lines_with_the_suppressed_count(caplog):
    async def scenario():
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], echo, max_frame_bytes=1 << 20,
                               log_interval_s=INTERVAL_S)
        await server.start()
        port = server.bound["PLAINTEXT"][1]
        try:
            for i in range(FLOOD):
                reader, writer = await open_raw(HOST, port)
                # alternate two kinds of fault: an oversize frame and an unknown API
                if i % 2:
                    writer.write(struct.pack(">i", 1 << 30))
                else:
                    writer.write(encode_frame(request_payload(999, 0, i)))
                assert await closed_by_peer(reader)
                writer.close()
            await wait_for(lambda: sum("Suppressed" in m for m in net_lines(caplog)) == 2)
        finally:
            await server.close()
    with caplog.at_level(logging.WARNING, logger="kraft.net"):
        run(scenario())
    lines = net_lines(caplog)
    closing = [m for m in lines if m.startswith("Closing connection")]
    suppressed = sorted(m for m in lines if m.startswith("Suppressed"))
    # the whole flood fits in a few intervals: one line per kind per interval, at most
    assert 2 <= len(closing) < FLOOD // 10, closing
    counted = [int(m.split()[1]) for m in suppressed]
    assert sum(counted) + len(closing) == FLOOD
    assert any("'bad frame' lines about 127.0.0.1" in m for m in suppressed)
    assert any("'invalid request' lines about 127.0.0.1" in m for m in suppressed)


def test_an_unreachable_peer_is_reported_like_kafka_and_rate_limited(caplog):
    with socket.socket() as s:          # a port with nobody listening
        s.bind((HOST, 0))
        port = s.getsockname()[1]

    async def scenario():
        conn = OutboundConnection(HOST, port, name="node 3", log_interval_s=60,
                                  backoff=ExponentialBackoff(1, 2, jitter=0))
        attempts = 0
        for _ in range(20):
            try:
                await conn.send(lambda cid: encode_frame(request_payload(18, 0, cid)), timeout_ms=50)
            except (DisconnectedError, RequestTimeoutError):
                attempts += 1
        assert conn.consecutive_failures >= 20
        await conn.close()
        return conn.consecutive_failures
    with caplog.at_level(logging.WARNING, logger="kraft.net"):
        failures = run(scenario())
    lines = net_lines(caplog)
    assert lines[0].startswith(f"Connection to node 3 ({HOST}:{port}) could not be established. "
                               "Node may not be available.")
    assert len(lines) == 2
    # every failed attempt after the first is counted (one more may be cut short by close())
    assert lines[1].startswith("Suppressed ") and lines[1].endswith(
        f" more 'connect' lines about {HOST}:{port} in the last 60 s")
    assert failures - 2 <= int(lines[1].split()[1]) <= failures - 1


def test_the_limiter_counts_per_key_and_reports_with_the_next_line_without_a_loop():
    now = [0.0]
    logger = logging.getLogger("kraft.test.ratelimit")
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        limiter = RateLimitedLog(logger, interval_s=10, clock=lambda: now[0], max_keys=2)
        for i in range(5):
            limiter.warning("a", "x", "a/x %d", i)
        limiter.warning("a", "y", "a/y")
        limiter.warning("b", "x", "b/x")    # a third key with two fresh ones: counted as "other peers"
        limiter.warning("c", "x", "c/x")
        now[0] = 11
        limiter.warning("a", "x", "a/x late")
        limiter.flush()
    finally:
        logger.removeHandler(handler)
    assert records == ["a/x 0", "a/y", "b/x",
                       "Suppressed 4 more 'x' lines about a in the last 10 s", "a/x late",
                       "Suppressed 1 more 'x' lines about other peers in the last 10 s"]
