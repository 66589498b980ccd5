"""Adapters between protocol messages and the core's RPC types."""
import dataclasses
from kraft.protocol.uuid import Uuid

import pytest
from conftest import load_jsonl

from kraft import handlers
from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.core.types import Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol import UnknownApiKeyError
from kraft.protocol.messages import API_MESSAGES

DIR_A = Uuid(bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"))
DIR_B = Uuid(bytes.fromhex("00112233445566778899aabbccddeeff"))
TOPIC_ID = Uuid((1).to_bytes(16, "big"))
LEADER = Endpoints([Endpoint("CONTROLLER", "10.0.0.1", 9093), Endpoint("REPLICATION", "10.0.0.1", 9094)])
NODES = (NodeEndpoint(1, "10.0.0.1", 9093),)


def _requests(version_of):
    return [
        rpc.VoteRequest(cluster_id="c", topic="__cluster_metadata", partition=0, candidate_epoch=5, candidate_id=2,
                        last_offset_epoch=4, last_offset=100, candidate_directory_id=DIR_A, voter_id=1,
                        voter_directory_id=DIR_B, api_version=version_of(rpc.VOTE)),
        rpc.BeginQuorumEpochRequest(cluster_id=None, topic="__cluster_metadata", partition=0, leader_id=1,
                                    leader_epoch=5, voter_id=3, voter_directory_id=DIR_A, leader_endpoints=LEADER,
                                    api_version=version_of(rpc.BEGIN_QUORUM_EPOCH)),
        rpc.EndQuorumEpochRequest(cluster_id="c", topic="__cluster_metadata", partition=0, leader_id=1,
                                  leader_epoch=5, preferred_candidates=(ReplicaKey(2, DIR_A), ReplicaKey(3)),
                                  leader_endpoints=LEADER, api_version=version_of(rpc.END_QUORUM_EPOCH)),
        rpc.FetchRequest(cluster_id="c", replica_id=2, topic_id=TOPIC_ID, partition=0, fetch_offset=10,
                         last_fetched_epoch=4, current_leader_epoch=5, replica_directory_id=DIR_A,
                         api_version=version_of(rpc.FETCH)),
        rpc.FetchSnapshotRequest(cluster_id="c", replica_id=2, topic="__cluster_metadata", partition=0,
                                 current_leader_epoch=5, snapshot_id=OffsetAndEpoch(100, 4), position=4096,
                                 replica_directory_id=DIR_A, api_version=version_of(rpc.FETCH_SNAPSHOT)),
    ]


def _responses(version_of):
    return [
        rpc.VoteResponse(topic="__cluster_metadata", partition=0, leader_id=1, leader_epoch=5, vote_granted=True,
                         node_endpoints=NODES, api_version=version_of(rpc.VOTE)),
        rpc.BeginQuorumEpochResponse(topic="__cluster_metadata", partition=0, partition_error=74, leader_id=1,
                                     leader_epoch=5, node_endpoints=NODES,
                                     api_version=version_of(rpc.BEGIN_QUORUM_EPOCH)),
        rpc.EndQuorumEpochResponse(topic="__cluster_metadata", partition=0, leader_id=-1, leader_epoch=5,
                                   api_version=version_of(rpc.END_QUORUM_EPOCH)),
        rpc.FetchResponse(topic_id=TOPIC_ID, partition=0, high_watermark=50, log_start_offset=0,
                          diverging_epoch=OffsetAndEpoch(40, 3), current_leader_id=1, current_leader_epoch=5,
                          records=b"batches", node_endpoints=NODES, api_version=version_of(rpc.FETCH)),
        rpc.FetchResponse(topic_id=TOPIC_ID, partition=0, snapshot_id=OffsetAndEpoch(30, 2), current_leader_id=1,
                          current_leader_epoch=5, node_endpoints=NODES, api_version=version_of(rpc.FETCH)),
        rpc.FetchSnapshotResponse(topic="__cluster_metadata", partition=0, snapshot_id=OffsetAndEpoch(100, 4),
                                  current_leader_id=1, current_leader_epoch=5, size=10000, position=4096,
                                  unaligned_records=b"snapshot bytes", node_endpoints=NODES,
                                  api_version=version_of(rpc.FETCH_SNAPSHOT)),
    ]


def _newest(api_key):
    return rpc.SUPPORTED_VERSIONS[api_key][1]


def _oldest(api_key):
    return rpc.SUPPORTED_VERSIONS[api_key][0]


def _through_the_wire(kind, value):
    request_class, response_class = API_MESSAGES[value.api_key]
    cls = request_class if kind == "request" else response_class
    if kind == "request":
        message = handlers.request_from_core(value)
    else:
        message = handlers.response_from_core(value)
    decoded = cls.decode(message.encode(value.api_version), value.api_version)
    if kind == "request":
        return handlers.request_to_core(value.api_key, decoded, value.api_version)
    return handlers.response_to_core(value.api_key, decoded, value.api_version)


@pytest.mark.parametrize("index", range(5))
def test_requests_survive_the_newest_version(index):
    request = _requests(_newest)[index]
    assert _through_the_wire("request", request) == request


@pytest.mark.parametrize("index", range(6))
def test_responses_survive_the_newest_version(index):
    response = _responses(_newest)[index]
    assert _through_the_wire("response", response) == response


def test_oldest_versions_drop_what_they_cannot_carry():
    vote, begin, end, fetch, snapshot = [_through_the_wire("request", r) for r in _requests(_oldest)]
    assert vote.candidate_directory_id == Uuid.ZERO and vote.voter_id == -1
    assert begin.leader_endpoints == () and begin.voter_id == -1
    assert end.preferred_successors == (2, 3) and end.preferred_candidates == ()
    assert end.candidates() == (ReplicaKey(2), ReplicaKey(3))
    assert fetch.replica_id == 2 and fetch.replica_directory_id == Uuid.ZERO  # v13: ReplicaId field
    assert snapshot.replica_directory_id == Uuid.ZERO
    for response in _responses(_oldest):
        assert _through_the_wire("response", response).node_endpoints == ()


def test_end_quorum_epoch_v1_carries_candidates_with_directories():
    end = _through_the_wire("request", _requests(_newest)[2])
    assert end.preferred_candidates == (ReplicaKey(2, DIR_A), ReplicaKey(3))
    assert end.preferred_successors == ()


def test_top_level_error_responses_have_no_partitions():
    for api_key in rpc.SUPPORTED_VERSIONS:
        response = rpc.error_response(api_key, 42, _newest(api_key))
        message = handlers.response_from_core(response)
        assert handlers.response_to_core(api_key, message, _newest(api_key)) == response
        json_form = message.to_json(_newest(api_key))
        if api_key in (rpc.ADD_RAFT_VOTER, rpc.REMOVE_RAFT_VOTER, rpc.UPDATE_RAFT_VOTER):
            continue  # these messages have no partitions at all
        assert json_form.get("topics", json_form.get("responses")) == []


def test_fetch_records_pass_through_without_copies():
    records = memoryview(bytearray(b"r" * 5000))
    response = rpc.FetchResponse(topic_id=TOPIC_ID, partition=0, records=records, api_version=17)
    message = handlers.response_from_core(response)
    assert message.responses[0].partitions[0].records is records
    body = message.encode(17)
    decoded = API_MESSAGES[rpc.FETCH][1].decode(body, 17)
    core = handlers.response_to_core(rpc.FETCH, decoded, 17)
    assert isinstance(core.records, memoryview) and core.records.obj is body and core.records == records


def test_unknown_api_key():
    with pytest.raises(UnknownApiKeyError):
        handlers.request_to_core(18, None, 3)


def test_captured_kafka_traffic_survives_the_core_types():
    """Frames captured between Kafka nodes: message -> core -> message gives the same bytes."""
    checked = 0
    for entry in load_jsonl("traffic.jsonl"):
        if entry["api_key"] not in handlers.ADAPTERS:
            continue
        version = entry["version"]
        request_class, response_class = API_MESSAGES[entry["api_key"]]
        body = bytes.fromhex(entry["body_hex"])
        if entry["kind"] == "request":
            core = handlers.request_to_core(entry["api_key"], request_class.decode(body, version), version)
            again = handlers.request_from_core(core)
        else:
            core = handlers.response_to_core(entry["api_key"], response_class.decode(body, version), version)
            again = handlers.response_from_core(core)
        assert again.encode(version) == body, entry["api"] + " " + entry["kind"]
        checked += 1
    assert checked >= 10


def test_fetch_v18_carries_the_followers_high_watermark_and_older_versions_do_not():
    """KIP-1166: Fetch v18's tagged HighWatermark; below v18 the leader reads Kafka's 'not sent' default."""
    fetch = _requests(_newest)[3]
    for sent, expected in ((42, 42), (-1, -1)):
        request = dataclasses.replace(fetch, api_version=18, high_watermark=sent)
        assert _through_the_wire("request", request).high_watermark == expected
        wire = handlers.request_from_core(request).topics[0].partitions[0]
        assert wire.high_watermark == sent
    older = _through_the_wire("request", dataclasses.replace(fetch, api_version=17, high_watermark=42))
    assert older.high_watermark == rpc.HIGH_WATERMARK_NOT_SENT == 2**63 - 1


def test_vote_v2_carries_pre_vote_and_older_versions_read_false():
    vote = _requests(_newest)[0]
    assert vote.api_version == 2
    for pre_vote in (False, True):
        assert _through_the_wire("request", dataclasses.replace(vote, pre_vote=pre_vote)).pre_vote is pre_vote
    assert _through_the_wire("request", dataclasses.replace(vote, api_version=1)).pre_vote is False
