"""Kafka's writing rules: absent fields, ignorable fields, tagged defaults, value checks, headers."""
import pytest

from kraft.protocol import (
    InvalidFieldValueError,
    RequestHeader,
    ResponseHeader,
    UnsupportedVersionError,
    Uuid,
    read_request,
    request_header_version,
    response_header_version,
    write_request,
    write_response,
)
from kraft.protocol.messages import (
    ApiVersionsResponse,
    BeginQuorumEpochRequest,
    DescribeQuorumResponse,
    FetchRequest,
    FetchResponse,
    UpdateRaftVoterRequest,
    UpdateRaftVoterRequestAdee,
    UpdateRaftVoterResponse,
    VoteRequest,
)


def test_non_default_non_ignorable_field_absent_at_version_raises():
    # DescribeQuorum v0/v1 cannot carry Nodes or a ReplicaDirectoryId
    response = DescribeQuorumResponse(nodes=[DescribeQuorumResponse.Node(node_id=1)])
    with pytest.raises(UnsupportedVersionError) as info:
        response.encode(1)
    assert "Nodes" in str(info.value) and info.value.api_key == 55 and info.value.api_version == 1
    assert response.encode(2)
    replica = DescribeQuorumResponse.ReplicaState(replica_id=1, replica_directory_id=Uuid.random())
    response = DescribeQuorumResponse(topics=[DescribeQuorumResponse.TopicData(
        partitions=[DescribeQuorumResponse.PartitionData(current_voters=[replica])])])
    with pytest.raises(UnsupportedVersionError, match="ReplicaDirectoryId"):
        response.encode(0)
    # Fetch request LastFetchedEpoch (v12+, not ignorable)
    partition = FetchRequest.FetchPartition(partition=0, last_fetched_epoch=3)
    request = FetchRequest(topics=[FetchRequest.FetchTopic(topic="t", partitions=[partition])])
    with pytest.raises(UnsupportedVersionError, match="LastFetchedEpoch"):
        request.encode(11)


def test_ignorable_fields_are_dropped_silently():
    partition = FetchRequest.FetchPartition(partition=0, replica_directory_id=Uuid.random())
    request = FetchRequest(rack_id="r1", topics=[FetchRequest.FetchTopic(topic="t", partitions=[partition])])
    body = request.encode(10)  # RackId (11+) and ReplicaDirectoryId (17+) are ignorable
    decoded = FetchRequest.decode(body, 10)
    assert decoded.rack_id == "" and decoded.topics[0].partitions[0].replica_directory_id == Uuid.ZERO
    # BeginQuorumEpoch VoterId is ignorable in 3.9.0 and defaults to -1
    assert BeginQuorumEpochRequest(voter_id=5).encode(0) == BeginQuorumEpochRequest().encode(0)
    assert BeginQuorumEpochRequest.decode(BeginQuorumEpochRequest().encode(0), 0).voter_id == -1


def test_fields_at_their_default_are_always_allowed():
    assert FetchRequest().encode(0) == FetchRequest().encode(0)
    assert DescribeQuorumResponse().encode(0)


def test_tagged_fields_are_written_only_when_not_default():
    plain = FetchResponse.PartitionData(partition_index=0)
    with_leader = FetchResponse.PartitionData(
        partition_index=0, current_leader=FetchResponse.LeaderIdAndEpoch(leader_id=2, leader_epoch=7))
    body_plain = FetchResponse(responses=[FetchResponse.FetchableTopicResponse(partitions=[plain])]).encode(17)
    body_leader = FetchResponse(responses=[FetchResponse.FetchableTopicResponse(partitions=[with_leader])]).encode(17)
    assert len(body_leader) == len(body_plain) + 1 + 1 + 1 + 8  # tag, size, 2 x int32; count stays 1 byte
    assert FetchResponse.decode(body_leader, 17).responses[0].partitions[0].current_leader.leader_epoch == 7
    # 3.9.0's UpdateRaftVoter response: CurrentLeader (tag 0) absent at default
    assert UpdateRaftVoterResponse(error_code=0).encode(0) == bytes.fromhex("000000000000" + "00")


def test_json_form_omits_tagged_defaults_and_fields_outside_the_version():
    response = FetchResponse(responses=[FetchResponse.FetchableTopicResponse(
        topic="t", partitions=[FetchResponse.PartitionData(records=b"\x01\x02")])])
    json_form = response.to_json(4)
    assert "sessionId" not in json_form and "nodeEndpoints" not in json_form
    partition = json_form["responses"][0]["partitions"][0]
    assert partition["records"] == "AQI=" and "divergingEpoch" not in partition
    assert "divergingEpoch" not in response.to_json(17)["responses"][0]["partitions"][0]
    with pytest.raises(InvalidFieldValueError, match="mandatory"):
        VoteRequest.from_json({}, 0)
    with pytest.raises(InvalidFieldValueError, match="out of range"):
        VoteRequest.from_json({"clusterId": None, "topics": [], "voterId": 1 << 40}, 1)


@pytest.mark.parametrize("bad", [
    dict(error_code=1 << 15),
    dict(error_code="0"),
    dict(throttle_time_ms=None),
    dict(api_keys=None),
    dict(api_keys=[ApiVersionsResponse.SupportedFeatureKey()]),
    dict(supported_features=[ApiVersionsResponse.SupportedFeatureKey(name=None)]),
])
def test_values_that_cannot_be_encoded(bad):
    with pytest.raises(InvalidFieldValueError):
        ApiVersionsResponse(**bad).encode(3)


def test_uint16_range_and_string_length_limit():
    listener = UpdateRaftVoterRequest.Listener(name="l", host="h", port=70000)
    with pytest.raises(InvalidFieldValueError, match="Port"):
        UpdateRaftVoterRequest(listeners=[listener]).encode(0)
    with pytest.raises(InvalidFieldValueError, match="32767"):
        VoteRequest(cluster_id="x" * 40000).encode(0)


def test_header_versions_follow_flexible_versions():
    assert [request_header_version(1, v) for v in (11, 12)] == [1, 2]
    assert [response_header_version(1, v) for v in (11, 12)] == [0, 1]
    assert [response_header_version(53, v) for v in (0, 1)] == [0, 1]
    assert response_header_version(18, 3) == 0 and request_header_version(18, 3) == 2
    assert request_header_version(52, 0) == 2 and response_header_version(52, 0) == 1


def test_client_id_stays_a_classic_nullable_string_in_header_v2():
    header = RequestHeader(request_api_key=52, request_api_version=1, correlation_id=1, client_id=None)
    assert header.encode(2) == bytes.fromhex("0034" "0001" "00000001" "ffff" "00")
    frame = write_request(header, VoteRequest())
    assert read_request(frame)[0].client_id is None


def test_write_checks_the_message_matches_the_header():
    header = RequestHeader(request_api_key=1, request_api_version=12, correlation_id=1)
    with pytest.raises(InvalidFieldValueError):
        write_request(header, VoteRequest())
    with pytest.raises(InvalidFieldValueError):
        write_response(ResponseHeader(), VoteRequest(), 52, 1)


def test_reference_revision_update_raft_voter_request():
    old = UpdateRaftVoterRequestAdee(cluster_id="c", voter_id=3, voter_directory_id=Uuid.random())
    header = RequestHeader(request_api_key=82, request_api_version=0, correlation_id=4, client_id="x")
    frame = write_request(header, old)
    _, decoded = read_request(frame, reference_revision=True)
    assert decoded == old
    _, as_3_9 = read_request(write_request(header, UpdateRaftVoterRequest(cluster_id=None, current_leader_epoch=6)))
    assert as_3_9.current_leader_epoch == 6 and as_3_9.cluster_id is None


@pytest.mark.parametrize("entry", [(-1, b""), ("x", b""), (60, None), (60,)])
def test_malformed_unknown_tagged_fields_cannot_be_written(entry):
    with pytest.raises(InvalidFieldValueError):
        VoteRequest(unknown_tagged_fields=[entry]).encode(0)
