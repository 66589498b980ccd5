"""FetchSnapshot request adapter: the shape facts and every partition entry reach the core."""

import pytest

from kraft import handlers
from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.protocol.messages import API_MESSAGES
from kraft.protocol.uuid import Uuid

DIR = Uuid(bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"))
ZERO = Uuid.ZERO
T = "__cluster_metadata"


def _decoded(message, version):
    request_class = API_MESSAGES[rpc.FETCH_SNAPSHOT][0]
    return request_class.decode(message.encode(version), version)


def _message(topics):
    """``topics``: [(name, [(partition, leader epoch, snapshot id, position), ...])], every entry with DIR."""
    m = API_MESSAGES[rpc.FETCH_SNAPSHOT][0]
    return m(cluster_id="c", replica_id=2, max_bytes=4096, topics=[
        m.TopicSnapshot(name=name, partitions=[
            m.PartitionSnapshot(partition=p, current_leader_epoch=e, position=pos, replica_directory_id=Uuid(DIR.bytes),
                                snapshot_id=m.SnapshotId(end_offset=sid.offset, epoch=sid.epoch))
            for p, e, sid, pos in partitions])
        for name, partitions in topics])


@pytest.mark.parametrize("version", [0, 1])
def test_every_entry_in_order_and_the_shape_reach_the_core(version):
    directory = DIR if version >= 1 else ZERO
    message = _message([("x", [(4, 3, OffsetAndEpoch(1, 1), 10)]),
                        (T, [(0, 5, OffsetAndEpoch(100, 4), 20), (1, 6, OffsetAndEpoch(7, 2), 30)])])
    core = handlers.request_to_core(rpc.FETCH_SNAPSHOT, _decoded(message, version), version)
    assert (core.topic_count, core.first_topic_partition_count, core.partition_count) == (2, 1, 3)
    assert (core.topic, core.partition, core.current_leader_epoch, core.snapshot_id, core.position,
            core.replica_directory_id) == ("x", 4, 3, OffsetAndEpoch(1, 1), 10, directory)
    assert core.other_partitions == ((T, 0, 5, OffsetAndEpoch(100, 4), 20, directory),
                                     (T, 1, 6, OffsetAndEpoch(7, 2), 30, directory))
    assert (core.cluster_id, core.replica_id, core.max_bytes, core.api_version) == ("c", 2, 4096, version)


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("topics,shape", [
    ([], (0, 0, 0)),
    ([(T, [])], (1, 0, 0)),
    ([(T, []), ("x", [(0, 1, OffsetAndEpoch(1, 1), 0)])], (2, 0, 1)),
    ([(T, [(0, 1, OffsetAndEpoch(1, 1), 0), (1, 1, OffsetAndEpoch(1, 1), 0)])], (1, 2, 2)),
])
def test_the_shape_counts_topics_and_the_first_topics_partitions(version, topics, shape):
    core = handlers.request_to_core(rpc.FETCH_SNAPSHOT, _decoded(_message(topics), version), version)
    assert (core.topic_count, core.first_topic_partition_count, core.partition_count) == shape


@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("topics", [
    [],
    [(T, [(0, 5, OffsetAndEpoch(100, 4), 20)])],
    [("x", [(4, 3, OffsetAndEpoch(1, 1), 10)]),
     (T, [(0, 5, OffsetAndEpoch(100, 4), 20), (2, 1, OffsetAndEpoch(3, 3), 0)]),
     ("y", [(1, 1, OffsetAndEpoch(2, 2), 5)])],
])
def test_requests_survive_the_wire_with_all_their_entries(version, topics):
    core = handlers.request_to_core(rpc.FETCH_SNAPSHOT, _decoded(_message(topics), version), version)
    again = handlers.request_to_core(rpc.FETCH_SNAPSHOT, _decoded(handlers.request_from_core(core), version), version)
    assert again == core


@pytest.mark.parametrize("version", [0, 1])
def test_responses_with_several_entries_reach_the_core_whole_and_survive_the_wire(version):
    m = API_MESSAGES[rpc.FETCH_SNAPSHOT][1]

    def entry(index, data):
        return m.PartitionSnapshot(index=index, snapshot_id=m.SnapshotId(end_offset=9, epoch=index + 1),
                                   current_leader=m.LeaderIdAndEpoch(leader_id=3, leader_epoch=7), size=50,
                                   position=index, unaligned_records=data)
    message = m(topics=[m.TopicSnapshot(name="x", partitions=[entry(0, b"x0"), entry(1, b"x1")]),
                        m.TopicSnapshot(name=T, partitions=[entry(2, b"t2")])])
    core = handlers.response_to_core(rpc.FETCH_SNAPSHOT, m.decode(message.encode(version), version), version)
    assert (core.topic_count, core.first_topic_partition_count, core.partition_count) == (2, 2, 3)
    entries = (core, *core.other_partitions)
    assert [(e.topic, e.partition, e.snapshot_id, e.position, bytes(e.unaligned_records)) for e in entries] == [
        ("x", 0, OffsetAndEpoch(9, 1), 0, b"x0"), ("x", 1, OffsetAndEpoch(9, 2), 1, b"x1"),
        (T, 2, OffsetAndEpoch(9, 3), 2, b"t2")]
    assert all((e.current_leader_id, e.current_leader_epoch, e.size) == (3, 7, 50) for e in entries)
    wire = handlers.response_from_core(core).encode(version)
    assert wire == message.encode(version)
