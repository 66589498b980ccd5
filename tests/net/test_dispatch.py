"""ApiVersions, Kafka's error answers and closed connections, over real sockets."""
from __future__ import annotations

import asyncio
import functools
import struct

import pytest
from hypothesis import given, settings, strategies as st

from conftest import load_jsonl
from kraft.net import messages
from kraft.net.api_versions import (
    PeerVersions,
    UnsupportedApiError,
    VersionRange,
    advertised_versions,
    negotiate,
    sendable_versions,
)
from kraft.net.channel import PeerChannel
from kraft.net.dispatch import RequestDispatcher
from kraft.net.errors import RequestTimeoutError
from kraft.net.framing import encode_frame
from kraft.net.server import ListenerAddress, RequestServer
from kraft.protocol.errors import Errors
from kraft.protocol.messages import (
    ApiVersionsResponse,
    DescribeQuorumRequest,
    DescribeQuorumResponse,
    VoteRequest,
    VoteResponse,
)

from netutil import closed_by_peer, open_raw, read_frame, request_payload, run

HOST = "127.0.0.1"
FULL = advertised_versions()
V0_ONLY = advertised_versions(rpc_v0_only=True)
SENDABLE = sendable_versions()


def vote_handler(context, request):
    """Answers with the candidate's epoch, so the test can see the request arrived intact."""
    topic = request.topics[0]
    partition = topic.partitions[0]
    return VoteResponse(error_code=0, topics=[VoteResponse.TopicData(topic_name=topic.topic_name, partitions=[
        VoteResponse.PartitionData(partition_index=partition.partition_index, error_code=0, leader_id=-1,
                                   leader_epoch=partition.candidate_epoch, vote_granted=context.api_version == 1)])])


async def serve(table=FULL, handlers=None):
    dispatcher = RequestDispatcher(table, handlers if handlers is not None else {52: vote_handler})
    server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], dispatcher)
    await server.start()
    return server, server.bound["PLAINTEXT"][1]


async def exchange(port, frame: bytes) -> bytes:
    reader, writer = await open_raw(HOST, port)
    try:
        writer.write(frame)
        return await read_frame(reader)
    finally:
        writer.close()


def test_advertised_table():
    assert list(FULL) == sorted(FULL)
    assert FULL[18] == VersionRange(0, 5) and FULL[1] == VersionRange(0, 18)
    # Vote v2 (pre-vote) is served and written: the core answers pre-votes
    assert FULL[52] == SENDABLE[52] == VersionRange(0, 2)
    assert FULL[80] == SENDABLE[80] == VersionRange(0, 1) and FULL[60] == VersionRange(0, 2)
    assert SENDABLE == FULL
    assert FULL[59] == VersionRange(0, 1) and FULL[55] == VersionRange(0, 2)
    assert {52, 53, 54, 55, 59, 80, 81, 82} <= set(FULL)
    assert V0_ONLY[52] == V0_ONLY[53] == V0_ONLY[54] == V0_ONLY[59] == VersionRange(0, 0)
    assert V0_ONLY[1] == VersionRange(0, 16) and V0_ONLY[55] == VersionRange(0, 1)
    assert not {80, 81, 82} & set(V0_ONLY)


def test_negotiation_both_ways():
    assert negotiate(FULL, V0_ONLY)[52] == 0 and negotiate(V0_ONLY, FULL)[52] == 0
    assert negotiate(FULL, FULL)[1] == 18 and negotiate(FULL, V0_ONLY)[1] == 16
    # to a peer with Kafka 4.4's table (Fetch 4-18, Vote 0-2) and with 3.9's (Fetch 0-17, Vote 0-1)
    kafka_44 = {**FULL, 1: VersionRange(4, 18), 52: VersionRange(0, 2)}
    kafka_39 = {**FULL, 1: VersionRange(0, 17), 52: VersionRange(0, 1)}
    assert negotiate(SENDABLE, kafka_44)[1] == 18 and negotiate(SENDABLE, kafka_44)[52] == 2
    assert negotiate(SENDABLE, kafka_39)[1] == 17 and negotiate(SENDABLE, kafka_39)[52] == 1
    assert negotiate(SENDABLE, V0_ONLY)[52] == 0 and negotiate(FULL, kafka_44)[52] == 2
    assert 80 not in negotiate(FULL, V0_ONLY)
    assert 52 not in negotiate({52: VersionRange(2, 3)}, {52: VersionRange(0, 1)})
    with pytest.raises(UnsupportedApiError):
        PeerVersions(V0_ONLY, negotiate(FULL, V0_ONLY)).version_for(80)


@pytest.mark.parametrize("vectors", ["messages.jsonl", "kafka-3.9/messages.jsonl", "traffic.jsonl",
                                     "kafka-4.4/messages.jsonl"])
def test_answers_kafkas_api_versions_requests(vectors):
    requests = [v for v in load_jsonl(vectors) if v["api_key"] == 18 and v["kind"] == "request"]
    assert requests
    # KIP-1242 (v5): a ClusterId without a NodeId, or a NodeId without a ClusterId, is INVALID_REQUEST
    one_of_two = [v for v in requests if v["version"] >= 5
                  and (v["fields"]["clusterId"] is None) != (v["fields"]["nodeId"] == -1)]
    requests = [v for v in requests if v not in one_of_two]

    async def scenario():
        server, port = await serve()
        try:
            for vector in requests:
                version = vector["version"]
                payload = await exchange(port, bytes.fromhex(vector["frame_hex"]))
                assert payload[:4] == struct.pack(">i", vector["correlation_id"])  # header v0
                response = ApiVersionsResponse.decode(payload, version, 4)
                assert response.error_code == 0
                assert {k.api_key: VersionRange(k.min_version, k.max_version) for k in response.api_keys} == FULL
            for vector in one_of_two:
                payload = await exchange(port, bytes.fromhex(vector["frame_hex"]))
                response = ApiVersionsResponse.decode(payload, vector["version"], 4)
                assert (response.error_code, response.api_keys) == (Errors.INVALID_REQUEST, [])
        finally:
            await server.close()
    run(scenario())


def test_api_versions_v5_cluster_id_and_node_id_both_or_neither():
    """Kafka 4.4.0's ApiVersionsRequest.isValid: v5's ClusterId and NodeId come together; a controller
    (ControllerApis) checks nothing else: a cluster id or node id not its own is answered normally."""
    def body(cluster_id: bytes | None, node_id: int) -> bytes:
        name = b"\x06kraft\x021"        # compact strings "kraft", "1"
        cid = b"\x00" if cluster_id is None else bytes([len(cluster_id) + 1]) + cluster_id
        return b"\x00" + name + cid + struct.pack(">i", node_id) + b"\x00"   # header tags, ..., body tags

    async def scenario():
        server, port = await serve()
        try:
            answers = []
            for cluster_id, node_id in ((None, -1), (b"someone-else", 99), (None, 3), (b"x", -1)):
                payload = await exchange(port, encode_frame(request_payload(18, 5, 5, body(cluster_id, node_id))))
                answers.append(ApiVersionsResponse.decode(payload, 5, 4))
            assert [a.error_code for a in answers] == [0, 0, Errors.INVALID_REQUEST, Errors.INVALID_REQUEST]
            assert len(answers[1].api_keys) == len(FULL) and answers[2].api_keys == []
        finally:
            await server.close()
    run(scenario())


def test_too_new_api_versions_gets_v0_unsupported_version_with_our_range():
    async def scenario():
        server, port = await serve()
        try:
            # v9 does not exist; its body is whatever a future client sends.
            payload = await exchange(port, encode_frame(request_payload(18, 9, 77, b"\x00\x05hello\x00")))
            # Kafka 4.4.0's bytes: correlation id, error 35, one ApiKeys entry {18, 0, 5}; v0 has no throttle.
            assert payload == struct.pack(">ihihhh", 77, 35, 1, 18, 0, 5)
        finally:
            await server.close()
    run(scenario())


def test_handshake_retries_lower_against_an_older_peer():
    async def scenario():
        old = dict(FULL)
        old[18] = VersionRange(0, 3)  # a Kafka 3.8-style ApiVersions range
        old[52] = VersionRange(0, 1)  # and a Vote without pre-vote
        server, port = await serve(old)
        seen = []
        inner = server.handler

        def spy(request):
            seen.append((request.api_key, request.api_version))
            return inner(request)
        server.handler = spy
        channel = PeerChannel(HOST, port, client_id="raft-client-1", advertised=FULL)
        try:
            version, response = await channel.request(52, vote_request())
            assert seen[:3] == [(18, 5), (18, 3), (52, 1)]
            assert version == 1 and response.topics[0].partitions[0].vote_granted is True
            assert channel.peer_versions.advertised[18] == VersionRange(0, 3)
        finally:
            await channel.close()
            await server.close()
    run(scenario())


def vote_request():
    return VoteRequest(cluster_id="AAAAAAAAAAAAAAAAAAAAAA", topics=[VoteRequest.TopicData(
        topic_name="__raft_performance_test", partitions=[VoteRequest.PartitionData(
            partition_index=0, candidate_epoch=5, candidate_id=1, last_offset_epoch=4, last_offset=100)])])


@pytest.mark.parametrize("client_table, server_table, expected", [
    (FULL, FULL, 2), (V0_ONLY, FULL, 0), (FULL, V0_ONLY, 0), (V0_ONLY, V0_ONLY, 0)])
def test_vote_goes_at_the_negotiated_version(client_table, server_table, expected):
    async def scenario():
        server, port = await serve(server_table)
        channel = PeerChannel(HOST, port, client_id="raft-client-1", advertised=client_table)
        try:
            version, response = await channel.request(52, vote_request())
            partition = response.topics[0].partitions[0]
            assert version == expected
            assert partition.leader_epoch == 5 and partition.vote_granted is (expected == 1)
        finally:
            await channel.close()
            await server.close()
    run(scenario())


@pytest.mark.parametrize("vectors", ["messages.jsonl", "kafka-3.9/messages.jsonl"])
def test_kafkas_api_versions_responses_are_understood(vectors):
    """Kafka's own ApiVersions response bytes, replayed by a fake peer: the handshake negotiates from them."""
    answers = [v for v in load_jsonl(vectors) if v["api_key"] == 18 and v["kind"] == "response"]
    assert answers

    async def scenario():
        for vector in answers:
            # The vectors carry arbitrary error codes; the body starts with it in every version.
            body = b"\x00\x00" + bytes.fromhex(vector["body_hex"])[2:]

            def replay(request, body=body):
                return encode_frame(struct.pack(">i", request.correlation_id) + body)
            server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], replay)
            await server.start()
            ours = dict(FULL)
            ours[18] = VersionRange(0, vector["version"])  # so the first ApiVersions goes at this version
            channel = PeerChannel(HOST, server.bound["PLAINTEXT"][1], client_id="c", advertised=ours)
            try:
                await channel.connection.send(lambda cid: encode_frame(request_payload(18, 0, cid)), 2000)
                theirs = {k["apiKey"]: VersionRange(k["minVersion"], k["maxVersion"])
                          for k in vector["fields"]["apiKeys"]}
                assert channel.peer_versions.advertised == theirs
                assert channel.peer_versions.negotiated == negotiate(ours, theirs)
            finally:
                await channel.close()
                await server.close()
    run(scenario())


def test_api_versions_error_fails_the_handshake_naming_the_error():
    async def scenario():
        def refuse(request):
            return encode_frame(struct.pack(">ih", request.correlation_id, Errors.INVALID_REQUEST)
                                + b"\x01\x00\x00\x00\x00\x00")
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], refuse)
        await server.start()
        channel = PeerChannel(HOST, server.bound["PLAINTEXT"][1], client_id="c", advertised=FULL)
        try:
            with pytest.raises(RequestTimeoutError, match="INVALID_REQUEST"):
                await channel.request(52, vote_request(), timeout_ms=300)
        finally:
            await channel.close()
            await server.close()
    run(scenario())


def test_advertised_api_without_handler_gets_unknown_server_error():
    async def scenario():
        server, port = await serve()
        try:
            request = DescribeQuorumRequest(topics=[])
            payload = await exchange(port, messages.encode_request(55, 1, 3, "c", request))
            response = messages.decode_response(payload, 55, 1)
            assert isinstance(response, DescribeQuorumResponse)
            assert response.error_code == Errors.UNKNOWN_SERVER_ERROR and payload[:4] == struct.pack(">i", 3)
        finally:
            await server.close()
    run(scenario())


def test_failing_handler_gets_its_error_code_or_unknown_server_error():
    class NotLeader(Exception):
        error_code = Errors.NOT_LEADER_OR_FOLLOWER

    async def scenario():
        calls = []

        async def failing(context, request):
            calls.append(context.client_id)
            raise NotLeader() if len(calls) == 1 else RuntimeError("bug")
        server, port = await serve(handlers={52: failing})
        try:
            for expected in (Errors.NOT_LEADER_OR_FOLLOWER, Errors.UNKNOWN_SERVER_ERROR):
                payload = await exchange(port, messages.encode_request(52, 1, 1, "raft-client-9", vote_request()))
                assert messages.decode_response(payload, 52, 1).error_code == expected
            assert calls == ["raft-client-9", "raft-client-9"]
        finally:
            await server.close()
    run(scenario())


@pytest.mark.parametrize("frame", [
    encode_frame(request_payload(0, 9, 1, b"produce")),              # Produce: not a KRaft API
    encode_frame(request_payload(12345, 0, 1)),                       # no such API
    messages.encode_request(52, 1, 1, "c", vote_request())[:4 + 12] + b"\x00" * 0,  # truncated frame body
    encode_frame(request_payload(52, 7, 1, b"\x00")),                 # Vote v7 does not exist
    encode_frame(struct.pack(">hhih", 52, 1, 1, 0) + b"\x00\xff\xff\xff\xff\xff\xff"),  # garbage body
    encode_frame(request_payload(18, 2, 1) + b"") [:6],               # half a header
])
def test_bad_requests_close_only_their_connection(frame):
    async def scenario():
        server, port = await serve()
        try:
            good = PeerChannel(HOST, port, client_id="good", advertised=FULL)
            await good.request(52, vote_request())
            reader, writer = await open_raw(HOST, port)
            fixed = struct.pack(">i", len(frame) - 4) + frame[4:]  # make the size prefix consistent
            writer.write(fixed)
            assert await asyncio.wait_for(closed_by_peer(reader), 5)
            writer.close()
            version, response = await good.request(52, vote_request())
            assert response.topics[0].partitions[0].leader_epoch == 5
            await good.close()
        finally:
            await server.close()
    run(scenario())


_KNOWN_PREFIXES = st.sampled_from([(18, v) for v in range(0, 6)] + [(52, v) for v in range(0, 3)]
                                  + [(55, 1), (1, 17), (1, 4), (0, 0), (9999, 1)])


@given(_KNOWN_PREFIXES, st.integers(-(2**31), 2**31 - 1), st.binary(max_size=120))
@settings(max_examples=400, deadline=None)
def test_fuzzed_requests_get_an_answer_or_a_clean_refusal(prefix, correlation_id, tail):
    """Whatever follows a header prefix, the dispatcher answers with a frame or refuses the connection."""
    from kraft.net.errors import InvalidRequestError
    from kraft.net.server import InboundRequest

    api_key, version = prefix
    payload = struct.pack(">hhi", api_key, version, correlation_id) + tail
    dispatcher = RequestDispatcher(FULL, {})
    try:
        frame = dispatcher(InboundRequest("PLAINTEXT", "fuzz", api_key, version, correlation_id, payload))
    except InvalidRequestError:
        return
    assert isinstance(frame, bytes)
    assert struct.unpack_from(">ii", frame) == (len(frame) - 4, correlation_id)


@functools.lru_cache(maxsize=None)
def valid_payloads():
    return [bytes.fromhex(v["frame_hex"])[4:] for v in load_jsonl("kafka-3.9/messages.jsonl")
            if v["kind"] == "request" and v["api_key"] in (18, 52, 53, 54, 55, 59, 80, 81, 82)]


@given(st.data(), st.integers(0, 10_000), st.integers(0, 255), st.booleans())
@settings(max_examples=400, deadline=None)
def test_mutated_kafka_requests_get_an_answer_or_a_clean_refusal(data, position, value, truncate):
    from kraft.net.errors import InvalidRequestError
    from kraft.net.server import InboundRequest

    payload = data.draw(st.sampled_from(valid_payloads()))
    position %= len(payload)
    mutated = payload[:position] if truncate else payload[:position] + bytes([value]) + payload[position + 1:]
    if len(mutated) < 8:
        return
    api_key, version, correlation_id = struct.unpack_from(">hhi", mutated)
    dispatcher = RequestDispatcher(FULL, {})
    try:
        frame = dispatcher(InboundRequest("PLAINTEXT", "fuzz", api_key, version, correlation_id, mutated))
    except InvalidRequestError:
        return
    assert isinstance(frame, bytes) and struct.unpack_from(">i", frame, 4)[0] == correlation_id


def test_api_versions_answer_in_v0_layout_to_a_v5_request_is_read_as_v0():
    """Kafka 3.9.2's TestRaftServer answers an ApiVersions v5 request (newer than it knows) with error NONE
    and its whole table in v0's layout (seen on the wire); Kafka's client, and kraft's, read it again as v0."""
    from kraft.net.api_versions import api_versions_response, decode_api_versions_response

    old = dict(FULL)
    old[18] = VersionRange(0, 4)
    body = api_versions_response(old).encode(0)
    response = decode_api_versions_response(body, 5)
    assert response.error_code == 0
    assert {k.api_key: VersionRange(k.min_version, k.max_version) for k in response.api_keys} == old
