"""A partition directory written by kraft's storage layer for the dump-log comparisons.

Segments with data batches (keys, headers, lz4, one log-append-time batch),
LeaderChange, KRaftVersion and Voters control batches, rolled small so that
there are several segments with index entries, and a snapshot (kraft.version
1, with its Voters record) written by ``RecordsSnapshotWriter``.
"""
from __future__ import annotations

from pathlib import Path

from kraft.protocol.messages import KRaftVersionRecord, LeaderChangeMessage, VotersRecord
from kraft.protocol.uuid import Uuid
from kraft.records import Record, encode_batch
from kraft.records.control import encode_control_batch
from kraft.storage import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import FileRawSnapshotWriter, RecordsSnapshotWriter
from kraft.core.log import OffsetAndEpoch

T0 = 1_767_225_600_000   # fixed timestamps: the files are the same on every run


def _voters() -> VotersRecord:
    return VotersRecord(version=0, voters=[
        VotersRecord.Voter(voter_id=i, voter_directory_id=Uuid.from_string(f"AAAAAAAAAAAAAAAAAAAAA{c}"),
                           endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host="127.0.0.1", port=9090 + i)],
                           kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0,
                                                                                   max_supported_version=1))
        for i, c in ((1, "Q"), (2, "g"), (3, "w"))])


def write_partition(directory: Path) -> Path:
    """Write the partition into ``directory`` (created); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    clock = iter(range(T0, T0 + 10_000_000, 7))
    log = FileReplicatedLog.open(directory, LogConfig(segment_bytes=4096, index_interval_bytes=700),
                                 time_ms=lambda: next(clock))
    try:
        offset = 0
        for epoch in (1, 2):
            log.append_as_leader(encode_control_batch(
                LeaderChangeMessage(version=0, leader_id=epoch, voters=[LeaderChangeMessage.Voter(voter_id=v) for v in (1, 2, 3)],
                                    granting_voters=[LeaderChangeMessage.Voter(voter_id=v) for v in (epoch, 3)]),
                base_offset=offset, partition_leader_epoch=epoch, timestamp=T0 + offset), epoch)
            offset += 1
            if epoch == 1:
                log.append_as_leader(encode_control_batch(
                    [KRaftVersionRecord(version=0, kraft_version=1), _voters()],
                    base_offset=offset, partition_leader_epoch=epoch, timestamp=T0 + offset), epoch)
                offset += 2
            for i in range(12):
                if i % 4 == 0:
                    records = [Record(f"value-{offset + j} é".encode(), key=f"key-{j}".encode(),
                                      headers=[("h1", b"x"), ("h2", None)], timestamp=T0 + offset + j)
                               for j in range(5)]
                    raw = encode_batch(records, base_offset=offset, partition_leader_epoch=epoch,
                                       compression="lz4")
                    count = 5
                elif i % 4 == 1:
                    raw = encode_batch([Record(b"x" * 300)], base_offset=offset, partition_leader_epoch=epoch,
                                       timestamp=T0 + offset, log_append_time=T0 + offset + 1)
                    count = 1
                else:
                    values = [f"record {offset + j} of epoch {epoch}".encode() * 4 for j in range(8)]
                    raw = encode_batch(values, base_offset=offset, partition_leader_epoch=epoch,
                                       timestamp=T0 + offset)
                    count = 8
                log.append_as_leader(raw, epoch)
                offset += count
        log.update_high_watermark(log.end_offset)
        log.flush(True)
        writer = RecordsSnapshotWriter(FileRawSnapshotWriter.create(directory, OffsetAndEpoch(offset, 2)),
                                       T0 + offset, lambda: T0 + 99, kraft_version=1, voters=_voters())
        writer.append([b"state 1", b"state 2"])
        writer.append([b"state 3"])
        writer.freeze()
        writer.close()
    finally:
        log.close()
    return directory

