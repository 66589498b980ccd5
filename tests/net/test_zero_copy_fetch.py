"""Fetch responses written from the memory-mapped segment without a copy (issue 17).

The dispatcher hands a response with a large records value to the server as a list of buffers,
one of them a view of the segment's mapping, and the transport writes them as they are.  These
tests check that the frame is byte for byte the one-buffer frame, and that a segment truncated,
overwritten and deleted while such a write is still pending (the client not reading) does not
change a byte of what the client receives, on uvloop and on the standard loop.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import struct

import pytest

from kraft.net import messages
from kraft.net.api_versions import advertised_versions
from kraft.net.dispatch import RequestDispatcher
from kraft.net.server import ListenerAddress, RequestServer
from kraft.protocol.frames import parse_response
from kraft.protocol.messages import FetchRequest, FetchResponse
from kraft.records import encode_batch
from kraft.storage.replicated_log import FileReplicatedLog

HOST = "127.0.0.1"
FETCH = 1
VERSION = 12
BATCHES, RECORDS, VALUE = 24, 400, 256   # about 2.5 MiB of batches


def fetch_response(records) -> FetchResponse:
    return FetchResponse(error_code=0, responses=[FetchResponse.FetchableTopicResponse(
        topic="__cluster_metadata", partitions=[FetchResponse.PartitionData(
            partition_index=0, error_code=0, high_watermark=7, records=records)])])


def open_log(directory, fill: int) -> FileReplicatedLog:
    log = FileReplicatedLog.open(directory)
    for b in range(BATCHES):
        values = [bytes([fill ^ b]) * VALUE for _ in range(RECORDS)]
        log.append_as_leader(encode_batch(values, timestamp=1_700_000_000_000 + b), 1)
    return log


def test_a_vectored_fetch_frame_is_the_one_buffer_frame_and_references_the_segment(tmp_path):
    log = open_log(tmp_path / "log", 0x11)
    try:
        view = log.read(0, 1 << 30).records
        assert len(view) > 1 << 20
        one = messages.encode_response(FETCH, VERSION, 42, fetch_response(view))
        parts = messages.encode_response(FETCH, VERSION, 42, fetch_response(view), vectored=True)
        assert isinstance(parts, list) and len(parts) >= 2
        assert b"".join(parts) == one
        # the records part is the segment's own memory, not a copy
        records_part = max(parts, key=lambda p: memoryview(p).nbytes)
        assert isinstance(records_part, memoryview) and records_part.obj is view.obj
        # a frame without a large blob stays one bytes object
        small = messages.encode_response(FETCH, VERSION, 43, fetch_response(b""), vectored=True)
        assert small.__class__ is bytes and small == messages.encode_response(FETCH, VERSION, 43,
                                                                               fetch_response(b""))
        header, message = parse_response(one[4:], FETCH, VERSION)
        assert header.correlation_id == 42
        assert bytes(message.responses[0].partitions[0].records) == bytes(view)
    finally:
        log.close()


async def _pending_write_survives(tmp_path) -> None:
    log = open_log(tmp_path / "log", 0x22)
    expected = {}
    answered = asyncio.Event()

    def fetch_handler(context, request):
        for connection in server._connections:   # a small send buffer: the write must wait for the client
            connection._transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        view = log.read(0, 1 << 30).records
        response = fetch_response(view)
        expected["frame"] = messages.encode_response(FETCH, context.api_version, context.correlation_id,
                                                     response)
        answered.set()
        return response

    server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)],
                           RequestDispatcher(advertised_versions(), {FETCH: fetch_handler}))
    await server.start()
    loop = asyncio.get_running_loop()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # the response cannot all fit
        client.setblocking(False)
        await loop.sock_connect(client, (HOST, server.bound["PLAINTEXT"][1]))
        request = messages.encode_request(FETCH, VERSION, 7, "zero-copy-test", FetchRequest(replica_id=-1))
        await loop.sock_sendall(client, request)
        await asyncio.wait_for(answered.wait(), 20)

        def pending() -> int:
            return sum(c._transport.get_write_buffer_size() for c in server._connections
                       if c._transport is not None)
        for _ in range(2000):          # the response reaches the transport on a later loop turn
            if pending() > 0:
                break
            await asyncio.sleep(0.005)
        assert pending() > 0, "the response was sent at once: the test proves nothing"
        # while the write is pending: cut the log to nothing, write other bytes over the same file
        # positions, then close the log and delete its files
        log.truncate_to(0)
        for b in range(BATCHES):
            log.append_as_leader(encode_batch([b"\xee" * VALUE] * RECORDS, timestamp=1_800_000_000_000), 2)
        log.close()
        shutil.rmtree(tmp_path / "log")
        frame = expected["frame"]
        received = bytearray()
        while len(received) < len(frame):
            chunk = await asyncio.wait_for(loop.sock_recv(client, 1 << 16), 20)
            assert chunk, f"connection closed after {len(received)} of {len(frame)} bytes"
            received += chunk
        assert struct.unpack_from(">i", received)[0] == len(frame) - 4
        assert bytes(received) == frame
    finally:
        client.close()
        await server.close()
        log.close()


@pytest.mark.parametrize("loop_kind", ["uvloop", "asyncio"])
def test_a_segment_truncated_and_deleted_while_its_fetch_response_is_pending_sends_the_same_bytes(
        tmp_path, loop_kind):
    if loop_kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(asyncio.wait_for(_pending_write_survives(tmp_path), 60))
    else:
        asyncio.run(asyncio.wait_for(_pending_write_survives(tmp_path), 60))
