"""The driver's pieces that need no sockets: the election state on disk, and building the client."""
from __future__ import annotations

import random

import pytest

from kraft.core import rpc
from kraft.core.effects import PeerUnreachable
from kraft.core.memory import MemoryLog
from kraft.core.types import ElectionState, ReplicaKey
from kraft.protocol.uuid import Uuid
from kraft.server.config import ServerConfig
from kraft.server.driver import ElectionStore, RaftDriver, build_client
from kraft.server.network import NodeNetwork
from kraft.storage.quorum_state import QuorumStateStore

DIRECTORY = Uuid(bytes.fromhex("123456789abc4def8123456789abcdef"))


@pytest.mark.parametrize("election", [
    ElectionState(0),
    ElectionState(5, leader_id=2),
    ElectionState(6, voted_key=ReplicaKey(3, None)),
    ElectionState(7, voted_key=ReplicaKey(3, DIRECTORY)),
])
def test_election_state_survives_the_file(tmp_path, election):
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2, 3}))
    assert store.read_election_state() is None
    store.write_election_state(election)
    back = store.read_election_state()
    # data_version 0 does not keep the voted directory id, as Kafka's file at kraft.version 0.
    expected_vote = ReplicaKey(election.voted_key.id, None) if election.voted_key else None
    assert (back.epoch, back.leader_id, back.voted_key) == (election.epoch, election.leader_id, expected_vote)
    text = (tmp_path / "quorum-state").read_text()
    assert '"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}]' in text and '"data_version":0' in text


def test_a_leader_and_a_vote_are_both_written_as_kafka_4x_writes_them(tmp_path):
    """A follower that keeps the vote of its epoch (Kafka 4.x's rules) writes both, as Kafka 4.x's
    QuorumStateData does; kraft reads both back (and starts following with the vote)."""
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2, 3}))
    store.write_election_state(ElectionState(4, leader_id=2, voted_key=ReplicaKey(3)))
    back = store.read_election_state()
    assert back.voted_key == ReplicaKey(3) and back.leader_id == 2 and back.epoch == 4
    text = (tmp_path / "quorum-state").read_text()
    assert '"leaderId":2,"leaderEpoch":4,"votedId":3,' in text


def config(**extra):
    props = {"node.id": "1", "listeners": "CONTROLLER://127.0.0.1:9093", "controller.listener.names": "CONTROLLER",
             "controller.quorum.voters": "1@127.0.0.1:9093,2@127.0.0.1:9094", "log.dirs": "/tmp/x", **extra}
    return ServerConfig.from_properties({k: v for k, v in props.items() if v is not None}, warn=lambda m: None)


def test_client_carries_the_test_servers_identity(tmp_path):

    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2}))
    directory = Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A")
    client = build_client(config(), directory, MemoryLog(), store, random.Random(1))
    node = client.node
    assert node.topic == "__raft_performance_test" and node.topic_id == Uuid((2).to_bytes(16, "big"))
    assert node.cluster_id == "AAAAAAAAAAAAAAAAAAAAAA" and node.listener == "CONTROLLER"
    assert node.local_key == ReplicaKey(1, Uuid(bytes(directory))) and node.is_voter
    assert node.voters.endpoints(2).address("CONTROLLER").port == 9094


def test_observer_without_voters_is_built_to_fetch_from_the_bootstrap_servers(tmp_path):
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset())
    cfg = config(**{"controller.quorum.voters": None,
                    "controller.quorum.bootstrap.servers": "127.0.0.1:9094,127.0.0.1:9095"})
    client = build_client(cfg, Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A"), MemoryLog(), store, random.Random(1))
    node = client.node
    assert not node.is_voter and len(node.voters) == 0
    assert node.request_manager.bootstrap_servers == (-2, -3)


def test_unreachable_voters_become_core_events_and_describe_quorum_goes_to_the_core(tmp_path):
    network = NodeNetwork(config())
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2}))
    client = build_client(config(), Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A"), MemoryLog(), store,
                          random.Random(1))
    driver = RaftDriver(network, client, client.node.log, store)
    assert rpc.DESCRIBE_QUORUM in network.dispatcher.handlers
    network.on_voter_unreachable(2, False)
    network.on_voter_unreachable(3, True)
    network.on_voter_unreachable(1, True)  # this node itself: nothing to tell the core
    assert list(driver._events) == [PeerUnreachable(2), PeerUnreachable(3, refused=True)]


def test_a_node_outside_the_voters_is_built_as_an_observer(tmp_path):
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1, 2}))
    client = build_client(config(**{"node.id": "7"}), Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A"), MemoryLog(),
                          store, random.Random(1))
    assert not client.node.is_voter and sorted(client.node.voters.ids) == [1, 2]
