"""quorum-state: Kafka's bytes for data_version 0 and 1, read back, errors, atomicity."""
import json

import pytest
from hypothesis import given, strategies as st

from conftest import load_jsonl
from kraft.protocol.uuid import Uuid
from kraft.core.types import ReplicaKey
from kraft.storage import ElectionState, QuorumStateError, QuorumStateStore
from kraft.storage.quorum_state import from_json, to_json


def _quorum_vectors(name):
    return [v for v in load_jsonl(name) if v["file_name"] == "quorum-state"]


def _state_from_params(p):
    directory = p["voted_directory_id"]
    return ElectionState(
        epoch=p["epoch"],
        leader_id=None if p["leader_id"] < 0 else p["leader_id"],
        voted_key=None if p["voted_id"] < 0 else ReplicaKey.of(
            p["voted_id"], None if directory is None else Uuid.from_string(directory)),
        voters=frozenset(p["voters"]),
    )


@pytest.mark.parametrize("vectors", ["files.jsonl", "kafka-3.9/files.jsonl"])
def test_writes_kafkas_bytes(tmp_path, vectors):
    cases = _quorum_vectors(vectors)
    assert len(cases) == 8
    for case in cases:
        p = case["params"]
        store = QuorumStateStore(tmp_path / "quorum-state")
        store.write_election_state(_state_from_params(p), kraft_version=p["kraft_version"])
        data = (tmp_path / "quorum-state").read_bytes()
        assert data.hex() == case["hex"], p["case"]
        assert len(data) == case["size"]
        assert not (tmp_path / "quorum-state.tmp").exists()


@pytest.mark.parametrize("vectors", ["files.jsonl", "kafka-3.9/files.jsonl"])
def test_reads_kafkas_files(tmp_path, vectors):
    for case in _quorum_vectors(vectors):
        p = case["params"]
        path = tmp_path / "quorum-state"
        path.write_bytes(bytes.fromhex(case["hex"]))
        state = QuorumStateStore(path).read_election_state()
        assert state.epoch == p["epoch"]
        assert state.leader_id == (None if p["leader_id"] < 0 else p["leader_id"])
        assert state.voted_id == (None if p["voted_id"] < 0 else p["voted_id"])
        # data_version 0 does not store the directory id; version 1 does
        expected_dir = p["voted_directory_id"] if p["data_version"] == 1 else None
        assert (None if state.voted_directory_id is None else str(state.voted_directory_id)) == expected_dir
        expected_voters = set(p["voters"]) if p["data_version"] == 0 else set()
        assert state.voters == expected_voters
        if expected_dir is not None:
            assert f"directoryId=Optional[{expected_dir}]" in p["read_back"]


def test_missing_file_reads_as_none(tmp_path):
    assert QuorumStateStore(tmp_path / "quorum-state").read_election_state() is None


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not JSON"),
    (b"", "empty"),
    (b"[1,2]", "not a JSON object"),
    (b'{"leaderId":1,"leaderEpoch":7,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA"}', "data_version"),
    (b'{"leaderId":1,"leaderEpoch":7,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":2}', "data_version (2)"),
    (b'{"leaderId":1,"leaderEpoch":7,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":-1}', "data_version (-1)"),
    (b'{"leaderId":1,"leaderEpoch":7,"votedId":-1,"data_version":1}', "votedDirectoryId"),
    (b'{"clusterId":"","leaderId":1,"leaderEpoch":7,"votedId":-1,"appliedOffset":0,"data_version":0}', "currentVoters"),
    (b'{"leaderId":"x","leaderEpoch":7,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}', "leaderId"),
    (b'{"leaderId":-1,"leaderEpoch":-3,"votedId":2,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}', "negative"),
    (b"\xff\xfe", "invalid"),
])
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "quorum-state"
    path.write_bytes(content)
    with pytest.raises(QuorumStateError) as info:
        QuorumStateStore(path).read_election_state()
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_only_the_first_line_is_read(tmp_path):
    path = tmp_path / "quorum-state"
    line = to_json(ElectionState(4, leader_id=2), 1)
    path.write_text(line + "\ngarbage")
    assert QuorumStateStore(path).read_election_state() == ElectionState(4, leader_id=2)


def test_write_replaces_atomically_and_clear(tmp_path):
    store = QuorumStateStore(tmp_path / "quorum-state")
    store.write_election_state(ElectionState(1, voted_key=ReplicaKey(3), voters={1, 2, 3}), 0)
    store.write_election_state(ElectionState(2, leader_id=1, voters={1, 2, 3}), 0)
    assert store.read_election_state() == ElectionState(2, leader_id=1, voters={1, 2, 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quorum-state"]
    store.clear()
    assert store.read_election_state() is None


@pytest.mark.parametrize("line, expected", [
    # Kafka 4.4.0's TestRaftServer wrote this: it voted for 3 in epoch 9 and then followed it
    (b'{"clusterId":"","leaderId":3,"leaderEpoch":9,"votedId":3,"appliedOffset":0,'
     b'"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}',
     ElectionState(9, leader_id=3, voted_key=ReplicaKey(3), voters={1, 2, 3})),
    (b'{"leaderId":1,"leaderEpoch":7,"votedId":2,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAQ","data_version":1}',
     ElectionState(7, leader_id=1, voted_key=ReplicaKey(2, Uuid.from_bits(0, 1)))),
])
def test_a_leader_and_a_vote_together_are_read_as_kafka_reads_them(tmp_path, line, expected):
    """Kafka's ElectionState.fromQuorumStateData (3.9.2 ElectionState.java:200-211) takes both."""
    path = tmp_path / "quorum-state"
    path.write_bytes(line)
    state = QuorumStateStore(path).read_election_state()
    assert state == expected
    assert from_json(to_json(state, 0 if expected.voters else 1)) == expected


def test_invalid_states_are_refused():
    with pytest.raises(ValueError):
        ElectionState(-1)
    with pytest.raises(ValueError):
        to_json(ElectionState(1), 2)
    with pytest.raises(ValueError):
        QuorumStateStore("/nonexistent/x").write_election_state(ElectionState(1), kraft_version=2)


ids = st.integers(0, 2**31 - 1)
uuids = st.binary(min_size=16, max_size=16).map(Uuid)


@st.composite
def election_states(draw):
    epoch = draw(ids)
    kind = draw(st.sampled_from(["unattached", "voted", "leader"]))
    voters = draw(st.frozensets(ids, max_size=5))
    if kind == "leader":
        return ElectionState(epoch, leader_id=draw(ids), voters=voters)
    if kind == "voted":
        return ElectionState(epoch, voted_key=ReplicaKey.of(draw(ids), draw(st.none() | uuids)), voters=voters)
    return ElectionState(epoch, voters=voters)


@given(election_states(), st.sampled_from([0, 1]))
def test_round_trip(state, version):
    back = from_json(to_json(state, version))
    assert back.epoch == state.epoch
    assert back.leader_id == state.leader_id
    assert back.voted_id == state.voted_id
    if version == 1:
        assert back.voted_directory_id == state.voted_directory_id
        assert back.voters == frozenset()
    else:
        assert back.voted_directory_id is None
        assert back.voters == state.voters
    line = to_json(state, version)
    assert "\n" not in line and " " not in line
    assert json.loads(line)["data_version"] == version


@given(st.binary(max_size=200))
def test_fuzz_never_crashes(data):
    try:
        from_json(data.decode("utf-8", "replace"))
    except ValueError:
        pass
