"""Control-record payloads and QuorumStateData against Kafka's golden bytes."""
import json

import pytest
from conftest import load_jsonl

from kraft.protocol import UnsupportedVersionError, messages
from kraft.protocol.messages import LeaderChangeMessage, QuorumStateData, VotersRecord
from kraft.protocol.uuid import Uuid


def _control_cases():
    return [r["params"] for r in load_jsonl("records.jsonl")
            if r.get("type") == "batch" and "message" in r.get("params", {})]


def test_every_control_record_kind_is_covered():
    names = {p["message"] for p in _control_cases()}
    assert names == {"LeaderChangeMessage", "SnapshotHeaderRecord", "SnapshotFooterRecord",
                     "KRaftVersionRecord", "VotersRecord"}


@pytest.mark.parametrize("index", range(5))
def test_control_record_bytes_and_json(index):
    params = _control_cases()[index]
    cls = getattr(messages, params["message"])
    version = params["message_version"]
    raw = bytes.fromhex(params["message_hex"])
    decoded = cls.decode(raw, version)
    assert decoded.to_json(version) == params["message_fields"]
    assert decoded.encode(version) == raw
    rebuilt = cls.from_json(params["message_fields"], version)
    assert rebuilt == decoded
    assert rebuilt.encode(version) == raw


def _quorum_state_files():
    return [r for r in load_jsonl("files.jsonl") if r["file_name"] == "quorum-state"]


def test_quorum_state_files_round_trip_through_json_form():
    files = _quorum_state_files()
    assert len(files) == 8
    for entry in files:
        content = json.loads(bytes.fromhex(entry["hex"]))
        data_version = content.pop("data_version")
        state = QuorumStateData.from_json(content, data_version)
        assert state.leader_epoch == entry["params"]["epoch"]
        assert state.voted_id == entry["params"]["voted_id"]
        text = json.dumps(dict(state.to_json(data_version), data_version=data_version),
                          separators=(",", ":"))
        assert text.encode() == bytes.fromhex(entry["hex"])


def test_construction_defaults_equality_and_nested_types():
    msg = LeaderChangeMessage(version=0, leader_id=1,
                              voters=[LeaderChangeMessage.Voter(voter_id=1)],
                              granting_voters=[LeaderChangeMessage.Voter(voter_id=1)])
    assert msg.voters[0].voter_directory_id == Uuid.ZERO
    assert msg == LeaderChangeMessage.decode(msg.encode(0), 0)
    assert msg != LeaderChangeMessage(version=0, leader_id=2)
    assert "leader_id=1" in repr(msg)
    state = QuorumStateData()
    assert (state.leader_id, state.leader_epoch, state.voted_id) == (-1, -1, -1)
    assert state.current_voters == [] and state.voted_directory_id == Uuid.ZERO
    voter = VotersRecord.Voter(voter_id=3, endpoints=[VotersRecord.Endpoint(name="C", host="h", port=9093)])
    assert voter.kraft_version_feature == VotersRecord.KRaftVersionFeature()
    with pytest.raises(TypeError):
        LeaderChangeMessage(no_such_field=1)


def test_leader_change_v1_carries_directory_ids_and_v0_drops_nothing_silently():
    directory = Uuid.random()
    msg = LeaderChangeMessage(leader_id=1, voters=[LeaderChangeMessage.Voter(voter_id=1, voter_directory_id=directory)])
    assert LeaderChangeMessage.decode(msg.encode(1), 1).voters[0].voter_directory_id == directory
    with pytest.raises(UnsupportedVersionError):
        msg.encode(0)
