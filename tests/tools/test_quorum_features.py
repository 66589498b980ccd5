"""Real quorums exercising issue 6's features through the server: DescribeQuorum, observers,
snapshots with retention and catch-up through FetchSnapshot, fast failover.

Each test starts its own processes on free ports and kills them at the end;
the waits are bounds, not timing assertions.
"""
from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest

from kraft.net.api_versions import advertised_versions
from kraft.net.channel import PeerChannel
from kraft.protocol import messages
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid
from kraft.storage.replicated_log import FileReplicatedLog

from quorum_util import HIGH_WATERMARK, NodeProcess, Quorum, free_ports, replay_log_dir

pytestmark = pytest.mark.integration

WAIT_S = 45
WROTE_SNAPSHOT = re.compile(r"Wrote snapshot \(end offset (\d+), epoch (\d+)\): (\d+) committed records")
LOADED_SNAPSHOT = re.compile(r"Loaded snapshot \(end offset (\d+), epoch (\d+)\): (\d+) committed records")
DELETED = re.compile(r"deleted snapshot .* and the log before")
OBSERVES = re.compile(r"is not one of the voters .*: it observes")
TOPIC = "__raft_performance_test"


@pytest.fixture
def quorum_factory(tmp_path):
    made = []

    def make(size, **kwargs):
        quorum = Quorum(tmp_path, size, **kwargs)
        made.append(quorum)
        return quorum
    yield make
    for quorum in made:
        quorum.kill_all()


def describe_quorum(port: int, version: int):
    """Send DescribeQuorum at ``version`` to 127.0.0.1:``port``; the response message."""
    async def ask():
        channel = PeerChannel("127.0.0.1", port, client_id="test", advertised=advertised_versions(),
                              request_timeout_ms=10_000)
        try:
            m = messages.DescribeQuorumRequest
            request = m(topics=[m.TopicData(topic_name=TOPIC, partitions=[m.PartitionData(partition_index=0)])])
            _, response = await channel.request(55, request, version=version)
            return response
        finally:
            await channel.close()
    return asyncio.run(asyncio.wait_for(ask(), 30))


def highest_watermark(node) -> int:
    return max((int(m.group(1)) for m in node.stderr.matches(HIGH_WATERMARK)), default=-1)


def wait_until(predicate, timeout=WAIT_S, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def test_describe_quorum_answered_by_the_leader_and_refused_by_followers_at_every_version(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    port = quorum.ports[leader - 1]
    follower = next(n for n in quorum.nodes if n != leader)
    for version in (0, 1, 2):
        partition = None

        def all_voters_caught_up():
            nonlocal partition
            partition = describe_quorum(port, version).topics[0].partitions[0]
            return partition.high_watermark > 0 and min(v.log_end_offset for v in partition.current_voters) > 0
        assert wait_until(all_voters_caught_up), quorum.diagnostics()
        assert partition.error_code == Errors.NONE and partition.leader_id == leader
        assert sorted(v.replica_id for v in partition.current_voters) == [1, 2, 3]
        assert partition.observers == []
        if version >= 1:
            assert all(v.last_fetch_timestamp > 0 for v in partition.current_voters)
        if version >= 2:
            response = describe_quorum(port, version)
            assert sorted(n.node_id for n in response.nodes) == [1, 2, 3]

        refused = describe_quorum(quorum.ports[follower - 1], version).topics[0].partitions[0]
        assert refused.error_code == Errors.NOT_LEADER_OR_FOLLOWER


@pytest.mark.parametrize("knows", ["voters", "bootstrap servers only"])
def test_a_node_outside_the_voters_observes_and_is_described(quorum_factory, tmp_path, knows):
    """An observer that knows the voters, or (as Kafka 3.9.0 allows) only bootstrap servers and
    learns the leader's address from their answers, replicates and is described by the leader."""
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    if knows == "voters":
        quorum_line = "controller.quorum.voters=" + ",".join(
            f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(quorum.ports))
    else:  # bootstrap through a follower first, so that the leader must be discovered
        followers = [quorum.ports[n - 1] for n in (1, 2, 3) if n != leader]
        quorum_line = "controller.quorum.bootstrap.servers=" + ",".join(f"127.0.0.1:{p}" for p in followers)
    port = free_ports(1)[0]
    config = tmp_path / "observer.properties"
    config.write_text(f"node.id=9\nlisteners=PLAINTEXT://127.0.0.1:{port}\ncontroller.listener.names=PLAINTEXT\n"
                      f"{quorum_line}\nlog.dirs={tmp_path / 'logs-9'}\n")
    observer = NodeProcess(9, config).start()
    quorum.nodes[9] = observer  # killed with the quorum
    assert observer.stderr.wait_for(OBSERVES, WAIT_S), quorum.diagnostics()
    target = highest_watermark(quorum.nodes[next(n for n in (1, 2, 3) if n != leader)])
    assert wait_until(lambda: highest_watermark(observer) > max(target, 0)), quorum.diagnostics()

    def described():
        partition = describe_quorum(quorum.ports[leader - 1], 2).topics[0].partitions[0]
        return [o for o in partition.observers if o.replica_id == 9 and o.log_end_offset > 0] and partition
    partition = wait_until(described)
    assert partition, quorum.diagnostics()
    # Listed once, under its real directory id: its first Fetch went out at the version ApiVersions
    # settled (v17, with the directory id), not at v13 as a second, empty replica with the zero id.
    entries = [o for o in partition.observers if o.replica_id == 9]
    assert len(entries) == 1, entries
    assert entries[0].replica_directory_id != Uuid.ZERO and entries[0].log_end_offset > 0, entries
    assert observer.stop() == 0, quorum.diagnostics()


def test_snapshots_delete_old_segments_and_a_stopped_follower_catches_up_through_one(quorum_factory):
    small = {"metadata.log.max.record.bytes.between.snapshots": "100000",
             "metadata.log.segment.min.bytes": "32768", "metadata.log.segment.bytes": "32768",
             "metadata.max.retention.bytes": "1", "kraft.test.log.clean.interval.ms": "300"}
    quorum = quorum_factory(3, extra={n: small for n in (1, 2, 3)})
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    follower = next(n for n in quorum.nodes if n != leader)
    other = next(n for n in quorum.nodes if n not in (leader, follower))
    assert wait_until(lambda: highest_watermark(quorum.nodes[follower]) > 100), quorum.diagnostics()
    assert quorum.nodes[follower].stop() == 0, quorum.diagnostics()
    stopped_log = FileReplicatedLog.open(quorum.log_dirs[follower] / f"{TOPIC}-0")
    stopped_at = stopped_log.end_offset
    stopped_log.close()

    # The others go on: they snapshot and delete the log the stopped follower would need.
    partition_dir = quorum.log_dirs[leader] / f"{TOPIC}-0"

    def log_start():
        segments = sorted(int(p.name.split(".")[0]) for p in partition_dir.glob("*.log"))
        return segments[0] if segments else -1
    assert wait_until(lambda: log_start() > stopped_at), quorum.diagnostics()
    # the leader renames the files, then logs it: the line may still be on its way
    lines = quorum.nodes[leader].stderr
    assert lines.wait_for(WROTE_SNAPSHOT, WAIT_S) and lines.wait_for(DELETED, WAIT_S), quorum.diagnostics()

    # Nothing past its own log end is on the follower's disk: a snapshot it loads beyond that came
    # from the leader through FetchSnapshot.
    restarted = quorum.restart(follower)

    def fetched_snapshot():
        return [m for m in restarted.stderr.matches(LOADED_SNAPSHOT) if int(m.group(1)) > stopped_at]
    loaded = wait_until(fetched_snapshot)
    assert loaded, quorum.diagnostics()
    end_offset, count = int(loaded[0].group(1)), int(loaded[0].group(3))
    # every record but one LeaderChange per epoch is data
    assert end_offset - 100 < count < end_offset, (loaded[0].group(0), quorum.diagnostics())
    target = highest_watermark(quorum.nodes[other])
    assert wait_until(lambda: highest_watermark(restarted) > target), quorum.diagnostics()

    # Snapshots fall due at the same offsets on every node (the byte count restarts at each one,
    # the downloaded one included), so a snapshot the restarted follower writes after replaying
    # from the downloaded one must hold the count the leader wrote at that offset.
    def written(node) -> dict:
        return {int(m.group(1)): int(m.group(3)) for m in node.stderr.matches(WROTE_SNAPSHOT)}

    def own_snapshot_also_on_the_leader():
        mine = {o: c for o, c in written(restarted).items() if o > end_offset}
        return [o for o in mine if o in written(quorum.nodes[leader])]
    shared = wait_until(own_snapshot_also_on_the_leader)
    assert shared, quorum.diagnostics()
    assert all(written(restarted)[o] == written(quorum.nodes[leader])[o] for o in shared)

    # Both followers at once, then the leader: no election while the quorum stops.
    for n in (other, follower):
        quorum.nodes[n].signal(signal.SIGTERM)
    for n in (other, follower):
        assert quorum.nodes[n].wait(30) == 0, quorum.diagnostics()
    assert quorum.nodes[leader].stop() == 0, quorum.diagnostics()

    # All three logs agree. Every snapshot any node wrote or loaded, deleted since or not, maps
    # one offset to one count; each node's snapshots and segments on disk replay to those counts;
    # and a batch that two nodes hold is the same bytes on both.
    history: dict[int, int] = {}
    for node in quorum.nodes.values():
        for m in node.stderr.matches(WROTE_SNAPSHOT) + node.stderr.matches(LOADED_SNAPSHOT):
            offset, count = int(m.group(1)), int(m.group(3))
            assert history.setdefault(offset, count) == count, (offset, count, history[offset])
    replays = {n: replay_log_dir(quorum.log_dirs[n] / f"{TOPIC}-0") for n in quorum.nodes}
    for n, (snapshots, counts, _) in replays.items():
        assert snapshots, n  # retention kept the latest snapshot at least
        for offset, count in snapshots.items():
            assert history.get(offset) == count, (n, offset, count, history.get(offset))
        assert all(history[o] == counts[o] for o in counts if o in history), n
    compared = 0
    for a, b in ((leader, follower), (leader, other), (follower, other)):
        (_, counts_a, raw_a), (_, counts_b, raw_b) = replays[a], replays[b]
        common = counts_a.keys() & counts_b.keys()
        assert all(counts_a[o] == counts_b[o] for o in common), (a, b)
        assert all(raw_a[o] == raw_b[o] for o in raw_a.keys() & raw_b.keys()), (a, b)
        compared += len(common)
    # The leader's log starts at a snapshot no later than the high watermark, which the follower
    # ahead of the other holds: at least that offset is compared.
    assert compared, {n: (min(c), max(c)) for n, (_, c, _) in replays.items()}
    # The restarted follower's log starts at or after the snapshot it downloaded.
    assert min(replays[follower][1]) >= end_offset > stopped_at
