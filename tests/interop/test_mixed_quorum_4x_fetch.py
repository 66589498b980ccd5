"""Kafka 4.x's fetch changes against live Kafka nodes: what a peer sees of kraft on the wire.

One quorum: Kafka nodes 1 and 2 elect a leader, kraft node 3 joins; every node reaches the others
through recording proxies that keep the Fetch and UpdateRaftVoter requests whole.

* KIP-1219 (Kafka 4.3): every Fetch kraft sends carries ``controller.quorum.fetch.max.bytes`` as
  its ``MaxBytes``; Kafka 4.4's do too (its own reading of the key), Kafka 3.9.2's its fixed 8 MiB.
* Kafka 4.1's UpdateRaftVoter at kraft.version 0 (KafkaRaftClient.shouldSendUpdateVoteRequest):
  kraft, following a Kafka 4.4 leader, sends it (Kafka's TestRaftServer cannot serve it and answers
  UNKNOWN_SERVER_ERROR, as it answers its own followers); following a 3.9.2 leader it sends none.
* KAFKA-17030 (4.0): kraft is killed and restarted without its quorum-state, so it starts
  unattached, and the leader's BeginQuorumEpoch to it is dropped at its proxy: only its own Fetch
  to the bootstrap servers (the voters) can tell it the leader.  With Kafka 4.4 peers it follows
  the leader in the same epoch and never sends a Vote; no node changes epoch.  (Kafka 3.9 has no
  such fetch: the 3.9.2 variant skips this part.)
"""
from __future__ import annotations

import time

import pytest

from mixed_quorum import KAFKA, KRAFT, MixedQuorum, quorums  # noqa: F401
from test_mixed_quorum import START_S, check_no_errors

pytestmark = pytest.mark.integration

FETCH, VOTE, UPDATE_RAFT_VOTER = 1, 52, 82
FETCH_MAX_BYTES = 65536
KAFKA_3_9_FETCH_MAX_BYTES = 8 * 1024 * 1024   # KafkaRaftClient.MAX_FETCH_SIZE_BYTES, 3.9.2 :171-172
FETCH_TIMEOUT_MS = 1500
TIMERS = {"controller.quorum.fetch.timeout.ms": FETCH_TIMEOUT_MS, "controller.quorum.election.timeout.ms": 750,
          "controller.quorum.fetch.max.bytes": FETCH_MAX_BYTES}


def _wait(condition, timeout: float, what: str, quorum: MixedQuorum) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout}s\n{quorum.diagnostics()}"
        time.sleep(0.1)


def _sent(quorum: MixedQuorum, source: int, api_key: int) -> int:
    return sum(n for target in quorum.nodes if target != source
               for (key, _), n in quorum.requests_sent(source, target).items() if key == api_key)


def test_fetch_max_bytes_update_voter_and_bootstrap_fetch_with_kafka(quorums, kafka_version):
    quorum = quorums(kafka_version, {1: KAFKA, 2: KAFKA, 3: KRAFT}, extra={"*": TIMERS},
                     capture=(FETCH, UPDATE_RAFT_VOTER))
    four = kafka_version.startswith("4.")
    quorum.start(1, 2)
    leader, epoch = quorum.wait_leader(START_S)
    kafka_follower = 3 - leader
    quorum.start(3)
    quorum.wait_following(3, leader, epoch, START_S)
    quorum.wait_high_watermark(3, 0, START_S)

    # UpdateRaftVoter: from kraft to a 4.4 leader once its update timer (one fetch timeout) ran out
    if four:
        _wait(lambda: quorum.captured(3, leader, UPDATE_RAFT_VOTER), START_S,
              "kraft sent no UpdateRaftVoter to its Kafka 4.4 leader", quorum)
        for _, update in quorum.captured(3, leader, UPDATE_RAFT_VOTER):
            assert (update.voter_id, update.current_leader_epoch) == (3, epoch)
            feature = update.kraft_version_feature
            assert (feature.min_supported_version, feature.max_supported_version) == (0, 1)
    else:
        # a Kafka follower's fetches keep coming: several fetch timeouts pass while kraft follows
        fetches = _sent(quorum, kafka_follower, FETCH)
        _wait(lambda: _sent(quorum, kafka_follower, FETCH) > fetches + 20, START_S,
              "the Kafka follower stopped fetching", quorum)
        time.sleep(2 * FETCH_TIMEOUT_MS / 1000)   # two update timers: the scenario's length, not an assertion
        assert _sent(quorum, 3, UPDATE_RAFT_VOTER) == 0, "kraft sent UpdateRaftVoter to a 3.9 leader"

    # KIP-1219: kraft's Fetch MaxBytes is the configured one, to either release; Kafka's own
    kraft_fetches = quorum.captured(3, leader, FETCH)
    assert kraft_fetches, "no Fetch from kraft captured"
    assert {m.max_bytes for _, m in kraft_fetches} == {FETCH_MAX_BYTES}
    kafka_fetches = quorum.captured(kafka_follower, leader, FETCH)
    assert kafka_fetches, "no Fetch from the Kafka follower captured"
    assert {m.max_bytes for _, m in kafka_fetches} == {FETCH_MAX_BYTES if four else KAFKA_3_9_FETCH_MAX_BYTES}

    if four:
        # KAFKA-17030: a restarted voter that knows no leader finds it by fetching from the voters
        quorum.kill(3)
        (quorum.partition_dir(3) / "quorum-state").unlink()
        quorum.proxies[3].cut(False, {f"raft-client-{leader}"})   # the leader's BeginQuorumEpoch is dropped
        votes = _sent(quorum, 3, VOTE)
        start = len(quorum.nodes[3].lines)
        quorum.start(3)
        quorum.wait_following(3, leader, epoch, START_S)
        assert quorum.nodes[3].claim == (epoch, leader), quorum.diagnostics()
        assert any(quorum.nodes[3].lines[i].find(f"Leader is now {leader} in epoch {epoch}") >= 0
                   for i in range(start, len(quorum.nodes[3].lines)))
        quorum.wait_high_watermark(3, 0, START_S)
        assert _sent(quorum, 3, VOTE) == votes, "the restarted node stood"
        assert quorum.current_leader() == (leader, epoch), quorum.diagnostics()
        quorum.heal()
    check_no_errors(quorum)
