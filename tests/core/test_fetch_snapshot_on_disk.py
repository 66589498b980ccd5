"""A follower downloading a snapshot into a real on-disk log (FileReplicatedLog): chunks that cut
batches, the install that restarts the log at the snapshot, and a download whose bytes are not a
valid snapshot, which must neither publish a ``.checkpoint`` nor truncate the follower's log, nor
stop the node."""
import random

import pytest

from raft_context import CLUSTER, RaftContext, begin_epoch, dir_of, endpoints_of
from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.effects import (
    AppendSnapshotChunk, InstallSnapshot, LeaderBatch, PeerApiVersions, StartSnapshotDownload,
)
from kraft.core.log import OffsetAndEpoch
from kraft.core.node import KAFKA_3_9, RaftNode
from kraft.core.types import ElectionState, ReplicaKey, Voter, VoterSet
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.storage import FileRawSnapshotReader, FileRawSnapshotWriter
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import RecordsSnapshotWriter, snapshot_file_name

SID = OffsetAndEpoch(10, 2)
COMMITTED = [b"committed-%d" % i for i in range(3)]   # the follower's log: offsets 0-2, epoch 1
CHUNK = 37                                            # max bytes per FetchSnapshot answer


def leader_snapshot(directory):
    """The bytes of a valid snapshot ``SID`` as kraft's storage writes it: header, 3 data batches, footer."""
    directory.mkdir()
    writer = RecordsSnapshotWriter(FileRawSnapshotWriter.create(directory, SID), 1234, lambda: 5000)
    for group in ([b"state-a", b"state-b"], [b"state-c" * 20], [b"state-d"]):
        writer.append(group)
    writer.freeze()
    reader = FileRawSnapshotReader.open(directory, SID)
    data = bytes(reader.records())
    boundaries = {b.position for b in reader.batches()} | {len(data)}
    reader.close()
    return data, boundaries


def disk_follower(directory, version):
    """Voter 1 with COMMITTED in its log on disk, following leader 2 at epoch 2, sent to download SID."""
    log = FileReplicatedLog.open(directory, LogConfig(segment_bytes=400), lambda: 0)
    for offset, value in enumerate(COMMITTED):
        log.append_as_leader(encode_leader_batch(LeaderBatch(offset, 1, 0, (value,))), 1)
    log.flush(True)
    voters = VoterSet(Voter(ReplicaKey(i), endpoints_of(i)) for i in (1, 2, 3))
    node = RaftNode(node_id=1, cluster_id=CLUSTER, voters=voters, log=log, rng=random.Random(0),
                    config=QuorumConfig(), directory_id=dir_of(1), stored_election=ElectionState(1),
                    endpoints=endpoints_of(1), behaviour=KAFKA_3_9)
    ctx = RaftContext(node, log, RaftClient(node, read_committed_batches), election=ElectionState(1))
    ctx._apply(ctx.client.start(0))
    ctx._apply(ctx.client.step(PeerApiVersions(2, {rpc.FETCH_SNAPSHOT: (0, version), rpc.FETCH: (13, 17)}), 0))
    ctx.deliver(begin_epoch(2, leader=2))
    ctx.responses.clear()
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)          # the leader commits what the follower has
    assert (send.request.fetch_offset, send.request.last_fetched_epoch) == (3, 1)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=2, high_watermark=3))
    assert log.high_watermark == 3
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)          # then sends it to its snapshot
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=2, snapshot_id=SID))
    assert StartSnapshotDownload(SID) in ctx.writes
    return ctx


def serve(ctx, data, version):
    """Answer the follower's FetchSnapshot requests with ``data`` in CHUNK-byte pieces until it has all."""
    cuts = []
    while True:
        ctx.poll()
        (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
        req = send.request
        assert (req.api_version, req.snapshot_id, req.position) == (version, SID, sum(cuts))
        chunk = data[req.position:req.position + CHUNK]
        ctx.answer(send, rpc.FetchSnapshotResponse(
            topic="__cluster_metadata", snapshot_id=SID, current_leader_id=2, current_leader_epoch=2,
            size=len(data), position=req.position, unaligned_records=chunk, api_version=version))
        cuts.append(len(chunk))
        if sum(cuts) == len(data):
            return cuts


def snapshot_files(directory):
    return sorted(p.name for p in directory.iterdir() if ".checkpoint" in p.name)


@pytest.mark.parametrize("version", [0, 1])
def test_chunks_that_cut_batches_install_the_snapshot_and_restart_the_log_at_it(tmp_path, version):
    data, boundaries = leader_snapshot(tmp_path / "leader")
    ctx = disk_follower(tmp_path / "follower", version)
    cuts = serve(ctx, data, version)
    ends = {sum(cuts[:i + 1]) for i in range(len(cuts))}
    assert len(cuts) > 3 and ends - boundaries, "some chunk must end inside a batch"
    assert [len(e.data) for e in ctx.writes if isinstance(e, AppendSnapshotChunk)] == cuts
    assert ctx.writes.count(InstallSnapshot(SID)) == 1
    log = ctx.log
    assert snapshot_files(tmp_path / "follower") == [snapshot_file_name(SID)]
    assert (tmp_path / "follower" / snapshot_file_name(SID)).read_bytes() == data
    assert (log.start_offset, log.end_offset, log.last_fetched_epoch()) == (10, 10, 2)
    assert log.latest_snapshot_id() == SID and ctx.node.high_watermark == 10
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert (send.request.fetch_offset, send.request.last_fetched_epoch) == (10, 2)
    log.close()
    reopened = FileReplicatedLog.open(tmp_path / "follower", LogConfig(segment_bytes=400), lambda: 0)
    assert (reopened.start_offset, reopened.end_offset, reopened.latest_snapshot_id()) == (10, 10, SID)
    reopened.close()


def _flip_a_data_byte(data, boundaries):
    second = sorted(boundaries)[1]            # the first data batch starts here; corrupt its last record
    position = sorted(boundaries)[2] - 1
    assert position > second
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1:]


@pytest.mark.parametrize("corrupt,complaint", [
    (_flip_a_data_byte, "invalid batch at position"),                           # a CRC fails
    (lambda data, boundaries: data[:-10], "invalid batch at position"),         # the footer cut short
    (lambda data, boundaries: data[:max(boundaries - {len(data)})], "SnapshotFooter"),  # no footer
])
def test_a_corrupt_download_is_refused_and_the_log_keeps_what_it_had(tmp_path, corrupt, complaint, caplog):
    good, boundaries = leader_snapshot(tmp_path / "leader")
    data = corrupt(good, boundaries)
    ctx = disk_follower(tmp_path / "follower", 1)
    with caplog.at_level("ERROR", logger="kraft.core.apply"):
        serve(ctx, data, 1)
    assert InstallSnapshot(SID) in ctx.writes
    # one clear line naming the snapshot, its partial file and what is wrong with it
    (line,) = [r.getMessage() for r in caplog.records if r.name == "kraft.core.apply"]
    assert f"Discarded the downloaded snapshot {SID}" in line and complaint in line
    assert ".checkpoint.part" in line and "the log keeps 0-3" in line
    log = ctx.log
    assert snapshot_files(tmp_path / "follower") == []  # neither published nor left half-written
    assert log.latest_snapshot_id() is None and log.read_snapshot(SID) is None
    assert (log.start_offset, log.end_offset, log.high_watermark, log.last_fetched_epoch()) == (0, 3, 3, 1)
    assert [bytes(v) for b in read_committed_batches(log, 0, 3) for v in b.records] == COMMITTED
    # the node goes on: it fetches from its log end, is sent to the snapshot again, and a good
    # download installs
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert (send.request.fetch_offset, send.request.last_fetched_epoch) == (3, 1)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=2, snapshot_id=SID))
    serve(ctx, good, 1)
    assert (log.start_offset, log.end_offset, log.latest_snapshot_id()) == (10, 10, SID)
    assert (tmp_path / "follower" / snapshot_file_name(SID)).read_bytes() == good
    log.close()
    reopened = FileReplicatedLog.open(tmp_path / "follower", LogConfig(segment_bytes=400), lambda: 0)
    assert (reopened.start_offset, reopened.end_offset, reopened.latest_snapshot_id()) == (10, 10, SID)
    reopened.close()
