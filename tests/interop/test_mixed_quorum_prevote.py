"""Pre-vote against live Kafka 4.4 nodes: a follower cut off for 10 s and healed disrupts nothing.

Kafka 3.9's election lets an isolated follower stand again and again, raising the epoch; healed, it
deposes a healthy leader.  With pre-vote (Kafka 4.x, and kraft when a peer speaks Vote v2) the
isolated follower only asks, in its own epoch, whether it would win; healed, the leader and the
follower that kept fetching refuse, and it follows the leader again.  The quorum: Kafka 4.4 nodes 1
and 2 elect a leader; kraft node 3 joins.  First the kraft follower, then the Kafka follower is cut
off (through the recording proxies) for 10 s and healed: no new election, no epoch change (the
Kafka follower's log shows it went prospective meanwhile).  The requests each side sent (through
the proxies, and those dropped while cut off) are recorded; every Vote among them went at v2.
"""
from __future__ import annotations

import re
import time

import pytest

from mixed_quorum import KAFKA, KRAFT, MixedQuorum, quorums  # noqa: F401
from test_mixed_quorum import START_S, check_no_errors

pytestmark = pytest.mark.integration

ISOLATION_S = 10
#: Kafka's timers on every node (fetch timeout 1.5 s: a 10 s cut is several rounds of pre-votes)
TIMERS = {"controller.quorum.fetch.timeout.ms": 1500, "controller.quorum.election.timeout.ms": 750}
#: any epoch a line names: Kafka's role transitions, kraft's leader lines
EPOCH = re.compile(r"Completed transition to \w+\(.*?\bepoch=(\d+)|Leader is now \S+ in epoch (\d+)")


def epochs_named(quorum: MixedQuorum, starts: dict[int, int]) -> set[int]:
    out = set()
    for node_id, node in quorum.nodes.items():
        for line in node.lines[starts[node_id]:]:
            m = EPOCH.search(line)
            if m:
                out.add(int(m.group(1) or m.group(2)))
    return out


def wait_fetching(quorum: MixedQuorum, node_id: int, leader: int, timeout: float) -> None:
    """Wait until ``node_id`` has sent ``leader`` a few more Fetch requests (it follows it again)."""
    def fetches():
        return sum(n for (api_key, _), n in quorum.requests_sent(node_id, leader).items() if api_key == 1)
    before = fetches()
    deadline = time.monotonic() + timeout
    while fetches() < before + 5:
        assert time.monotonic() < deadline, f"node {node_id} does not fetch from {leader} again\n" \
                                            f"{quorum.diagnostics()}"
        time.sleep(0.1)


def isolate_and_heal(quorum: MixedQuorum, node_id: int, leader: int, epoch: int) -> None:
    """Cut ``node_id`` off for 10 s, heal, and wait until it fetches from ``leader`` again; no node
    may name an epoch other than ``epoch`` meanwhile."""
    starts = {i: len(n.lines) for i, n in quorum.nodes.items()}
    quorum.isolate(node_id)
    time.sleep(ISOLATION_S)   # the cut itself: this is the scenario's length, not an assertion
    quorum.heal()
    wait_fetching(quorum, node_id, leader, 60)
    assert quorum.current_leader() == (leader, epoch), quorum.diagnostics()
    for other in quorum.nodes.values():
        assert other.claim == (epoch, leader), f"node {other.node_id} claims {other.claim}\n{quorum.diagnostics()}"
    named = epochs_named(quorum, starts)
    assert named <= {epoch}, f"epochs named while node {node_id} was cut off and after: {named}\n" \
                             f"{quorum.diagnostics()}"


def test_isolated_follower_heals_without_an_election(quorums, kafka_version):
    if not kafka_version.startswith("4."):
        pytest.skip("Kafka 3.9 has no pre-vote: its isolated follower raises the epoch (the disruption)")
    quorum = quorums(kafka_version, {1: KAFKA, 2: KAFKA, 3: KRAFT}, extra={"*": TIMERS})
    quorum.start(1, 2)
    leader, epoch = quorum.wait_leader(START_S)
    quorum.start(3)
    kafka_follower = 3 - leader
    for node_id in (3, kafka_follower):
        quorum.wait_following(node_id, leader, epoch, START_S)
    quorum.wait_high_watermark(3, 0, START_S)

    isolate_and_heal(quorum, 3, leader, epoch)
    # while cut off, a request rarely reaches the wire (a new connection opens with ApiVersions, which
    # the proxy drops): whatever Vote kraft did send Kafka 4.4 went at v2 (kraft -> Kafka 4.4 Vote v2 is
    # asserted positively by test_mixed_quorum.py's check_versions)
    kraft_votes = quorum.requests_sent(3, leader) + quorum.requests_dropped(3, leader) + \
        quorum.requests_sent(3, kafka_follower) + quorum.requests_dropped(3, kafka_follower)
    assert not [k for k in kraft_votes if k[0] == 52 and k[1] != 2], kraft_votes

    start = len(quorum.nodes[kafka_follower].lines)
    isolate_and_heal(quorum, kafka_follower, leader, epoch)
    assert any("ProspectiveState" in line for line in quorum.nodes[kafka_follower].lines[start:]), \
        f"Kafka node {kafka_follower} never timed out while cut off: the scenario did not run"
    kafka_votes = quorum.requests_sent(kafka_follower, 3) + quorum.requests_dropped(kafka_follower, 3)
    assert not [k for k in kafka_votes if k[0] == 52 and k[1] != 2], kafka_votes
    print(f"requests: kraft 3 -> Kafka {dict(kraft_votes)}; Kafka {kafka_follower} -> kraft 3 {dict(kafka_votes)}")
    check_no_errors(quorum)
