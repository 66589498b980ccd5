"""A node of another quorum among Kafka voters: refused cleanly on both sides.

Kafka's TestRaftServer cannot be given another cluster id or partition: both are fixed in its
source (Uuid.Uuid.ZERO as cluster id, __raft_performance_test-0 with topic id (0, 2)).  So the
foreign node is kraft's: first with another cluster id, then with another topic.  Kafka answers
its requests with INCONSISTENT_CLUSTER_ID / INVALID_REQUEST, kraft answers Kafka's the same way;
kraft logs each refusal once per peer (never per request), nobody crashes, and the two Kafka
voters (a majority of three) keep committing.
"""
from __future__ import annotations

import re
import shutil
import time

import pytest

from mixed_quorum import KAFKA, KRAFT, STATS, quorums  # noqa: F401

pytestmark = pytest.mark.integration

START_S = 120
WAIT_S = 60
TIMERS = {"controller.quorum.fetch.timeout.ms": 1500, "controller.quorum.election.timeout.ms": 750}
#: The Kafka voters elect as fast (election timeout above), but a follower waits 10 s for its leader
#: before standing: with 1.5 s, a stalled JVM on a loaded machine stands on its own (seen once in 50
#: loaded runs: epoch 1 -> 5, leader 1 throughout), which the check below took for the foreign node
#: disturbing the quorum.  A foreign request that moved a Kafka node's epoch still shows there (Kafka
#: refuses another cluster id before it looks at the epoch: KafkaRaftClient.java:775-777, 3.9.2).
KAFKA_TIMERS = {"controller.quorum.fetch.timeout.ms": 10_000}
REFUSED_BY = re.compile(r"WARNING Node (\d+) refuses our (\w+): (\w+)")
REFUSED = re.compile(r"WARNING Refused (\w+) from \S+ \((raft-client-\d+)\): (\w+)")
KRAFT_BAD = re.compile(r"Traceback|ERROR|CRITICAL")


def wait_for_commits(quorum, leader, timeout):
    """A new summary line from the leader: it committed its workload's records since the last one."""
    node = quorum.nodes[leader]
    seen = node.count(STATS)
    deadline = time.monotonic() + timeout
    while node.count(STATS) <= seen:
        assert time.monotonic() < deadline and node.running, "the Kafka leader stopped committing\n" + \
            quorum.diagnostics()
        time.sleep(0.2)


FOREIGN = [(("another-cluster-id", "__raft_performance_test"), "INCONSISTENT_CLUSTER_ID"),
           (("AAAAAAAAAAAAAAAAAAAAAA", "__other_topic"), "INVALID_REQUEST")]


def test_a_foreign_kraft_node_is_refused_and_the_kafka_majority_commits(quorums, kafka_version):
    """Node 3 is of another cluster (the default run's case)."""
    run_rounds(quorums, kafka_version, FOREIGN[:1])


@pytest.mark.slow
def test_foreign_kraft_nodes_of_another_cluster_then_topic(quorums, kafka_version):
    """Node 3 is first of another cluster, then (same quorum, restarted) of another topic."""
    run_rounds(quorums, kafka_version, FOREIGN)


def run_rounds(quorums, kafka_version, rounds):
    quorum = quorums(kafka_version, {1: KAFKA, 2: KAFKA, 3: KRAFT}, extra={"*": TIMERS, KAFKA: KAFKA_TIMERS})
    for round_, (identity, error) in enumerate(rounds):
        if round_:
            quorum.nodes[3].stop()
            # its meta.properties names the first round's cluster: kraft would refuse to start
            # on it (rightly), so the second foreign node gets a fresh directory
            shutil.rmtree(quorum.log_dir(3))
        foreign = quorum.replace(3, KRAFT, identity=identity)
        start = len(foreign.lines)
        foreign.start()
        if not round_:
            quorum.start(1, 2)
        check_refused(quorum, foreign, start, identity, error, kafka_version)


def check_refused(quorum, foreign, start, identity, error, kafka_version):
    leader, epoch = quorum.wait_leader(START_S, among=(1, 2))
    lines = lambda: foreign.lines[start:]  # noqa: E731 (this round's lines)
    deadline = time.monotonic() + WAIT_S
    # the foreign node asks for votes and the Kafka nodes fetch from it or send it BeginQuorumEpoch:
    # both ways refused
    while not (any(REFUSED_BY.search(x) for x in lines()) and any(REFUSED.search(x) for x in lines())):
        assert time.monotonic() < deadline, "no refusal seen\n" + quorum.diagnostics()
        time.sleep(0.2)
    wait_for_commits(quorum, leader, WAIT_S)  # (a summary line every 5 s: several refused retries)
    assert quorum.current_leader() == (leader, epoch), "the foreign node disturbed the quorum\n" + \
        quorum.diagnostics(200)
    assert all(n.running for n in quorum.nodes.values())
    by = [REFUSED_BY.search(x).groups() for x in lines() if REFUSED_BY.search(x)]
    refused = [REFUSED.search(x).groups() for x in lines() if REFUSED.search(x)]
    assert {e for _, _, e in by} == {error} and {e for _, _, e in refused} == {error}, (by, refused)
    # once per peer and error, however many requests went
    assert len(by) == len({(peer, e) for peer, _, e in by}), by
    assert len(refused) == len({(client, e) for _, client, e in refused}), refused
    assert not [x for x in lines() if KRAFT_BAD.search(x)]
    kafka_said = [x for i in (1, 2) for x in quorum.nodes[i].lines if error in x]
    print(f"Kafka {kafka_version}, foreign {identity}: kraft logged {by} and {refused}; "
          f"Kafka logged {len(kafka_said)} lines naming {error}, e.g. {kafka_said[:1]}")
