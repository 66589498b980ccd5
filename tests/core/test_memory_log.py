"""MemoryLog follows Kafka's KafkaMetadataLog / LeaderEpochFileCache where the core can tell."""
from kraft.core.log import OffsetAndEpoch, ValidationKind
from kraft.core.memory import LeaderBatch, MemoryLog, encode_batch


def log_with(*epochs):
    """One one-record batch per epoch given, appended as leader."""
    log = MemoryLog()
    for i, epoch in enumerate(epochs):
        log.append_as_leader(encode_batch(LeaderBatch(i, epoch, 0, (b"x%d" % i,))), epoch)
    return log


def test_validating_offset_zero_of_a_log_from_zero_answers_zero_zero():
    log = log_with(1, 1)
    assert log.validate_offset_and_epoch(0, 5).offset_and_epoch == OffsetAndEpoch(0, 0)
    assert log.validate_offset_and_epoch(0, 5).kind is ValidationKind.VALID


def test_an_epoch_below_the_first_known_ends_where_the_known_epochs_begin():
    log = log_with(3, 3, 4)
    assert log.end_offset_for_epoch(1) == OffsetAndEpoch(0, 1)
    assert log.end_offset_for_epoch(3) == OffsetAndEpoch(2, 3)
    assert log.end_offset_for_epoch(4) == OffsetAndEpoch(3, 4)
    assert log.end_offset_for_epoch(9) == OffsetAndEpoch(3, 4)  # above all: the log end and last epoch
    assert MemoryLog().end_offset_for_epoch(2) == OffsetAndEpoch(0, 0)


def test_a_follower_of_an_older_epoch_is_told_to_truncate_to_where_the_leaders_epochs_begin():
    leader = log_with(2, 2, 2)
    answer = leader.validate_offset_and_epoch(1, 1)
    assert answer.kind is ValidationKind.DIVERGING and answer.offset_and_epoch == OffsetAndEpoch(0, 1)
    follower = log_with(1)
    assert follower.truncate_to_end_offset(answer.offset_and_epoch) == 0 and follower.end_offset == 0


def test_the_earliest_snapshot_stands_for_epochs_older_than_the_log():
    log = log_with(1, 2, 2, 3)
    log.update_high_watermark(4)
    writer = log.create_new_snapshot(OffsetAndEpoch(2, 2))
    writer.freeze()
    assert log.delete_before_snapshot(OffsetAndEpoch(2, 2))
    assert log.end_offset_for_epoch(2) == OffsetAndEpoch(3, 2)
    assert log.end_offset_for_epoch(1) == OffsetAndEpoch(2, 2)  # Kafka substitutes the snapshot id
    assert log.validate_offset_and_epoch(2, 1).kind is ValidationKind.SNAPSHOT


def test_a_started_epoch_without_batches_is_the_last_fetched_epoch():
    log = log_with(1)
    log.initialize_leader_epoch(4)
    assert log.last_fetched_epoch() == 4
    assert log.end_offset_for_epoch(4) == OffsetAndEpoch(1, 4)
    log.initialize_leader_epoch(5)  # a higher epoch at the same offset replaces it
    assert log.end_offset_for_epoch(4) == OffsetAndEpoch(1, 1)
    assert log.last_fetched_epoch() == 5


def test_append_as_leader_assigns_offsets_from_the_log_end():
    log = log_with(1)
    info = log.append_as_leader(encode_batch(LeaderBatch(100, 1, 0, (b"a", b"b"))), 2)
    assert (info.first_offset, info.last_offset, log.end_offset) == (1, 2, 3)
    (stored,) = [b for b in log.read_all() if b.base_offset == 1]
    assert (stored.last_offset, stored.epoch, stored.records) == (2, 2, (b"a", b"b"))


def test_the_log_before_a_snapshot_beyond_the_high_watermark_is_kept():
    """As KafkaMetadataLog: deleting before a snapshot needs the high watermark to have reached it."""
    log = log_with(1, 1, 1, 1)
    log.update_high_watermark(2)
    for sid in (OffsetAndEpoch(2, 1), OffsetAndEpoch(3, 1)):
        log.create_new_snapshot(sid).freeze()
    assert not log.delete_before_snapshot(OffsetAndEpoch(3, 1))
    assert log.start_offset == 0 and log.earliest_snapshot_id() == OffsetAndEpoch(2, 1)
    assert log.delete_before_snapshot(OffsetAndEpoch(2, 1)) and log.start_offset == 2
    assert not log.delete_before_snapshot(OffsetAndEpoch(2, 1))  # nothing left before it
    log.update_high_watermark(3)
    assert log.delete_before_snapshot(OffsetAndEpoch(3, 1)) and log.start_offset == 3
    assert log.earliest_snapshot_id() == log.latest_snapshot_id() == OffsetAndEpoch(3, 1)
