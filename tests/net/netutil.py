"""Helpers for the network tests: bounded asyncio runs and raw socket clients."""
from __future__ import annotations

import asyncio
import struct

from kraft.net.framing import encode_frame

#: Upper bound on any single test's event-loop run; a hang fails instead of blocking CI.
TEST_TIMEOUT_S = 30


def run(coro):
    """Run ``coro`` on a fresh loop, bounded by TEST_TIMEOUT_S."""
    async def bounded():
        return await asyncio.wait_for(coro, TEST_TIMEOUT_S)
    return asyncio.run(bounded())


def request_payload(api_key: int, api_version: int, correlation_id: int, body: bytes = b"") -> bytes:
    """A request payload that starts like every Kafka request header (v1, null client id)."""
    return struct.pack(">hhih", api_key, api_version, correlation_id, -1) + body


async def open_raw(host: str, port: int):
    return await asyncio.open_connection(host, port)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    """Whether the peer closed: reads until EOF or reset (bounded by the test timeout)."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionResetError:
        pass
    return True


async def echo_round_trip(host: str, port: int, correlation_id: int, body: bytes) -> bytes:
    reader, writer = await open_raw(host, port)
    try:
        writer.write(encode_frame(request_payload(18, 0, correlation_id, body)))
        return await read_frame(reader)
    finally:
        writer.close()
