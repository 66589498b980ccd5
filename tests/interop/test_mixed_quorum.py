"""Live mixed quorums: Kafka's TestRaftServer and kraft's test server, real processes on 127.0.0.1.

Each test runs against Kafka 3.9.2 and 4.4.0 (the ``kafka_version`` fixture).
Nodes reach each other through recording proxies, so the versions each side
sends are seen on the wire.  At the end every node is killed at once and the
logs on disk are compared batch by batch, byte for byte, below the highest
high watermark any node reported: Kafka's segments are read with kraft's own
storage code.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import Optional

import pytest

from mixed_quorum import KAFKA, KRAFT, PRE_VOTE_REFUSED, MixedQuorum, api_versions, quorums, tolerated  # noqa: F401

from kraft.net.api_versions import sendable_versions

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
    quorum.killed = set()
    kills = 0
    while kills < min_kills or {k for _, _, k in leaders} != {KAFKA, KRAFT}:
        assert kills < max_kills, f"after {kills} kills only {leaders} led"
        quorum.kill(leader)
        kills += 1
        killed = leader
        quorum.killed = {killed}  # restarted last: it may not have fetched (and truncated) yet
        leader, epoch = quorum.wait_leader(ELECTION_S, above_epoch=epoch)
        assert leader != killed
        leaders.append((leader, epoch, quorum.kinds[leader]))
        quorum.nodes[killed].start()
        for node_id in quorum.nodes:
            quorum.wait_following(node_id, leader, epoch, START_S)
    return leaders


@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_mixed_quorum_elects_replicates_fails_over_and_logs_agree(quorums, kafka_version, composition):
    """The short pass: 5 SIGKILLs of the leader with 2 Kafka + 1 kraft, 1 or more with 1 Kafka + 2 kraft."""
    run_fail_over(quorums, kafka_version, composition, 5 if composition == "2kafka-1kraft" else 1)


@pytest.mark.slow
@pytest.mark.parametrize("composition", COMPOSITIONS)
def test_mixed_quorum_fail_over_soak(quorums, kafka_version, composition):
    """The long loop (KRAFT_SLOW=1): KRAFT_INTEROP_KILLS leader SIGKILLs (default 30) per quorum."""
    run_fail_over(quorums, kafka_version, composition, int(os.environ.get("KRAFT_INTEROP_KILLS", "30")))


def run_fail_over(quorums, kafka_version, composition, min_kills):
    kinds = COMPOSITIONS[composition]
    extra = {"*": TIMERS}
    if composition == "1kafka-2kraft":
        # kraft's fast fail-over (a refused port starts an election at once) lets the surviving kraft
        # node win almost every election, so the lone Kafka node might never lead; Kafka's own timers
        # on the kraft nodes make each election a fair race
        extra[KRAFT] = {"kraft.quorum.fast.failover": "false"}
    quorum = quorums(kafka_version, kinds, extra=extra)
    quorum.start()
    advertised = {}
    leaders = fail_over(quorum, min_kills=min_kills, max_kills=min_kills + 12)
    for node_id in kinds:
        advertised[node_id] = api_versions(quorum.ports[node_id])
    epochs = [e for _, e, _ in leaders]
    assert epochs == sorted(set(epochs)), f"epochs must rise: {leaders}"
    # commits resume under the last leader: past the highest high watermark reported so far
    mark = quorum.wait_committed(committed_mark(quorum), ELECTION_S)
    quorum.kill_all()
    batches, nbytes = quorum.compare_logs(mark, allow_stale=quorum.killed)
    assert batches > 10
    print(f"leaders {leaders}; {batches} batches / {nbytes} bytes identical below offset {mark}")
    check_versions(quorum, advertised)
    check_no_errors(quorum)


#: The KRaft RPCs and ApiVersions: what each side sends the other.
RAFT_APIS = {18: "ApiVersions", 1: "Fetch", 52: "Vote", 53: "BeginQuorumEpoch", 54: "EndQuorumEpoch",
             59: "FetchSnapshot", 82: "UpdateRaftVoter"}


def name(quorum: MixedQuorum, node_id: int) -> str:
    if quorum.kinds[node_id] == KRAFT:
        return KRAFT
    return f"kafka {quorum.kafka_versions.get(node_id, quorum.kafka_version)}"


def check_versions(quorum: MixedQuorum, advertised: dict) -> dict:
    """Every request between the two kinds went at the newest version both sides advertise.

    ``advertised`` maps node id to its ApiVersions table as read from the running node.  Kafka
    4.x and kraft open with ApiVersions v5; a Kafka 3.9 peer answers that in v0's layout (read again
    as v0, Kafka's own fallback), so ApiVersions may go at the sender's newest version.
    """
    report = []
    pairs = [(a, b) for a in quorum.nodes for b in quorum.nodes if a != b]
    # a kraft node serves Vote only to v1 (no pre-vote answers yet) but writes v2 (PreVote=false) to a
    # peer that has it: what it may send is its sendable table, not the table it advertises
    sendable = {k: (r.min_version, r.max_version) for k, r in sendable_versions().items()}
    for source, target in pairs:
        seen = quorum.requests_sent(source, target)
        report.append(f"{source}({name(quorum, source)}) -> {target}({name(quorum, target)}): "
                      + ", ".join(f"{RAFT_APIS.get(k, k)} v{v} x{n}" for (k, v), n in sorted(seen.items())))
        if quorum.kinds[source] == quorum.kinds[target]:
            continue
        ours = sendable if quorum.kinds[source] == KRAFT else advertised[source]
        theirs = advertised[target]
        for (api_key, version), count in seen.items():
            newest = min(ours[api_key][1], theirs[api_key][1])
            if api_key == 18:   # both kinds open at their own newest ApiVersions (kraft's is v5, as Kafka 4.4's)
                assert version in (ours[18][1], newest), report[-1]
                continue
            assert version == newest, f"{RAFT_APIS.get(api_key, api_key)} v{version} sent where both support " \
                                      f"v{newest}: {report[-1]}"
    print("\n".join(report))
    kraft_to_kafka = Counter()
    for source, target in pairs:
        if quorum.kinds[source] == KRAFT and quorum.kinds[target] == KAFKA:
            kraft_to_kafka.update(k for k, _ in quorum.requests_sent(source, target))
    assert kraft_to_kafka[18] and kraft_to_kafka[52] and kraft_to_kafka[1], \
        f"kraft sent Kafka no ApiVersions, Vote or Fetch: {report}"
    return {(s, t): quorum.requests_sent(s, t) for s, t in pairs}


def test_kafka_39_kafka_44_and_kraft_in_one_quorum(quorums):
    """Three releases in one quorum: Kafka 3.9.2 (node 1), Kafka 4.4.0 (node 2), kraft (node 3).

    They elect and commit; the leader is SIGKILLed once and another elected; every request between
    kraft and each Kafka goes at the newest version the two share (so kraft writes Vote v2 and
    Fetch v18 to the 4.4 node, Vote v1 and Fetch v17 to the 3.9 node); the logs agree byte for byte.
    The Kafka 4.4 node's own pre-vote to the Kafka 3.9 node cannot be written at v1 and is logged as
    an error by Kafka (tolerated: mixed_quorum.PRE_VOTE_REFUSED_TO, Kafka to Kafka 3.x only).
    """
    from interop.kafka_jars import availability

    for version in ("3.9.2", "4.4.0"):
        reason = availability(version)
        if reason is not None:
            if os.environ.get("CI"):
                raise RuntimeError(f"Kafka {version} is needed in CI: {reason}")
            pytest.skip(f"Kafka {version} unavailable: {reason}")
    kinds = {1: KAFKA, 2: KAFKA, 3: KRAFT}
    quorum = quorums("4.4.0", kinds, kafka_versions={1: "3.9.2", 2: "4.4.0"}, extra={"*": TIMERS})
    quorum.start()
    leader, epoch = quorum.wait_leader(START_S)
    for node_id in kinds:
        quorum.wait_following(node_id, leader, epoch, START_S)
    quorum.wait_committed(committed_mark(quorum), ELECTION_S)
    quorum.kill(leader)
    quorum.killed = {leader}
    new_leader, new_epoch = quorum.wait_leader(ELECTION_S, above_epoch=epoch)
    quorum.nodes[leader].start()
    for node_id in kinds:
        quorum.wait_following(node_id, new_leader, new_epoch, START_S)
    advertised = {node_id: api_versions(quorum.ports[node_id]) for node_id in kinds}
    assert advertised[1][1] == (0, 17) and advertised[2][1] == (4, 18) and advertised[2][52] == (0, 2)
    mark = quorum.wait_committed(committed_mark(quorum), ELECTION_S)
    quorum.kill_all()
    batches, _ = quorum.compare_logs(mark, allow_stale=quorum.killed)
    assert batches > 5
    sent = check_versions(quorum, advertised)
    # what each side sent the other, by release (only versions the pair shares; each seen at least once)
    assert {v for (k, v) in sent[(3, 2)] if k == 52} <= {2} and {v for (k, v) in sent[(3, 1)] if k == 52} <= {1}
    assert {v for (k, v) in sent[(3, 2)] if k == 1} <= {18} and {v for (k, v) in sent[(3, 1)] if k == 1} <= {17}
    assert {v for (k, v) in sent[(2, 3)] if k == 1} <= {18} and {v for (k, v) in sent[(2, 3)] if k == 52} <= {2}
    assert {v for (k, v) in sent[(1, 3)] if k == 1} <= {17} and {v for (k, v) in sent[(1, 3)] if k == 52} <= {1}
    assert any(k == 1 for k, _ in sent[(1, 3)]) or any(k == 1 for k, _ in sent[(3, 1)]), sent
    check_no_errors(quorum)
    print(f"leaders {leader}@{epoch} then {new_leader}@{new_epoch}; {batches} batches identical below {mark}")


#: Lines that must not appear: Kafka's unexpected-error log, any Java exception or fatal error,
#: a kraft traceback or error line.
BAD_LINES = re.compile(r"Unexpected error|Exception|FATAL|Traceback| ERROR ")
def bad_lines(quorum: MixedQuorum) -> list[str]:
    return [f"node {i}: {line}" for i, node in quorum.nodes.items() for line in node.lines
            if BAD_LINES.search(line) and not tolerated(quorum, line)]


def check_no_errors(quorum: MixedQuorum) -> None:
    bad = bad_lines(quorum)
    assert not bad, "\n".join(bad[:20])


def test_kafka_4_pre_vote_reaches_kraft_nodes(quorums, kafka_version):
    """A Kafka follower whose leader dies first asks for pre-votes; the kraft voter gets them (Vote v2).

    Kafka nodes 1 and 2 elect a leader between them; kraft node 3 (slow timers, so it never times
    out first) joins; the Kafka leader is killed; the other Kafka node times out first, becomes
    prospective and sends a pre-vote to node 3, which answers it.  The election ends with a leader,
    and no node logs an unsupported version.
    """
    if not kafka_version.startswith("4."):
        pytest.skip("Kafka 3.9 has no pre-vote (KIP-996 arrived in 4.0)")
    fast = {"controller.quorum.fetch.timeout.ms": 1000, "controller.quorum.election.timeout.ms": 500}
    slow = {"controller.quorum.fetch.timeout.ms": 8000, "controller.quorum.election.timeout.ms": 4000}
    quorum = quorums(kafka_version, {1: KAFKA, 2: KAFKA, 3: KRAFT}, extra={KAFKA: fast, KRAFT: slow})
    quorum.start(1, 2)
    leader, epoch = quorum.wait_leader(START_S)
    quorum.start(3)
    quorum.wait_following(3, leader, epoch, START_S)
    other = 3 - leader
    quorum.wait_following(other, leader, epoch, START_S)
    start = len(quorum.nodes[other].lines)
    votes_before = quorum.requests_sent(other, 3)[(52, 2)]
    quorum.kill(leader)
    new_leader, new_epoch = quorum.wait_leader(ELECTION_S, above_epoch=epoch)
    assert new_leader in (other, 3)
    refused = [line for line in quorum.nodes[other].lines[start:] if PRE_VOTE_REFUSED.search(line)]
    assert not refused, "\n".join(refused[:2])
    assert any("Prospective" in line for line in quorum.nodes[other].lines[start:]), \
        "the Kafka node never became prospective: the scenario did not run"
    sent = quorum.requests_sent(other, 3)
    assert sent[(52, 2)] > votes_before, f"no Vote v2 from Kafka node {other} reached kraft node 3: {sent}"
    assert not [k for k in sent if k[0] == 52 and k[1] != 2], f"Kafka 4 sent kraft another Vote version: {sent}"
    check_no_errors(quorum)
