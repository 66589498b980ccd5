"""KRaftControlState: kraft.version and voters tracked through a real log and
its snapshots, carried into new snapshots (byte-exact with Kafka's files)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import load_jsonl
from kraft.core.log import OffsetAndEpoch
from kraft.protocol.messages import (
    KRaftVersionRecord,
    LeaderChangeMessage,
    SnapshotHeaderRecord,
    VotersRecord,
)
from kraft.protocol.uuid import Uuid
from kraft.records import Record, decode_batches, encode_batch
from kraft.records.control import ControlRecordType, encode_control_batch, encode_control_key
from kraft.storage import FileReplicatedLog, LogConfig
from kraft.storage.control_state import (
    KRaftControlRecordError,
    KRaftControlState,
    kafka_voters_record,
    snapshot_writer_for,
)
from kraft.storage.errors import OffsetOutOfRangeError
from kraft.storage.snapshots import FileRawSnapshotReader, FileRawSnapshotWriter, RecordsSnapshotWriter

NOW = 1_700_000_000_000


def voters(*ids, host="localhost"):
    return VotersRecord(version=0, voters=[
        VotersRecord.Voter(
            voter_id=i, voter_directory_id=Uuid(bytes([i % 256]) * 16),
            endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host=host, port=9000 + i)],
            kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0,
                                                                   max_supported_version=1))
        for i in ids])


def kraft_version(level):
    return KRaftVersionRecord(version=0, kraft_version=level)


def open_log(path, **config):
    return FileReplicatedLog.open(path, LogConfig(file_delete_delay_ms=0, **config), time_ms=lambda: NOW)


def append_data(log, count=1, epoch=1):
    base = log.end_offset
    log.append_as_follower(encode_batch([b"v%d" % (base + i) for i in range(count)], base_offset=base,
                                        partition_leader_epoch=epoch, timestamp=NOW), epoch)
    return base


def append_control(log, messages, epoch=1):
    """Append one control batch; returns the offset of its first record."""
    base = log.end_offset
    log.append_as_follower(encode_control_batch(messages, base_offset=base, partition_leader_epoch=epoch,
                                                timestamp=NOW), epoch)
    return base


def expected_at(history, offset, default):
    """The value of the last (offset, value) at or before ``offset``."""
    value = default
    for at, v in history:
        if at <= offset:
            value = v
    return value


def assert_matches(state, log, kraft_history, voter_history, first=-1):
    for offset in range(first, log.end_offset):
        assert state.kraft_version_at(offset) == expected_at(kraft_history, offset, 0), offset
        assert state.voters_at(offset) == expected_at(voter_history, offset, None), offset
    assert state.last_kraft_version() == expected_at(kraft_history, log.end_offset, 0)
    assert state.last_voters() == expected_at(voter_history, log.end_offset, None)


# --- tracking through the log ---------------------------------------------------------------
def test_a_log_without_control_records_is_kraft_version_0_without_voters(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        assert state.kraft_version_at(-1) == 0 and state.voters_at(-1) is None
        with pytest.raises(OffsetOutOfRangeError):
            state.kraft_version_at(0)
        append_data(log, 3)
        append_control(log, LeaderChangeMessage(version=0, leader_id=1))
        assert state.next_offset == 4
        assert [state.kraft_version_at(o) for o in range(-1, 4)] == [0] * 5
        assert state.last_voters() is None and state.last_voters_offset() is None
        with pytest.raises(OffsetOutOfRangeError):
            state.voters_at(4)
        with pytest.raises(OffsetOutOfRangeError):
            state.voters_at(-2)


def test_values_before_and_after_each_record(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        kraft_history, voter_history = [], []
        append_data(log, 3)
        kraft_history.append((append_control(log, kraft_version(1)), 1))
        append_data(log, 2)
        voter_history.append((append_control(log, voters(1, 2, 3)), voters(1, 2, 3)))
        assert_matches(state, log, kraft_history, voter_history)
        append_data(log, 4, epoch=2)
        # HEAD's start-of-epoch batch: LeaderChange, KRaftVersion, Voters in one batch
        base = append_control(log, [LeaderChangeMessage(version=0, leader_id=2), kraft_version(1),
                                    voters(1, 2, 3, 4)], epoch=3)
        kraft_history.append((base + 1, 1))
        voter_history.append((base + 2, voters(1, 2, 3, 4)))
        append_data(log, 1, epoch=3)
        assert_matches(state, log, kraft_history, voter_history)
        assert state.last_voters_offset() == base + 2
        assert state.voters_at(base + 1) == voters(1, 2, 3)


def test_refresh_reads_only_what_was_appended_since(tmp_path, monkeypatch):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_data(log, 5)
        append_control(log, kraft_version(1))
        state.refresh()
        reads = []
        real_read = log.read
        monkeypatch.setattr(log, "read", lambda offset, max_bytes: reads.append(offset) or real_read(offset, max_bytes))
        state.refresh()
        assert reads == [5]                       # only the check that the last batch is still there
        reads.clear()
        append_data(log, 3)
        append_control(log, voters(1))
        state.refresh()
        assert reads == [5, 6]                    # the check, then only the new batches
        assert state.last_voters() == voters(1) and state.next_offset == 10


def test_truncation_below_a_voters_record_forgets_it(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_control(log, kraft_version(1))
        a = append_control(log, voters(1, 2, 3))
        append_data(log, 2)
        b = append_control(log, voters(1, 2, 3, 4))
        append_data(log, 2)
        assert state.last_voters() == voters(1, 2, 3, 4)
        log.truncate_to(b)
        assert state.last_voters() == voters(1, 2, 3) and state.last_voters_offset() == a
        assert state.next_offset == b
        c = append_control(log, voters(1, 2), epoch=2)
        assert state.last_voters() == voters(1, 2)
        assert state.voters_at(c - 1) == voters(1, 2, 3)


def test_truncation_and_reappend_between_refreshes_is_noticed(tmp_path):
    """The log ends at the same offset with other batches: the CRC of the last
    batch read tells the difference."""
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_control(log, kraft_version(1))
        a = append_control(log, voters(1, 2, 3))
        append_data(log, 2)
        append_control(log, voters(2, 3))
        append_data(log, 2)
        end = log.end_offset
        assert state.last_voters() == voters(2, 3)
        log.truncate_to(a + 1)
        append_data(log, end - log.end_offset - 1, epoch=2)
        d = append_control(log, voters(1, 2, 3, 5), epoch=2)
        assert log.end_offset == end
        assert state.last_voters() == voters(1, 2, 3, 5) and state.last_voters_offset() == d
        assert state.voters_at(d - 1) == voters(1, 2, 3)
        # and again, now losing every record read from the log
        log.truncate_to(0)
        append_data(log, end, epoch=3)
        assert state.last_voters() is None and state.last_kraft_version() == 0


def test_a_control_record_the_tracker_cannot_use_names_its_offset(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_data(log, 2)
        bad = log.end_offset
        log.append_as_follower(_control_batch(bad, ControlRecordType.KRAFT_VOTERS, b"\x00\x00\x05garbage"), 1)
        with pytest.raises(KRaftControlRecordError) as info:
            state.refresh()
        assert info.value.offset == bad and f"offset {bad}" in str(info.value)
        # the error stays until the log is repaired, then the state recovers
        with pytest.raises(KRaftControlRecordError):
            state.last_voters()
        log.truncate_to(bad)
        append_control(log, kraft_version(1), epoch=2)
        assert state.last_kraft_version() == 1


def _control_batch(base, record_type, value):
    return encode_batch([Record(value, key=encode_control_key(record_type))], base_offset=base,
                        partition_leader_epoch=1, timestamp=NOW, is_control=True)


def test_unsupported_kraft_version_and_voter_jumps_are_refused(tmp_path):
    with open_log(tmp_path / "a") as log:
        append_data(log, 1)
        append_control(log, kraft_version(2))
        with pytest.raises(KRaftControlRecordError) as info:
            KRaftControlState(log).refresh()
        assert info.value.offset == 1 and "kraft.version 2" in str(info.value)
    with open_log(tmp_path / "b") as log:
        append_control(log, [kraft_version(1), voters(1, 2, 3)])
        append_control(log, voters(1, 4, 5))     # two added and two removed at once
        with pytest.raises(KRaftControlRecordError) as info:
            KRaftControlState(log).last_voters()
        assert info.value.offset == 2 and "overlapping majority" in str(info.value)


# --- snapshots --------------------------------------------------------------------------------
def write_snapshot(log, snapshot_id, kraft_level, voter_set, records=(b"state",)):
    raw = log.create_new_snapshot(snapshot_id)
    writer = RecordsSnapshotWriter(raw, NOW - 1, lambda: NOW, kraft_version=kraft_level, voters=voter_set)
    writer.append(list(records))
    writer.freeze()


def test_an_installed_snapshot_seeds_the_state(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_control(log, [kraft_version(1), voters(1, 2, 3)])
        append_data(log, 20)
        assert state.last_voters() == voters(1, 2, 3)
        # a downloaded snapshot from a leader whose log moved on, then installed
        write_snapshot(log, OffsetAndEpoch(50, 3), 1, voters(1, 2, 3, 4))
        assert log.truncate_to_latest_snapshot()
        assert state.snapshot_id == OffsetAndEpoch(50, 3)
        assert state.kraft_version_at(49) == 1 and state.voters_at(49) == voters(1, 2, 3, 4)
        with pytest.raises(OffsetOutOfRangeError):
            state.voters_at(48)                # before the snapshot: unknown here
        append_data(log, 2, epoch=3)
        e = append_control(log, voters(2, 3, 4), epoch=3)
        assert state.last_voters() == voters(2, 3, 4) and state.voters_at(e - 1) == voters(1, 2, 3, 4)


def test_a_snapshot_installed_at_the_offset_already_read_replaces_the_state(tmp_path):
    with open_log(tmp_path) as log:
        state = KRaftControlState(log)
        append_control(log, [kraft_version(1), voters(1, 2, 3)])
        append_data(log, 8)
        assert state.next_offset == 10
        write_snapshot(log, OffsetAndEpoch(10, 4), 1, voters(7, 8, 9))
        assert log.truncate_to_latest_snapshot()
        assert state.last_voters() == voters(7, 8, 9) and state.last_voters_offset() == 9


def test_reopened_log_and_retention_keep_the_voters(tmp_path):
    with open_log(tmp_path, segment_bytes=61) as log:       # one batch per segment
        append_control(log, [kraft_version(1), voters(1, 2, 3)])
        append_data(log, 10)
        b = append_control(log, voters(1, 2, 3, 4))
        append_data(log, 5)
        log.update_high_watermark(log.end_offset)
        state = KRaftControlState(log)
        assert state.last_voters() == voters(1, 2, 3, 4)
        snapshot_id = OffsetAndEpoch(log.end_offset, 1)
        writer = snapshot_writer_for(state, log.create_new_snapshot_checked(snapshot_id), NOW - 5, lambda: NOW)
        writer.append([b"state"])
        writer.freeze()
        log.delete_before_snapshot(snapshot_id)    # the log start passes every batch read
        assert log.start_offset == snapshot_id.offset
        assert state.last_voters() == voters(1, 2, 3, 4) and state.snapshot_id == snapshot_id
        assert state.voters_at(snapshot_id.offset - 1) == voters(1, 2, 3, 4)
        with pytest.raises(OffsetOutOfRangeError):
            state.voters_at(b)                      # now only the snapshot says anything
    with open_log(tmp_path, segment_bytes=61) as log:
        # the last segment below the snapshot stays on disk: the reopened log starts
        # before the snapshot, which is then the state's starting point
        assert log.start_offset < snapshot_id.offset
        state = KRaftControlState(log)
        assert state.snapshot_id == snapshot_id
        assert state.last_kraft_version() == 1 and state.last_voters() == voters(1, 2, 3, 4)
        assert state.last_voters_offset() == snapshot_id.offset - 1
        append_data(log, 1)
        log.update_high_watermark(log.end_offset)
        log.delete_before_snapshot(snapshot_id)
    with open_log(tmp_path, segment_bytes=61) as log:
        assert log.start_offset == snapshot_id.offset
        state = KRaftControlState(log)
        assert state.snapshot_id == snapshot_id and state.last_voters() == voters(1, 2, 3, 4)


def test_snapshots_written_through_the_state_carry_the_voters_in_force(tmp_path):
    with open_log(tmp_path / "log") as log:
        kv = append_control(log, kraft_version(1))
        append_data(log, 3)
        a = append_control(log, voters(1, 2, 3))
        append_data(log, 10)
        b = append_control(log, voters(1, 2, 3, 4))
        append_data(log, 10)
        log.update_high_watermark(log.end_offset)
        appended = {}
        for batch in decode_batches(log.read(0, 1 << 20).records):
            for record in batch:
                appended[record.offset] = None if record.value is None else bytes(record.value)
        state = KRaftControlState(log)
        cases = {kv + 1: (1, None), a + 1: (1, a), b: (1, a), b + 1: (1, b), log.end_offset: (1, b)}
        for end, (level, voters_offset) in cases.items():
            snapshot_id = OffsetAndEpoch(end, 1)
            writer = snapshot_writer_for(state, log.create_new_snapshot_checked(snapshot_id), NOW, lambda: NOW)
            writer.freeze()
            reader = FileRawSnapshotReader.open(log.directory, snapshot_id)
            header = next(iter(reader.record_batches()))
            values = [bytes(r.value) for r in header]
            expected = [SnapshotHeaderRecord(version=0, last_contained_log_timestamp=NOW).encode(0),
                        appended[kv]] + ([] if voters_offset is None else [appended[voters_offset]])
            assert values == expected, end
            assert reader.header().kraft_version == level
            reader.close()


def test_a_snapshot_at_kraft_version_0_has_no_kraft_version_record(tmp_path):
    with open_log(tmp_path) as log:
        append_data(log, 4)
        log.update_high_watermark(4)
        writer = snapshot_writer_for(log, log.create_new_snapshot_checked(OffsetAndEpoch(4, 1)), NOW, lambda: NOW)
        writer.freeze()
        reader = log.read_snapshot(OffsetAndEpoch(4, 1))
        assert [len(list(b)) for b in reader.record_batches()] == [1, 1]
        assert reader.header().kraft_version is None and reader.header().voters is None


def test_a_voters_record_at_kraft_version_0_cannot_be_snapshotted(tmp_path):
    """Kafka's writer refuses a voter set at kraft.version 0; so does ours."""
    with open_log(tmp_path) as log:
        append_control(log, voters(1))
        log.update_high_watermark(1)
        raw = log.create_new_snapshot_checked(OffsetAndEpoch(1, 1))
        with pytest.raises(ValueError):
            snapshot_writer_for(log, raw, NOW, lambda: NOW)
        raw.close()


# --- Kafka's bytes --------------------------------------------------------------------------
# test-vectors.md §7, "Bootstrap-style empty snapshot with kraft.version 1 and a voter set":
# 00000000000000000000-0000000000.checkpoint as Kafka's RecordsSnapshotWriter wrote it.
BOOTSTRAP_CHECKPOINT = bytes.fromhex(
    "00000000000000000000009a00000000025f7f74a20020000000020000018bcfe568000000018bcfe56800ffffffffff"
    "ffffffffffffffffff000000032a00000008000000031600000000018bcfe5641800001e00000208000000050a000000"
    "010000820100000408000000066e000002000000016fcb514bb8784c9d95b78dc3a7ce6fd8020b434f4e54524f4c4c45"
    "520a6c6f63616c686f7374238500000000010000000000000000000000030000003f00000000028f6608e60020000000"
    "000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff000000011a000000080000000406000000"
    "00")


def test_bootstrap_checkpoint_seeds_the_state_and_is_reproduced_byte_for_byte(tmp_path):
    assert len(BOOTSTRAP_CHECKPOINT) == 241
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "00000000000000000000-0000000000.checkpoint").write_bytes(BOOTSTRAP_CHECKPOINT)
    with open_log(log_dir) as log:
        state = KRaftControlState(log)
        assert state.snapshot_id == OffsetAndEpoch(0, 0)
        assert state.kraft_version_at(-1) == 1
        bootstrap_voters = state.voters_at(-1)
        assert [v.voter_id for v in bootstrap_voters.voters] == [1]
        assert state.last_voters_offset() == -1
        # the voter set of a bootstrap checkpoint may be replaced wholesale
        append_control(log, voters(5, 6, 7))
        assert state.last_voters() == voters(5, 6, 7)
        log.truncate_to(0)
        other = tmp_path / "copy"
        other.mkdir()
        raw = FileRawSnapshotWriter.create(other, OffsetAndEpoch(0, 0))
        snapshot_writer_for(state, raw, 1_699_999_999_000, lambda: NOW).freeze()
    assert (other / "00000000000000000000-0000000000.checkpoint").read_bytes() == BOOTSTRAP_CHECKPOINT


KAFKA_APPENDS = [2, 2, 1, 2, 1, 1]     # how the vector generator appended (see test_storage_snapshots)


@pytest.mark.parametrize("kraft_level", [0, 1])
def test_kafkas_snapshots_reproduced_from_a_log_holding_their_control_records(tmp_path, kraft_level):
    case = next(c for c in load_jsonl("kafka-3.9/files.jsonl")
                if c["file_name"].endswith(".checkpoint") and c["params"]["kraft_version"] == kraft_level)
    p = case["params"]
    end, epoch = p["snapshot_end_offset"], p["snapshot_epoch"]
    with open_log(tmp_path / "log") as log:
        if kraft_level:
            kafka_voters = VotersRecord.from_json(p["voters_record"], 0)
            append_control(log, [kraft_version(1), kafka_voters], epoch=epoch)
        while log.end_offset < end:
            append_data(log, min(7, end - log.end_offset), epoch=epoch)
        log.update_high_watermark(end)
        snapshot_id = OffsetAndEpoch(end, epoch)
        writer = snapshot_writer_for(log, log.create_new_snapshot_checked(snapshot_id),
                                     p["last_contained_log_timestamp"], lambda: p["clock_ms"],
                                     max_batch_size=p["max_batch_size"])
        values = [v.encode() for v in p["appended_user_records_utf8"]]
        i = 0
        for n in KAFKA_APPENDS:
            writer.append(values[i:i + n])
            i += n
        writer.freeze()
        assert (log.directory / case["file_name"]).read_bytes().hex() == case["hex"]


def test_voters_record_is_written_in_kafkas_voter_set_order():
    """Kafka rewrites a Voters record from its VoterSet (HashMaps of voters
    and of listeners); fed Kafka's record in another order we write Kafka's."""
    case = next(c for c in load_jsonl("kafka-3.9/files.jsonl")
                if c["file_name"].endswith(".checkpoint") and c["params"]["kraft_version"] == 1)
    kafka_bytes = bytes.fromhex(case["params"]["batches"][0]["record_values_hex"][2])   # as Kafka wrote it
    shuffled = VotersRecord.decode(kafka_bytes, 0)
    shuffled.voters.reverse()
    for voter in shuffled.voters:
        voter.endpoints.reverse()
        for endpoint in voter.endpoints:
            endpoint.name = endpoint.name.lower()
    assert shuffled.encode(0) != kafka_bytes
    assert kafka_voters_record(shuffled).encode(0) == kafka_bytes
    assert kafka_voters_record(VotersRecord.decode(kafka_bytes, 0)).encode(0) == kafka_bytes


def test_voters_order_follows_java_hash_map_buckets():
    """Ids that share a bucket keep insertion order; the table grows as Java's
    (65536 + 1 spreads to bucket 0 of 8, after 1 and before 3)."""
    record = kafka_voters_record(voters(100, 3, 65537, 17, 1))
    # HashMap(5): 8 buckets; 100 -> 4, 3 -> 3, 65537 -> (65537 ^ 1) & 7 = 0, 17 -> 1, 1 -> 1
    assert [v.voter_id for v in record.voters] == [65537, 17, 1, 3, 100]
    # nine ids in one bucket of 16 make Java grow the table instead of building a tree bin
    ids = [16 * k for k in range(9)]
    record = kafka_voters_record(voters(*ids))
    assert [v.voter_id for v in record.voters] == [0, 32, 64, 96, 128, 16, 48, 80, 112]


# --- model check: random appends, truncations and refreshes --------------------------------
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("data"), st.integers(1, 4)),
    st.tuples(st.just("kraft_version"), st.integers(0, 1)),
    st.tuples(st.just("voters"), st.integers(1, 9)),
    st.tuples(st.just("truncate"), st.integers(0, 12)),
    st.tuples(st.just("check"), st.just(0)),
), max_size=30)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_state_follows_a_model_of_the_log(tmp_path_factory, operations):
    """Whenever it is asked, the state says what the control records appended
    (and not truncated) say, refreshed incrementally or built afresh."""
    kraft_history, voter_history = [], []
    epoch = 1
    with open_log(tmp_path_factory.mktemp("log"), segment_bytes=300) as log:
        state = KRaftControlState(log)
        for op, arg in operations:
            if op == "data":
                append_data(log, arg, epoch)
            elif op == "kraft_version":
                kraft_history.append((append_control(log, kraft_version(arg), epoch), arg))
            elif op == "voters":
                current = expected_at(voter_history, log.end_offset, None)
                ids = {1, 2, 3} if current is None else {v.voter_id for v in current.voters}
                ids ^= {arg}                       # add or remove one voter
                new = voters(*sorted(ids))
                voter_history.append((append_control(log, new, epoch), new))
            elif op == "truncate":
                end = max(0, log.end_offset - arg)
                log.truncate_to(end)
                end = log.end_offset                 # whole batches go
                kraft_history = [(o, v) for o, v in kraft_history if o < end]
                voter_history = [(o, v) for o, v in voter_history if o < end]
                epoch += 1
            else:
                assert_matches(state, log, kraft_history, voter_history)
        assert_matches(state, log, kraft_history, voter_history)
        assert_matches(KRaftControlState(log), log, kraft_history, voter_history)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record_type=st.sampled_from([ControlRecordType.KRAFT_VERSION, ControlRecordType.KRAFT_VOTERS]),
       value=st.one_of(st.binary(max_size=60),
                       st.builds(lambda n, cut: voters(*range(1, n + 1)).encode(0)[:cut],
                                 st.integers(0, 4), st.integers(0, 200))))
def test_random_control_record_values_are_read_or_refused_by_offset(tmp_path_factory, record_type, value):
    with open_log(tmp_path_factory.mktemp("log")) as log:
        append_data(log, 2)
        log.append_as_follower(_control_batch(2, record_type, value), 1)
        state = KRaftControlState(log)
        try:
            state.refresh()
        except KRaftControlRecordError as e:
            assert e.offset == 2
            return
        if record_type is ControlRecordType.KRAFT_VERSION:
            assert state.kraft_version_at(2) == KRaftVersionRecord.decode(value, 0).kraft_version
            assert state.kraft_version_at(1) == 0
        else:
            assert state.voters_at(2) == VotersRecord.decode(value, 0) and state.voters_at(1) is None
