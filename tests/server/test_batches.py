"""Leader batches as Kafka writes them, and reading committed batches back from a log on disk."""
from __future__ import annotations

from conftest import load_jsonl
from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.records import Record, decode_batches, encode_batch
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.storage.replicated_log import FileReplicatedLog


def test_leader_change_batch_is_kafkas_bytes():
    vector = next(v for v in load_jsonl("records.jsonl") if v.get("name") == "control-leader-change")
    p = vector["params"]
    fields = p["message_fields"]
    batch = LeaderBatch(base_offset=p["base_offset"], epoch=p["partition_leader_epoch"],
                        append_time_ms=p["timestamp"], control=LeaderChangeMessage(
                            leader_id=fields["leaderId"], voters=tuple(v["voterId"] for v in fields["voters"]),
                            granting_voters=tuple(v["voterId"] for v in fields["grantingVoters"])))
    assert encode_leader_batch(batch).hex() == vector["hex"]


def test_data_batch_layout():
    batch = LeaderBatch(base_offset=7, epoch=3, append_time_ms=1_700_000_000_000, records=(b"a" * 256, b"b"))
    [decoded] = list(decode_batches(encode_leader_batch(batch)))
    assert (decoded.base_offset, decoded.last_offset, decoded.partition_leader_epoch) == (7, 8, 3)
    assert not decoded.is_control and decoded.compression == "none" and decoded.producer_id == -1
    assert [bytes(r.value) for r in decoded] == [b"a" * 256, b"b"]
    assert [r.key for r in decoded] == [None, None]
    assert decoded.max_timestamp == 1_700_000_000_000


def test_read_committed_batches_from_disk(tmp_path):
    log = FileReplicatedLog.open(tmp_path / "p-0")
    try:
        batches = [
            LeaderBatch(0, 1, 1000, control=LeaderChangeMessage(1, (1,), (1,))),
            LeaderBatch(1, 1, 1001, records=(b"x", b"y", b"z")),
            LeaderBatch(4, 1, 1002, records=(b"w",)),
        ]
        for b in batches:
            log.append_as_leader(encode_leader_batch(b), 1)
        everything = read_committed_batches(log, 0, 5)
        assert [(b.base_offset, b.last_offset, b.epoch) for b in everything] == [(0, 0, 1), (1, 3, 1), (4, 4, 1)]
        assert everything[0].records == () and everything[1].records == (b"x", b"y", b"z")
        # Only batches wholly below the end offset... and starting from the batch holding the start.
        assert [b.base_offset for b in read_committed_batches(log, 2, 4)] == [1]
        assert read_committed_batches(log, 5, 5) == []
    finally:
        log.close()


def test_committed_values_outlive_the_log_and_null_values_read_as_empty(tmp_path):
    log = FileReplicatedLog.open(tmp_path / "p-0")
    log.append_as_leader(encode_batch([Record(b"kept"), Record(None)], base_offset=0, partition_leader_epoch=1,
                                      timestamp=5), 1)
    [batch] = read_committed_batches(log, 0, 2)
    log.close()  # the values do not depend on the log's files or mappings
    assert [bytes(v) for v in batch.records] == [b"kept", b""]
