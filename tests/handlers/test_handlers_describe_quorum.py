"""DescribeQuorum adapter: every version through the wire, and Kafka's request vectors."""
from kraft.protocol.uuid import Uuid

import pytest
from hypothesis import given, settings, strategies as st
from conftest import load_jsonl

from kraft import handlers
from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.protocol.messages import API_MESSAGES

DIR = Uuid(bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"))


def _wire(value, kind):
    request_class, response_class = API_MESSAGES[rpc.DESCRIBE_QUORUM]
    if kind == "request":
        body = handlers.request_from_core(value).encode(value.api_version)
        return handlers.request_to_core(rpc.DESCRIBE_QUORUM, request_class.decode(body, value.api_version),
                                        value.api_version)
    body = handlers.response_from_core(value).encode(value.api_version)
    return handlers.response_to_core(rpc.DESCRIBE_QUORUM, response_class.decode(body, value.api_version),
                                     value.api_version)


def _response(version):
    return rpc.DescribeQuorumResponse(
        error_message="top" if version >= 2 else None, topic="__cluster_metadata", partition=0, leader_id=1,
        leader_epoch=4, high_watermark=99,
        current_voters=(rpc.ReplicaState(1, 100, 5000, 5000, DIR), rpc.ReplicaState(2, 99, 4900, 4800)),
        observers=(rpc.ReplicaState(7, 50, 4000, -1),),
        nodes=((1, Endpoints([Endpoint("CONTROLLER", "h1", 9093)])),), api_version=version)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_request_round_trip(version):
    request = rpc.DescribeQuorumRequest(topic="__cluster_metadata", partition=0, api_version=version,
                                        requested=(("__cluster_metadata", (0,)),))
    assert _wire(request, "request") == request


def test_response_v2_carries_everything():
    response = _response(2)
    assert _wire(response, "response") == response


def test_response_v1_drops_directories_and_nodes_v0_also_timestamps():
    v1 = _wire(_response(1), "response")
    assert v1.nodes == () and v1.error_message is None
    assert v1.current_voters[0] == rpc.ReplicaState(1, 100, 5000, 5000)
    v0 = _wire(_response(0), "response")
    assert v0.current_voters[0] == rpc.ReplicaState(1, 100) and v0.observers == (rpc.ReplicaState(7, 50),)
    assert (v0.leader_epoch, v0.high_watermark) == (4, 99)


def test_error_response_shapes():
    not_leader = rpc.DescribeQuorumResponse(topic="__cluster_metadata", partition=0, partition_error=6,
                                            partition_error_message="msg", api_version=2)
    assert _wire(not_leader, "response") == not_leader


def test_kafka_request_vectors_convert_to_their_first_partition():
    checked = 0
    for entry in load_jsonl("messages.jsonl"):
        if entry["api_key"] != rpc.DESCRIBE_QUORUM or entry["kind"] != "request":
            continue
        version = entry["version"]
        message = API_MESSAGES[rpc.DESCRIBE_QUORUM][0].decode(bytes.fromhex(entry["body_hex"]), version)
        core = handlers.request_to_core(rpc.DESCRIBE_QUORUM, message, version)
        topics = entry["fields"]["topics"]
        count = sum(len(t["partitions"]) for t in topics)
        assert core.partition_count == count
        first = next((t, t["partitions"][0]) for t in topics if t["partitions"]) if count else None
        if first:
            assert (core.topic, core.partition) == (first[0]["topicName"], first[1]["partitionIndex"])
        if count == 1:
            assert handlers.request_from_core(core).encode(version) == bytes.fromhex(entry["body_hex"])
        checked += 1
    assert checked >= 3


_ints = st.integers(-1, 2**31 - 1)
_longs = st.integers(-1, 2**63 - 1)
_states = st.lists(st.builds(rpc.ReplicaState, _ints, _longs, _longs, _longs, st.binary(min_size=16, max_size=16).map(Uuid)), max_size=4).map(tuple)
_names = st.text(min_size=1, max_size=8)
_nodes = st.lists(st.tuples(_ints, st.lists(st.builds(Endpoint, _names, _names, st.integers(0, 65535)),
                                            max_size=2).map(Endpoints)), max_size=3).map(tuple)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2), _states, _states, _nodes, _longs, st.one_of(st.none(), _names))
def test_random_responses_survive_each_version(version, voters, observers, nodes, hw, message):
    response = rpc.DescribeQuorumResponse(
        error_message=message, topic="t", partition=3, partition_error=6, partition_error_message=message,
        leader_id=1, leader_epoch=2, high_watermark=hw, current_voters=voters, observers=observers, nodes=nodes,
        api_version=version)
    back = _wire(response, "response")

    def expected(state):
        return rpc.ReplicaState(state.replica_id, state.log_end_offset,
                                state.last_fetch_timestamp if version >= 1 else -1,
                                state.last_caught_up_timestamp if version >= 1 else -1,
                                state.replica_directory_id if version >= 2 else Uuid.ZERO)

    assert back.current_voters == tuple(expected(s) for s in voters)
    assert back.observers == tuple(expected(s) for s in observers)
    assert back.nodes == (nodes if version >= 2 else ())
    assert back.partition_error_message == (message if version >= 2 else None)
    assert (back.high_watermark, back.leader_epoch) == (hw, 2)


@pytest.mark.parametrize("vectors", ["messages.jsonl", "kafka-3.9/messages.jsonl"])
def test_kafka_single_partition_responses_survive_the_core_type(vectors):
    """Kafka's DescribeQuorum responses with one partition: message -> core -> message, same bytes."""
    checked = 0
    for entry in load_jsonl(vectors):
        if entry["api_key"] != rpc.DESCRIBE_QUORUM or entry["kind"] != "response":
            continue
        if sum(len(t["partitions"]) for t in entry["fields"]["topics"]) != 1:
            continue
        version, body = entry["version"], bytes.fromhex(entry["body_hex"])
        message = API_MESSAGES[rpc.DESCRIBE_QUORUM][1].decode(body, version)
        core = handlers.response_to_core(rpc.DESCRIBE_QUORUM, message, version)
        assert handlers.response_from_core(core).encode(version) == body, f"v{version}"
        checked += 1
    assert checked >= 3


def test_the_leaders_answer_writes_empty_error_messages_not_null():
    """v2's nullable ErrorMessage fields hold "" in Kafka's answers (the schema's default)."""
    response = rpc.DescribeQuorumResponse(error_message="", topic="__cluster_metadata", partition=0,
                                          partition_error_message="", leader_id=1, leader_epoch=4,
                                          high_watermark=9, api_version=2)
    body = handlers.response_from_core(response).encode(2)
    # ErrorCode 0, then ErrorMessage as a compact string: length+1 = 1 (empty); null would be 0.
    assert body[:3] == bytes([0, 0, 1])
    message = API_MESSAGES[rpc.DESCRIBE_QUORUM][1].decode(body, 2)
    assert message.error_message == "" and message.topics[0].partitions[0].error_message == ""


@pytest.mark.parametrize("version", [0, 1, 2])
def test_an_unknown_partition_answer_echoes_every_requested_partition(version):
    request_class, response_class = API_MESSAGES[rpc.DESCRIBE_QUORUM]
    m = request_class
    wire = m(topics=[m.TopicData(topic_name="a", partitions=[m.PartitionData(partition_index=0),
                                                               m.PartitionData(partition_index=5)]),
                     m.TopicData(topic_name="b", partitions=[m.PartitionData(partition_index=2)])])
    request = handlers.request_to_core(rpc.DESCRIBE_QUORUM, request_class.decode(wire.encode(version), version),
                                       version)
    assert request.requested == (("a", (0, 5)), ("b", (2,)))
    answer = rpc.DescribeQuorumResponse(error_message="", topic="a", partition=0, partition_error=3,
                                        partition_error_message="unknown", leader_id=0, leader_epoch=0,
                                        high_watermark=0, partition_count=3, echo=request.requested,
                                        api_version=version)
    message = response_class.decode(handlers.response_from_core(answer).encode(version), version)
    got = [(t.topic_name, p.partition_index, p.error_code, p.error_message, p.leader_id, p.high_watermark)
           for t in message.topics for p in t.partitions]
    text = "unknown" if version >= 2 else ""
    assert got == [("a", 0, 3, text, 0, 0), ("a", 5, 3, text, 0, 0), ("b", 2, 3, text, 0, 0)]
