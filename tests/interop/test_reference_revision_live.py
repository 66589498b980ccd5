"""Live: a survivor behaving as the reference revision, behind, and a kraft survivor, ahead, elect a leader.

Three kraft processes with static voters (no directory ids known); node 1 runs with
``kraft.test.behaviour=reference`` (Kafka at adee6f0cc11 on the wire: it accepts a Vote that names
no voter or its own exact key, and refuses ``(its id, zero directory)``).  Node 1 is stopped while
2 and 3 commit, then node 3 dies and node 1 returns behind: only node 2 can win, and only with
node 1's vote.  Before issue 13, kraft named node 1 ``(1, zero)`` as Kafka 3.9 does and no leader was
elected until node 3 returned; now it sends VoterId -1 (kraft.core.rpcs.common.addressed_voter_key).
"""
from __future__ import annotations

import time

import pytest

from mixed_quorum import KRAFT, quorums  # noqa: F401

pytestmark = pytest.mark.integration

TIMERS = {"controller.quorum.fetch.timeout.ms": 1500, "controller.quorum.election.timeout.ms": 750,
          "controller.quorum.election.backoff.max.ms": 500}
WAIT_S = 60


def test_behind_reference_survivor_and_ahead_kraft_survivor_elect_without_the_third(quorums):
    kinds = {1: KRAFT, 2: KRAFT, 3: KRAFT}
    quorum = quorums("3.9.2", kinds, extra={"*": TIMERS, 1: {"kraft.test.behaviour": "reference"}})
    quorum.start()
    leader, epoch = quorum.wait_leader(WAIT_S)
    for node_id in kinds:
        quorum.wait_following(node_id, leader, epoch, WAIT_S)
    quorum.kill(1)
    mark = max(n.high_watermark for n in quorum.nodes.values())
    quorum.wait_committed(mark + 200, WAIT_S)       # 2 and 3 go on without node 1: node 2 is ahead
    quorum.kill(3)
    # node 2 alone cannot lead: wait until it has given up (check-quorum) or stands for election
    deadline = time.monotonic() + WAIT_S
    while quorum.nodes[2].claim[1] == 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert quorum.nodes[2].claim[1] != 2, quorum.diagnostics()
    quorum.nodes[1].start()
    leader, epoch = quorum.wait_leader(WAIT_S, among=[2])
    quorum.wait_following(1, 2, epoch, WAIT_S)
    refused = [line for line in quorum.nodes[2].lines if "INVALID_VOTER_KEY" in line]
    assert not refused, refused[:3]
