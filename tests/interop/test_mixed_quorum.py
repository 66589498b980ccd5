"""Live mixed quorums: Kafka's TestRaftServer and kraft's test server, real processes on 127.0.0.1.

Each test runs against Kafka 3.9.2 and 4.4.0 (the ``kafka_version`` fixture).
Nodes reach each other through recording proxies, so the versions each side
sends are seen on the wire.  At the end every node is killed at once and the
logs on disk are compared batch by batch, byte for byte, below the highest
high watermark any node reported: Kafka's segments are read with kraft's own
storage code.
"""
from __future__ import annotations

import time

import pytest

from mixed_quorum import KAFKA, KRAFT, MixedQuorum, compare_logs

pytestmark = pytest.mark.integration

START_S = 120      # a JVM starting on a loaded two-core machine
ELECTION_S = 60

#: Shorter Raft timers than the defaults (both implementations read these keys), so a fail-over
#: takes a second or two instead of three or four.
TIMERS = {"controller.quorum.fetch.timeout.ms": 1500, "controller.quorum.election.timeout.ms": 750,
          "controller.quorum.election.backoff.max.ms": 500}

COMPOSITIONS = {
    "2kafka-1kraft": {1: KAFKA, 2: KAFKA, 3: KRAFT},
    "1kafka-2kraft": {1: KAFKA, 2: KRAFT, 3: KRAFT},
}


@pytest.fixture
def quorums(tmp_path):
    made = []

    def make(kafka_version, kinds, **kwargs):
        quorum = MixedQuorum(tmp_path, kafka_version, kinds, **kwargs)
        made.append(quorum)
        return quorum
    yield make
    for quorum in made:
        quorum.close()


def committed_mark(quorum: MixedQuorum) -> int:
    """The highest high watermark any node reported (an offset known to be committed)."""
    return max(n.high_watermark for n in quorum.nodes.values())


def fail_over(quorum: MixedQuorum, min_kills: int, max_kills: int) -> list[tuple[int, int, str]]:
    """SIGKILL the leader and restart it until ``min_kills`` kills are done and both kinds have led.

    Every time a new leader (higher epoch) must commit, and the restarted node must follow it
    before the next kill.  Returns the leaders seen, in order: (node, epoch, kind).
    """
    leader, epoch = quorum.wait_leader(START_S)
    for node_id in quorum.nodes:
        quorum.wait_following(node_id, leader, epoch, START_S)
    leaders = [(leader, epoch, quorum.kinds[leader])]
    kills = 0
    while kills < min_kills or {k for _, _, k in leaders} != {KAFKA, KRAFT}:
        assert kills < max_kills, f"after {kills} kills only {leaders} led"
        quorum.kill(leader)
        kills += 1
        killed = leader
        leader, epoch = quorum.wait_leader(ELECTION_S, above_epoch=epoch)
        assert leader != killed
        leaders.append((leader, epoch, quorum.kinds[leader]))
        quorum.nodes[killed].start()
        for node_id in quorum.nodes:
            quorum.wait_following(node_id, leader, epoch, START_S)
    return leaders


@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_mixed_quorum_elects_replicates_fails_over_and_logs_agree(quorums, kafka_version, composition):
    kinds = COMPOSITIONS[composition]
    quorum = quorums(kafka_version, kinds, extra={"*": TIMERS})
    quorum.start()
    min_kills = 5 if composition == "2kafka-1kraft" else 1
    leaders = fail_over(quorum, min_kills=min_kills, max_kills=min_kills + 12)
    epochs = [e for _, e, _ in leaders]
    assert epochs == sorted(set(epochs)), f"epochs must rise: {leaders}"
    # commits resume under the last leader: past the highest high watermark reported so far
    mark = quorum.wait_committed(committed_mark(quorum), ELECTION_S)
    quorum.kill_all()
    batches, nbytes = compare_logs({i: quorum.partition_dir(i) for i in kinds}, mark)
    assert batches > 10
    print(f"leaders {leaders}; {batches} batches / {nbytes} bytes identical below offset {mark}")
    for (source, target), proxy in quorum.proxies.items():
        print(f"{source}({kinds[source]}) -> {target}({kinds[target]}): {sorted(proxy.seen().items())}")
