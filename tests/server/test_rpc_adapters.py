"""Core RPC values <-> protocol messages: Kafka's own traffic survives the trip byte for byte."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

from conftest import load_jsonl
from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.core.types import Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol.messages import API_MESSAGES
from kraft.server.rpc_adapters import to_core, to_protocol

KRAFT_APIS = {1, 52, 53, 54, 59}
DIR_A = uuid.UUID("6f1e1c2a-0000-4000-8000-00000000000a")
DIR_B = uuid.UUID("6f1e1c2a-0000-4000-8000-00000000000b")
ENDPOINTS = Endpoints([Endpoint("CONTROLLER", "node1.example", 9093), Endpoint("PLAINTEXT", "h", 1)])
NODE_ENDPOINTS = (NodeEndpoint(1, "node1.example", 9093),)


def message_class(api_key, kind):
    return API_MESSAGES[api_key][0 if kind == "request" else 1]


def test_kafkas_raft_traffic_round_trips_exactly():
    vectors = [v for v in load_jsonl("traffic.jsonl") if v["api_key"] in KRAFT_APIS]
    assert {v["api_key"] for v in vectors} >= {1, 52, 53}
    for v in vectors:
        cls = message_class(v["api_key"], v["kind"])
        body = bytes.fromhex(v["body_hex"])
        core = to_core(cls.decode(body, v["version"]), v["version"])
        assert core.api_version == v["version"] and core.partition_count in (0, 1)
        again = to_protocol(core, v["version"]).encode(v["version"])
        assert again == body, f"{v['api']} v{v['version']} {v['kind']}"


SAMPLES = [
    rpc.VoteRequest(cluster_id="AAAAAAAAAAAAAAAAAAAAAA", topic="__raft_performance_test", partition=0,
                    candidate_epoch=7, candidate_id=2, last_offset_epoch=6, last_offset=1234,
                    candidate_directory_id=DIR_A, voter_id=3, voter_directory_id=DIR_B, api_version=1),
    rpc.VoteResponse(error_code=0, topic="t", partition=0, partition_error=74, leader_id=1, leader_epoch=9,
                     vote_granted=True, node_endpoints=NODE_ENDPOINTS, api_version=1),
    rpc.BeginQuorumEpochRequest(cluster_id=None, topic="t", partition=0, leader_id=1, leader_epoch=4, voter_id=2,
                                voter_directory_id=DIR_A, leader_endpoints=ENDPOINTS, api_version=1),
    rpc.BeginQuorumEpochResponse(error_code=0, topic="t", partition=0, partition_error=125, leader_id=1,
                                 leader_epoch=4, node_endpoints=NODE_ENDPOINTS, api_version=1),
    rpc.EndQuorumEpochRequest(cluster_id="c", topic="t", partition=0, leader_id=1, leader_epoch=4,
                              preferred_candidates=(ReplicaKey(3, DIR_A), ReplicaKey(2, None)),
                              leader_endpoints=ENDPOINTS, api_version=1),
    rpc.EndQuorumEpochResponse(error_code=0, topic="t", partition=0, leader_id=-1, leader_epoch=5, api_version=1),
    rpc.FetchRequest(cluster_id="c", replica_id=2, topic_id=uuid.UUID(int=2), partition=0, fetch_offset=100,
                     last_fetched_epoch=3, current_leader_epoch=4, replica_directory_id=DIR_B, api_version=17),
    rpc.FetchResponse(error_code=0, topic_id=uuid.UUID(int=2), partition=0, partition_error=0, high_watermark=90,
                      log_start_offset=0, diverging_epoch=OffsetAndEpoch(80, 2), current_leader_id=1,
                      current_leader_epoch=4, snapshot_id=None, records=b"\x00" * 10,
                      node_endpoints=NODE_ENDPOINTS, api_version=17),
    rpc.FetchResponse(error_code=0, topic_id=uuid.UUID(int=2), partition=0, high_watermark=5, log_start_offset=0,
                      current_leader_id=1, current_leader_epoch=4, snapshot_id=OffsetAndEpoch(100, 3),
                      api_version=17),
    rpc.FetchSnapshotRequest(cluster_id="c", replica_id=2, topic="t", partition=0, current_leader_epoch=4,
                             snapshot_id=OffsetAndEpoch(100, 3), position=4096, replica_directory_id=DIR_A,
                             api_version=1),
    rpc.FetchSnapshotResponse(error_code=0, topic="t", partition=0, snapshot_id=OffsetAndEpoch(100, 3),
                              current_leader_id=1, current_leader_epoch=4, size=9000, position=4096,
                              unaligned_records=b"abc", node_endpoints=NODE_ENDPOINTS, api_version=1),
]


def wire_trip(value, version):
    message = to_protocol(value, version)
    cls = type(message)
    return to_core(cls.decode(message.encode(version), version), version)


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_at_the_latest_version(value):
    back = wire_trip(value, value.api_version)
    if isinstance(value, rpc.FetchResponse):
        back = dataclasses.replace(back, records=bytes(back.records))
    if isinstance(value, rpc.FetchSnapshotResponse):
        back = dataclasses.replace(back, unaligned_records=bytes(back.unaligned_records))
    assert back == value


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_oldest_kraft_version_drops_only_what_it_lacks(value):
    version = 13 if value.api_key == 1 else 0
    back = wire_trip(value, version)
    assert back.api_version == version
    assert type(back) is type(value) and back.partition_count == value.partition_count
    if isinstance(value, rpc.VoteRequest):
        assert (back.candidate_epoch, back.last_offset) == (value.candidate_epoch, value.last_offset)
        assert back.voter_id == -1 and back.candidate_directory_id == uuid.UUID(int=0)
    if isinstance(value, rpc.BeginQuorumEpochRequest):
        assert back.leader_endpoints == Endpoints() and back.leader_epoch == value.leader_epoch
    if isinstance(value, rpc.EndQuorumEpochRequest):
        assert back.preferred_candidates == () and back.preferred_successors == ()
    if isinstance(value, rpc.FetchRequest):
        assert (back.replica_id, back.fetch_offset, back.last_fetched_epoch) == (2, 100, 3)
        assert back.replica_directory_id == uuid.UUID(int=0)
    if hasattr(value, "node_endpoints"):
        assert back.node_endpoints == ()


def test_successors_travel_at_v0_and_candidates_at_v1():
    request = rpc.EndQuorumEpochRequest(cluster_id="c", topic="t", partition=0, leader_id=1, leader_epoch=4,
                                        preferred_successors=(3, 2), api_version=0)
    assert wire_trip(request, 0).preferred_successors == (3, 2)
    assert wire_trip(request, 0).candidates() == (ReplicaKey(3), ReplicaKey(2))


@pytest.mark.parametrize("api_key", sorted(KRAFT_APIS))
def test_top_level_error_responses(api_key):
    error = rpc.error_response(api_key, 8, api_version=1 if api_key != 1 else 17)
    back = wire_trip(error, error.api_version)
    assert back.error_code == 8 and back.partition_count == 0


def test_messages_without_partitions_count_zero_and_many_count_all():
    for v in load_jsonl("kafka-3.9/messages.jsonl"):
        if v["api_key"] not in KRAFT_APIS or v["api_key"] == 1 and v["version"] < 13:
            continue
        cls = message_class(v["api_key"], v["kind"])
        message = cls.decode(bytes.fromhex(v["body_hex"]), v["version"])
        core = to_core(message, v["version"])
        topics = getattr(message, "topics", None) or getattr(message, "responses", [])
        expected = sum(len(t.partitions) for t in topics)
        assert core.partition_count == expected
