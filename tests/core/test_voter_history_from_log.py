"""The voter-set history follows the log (Kafka's KRaftControlRecordStateMachine): Voters and
KRaftVersion records are read at their offsets on every append, leader's and follower's, dropped
on truncation and replaced by a snapshot's own records; the static set is the bootstrap entry."""
from __future__ import annotations

from raft_context import RaftContext, begin_epoch, fetch_response
from kraft.core import rpc
from kraft.core.batches import decode_committed, encode_leader_batch, encoded_control_batch
from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import MemoryLog
from kraft.core.quorum_state import VoterSetHistory
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.protocol.messages import KRaftVersionRecord, SnapshotHeaderRecord, VotersRecord
from kraft.protocol.uuid import Uuid
from kraft.records import decode_batches, encode_batch
from kraft.records.control import ControlRecordType, encode_control_batch, read_control_batch

STATIC = VoterSet(Voter(ReplicaKey(i), Endpoints([Endpoint("CONTROLLER", "h", 9000 + i)])) for i in (1, 2, 3))


def voters_record(*ids):
    return VotersRecord(version=0, voters=[
        VotersRecord.Voter(
            voter_id=i, voter_directory_id=Uuid(bytes([i]) * 16),
            endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host="h", port=9000 + i)],
            kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0, max_supported_version=1))
        for i in ids])


def kraft_version(level):
    return KRaftVersionRecord(version=0, kraft_version=level)


def data(base, epoch, *values):
    return encode_batch(list(values or [b"x"]), base_offset=base, partition_leader_epoch=epoch, timestamp=0)


def control(base, epoch, *messages):
    return encode_control_batch(list(messages), base_offset=base, partition_leader_epoch=epoch, timestamp=0)


def test_a_follower_append_sets_the_voters_and_kraft_version_at_their_offsets():
    log, history = MemoryLog(), VoterSetHistory(STATIC)
    history.load(log)
    assert history.latest() is STATIC and history.kraft_version == 0
    records = data(0, 1, b"a", b"b") + control(2, 1, kraft_version(1), voters_record(1, 2, 3, 4)) + data(4, 1)
    log.append_as_follower(records, 1)
    history.append_records(records)
    assert sorted(history.latest().ids) == [1, 2, 3, 4]
    assert history.latest().key_of(4) == ReplicaKey(4, Uuid(bytes([4]) * 16))
    assert history.kraft_version == 1 and history.kraft_version_at(1) == 0 and history.kraft_version_at(2) == 1
    assert history.value_at_or_before(2) is STATIC and sorted(history.value_at_or_before(3).ids) == [1, 2, 3, 4]
    assert history.last_offset() == 3

    history.truncate_new_entries(3)   # the Voters record at 3 is gone, the KRaftVersion at 2 stays
    assert history.latest() is STATIC and history.kraft_version == 1
    history.truncate_new_entries(2)
    assert history.kraft_version == 0

    reloaded = VoterSetHistory(STATIC)
    reloaded.load(log)                # the whole log, read again: as appended
    assert sorted(reloaded.latest().ids) == [1, 2, 3, 4] and reloaded.last_offset() == 3


def test_a_snapshot_replaces_the_history_with_its_own_records():
    log, history = MemoryLog(), VoterSetHistory(STATIC)
    log.append_as_follower(data(0, 1) + control(1, 1, kraft_version(1), voters_record(1, 2, 3, 4)), 1)
    history.load(log)
    assert sorted(history.latest().ids) == [1, 2, 3, 4]
    sid = OffsetAndEpoch(10, 2)
    writer = log.create_new_snapshot(sid)
    header = [SnapshotHeaderRecord(version=0, last_contained_log_timestamp=0), kraft_version(1), voters_record(2, 3)]
    writer.append(control(0, 2, *header) + data(3, 2, b"state"))
    writer.freeze()
    assert log.truncate_to_latest_snapshot()
    history.load(log)
    assert sorted(history.latest().ids) == [2, 3] and history.kraft_version == 1
    assert history.last_offset() == sid.offset - 1     # in force from the snapshot's last contained offset
    assert history.value_at_or_before(sid.offset - 2) is STATIC
    log.append_as_follower(control(10, 2, voters_record(2, 3, 5)), 2)
    history.append_records(log.read(10, 1 << 20).records)
    assert sorted(history.latest().ids) == [2, 3, 5]


def test_a_leaders_start_of_epoch_batch_carries_several_control_records():
    change = LeaderChangeMessage(1, (1, 2, 3), (1, 2))
    batch = encoded_control_batch(LeaderBatch(7, 4, 1_000, control=change,
                                              control_records=(kraft_version(1), voters_record(1, 2, 3))))
    assert batch.record_count == 3 and batch.last_offset == 9
    written = encode_leader_batch(batch)
    assert batch.size_in_bytes == len(written)
    [read] = list(decode_batches(written))
    assert read.is_control and (read.base_offset, read.last_offset) == (7, 9)
    assert [(o, t) for o, t, _ in read_control_batch(read)] == [
        (7, ControlRecordType.LEADER_CHANGE), (8, ControlRecordType.KRAFT_VERSION), (9, ControlRecordType.KRAFT_VOTERS)]
    [committed] = decode_committed(written)
    assert committed.control == change and committed.last_offset == 9

    history = VoterSetHistory(STATIC)
    history.append_leader_batch(batch)          # as the leader appends it
    follower = VoterSetHistory(STATIC)
    follower.append_records(written)            # as a follower fetches it
    for h in (history, follower):
        assert h.last_offset() == 9 and h.kraft_version_at(8) == 1 and h.kraft_version_at(7) == 0
        assert sorted(h.latest().ids) == [1, 2, 3] and h.latest() is not STATIC


def test_a_follower_node_takes_the_voter_set_in_force_from_what_it_fetches():
    ctx = RaftContext.build(local_id=1)
    assert sorted(ctx.node.voters.ids) == [1, 2, 3] and ctx.node.quorum.kraft_version == 0
    ctx.deliver(begin_epoch(1, 2))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    records = data(0, 1) + control(1, 1, kraft_version(1), voters_record(1, 2, 3, 4))
    ctx.answer(send, fetch_response(1, 2, records=records, hw=0))
    # the latest voter set, not yet committed, is in force at once (Kafka's rule)
    assert sorted(ctx.node.voters.ids) == [1, 2, 3, 4] and ctx.node.quorum.kraft_version == 1
    assert ctx.node.quorum.history.value_at_or_before(1) is not ctx.node.voters
