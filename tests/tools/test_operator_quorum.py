"""A real 3-node kraft quorum seen through the operator's tools: kraft-metadata-quorum against the
leader's own DescribeQuorum answer, and the Prometheus endpoints of all three nodes scraped through a
leader kill."""
from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quorum_util import Quorum, free_ports  # noqa: E402

prometheus_parser = pytest.importorskip("prometheus_client.parser")

TOOL = Path(sys.executable).parent / "kraft-metadata-quorum"
WAIT_S = 60


def scrape(port: int) -> dict:
    """name -> value, and for the string metrics name -> label value."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    values = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if "state" in sample.labels:
                values[sample.name] = sample.labels["state"]
            elif "directory_id" in sample.labels:
                values[sample.name] = sample.labels["directory_id"]
            else:
                values[sample.name] = sample.value
    return values


def wait_until(condition, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


P = "kafka_server_raft_metrics_"


def run_tool(addresses: str, *args):
    return subprocess.run([str(TOOL), "--bootstrap-controller", addresses, "--timeout-ms", "3000", *args],
                          capture_output=True, text=True, timeout=60)


def describe_truth(port: int):
    """The leader's DescribeQuorum answer at the highest common version, through kraft's client."""
    from kraft.net.api_versions import DESCRIBE_QUORUM, advertised_versions
    from kraft.net.channel import PeerChannel
    from kraft.protocol.messages import DescribeQuorumRequest

    async def ask():
        channel = PeerChannel("127.0.0.1", port, client_id="truth", advertised=advertised_versions())
        try:
            request = DescribeQuorumRequest(topics=[DescribeQuorumRequest.TopicData(
                topic_name="__raft_performance_test", partitions=[DescribeQuorumRequest.PartitionData(
                    partition_index=0)])])
            version, response = await channel.request(DESCRIBE_QUORUM, request)
            return version, response.topics[0].partitions[0]
        finally:
            await channel.close()
    return asyncio.run(ask())


@pytest.mark.integration
def test_tools_and_metrics_through_a_leader_kill(tmp_path):
    metrics_ports = free_ports(3)
    extra = {i + 1: {"kraft.metrics.port": p} for i, p in enumerate(metrics_ports)}
    quorum = Quorum(tmp_path, 3, extra=extra, args=("--throughput", "300", "--record-size", "64"))
    histograms = {n: tmp_path / f"latency-{n}.csv" for n in quorum.nodes}
    for n, node in quorum.nodes.items():
        node.args = node.args + ("--latency-histogram", str(histograms[n]))
    by_node = {i + 1: p for i, p in enumerate(metrics_ports)}
    addresses = ",".join(f"127.0.0.1:{p}" for p in quorum.ports)
    quorum.start()
    try:
        def leader_view():
            views = {n: scrape(p) for n, p in by_node.items()}
            leaders = [n for n, v in views.items() if v.get(P + "current_state") == "leader"]
            if len(leaders) == 1 and all(v.get(P + "current_leader") == leaders[0] and v.get(P + "high_watermark", -1) > 0
                                         for v in views.values()):
                return leaders[0], views
            return None
        leader, views = wait_until(leader_view, "one leader that every node knows")
        epoch = views[leader][P + "current_epoch"]
        for node, view in views.items():
            assert view[P + "current_epoch"] == epoch
            assert view[P + "current_state"] == ("leader" if node == leader else "follower")
            assert view[P + "number_of_voters"] == 3
            assert view[P + "current_vote"] in (-1.0, float(leader))
            assert view[P + "log_end_epoch"] == epoch
        assert views[leader][P + "current_vote"] == leader
        assert views[leader][P + "number_of_observers"] == 0
        assert P + "number_of_observers" not in views[[n for n in by_node if n != leader][0]]

        # kraft-metadata-quorum against the leader's own DescribeQuorum answer
        _, before = describe_truth(quorum.ports[leader - 1])
        replication = run_tool(addresses, "describe", "--replication")
        status = run_tool(addresses, "describe", "--status")
        version, after = describe_truth(quorum.ports[leader - 1])
        assert replication.returncode == 0 == status.returncode, replication.stderr + status.stderr
        assert version == 2
        rows = [[c.strip() for c in line.split("\t")[:-1]] for line in replication.stdout.splitlines()]
        assert rows[0] == ["NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp",
                           "LastCaughtUpTimestamp", "Status"]
        assert [(int(r[0]), r[6]) for r in rows[1:]] == [(leader, "Leader")] + [
            (v.replica_id, "Follower") for v in after.current_voters if v.replica_id != leader]
        leader_leo = int(rows[1][2])
        first = {v.replica_id: v for v in before.current_voters}
        last = {v.replica_id: v for v in after.current_voters}
        for row in rows[1:]:
            node, leo, lag = int(row[0]), int(row[2]), int(row[3])
            assert first[node].log_end_offset <= leo <= last[node].log_end_offset
            assert lag == leader_leo - leo
            assert first[node].last_fetch_timestamp <= int(row[4]) <= last[node].last_fetch_timestamp
        lines = dict(line.split(":", 1) for line in status.stdout.splitlines())
        assert int(lines["LeaderId"]) == leader and int(lines["LeaderEpoch"]) == after.leader_epoch == epoch
        assert before.high_watermark <= int(lines["HighWatermark"]) <= after.high_watermark
        for port in quorum.ports:
            assert f'"PLAINTEXT://127.0.0.1:{port}"' in lines["CurrentVoters"]
        assert lines["CurrentObservers"].strip() == "[]"

        # the figures move: the high watermark grows, records are appended and fetched, commits are timed
        hw = views[leader][P + "high_watermark"]
        def moved():
            v = {n: scrape(p) for n, p in by_node.items()}
            if v[leader].get(P + "high_watermark", 0) > hw and v[leader].get(P + "append_records_rate", 0) > 0 and \
                    all(v[n].get(P + "fetch_records_rate", 0) > 0 for n in by_node if n != leader):
                return v
            return None
        views = wait_until(moved, "the high watermark to grow and records to flow")
        assert math.isfinite(views[leader][P + "commit_latency_avg"])
        assert views[leader][P + "commit_latency_max"] >= views[leader][P + "commit_latency_avg"] > 0
        assert 0 <= views[leader][P + "poll_idle_ratio_avg"] <= 1
        old_hw = views[leader][P + "high_watermark"]

        # kill the leader: a survivor leads a later epoch, both know it, the high watermark goes on
        quorum.nodes[leader].process.send_signal(signal.SIGKILL)
        quorum.nodes[leader].wait(30)
        survivors = [n for n in by_node if n != leader]

        def new_leader():
            v = {n: scrape(by_node[n]) for n in survivors}
            leaders = [n for n in survivors if v[n].get(P + "current_state") == "leader"]
            if len(leaders) == 1 and all(v[n].get(P + "current_leader") == leaders[0] for n in survivors) and \
                    v[leaders[0]].get(P + "high_watermark", 0) > old_hw:
                return leaders[0], v
            return None
        new, views = wait_until(new_leader, "a new leader after the kill")
        assert new != leader
        for n in survivors:
            assert views[n][P + "current_epoch"] > epoch
            # the dead voter's address is still known: no unknown voter connection, as Kafka reports
            assert views[n][P + "number_unknown_voter_connections"] == 0
            assert views[n][P + "current_state"] == ("leader" if n == new else "follower")
        assert views[new][P + "current_vote"] == new
        # it went through candidacy: the election was timed
        assert views[new][P + "election_latency_max"] >= views[new][P + "election_latency_avg"] >= 0

        after_kill = run_tool(addresses, "describe", "--status")
        assert after_kill.returncode == 0, after_kill.stderr
        lines = dict(line.split(":", 1) for line in after_kill.stdout.splitlines())
        assert int(lines["LeaderId"]) == new and int(lines["LeaderEpoch"]) > epoch

        # a graceful stop writes each node's --latency-histogram: the new leader's holds its commits
        for n in survivors:
            assert quorum.nodes[n].stop(60) == 0, quorum.nodes[n].stderr_text()[-2000:]
        rows = [line.split(",") for line in histograms[new].read_text().splitlines()]
        assert rows[0] == ["latency_ms", "count", "cumulative_fraction"]
        buckets = [(int(ms), int(count), float(fraction)) for ms, count, fraction in rows[1:]]
        assert buckets and sum(c for _, c, _ in buckets) > 0
        assert [b[0] for b in buckets] == sorted({b[0] for b in buckets})
        assert buckets[-1][2] == 1.0 and all(a[2] < b[2] for a, b in zip(buckets, buckets[1:]))
        follower = [n for n in survivors if n != new][0]
        assert histograms[follower].read_text().splitlines() == ["latency_ms,count,cumulative_fraction"]
        assert not histograms[leader].exists()      # SIGKILLed: nothing written
    finally:
        quorum.kill_all()
