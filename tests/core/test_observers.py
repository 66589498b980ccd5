"""Observers: nodes outside the voter set find the leader through bootstrap servers, fetch with
their replica key, never campaign, never count towards the high watermark."""
import random

import pytest

from raft_context import CLUSTER, dir_of, endpoints_of
from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import InboundResponse, LeaderBatch, Send
from kraft.core.memory import MemoryLog, encode_batch
from kraft.core.node import RaftNode
from kraft.core.types import LeaderAndEpoch, NodeEndpoint, ReplicaKey, Voter, VoterSet
from kraft.protocol.errors import Errors


class Observer:
    def __init__(self, bootstrap=(-2, -3)):
        voters = VoterSet(Voter(ReplicaKey(i), endpoints_of(i)) for i in (1, 2, 3))
        self.log = MemoryLog()
        self.node = RaftNode(node_id=9, cluster_id=CLUSTER, voters=voters, log=self.log, rng=random.Random(3),
                             config=QuorumConfig(), directory_id=dir_of(9), bootstrap_servers=bootstrap)
        self.client = RaftClient(self.node, lambda *a: [])
        self.sent = []
        self.now = 0
        self.apply(self.client.start(0))

    def write_election_state(self, election):
        pass

    def send(self, effect):
        self.sent.append(effect)

    def respond(self, effect):
        raise AssertionError("an observer answers nothing here")

    def _downloads(self) -> SnapshotDownloads:
        """The snapshot downloads into the current log (a new log starts with none)."""
        if getattr(self, "_downloads_log", None) is not self.log:
            self._downloads_log, self._snapshot_downloads = self.log, SnapshotDownloads()
        return self._snapshot_downloads

    def apply(self, output):
        apply_output(output, log=self.log, store=self, transport=self, encode_batch=encode_batch,
                     downloads=self._downloads())

    def poll(self):
        self.apply(self.client.poll(self.now))

    def answer(self, send: Send, response):
        self.apply(self.client.step(InboundResponse(send.destination, send.correlation_id, response), self.now))

    def take(self) -> Send:
        (send,) = self.sent
        self.sent.clear()
        return send


def test_observer_finds_the_leader_through_bootstrap_servers_and_fetches_with_its_key():
    obs = Observer()
    obs.poll()
    first = obs.take()
    assert first.destination in (-2, -3) and isinstance(first.request, rpc.FetchRequest)
    assert first.request.replica_key == ReplicaKey(9, dir_of(9))
    obs.answer(first, rpc.FetchResponse(topic_id=first.request.topic_id, partition_error=Errors.NOT_LEADER_OR_FOLLOWER,
                                        current_leader_id=2, current_leader_epoch=5,
                                        node_endpoints=(NodeEndpoint(2, "leader-host", 7777),)))
    assert obs.node.role.name == "Follower" and obs.node.leader_id() == 2
    obs.poll()
    to_leader = obs.take()
    assert to_leader.destination == 2 and to_leader.endpoint.host == "leader-host"
    assert to_leader.request.replica_key == ReplicaKey(9, dir_of(9)) and to_leader.request.current_leader_epoch == 5


def test_observer_never_campaigns_even_when_the_leader_is_gone():
    obs = Observer()
    obs.poll()
    first = obs.take()
    obs.answer(first, rpc.FetchResponse(topic_id=first.request.topic_id, current_leader_id=2,
                                        current_leader_epoch=5))
    for _ in range(50):
        obs.now += 1000
        obs.poll()
        obs.sent.clear()
        assert obs.node.role.name in ("Follower", "Unattached") and obs.node.epoch == 5


def test_observer_whose_leader_stops_answering_goes_back_to_the_bootstrap_servers():
    obs = Observer()
    obs.poll()
    first = obs.take()
    obs.answer(first, rpc.FetchResponse(topic_id=first.request.topic_id, current_leader_id=2,
                                        current_leader_epoch=5))
    obs.poll()
    assert obs.take().destination == 2
    obs.now += QuorumConfig().request_timeout_ms  # the fetch to the leader timed out
    obs.poll()
    assert obs.take().destination in (-2, -3)


class BootstrapOnlyObserver(Observer):
    """An observer configured with bootstrap servers and no voters (Kafka 3.9.0 allows it)."""

    def __init__(self):
        self.log = MemoryLog()
        self.node = RaftNode(node_id=9, cluster_id=CLUSTER, voters=VoterSet(()), log=self.log,
                             rng=random.Random(5), config=QuorumConfig(), directory_id=dir_of(9),
                             bootstrap_servers=(-2, -3))
        self.client = RaftClient(self.node, lambda *a: [])
        self.sent = []
        self.now = 0
        self.apply(self.client.start(0))


def test_a_node_without_voters_or_bootstrap_servers_is_refused():
    with pytest.raises(ValueError, match="bootstrap servers"):
        RaftNode(node_id=9, cluster_id=CLUSTER, voters=VoterSet(()), log=MemoryLog(), rng=random.Random(1))


def test_observer_knowing_no_voters_follows_the_leader_a_bootstrap_server_names():
    obs = BootstrapOnlyObserver()
    assert not obs.node.is_voter and obs.node.role.name == "Unattached"
    obs.poll()
    first = obs.take()
    assert first.destination in (-2, -3) and first.endpoint is None  # the driver maps bootstrap ids
    obs.answer(first, rpc.FetchResponse(topic_id=first.request.topic_id, partition_error=Errors.NOT_LEADER_OR_FOLLOWER,
                                        current_leader_id=3, current_leader_epoch=4,
                                        node_endpoints=(NodeEndpoint(3, "leader-host", 7003),)))
    assert obs.node.role.name == "Follower" and obs.node.leader_id() == 3
    obs.poll()
    to_leader = obs.take()
    assert to_leader.destination == 3 and (to_leader.endpoint.host, to_leader.endpoint.port) == ("leader-host", 7003)
    # The leader's data is appended like any follower's; the observer never campaigns.
    batch = encode_batch(LeaderBatch(0, 4, 0, (b"a", b"b")))
    obs.answer(to_leader, rpc.FetchResponse(topic_id=to_leader.request.topic_id, current_leader_id=3,
                                            current_leader_epoch=4, high_watermark=2, records=batch))
    assert obs.log.end_offset == 2 and obs.node.high_watermark == 2
    for _ in range(10):
        obs.now += 5000
        obs.poll()
        obs.sent.clear()
        assert obs.node.role.name in ("Follower", "Unattached") and obs.node.epoch == 4


def test_observer_told_of_a_leader_without_its_address_waits_instead_of_failing():
    """A bootstrap server too old to send NodeEndpoints names the leader only by id; an observer
    that knows no voters cannot reach it, so it stays Unattached (remembering the leader) and keeps
    asking the bootstrap servers until one gives the address (Kafka would fail here)."""
    obs = BootstrapOnlyObserver()
    obs.poll()
    first = obs.take()
    obs.answer(first, rpc.FetchResponse(topic_id=first.request.topic_id, partition_error=Errors.NOT_LEADER_OR_FOLLOWER,
                                        current_leader_id=3, current_leader_epoch=4))
    assert obs.node.role.name == "Unattached" and obs.node.leader_and_epoch() == LeaderAndEpoch(3, 4)
    obs.now += 1
    obs.poll()
    again = obs.take()
    assert again.destination in (-2, -3)
    obs.answer(again, rpc.FetchResponse(topic_id=again.request.topic_id, partition_error=Errors.NOT_LEADER_OR_FOLLOWER,
                                        current_leader_id=3, current_leader_epoch=4,
                                        node_endpoints=(NodeEndpoint(3, "leader-host", 7003),)))
    assert obs.node.role.name == "Follower" and obs.node.leader_endpoints().address("CONTROLLER").port == 7003
