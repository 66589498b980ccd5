"""A log that holds its voter set (a quorum formatted with kraft.version 1): the node takes its
voters from the log, writes quorum-state at data_version 1, and its snapshots carry the
KRaftVersion and Voters records in force at their end."""
from __future__ import annotations

import json
import random

from kraft.core.effects import PersistElection
from kraft.core.log import OffsetAndEpoch
from kraft.protocol.messages import KRaftVersionRecord, VotersRecord
from kraft.protocol.uuid import Uuid
from kraft.records import decode_batches, encode_batch
from kraft.records.control import ControlRecordType, decode_control_key, decode_control_value, \
    encode_control_batch
from kraft.server.config import ServerConfig
from kraft.server.driver import ElectionStore, build_client
from kraft.storage import FileReplicatedLog, LogConfig
from kraft.storage.quorum_state import QuorumStateStore

NOW = 1_700_000_000_000
DIRECTORY = Uuid(bytes([7]) * 16)


def voters_record(ids, host="10.0.0.1"):
    return VotersRecord(version=0, voters=[
        VotersRecord.Voter(
            voter_id=i, voter_directory_id=Uuid(bytes([i]) * 16),
            endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host=host, port=9000 + i)],
            kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0,
                                                                   max_supported_version=1))
        for i in ids])


def persist_first_election(client, store):
    """Start the node and write the election state it asks for, as the driver would."""
    (election,) = [e.election for e in client.start(NOW).effects if isinstance(e, PersistElection)]
    store.write_election_state(election)


def server_config(tmp_path):
    return ServerConfig.from_properties({
        "node.id": "1", "listeners": "CONTROLLER://127.0.0.1:9001", "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": "1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003",
        "log.dirs": str(tmp_path / "logs")})


def test_the_logs_voter_set_replaces_the_static_one_and_snapshots_carry_it(tmp_path):
    log = FileReplicatedLog.open(tmp_path / "p-0", LogConfig(), time_ms=lambda: NOW)
    first = voters_record([1, 4, 5])
    log.append_as_follower(encode_control_batch(
        [KRaftVersionRecord(version=0, kraft_version=1), first], base_offset=0, partition_leader_epoch=1,
        timestamp=NOW), 1)
    log.append_as_follower(encode_batch([b"a", b"b"], base_offset=2, partition_leader_epoch=1, timestamp=NOW), 1)
    second = voters_record([1, 4, 6])
    log.append_as_follower(encode_control_batch([second], base_offset=4, partition_leader_epoch=1, timestamp=NOW), 1)
    log.append_as_follower(encode_batch([b"c"], base_offset=5, partition_leader_epoch=1, timestamp=NOW), 1)
    log.update_high_watermark(6)

    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2, 3}))
    client = build_client(server_config(tmp_path), DIRECTORY, log, store, random.Random(1), clock=lambda: NOW)
    node = client.node
    assert sorted(node.voters.ids) == [1, 4, 6]  # the latest record, not controller.quorum.voters
    assert node.voters.key_of(6).directory_id == Uuid(bytes([6]) * 16)
    assert node.voters.endpoints(4).address("CONTROLLER").host == "10.0.0.1"
    persist_first_election(client, store)
    stored = json.loads((tmp_path / "quorum-state").read_text())
    assert stored["data_version"] == 1 and "currentVoters" not in stored

    def header_records(snapshot_id):
        reader = log.read_snapshot(snapshot_id)
        header = next(iter(decode_batches(reader.records())))
        return [(decode_control_key(r.key).type, bytes(r.value)) for r in header]

    for end, expected in ((4, first), (6, second)):
        writer = client.create_snapshot(OffsetAndEpoch(end, 1), NOW)
        writer.append([b"state"])
        writer.freeze()
        writer.close()
        records = header_records(OffsetAndEpoch(end, 1))
        types = [key for key, _ in records]
        assert types == [ControlRecordType.SNAPSHOT_HEADER, ControlRecordType.KRAFT_VERSION,
                         ControlRecordType.KRAFT_VOTERS]
        assert decode_control_value(ControlRecordType.KRAFT_VERSION, records[1][1]).kraft_version == 1
        got = decode_control_value(ControlRecordType.KRAFT_VOTERS, records[2][1])
        assert sorted(v.voter_id for v in got.voters) == sorted(v.voter_id for v in expected.voters)
    log.close()


def test_a_log_without_voters_keeps_the_static_set_and_plain_snapshots(tmp_path):
    log = FileReplicatedLog.open(tmp_path / "p-0", LogConfig(), time_ms=lambda: NOW)
    log.append_as_follower(encode_batch([b"a"], base_offset=0, partition_leader_epoch=1, timestamp=NOW), 1)
    log.update_high_watermark(1)
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2, 3}))
    client = build_client(server_config(tmp_path), DIRECTORY, log, store, random.Random(1), clock=lambda: NOW)
    assert sorted(client.node.voters.ids) == [1, 2, 3]
    persist_first_election(client, store)
    assert json.loads((tmp_path / "quorum-state").read_text())["data_version"] == 0
    writer = client.create_snapshot(OffsetAndEpoch(1, 1), NOW)
    writer.append([b"state"])
    writer.freeze()
    writer.close()
    header = next(iter(decode_batches(log.read_snapshot(OffsetAndEpoch(1, 1)).records())))
    assert [decode_control_key(r.key).type for r in header] == [ControlRecordType.SNAPSHOT_HEADER]
    log.close()
