"""Snapshots across implementations: FetchSnapshot from kraft to Kafka and from Kafka to kraft.

Kafka's TestRaftServer never creates a snapshot: its workload ignores loaded snapshots
(TestRaftServer.scala:257-259 in 3.9.2, "HandleSnapshot ... reader.close()") and nothing in it calls
createSnapshot, so a Kafka node's log start moves only when it installs a snapshot fetched from
its leader (KafkaMetadataLog.truncateToLatestSnapshot).  The test therefore lets kraft make the
first snapshot: a Kafka node that starts empty behind a kraft leader's log start fetches it; then
the Kafka node leads, its log starting at that snapshot, and a kraft node whose log was deleted
catches up from Kafka through the same snapshot.
"""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from mixed_quorum import KAFKA, KRAFT, quorums, segment_bases, snapshot_files  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from quorum_util import replay_log_dir  # noqa: E402

pytestmark = pytest.mark.integration

START_S = 120
WAIT_S = 60
FETCH_SNAPSHOT = 59
UPDATE_RAFT_VOTER = 82

#: kraft snapshots every ~100 kB of committed batches, rolls 64 KiB segments and deletes those
#: a snapshot covers within half a second.
KRAFT_SNAPSHOTS = {"metadata.log.max.record.bytes.between.snapshots": 100_000, "metadata.log.segment.min.bytes": 12,
                   "metadata.log.segment.bytes": 65_536, "metadata.max.retention.bytes": 1,
                   "kraft.test.log.clean.interval.ms": 500}
#: The Kafka node times out first, so it is the one that stands when a leader dies.
KAFKA_TIMERS = {"controller.quorum.fetch.timeout.ms": 1000, "controller.quorum.election.timeout.ms": 500}
KRAFT_TIMERS = {"controller.quorum.fetch.timeout.ms": 3000, "controller.quorum.election.timeout.ms": 1500}


def wait_until(predicate, timeout, what, quorum):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s\n" + quorum.diagnostics())


def test_snapshots_cross_between_kraft_and_kafka(quorums, kafka_version):
    quorum = quorums(kafka_version, {1: KAFKA, 2: KRAFT, 3: KRAFT},
                     extra={KAFKA: KAFKA_TIMERS, KRAFT: {**KRAFT_TIMERS, **KRAFT_SNAPSHOTS}})
    pd = quorum.partition_dir
    quorum.start(2, 3)
    leader, epoch = quorum.wait_leader(START_S)

    # 1. kraft leads and deletes the segments its snapshots cover; Kafka starts empty behind it
    start = wait_until(lambda: snapshot_files(pd(leader)) and segment_bases(pd(leader))[0] > 0
                       and segment_bases(pd(leader))[0], WAIT_S, "the kraft leader's log start moves", quorum)
    quorum.start(1)
    installed = wait_until(lambda: snapshot_files(pd(1)), START_S, "Kafka installs a snapshot", quorum)
    assert quorum.requests_sent(1, leader)[(FETCH_SNAPSHOT, 1)] > 0, "Kafka fetched no snapshot from kraft"
    snapshot_offset = int(installed[0].name.split("-")[0])
    assert snapshot_offset >= start
    quorum.wait_committed(snapshot_offset, WAIT_S)
    if not kafka_version.startswith("3."):
        # Kafka 4.1+ followers report themselves to each new leader with UpdateRaftVoter, even at
        # kraft.version 0, again every fetch timeout until the leader answers NONE or
        # UNSUPPORTED_VERSION in its epoch (KafkaRaftClient.handleUpdateVoterResponse).  The kraft
        # leader, with a 4.x peer, answers as 4.x's UpdateVoterHandler does (NONE): one request per leader.  (An
        # answer without the leader's epoch, such as UNKNOWN_SERVER_ERROR, reads as stale to
        # Kafka, which silently asks again every second.)
        wait_until(lambda: quorum.requests_sent(1, leader)[(UPDATE_RAFT_VOTER, 0)], WAIT_S,
                   "Kafka sends UpdateRaftVoter to the kraft leader", quorum)
        window = time.monotonic() + 3 * KAFKA_TIMERS["controller.quorum.fetch.timeout.ms"] / 1000
        while time.monotonic() < window and quorum.current_leader() == (leader, epoch):
            time.sleep(0.2)
        assert quorum.current_leader() == (leader, epoch), "the leader changed: the window proves nothing"
        assert quorum.requests_sent(1, leader)[(UPDATE_RAFT_VOTER, 0)] == 1, quorum.requests_sent(1, leader)
        said = [line for line in quorum.nodes[1].lines if "UPDATE_RAFT_VOTER" in line]
        assert not said, said[:2]

    # 2. Kafka leads (kill kraft leaders until it does), its log starting at that snapshot
    restarted = set()
    for _ in range(8):
        found = quorum.current_leader()
        if found and quorum.kinds[found[0]] == KAFKA:
            break
        leader, epoch = quorum.wait_leader(WAIT_S)
        if quorum.kinds[leader] == KAFKA:
            break
        quorum.kill(leader)
        killed = leader
        restarted.add(killed)
        leader, epoch = quorum.wait_leader(WAIT_S, above_epoch=epoch)
        quorum.nodes[killed].start()
    leader, epoch = quorum.wait_leader(WAIT_S)
    assert leader == 1, f"Kafka never led: {quorum.diagnostics()}"
    assert segment_bases(pd(1))[0] >= snapshot_offset > 0  # Kafka's own log starts at the snapshot

    # 3. a kraft node loses its whole log directory and catches up from Kafka's snapshot
    wiped = 2
    quorum.kill(wiped)
    shutil.rmtree(quorum.log_dir(wiped))
    quorum.nodes[wiped].start()
    quorum.wait_following(wiped, 1, epoch, START_S)
    wait_until(lambda: snapshot_files(pd(wiped)), WAIT_S, "the wiped kraft node installs Kafka's snapshot", quorum)
    assert quorum.requests_sent(wiped, 1)[(FETCH_SNAPSHOT, 1)] > 0, "kraft fetched no snapshot from Kafka"
    first = quorum.wait_high_watermark(wiped, snapshot_offset, WAIT_S)
    hw = quorum.wait_high_watermark(wiped, first, WAIT_S)  # and it keeps committing after it

    quorum.kill_all()
    batches, nbytes = quorum.compare_logs(hw, allow_stale=restarted - {wiped})
    # Kafka's copy of the snapshot is kraft's file, byte for byte, and the log after it replays
    kafka_snapshots, _, _ = replay_log_dir(pd(1))
    for path in snapshot_files(pd(1)):
        for other in (2, 3):
            twin = pd(other) / path.name
            if twin.exists():
                assert twin.read_bytes() == path.read_bytes(), f"{path.name} differs on node {other}"
    assert kafka_snapshots and min(kafka_snapshots) >= snapshot_offset
    print(f"snapshot at {snapshot_offset} (kraft log start {start}) crossed both ways; "
          f"{batches} batches / {nbytes} bytes identical below {hw}")
