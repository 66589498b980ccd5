"""Request/response round trips on loopback: the standard asyncio loop against uvloop.

Each benchmark round is a batch of ``ROUND_TRIPS`` sequential requests on one
connection (as the Raft layer uses a connection: one request in flight), so
the time per round trip is the round time divided by ``ROUND_TRIPS``.

* ``raw``: frames only (transport, framing, correlation);
* ``vote``: a Vote v1 request encoded, dispatched to a handler, answered and
  decoded (the whole inbound/outbound stack).

Run: ``pytest benchmarks/test_bench_net.py --benchmark-group-by=param:kind``
"""
from __future__ import annotations

import asyncio
import struct

import pytest

from kraft.net.api_versions import advertised_versions
from kraft.net.channel import PeerChannel
from kraft.net.client import OutboundConnection
from kraft.net.dispatch import RequestDispatcher
from kraft.net.framing import encode_frame
from kraft.net.server import ListenerAddress, RequestServer
from kraft.protocol.messages import VoteRequest, VoteResponse

uvloop = pytest.importorskip("uvloop")

ROUND_TRIPS = 500
HOST = "127.0.0.1"


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if kind == "uvloop" else asyncio.new_event_loop()


def echo(request):
    return encode_frame(struct.pack(">i", request.correlation_id) + request.payload[10:])


def vote(context, request):
    partition = request.topics[0].partitions[0]
    return VoteResponse(error_code=0, topics=[VoteResponse.TopicData(
        topic_name=request.topics[0].topic_name, partitions=[VoteResponse.PartitionData(
            partition_index=0, error_code=0, leader_id=-1, leader_epoch=partition.candidate_epoch,
            vote_granted=True)])])


VOTE = VoteRequest(cluster_id="AAAAAAAAAAAAAAAAAAAAAA", topics=[VoteRequest.TopicData(
    topic_name="__raft_performance_test", partitions=[VoteRequest.PartitionData(
        partition_index=0, candidate_epoch=5, candidate_id=1, last_offset_epoch=4, last_offset=100)])])
RAW = encode_frame(struct.pack(">hhih", 52, 1, 0, -1) + b"x" * 64)


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
@pytest.mark.parametrize("kind", ["raw", "vote"])
def test_round_trip(benchmark, loop_kind, kind):
    loop = new_loop(loop_kind)
    table = advertised_versions()

    async def setup():
        handler = echo if kind == "raw" else RequestDispatcher(table, {52: vote})
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], handler)
        await server.start()
        port = server.bound["PLAINTEXT"][1]
        if kind == "raw":
            client = OutboundConnection(HOST, port)
            send = lambda: client.send(lambda cid: RAW[:8] + struct.pack(">i", cid) + RAW[12:], 5000)  # noqa: E731
        else:
            client = PeerChannel(HOST, port, client_id="bench", advertised=table)
            send = lambda: client.request(52, VOTE, 5000)  # noqa: E731
        await send()  # connect (and handshake) outside the measurement
        return server, client, send

    server, client, send = loop.run_until_complete(setup())

    async def batch():
        for _ in range(ROUND_TRIPS):
            await send()

    try:
        benchmark.extra_info["round_trips_per_round"] = ROUND_TRIPS
        benchmark.pedantic(lambda: loop.run_until_complete(batch()), rounds=15, warmup_rounds=2)
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(server.close())
        loop.close()


# ---------------------------------------------------------------------------- Fetch responses
FETCH_ROUND_TRIPS = 40


@pytest.mark.parametrize("mode", ["copied", "vectored"])
@pytest.mark.parametrize("records_kib", [64, 1024])
def test_fetch_response(benchmark, tmp_path, monkeypatch, mode, records_kib):
    """A Fetch v12 response carrying ``records_kib`` of batches read from a real segment, served on
    uvloop and read by a client on the same loop: ``vectored`` writes the records from the mapped
    segment (today), ``copied`` joins the frame into one buffer first (before issue 17's change)."""
    from kraft.net import messages
    from kraft.protocol.messages import FetchRequest, FetchResponse
    from kraft.records import encode_batch
    from kraft.storage.replicated_log import FileReplicatedLog

    if mode == "copied":
        one_buffer = messages.encode_response
        monkeypatch.setattr(messages, "encode_response", lambda *args, vectored=False: one_buffer(*args))
    log = FileReplicatedLog.open(tmp_path / "log")
    per_batch = 64 * 1024
    for b in range(records_kib * 1024 // per_batch):
        log.append_as_leader(encode_batch([bytes([b]) * 256] * (per_batch // 270), timestamp=1_700_000_000_000), 1)
    size = len(log.read(0, 1 << 30).records)

    def fetch(context, request):
        return FetchResponse(error_code=0, responses=[FetchResponse.FetchableTopicResponse(
            topic="__cluster_metadata", partitions=[FetchResponse.PartitionData(
                partition_index=0, high_watermark=1, records=log.read(0, 1 << 30).records)])])

    request = messages.encode_request(1, 12, 0, "bench", FetchRequest(replica_id=-1))
    loop = uvloop.new_event_loop()

    async def setup():
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)],
                               RequestDispatcher(advertised_versions(), {1: fetch}))
        await server.start()
        client = OutboundConnection(HOST, server.bound["PLAINTEXT"][1])
        send = lambda: client.send(lambda cid: request[:8] + struct.pack(">i", cid) + request[12:], 5000)  # noqa: E731
        assert len(await send()) > size
        return server, client, send

    server, client, send = loop.run_until_complete(setup())

    async def batch():
        for _ in range(FETCH_ROUND_TRIPS):
            await send()

    try:
        benchmark.extra_info.update(round_trips_per_round=FETCH_ROUND_TRIPS, records_bytes=size)
        benchmark.pedantic(lambda: loop.run_until_complete(batch()), rounds=15, warmup_rounds=2)
    finally:
        loop.run_until_complete(client.close())
        loop.run_until_complete(server.close())
        loop.close()
        log.close()
