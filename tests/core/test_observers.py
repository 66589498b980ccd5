"""Observers: nodes outside the voter set find the leader through bootstrap servers, fetch with
their replica key, never campaign, never count towards the high watermark."""
import random

from raft_context import CLUSTER, dir_of, endpoints_of
from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.apply import apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import InboundResponse, Send
from kraft.core.memory import MemoryLog, encode_batch
from kraft.core.node import RaftNode
from kraft.core.types import NodeEndpoint, ReplicaKey, Voter, VoterSet
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

    def apply(self, output):
        apply_output(output, log=self.log, store=self, transport=self, encode_batch=encode_batch)

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
