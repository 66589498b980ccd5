"""Corruption the batch CRC cannot see: the partition leader epoch of a batch on disk.

Kafka's batch CRC starts after the partition-leader-epoch field, so an epoch changed on disk
passes the CRC check. Opening the log treats as corrupt (cut at the last good batch, one
ERROR line naming file, offset and why): an epoch above the one in ``quorum-state``, epochs
that go down along the log, and epochs that disagree with ``leader-epoch-checkpoint``.
Every test here changes real files with the CRC left as it was.
"""
import logging
import struct

import pytest

from batchgen import build_batch
from kraft._native.segment import scan_batches
from kraft.storage import FileReplicatedLog, LogConfig
from kraft.storage.quorum_state import ElectionState, QuorumStateStore

EPOCH_POS = 12   # base offset (8) + batch length (4)


def build_log(path, epochs, quorum_epoch, records_per_batch=3, segment_bytes=1 << 30):
    """A log with one batch per entry of ``epochs``; returns each batch's (position, base offset)."""
    log = FileReplicatedLog.open(path, LogConfig(segment_bytes=segment_bytes))
    for epoch in epochs:
        log.initialize_leader_epoch(epoch)
        log.append_as_leader(build_batch([b"v%d" % i for i in range(records_per_batch)], epoch=epoch), epoch)
    log.close()
    if quorum_epoch is not None:
        QuorumStateStore(path / "quorum-state").write_election_state(ElectionState(quorum_epoch, leader_id=1))
    return batch_positions(path)


def batch_positions(path):
    out = []
    for segment in sorted(path.glob("*.log")):
        data = segment.read_bytes()
        pos = 0
        while pos < len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            out.append((segment, pos, base))
            pos += 12 + length
    return out


def set_epoch(segment, position, epoch):
    """Overwrite a batch's partition leader epoch in place; its CRC is left as it was."""
    with open(segment, "r+b") as f:
        f.seek(position + EPOCH_POS)
        old = struct.unpack(">i", f.read(4))[0]
        f.seek(position + EPOCH_POS)
        f.write(struct.pack(">i", epoch))
    return old


def errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_crc_does_not_cover_the_epoch(tmp_path):
    # the premise: a changed epoch passes Kafka's CRC check
    positions = build_log(tmp_path, [1, 1, 2], quorum_epoch=2)
    segment, pos, _ = positions[-1]
    set_epoch(segment, pos, 1002)
    assert scan_batches(segment.read_bytes()).error is None


def test_epoch_above_quorum_state_is_cut_off(tmp_path, caplog):
    positions = build_log(tmp_path, [1, 1, 2, 3, 3], quorum_epoch=3)
    segment, pos, base = positions[-1]
    old = set_epoch(segment, pos, 3 + 1000)
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert old == 3
        assert log.end_offset == base
        assert log.last_fetched_epoch() == 3
        assert log._epochs.entries() == [(1, 0), (2, 6), (3, 9)]
    [line] = errors(caplog)
    assert str(segment) in line and f"offset {base}" in line and "above the quorum-state epoch 3" in line
    # the cut is on disk: the file now ends at the last good batch
    assert segment.stat().st_size == pos


def test_epoch_going_down_is_cut_off(tmp_path, caplog):
    positions = build_log(tmp_path, [1, 2, 3, 3], quorum_epoch=3)
    segment, pos, base = positions[-1]
    set_epoch(segment, pos, 2)            # lowered by one: CRC still fine, epochs now 1 2 3 2
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == base
        assert log.last_fetched_epoch() == 3
    [line] = errors(caplog)
    assert str(segment) in line and f"offset {base}" in line and "below epoch 3" in line


def test_epoch_disagreeing_with_the_checkpoint_is_cut_off(tmp_path, caplog):
    # the only batch of epoch 3 lowered to 2: monotonic and below quorum-state, but the
    # checkpoint says epoch 3 starts there
    positions = build_log(tmp_path, [1, 2, 2, 3], quorum_epoch=3)
    segment, pos, base = positions[-1]
    set_epoch(segment, pos, 2)
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == base
        assert log.last_fetched_epoch() == 2
        assert log.read(base - 3, 1 << 20).records.nbytes > 0
    [line] = errors(caplog)
    assert str(segment) in line and f"offset {base}" in line and "leader-epoch-checkpoint" in line
    # the checkpoint is rewritten from what was kept, and the next open is quiet
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        FileReplicatedLog.open(tmp_path).close()
    assert errors(caplog) == []


def test_raised_epoch_within_the_quorum_epoch_is_caught_by_the_checkpoint(tmp_path, caplog):
    positions = build_log(tmp_path, [1, 2, 2, 3, 3], quorum_epoch=5)
    segment, pos, base = positions[2]     # the last batch of epoch 2 claims epoch 3
    set_epoch(segment, pos, 3)
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == base
        assert log._epochs.entries() == [(1, 0), (2, 3)]
    assert len(errors(caplog)) == 1


def test_cut_in_an_earlier_segment_drops_the_later_ones(tmp_path, caplog):
    positions = build_log(tmp_path, [1, 2, 3, 4, 5, 6], quorum_epoch=6, segment_bytes=150)
    segments = sorted({p[0] for p in positions})
    assert len(segments) >= 3
    segment, pos, base = [p for p in positions if p[0] == segments[1]][0]
    set_epoch(segment, pos, 9)
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == base
        assert len(log.segments) == 2
    assert any("above the quorum-state epoch 6" in line for line in errors(caplog))


def test_an_untouched_log_opens_whole_and_quietly(tmp_path, caplog):
    positions = build_log(tmp_path, [1, 1, 2, 3, 3], quorum_epoch=3)
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == positions[-1][2] + 3
        # a truncation, then more appends in a new epoch, then a reopen: still consistent
        log.truncate_to(6)
        log.initialize_leader_epoch(4)
        log.append_as_leader(build_batch([b"x"], epoch=4), 4)
    QuorumStateStore(tmp_path / "quorum-state").write_election_state(ElectionState(4, leader_id=1))
    with FileReplicatedLog.open(tmp_path) as log:
        assert log.end_offset == 7
        assert log._epochs.entries() == [(1, 0), (4, 6)]
    assert errors(caplog) == []


@pytest.mark.parametrize("missing", ["quorum-state", "leader-epoch-checkpoint"])
def test_other_checks_still_hold_without_one_of_the_files(tmp_path, caplog, missing):
    positions = build_log(tmp_path, [1, 2, 3], quorum_epoch=3)
    (tmp_path / missing).unlink()
    segment, pos, base = positions[-1]
    set_epoch(segment, pos, 1)            # goes down: caught whatever file is missing
    with caplog.at_level(logging.WARNING):
        log = FileReplicatedLog.open(tmp_path)
    with log:
        assert log.end_offset == base
    assert len(errors(caplog)) == 1
