"""Protocol codec speed: kraft.protocol against kio (Python data types for Kafka's protocol).

Run: ``pytest benchmarks/test_bench_protocol.py --benchmark-group-by=group``.
Each group holds kraft's figure and the peer's for the same bytes.  The
Fetch response is measured with 16 KiB, 1 MiB and 16 MiB of records: our
decode is a memoryview slice, so its cost should not grow with the size.
"""
import io

import pytest

from kraft.protocol import Uuid
from kraft.protocol.messages import FetchRequest, FetchResponse, VoteRequest

kio_serial = pytest.importorskip("kio.serial", reason="kio (the peer) is not installed")
from kio.schema.fetch import v17 as kio_fetch  # noqa: E402
from kio.schema.vote import v1 as kio_vote  # noqa: E402

RECORD_SIZES = {"16KiB": 16 << 10, "1MiB": 1 << 20, "16MiB": 16 << 20}


def _fetch_request():
    """A Fetch v17 request as a KRaft follower sends it."""
    partition = FetchRequest.FetchPartition(
        partition=0, current_leader_epoch=2, fetch_offset=123456, last_fetched_epoch=2,
        log_start_offset=0, partition_max_bytes=1 << 20, replica_directory_id=Uuid.random())
    return FetchRequest(
        cluster_id="kraft-bench-cluster", replica_state=FetchRequest.ReplicaState(replica_id=2, replica_epoch=-1),
        max_wait_ms=500, min_bytes=0, max_bytes=8 << 20, isolation_level=0, session_id=0, session_epoch=-1,
        topics=[FetchRequest.FetchTopic(topic_id=Uuid.METADATA_TOPIC_ID, partitions=[partition])])


def _fetch_response(size):
    partition = FetchResponse.PartitionData(
        partition_index=0, high_watermark=123456, last_stable_offset=-1, log_start_offset=0,
        current_leader=FetchResponse.LeaderIdAndEpoch(leader_id=1, leader_epoch=2),
        records=memoryview(bytearray(size)))
    return FetchResponse(
        responses=[FetchResponse.FetchableTopicResponse(topic_id=Uuid.METADATA_TOPIC_ID, partitions=[partition])],
        node_endpoints=[FetchResponse.NodeEndpoint(node_id=1, host="127.0.0.1", port=9093)])


def _vote_request():
    partition = VoteRequest.PartitionData(
        partition_index=0, candidate_epoch=3, candidate_id=2, candidate_directory_id=Uuid.random(),
        voter_directory_id=Uuid.random(), last_offset_epoch=2, last_offset=1000)
    return VoteRequest(cluster_id="kraft-bench-cluster", voter_id=1,
                       topics=[VoteRequest.TopicData(topic_name="__cluster_metadata", partitions=[partition])])


def _kio(kio_class, body):
    message, _ = kio_serial.entity_reader(kio_class)(memoryview(body), 0)
    return message


def _kio_encode(writer, message):
    buffer = io.BytesIO()
    writer(buffer, message)
    return buffer.getvalue()


CASES = {
    "fetch-request-v17": (_fetch_request, 17, kio_fetch.FetchRequest),
    "vote-request-v1": (_vote_request, 1, kio_vote.VoteRequest),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("impl", ["kraft", "kio"])
def test_decode(benchmark, case, impl):
    make, version, kio_class = CASES[case]
    body = make().encode(version)
    benchmark.group = f"decode {case}"
    if impl == "kraft":
        cls = type(make())
        result = benchmark(cls.decode, body, version)
        assert result.encode(version) == body
    else:
        reader = kio_serial.entity_reader(kio_class)
        result, _ = benchmark(reader, memoryview(body), 0)
        assert _kio_encode(kio_serial.entity_writer(kio_class), result) == body


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("impl", ["kraft", "kio"])
def test_encode(benchmark, case, impl):
    make, version, kio_class = CASES[case]
    message = make()
    body = message.encode(version)
    benchmark.group = f"encode {case}"
    if impl == "kraft":
        assert benchmark(message.encode, version) == body
    else:
        writer = kio_serial.entity_writer(kio_class)
        assert benchmark(_kio_encode, writer, _kio(kio_class, body)) == body


@pytest.mark.parametrize("size", list(RECORD_SIZES))
@pytest.mark.parametrize("impl", ["kraft", "kio"])
def test_decode_fetch_response(benchmark, size, impl):
    message = _fetch_response(RECORD_SIZES[size])
    body = message.encode(17)
    benchmark.group = f"decode fetch-response-v17 {size} records"
    if impl == "kraft":
        result = benchmark(FetchResponse.decode, body, 17)
        assert result.responses[0].partitions[0].records.nbytes == RECORD_SIZES[size]
    else:
        reader = kio_serial.entity_reader(kio_fetch.FetchResponse)
        result, _ = benchmark(reader, memoryview(body), 0)
        assert len(result.responses[0].partitions[0].records) == RECORD_SIZES[size]


@pytest.mark.parametrize("size", list(RECORD_SIZES))
@pytest.mark.parametrize("impl", ["kraft", "kio"])
def test_encode_fetch_response(benchmark, size, impl):
    message = _fetch_response(RECORD_SIZES[size])
    benchmark.group = f"encode fetch-response-v17 {size} records"
    if impl == "kraft":
        body = benchmark(message.encode, 17)
    else:
        kio_message = _kio(kio_fetch.FetchResponse, message.encode(17))
        body = benchmark(_kio_encode, kio_serial.entity_writer(kio_fetch.FetchResponse), kio_message)
    assert len(body) > RECORD_SIZES[size]

