"""Kafka's raft metrics: the windowed statistics, the Prometheus names, and RaftManager.metrics() on a real node."""
from __future__ import annotations

import asyncio
import math
import urllib.request

import pytest

import loopback_ports

from kraft.errors import ConfigError
from kraft.records import encode_batch
from kraft.server.config import ServerConfig
from kraft.server.metrics import (
    SAMPLES, WINDOW_MS, SampledStat, TimeRatio, count_records, prometheus_name, prometheus_samples,
)


def test_sampled_stat_avg_max_and_rate_follow_kafkas_windows():
    stat = SampledStat()
    assert math.isnan(stat.avg(0)) and math.isnan(stat.max(0))
    stat.record(10, 1_000)
    stat.record(30, 2_000)
    assert stat.avg(2_000) == 20 and stat.max(2_000) == 30
    # Rate: at least SAMPLES - 1 whole windows in the divisor, so 40 records in 1 s read as 40 / 31 s
    assert stat.rate_per_second(2_000) == pytest.approx(40 / ((2_000 - 1_000 + (SAMPLES - 1) * WINDOW_MS) / 1000))
    stat.record(5, 1_000 + WINDOW_MS)            # a second sample
    assert stat.avg(1_000 + WINDOW_MS) == 15
    later = 1_000 + SAMPLES * WINDOW_MS           # the first sample is obsolete
    assert stat.avg(later) == 5 and stat.max(later) == 5
    assert math.isnan(stat.avg(later + SAMPLES * WINDOW_MS))


def test_time_ratio_is_idle_time_over_the_interval_since_the_last_measure():
    ratio = TimeRatio(1.0)
    assert ratio.measure() == 1.0
    ratio.record(0, 100)          # the first record only starts the interval
    ratio.record(30, 200)
    ratio.record(20, 300)         # 50 ms idle over 200 ms
    assert ratio.measure() == 0.25
    assert ratio.measure() == 1.0  # nothing recorded since: the default
    ratio.record(500, 400)
    assert ratio.measure() == 1.0  # capped


def test_count_records_reads_batch_headers():
    raw = encode_batch([b"a", b"b", b"c"], base_offset=10) + encode_batch([b"d"], base_offset=13)
    assert count_records(raw) == 4
    assert count_records(b"") == 0


def test_prometheus_names_are_the_jmx_exporters():
    assert prometheus_name("current-epoch") == "kafka_server_raft_metrics_current_epoch"
    assert prometheus_name("poll-idle-ratio-avg") == "kafka_server_raft_metrics_poll_idle_ratio_avg"
    assert prometheus_name("latest-snapshot-generated-bytes") == \
        "kafka_server_snapshotemitter_latestsnapshotgeneratedbytes"
    samples = {name: (labels, value) for name, labels, value, _ in
               prometheus_samples({"current-state": "leader", "high-watermark": 7}, node_id=3)}
    assert samples["kafka_server_raft_metrics_current_state"] == ({"node_id": "3", "state": "leader"}, 1.0)
    assert samples["kafka_server_raft_metrics_high_watermark"] == ({"node_id": "3"}, 7.0)


BASE = {"node.id": "1", "listeners": "CONTROLLER://127.0.0.1:9093", "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": "1@127.0.0.1:9093", "log.dirs": "/tmp/x"}


def test_metrics_port_key():
    assert ServerConfig.from_properties(BASE).metrics_port is None
    assert ServerConfig.from_properties(dict(BASE, **{"kraft.metrics.port": "9404"})).metrics_port == 9404
    with pytest.raises(ConfigError, match="kraft.metrics.port"):
        ServerConfig.from_properties(dict(BASE, **{"kraft.metrics.port": "70000"}))
    with pytest.raises(ConfigError, match="kraft.metrics.port"):
        ServerConfig.from_properties(dict(BASE, **{"kraft.metrics.port": "http"}))


def _free_port() -> int:
    return loopback_ports.reserve(1)[0]


def test_raft_manager_metrics_of_a_single_node(tmp_path):
    import kraft

    port = _free_port()
    with_endpoint = pytest.importorskip("prometheus_client") is not None

    async def main():
        props = dict(BASE, **{"listeners": f"CONTROLLER://127.0.0.1:{port}",
                              "controller.quorum.voters": f"1@127.0.0.1:{port}", "log.dirs": str(tmp_path)})
        if with_endpoint:
            props["kraft.metrics.port"] = "0"
        async with kraft.RaftManager(props) as node:
            await node.wait_for_leader(timeout=30)
            first = node.metrics()
            for _ in range(5):
                await node.append([b"x"] * 4)
            second = node.metrics()
            text = ""
            if with_endpoint:
                url = f"http://127.0.0.1:{node._driver.metrics_server.port}/metrics"
                text = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: urllib.request.urlopen(url, timeout=10).read().decode())
            return first, second, node.high_watermark, text

    first, second, hw, text = asyncio.run(asyncio.wait_for(main(), 120))
    assert first["current-state"] == "leader" and first["current-leader"] == 1 and first["current-epoch"] >= 1
    assert first["number-of-voters"] == 1 and first["number-of-observers"] == 0
    assert second["high-watermark"] >= first["high-watermark"] + 20
    assert second["log-end-offset"] >= second["high-watermark"] and hw >= second["high-watermark"]
    assert second["append-records-rate"] > 0 and second["fetch-records-rate"] == 0
    assert second["commit-latency-max"] >= second["commit-latency-avg"] >= 0
    assert 0 <= second["poll-idle-ratio-avg"] <= 1
    assert second["latest-snapshot-generated-bytes"] >= 0
    if with_endpoint:
        assert 'kafka_server_raft_metrics_current_state{node_id="1",state="leader"} 1.0' in text
        assert "kafka_server_raft_metrics_high_watermark" in text


def test_unknown_voter_connections_counts_voters_without_an_address_on_our_listener(tmp_path):
    """A log whose voter set (kraft.version 1) names voter 3 only on another listener: this node has no
    connection information for it, so the gauge is 1.  Voter 2 is down but its address is known, and
    as in Kafka (which reports 0 for its static voters) that is no unknown connection."""
    import kraft
    from kraft.protocol.messages import KRaftVersionRecord, VotersRecord
    from kraft.protocol.uuid import Uuid
    from kraft.records.control import encode_control_batch
    from kraft.server.identity import TOPIC_NAME
    from kraft.storage import FileReplicatedLog, LogConfig

    import shutil

    from kraft.storage.log_dir import parse_properties

    port, down = _free_port(), _free_port()
    props = dict(BASE, **{"listeners": f"CONTROLLER://127.0.0.1:{port}", "log.dirs": str(tmp_path),
                          "controller.quorum.voters": f"1@127.0.0.1:{port}"})

    async def first_start():                          # writes meta.properties (and this node's directory id)
        async with kraft.RaftManager(props):
            pass

    asyncio.run(asyncio.wait_for(first_start(), 60))
    directory = Uuid.from_string(parse_properties((tmp_path / "meta.properties").read_text())["directory.id"])
    shutil.rmtree(tmp_path / f"{TOPIC_NAME}-0")

    def voter(node_id, listener, voter_port):
        return VotersRecord.Voter(
            voter_id=node_id, voter_directory_id=directory if node_id == 1 else Uuid(bytes([node_id]) * 16),
            endpoints=[VotersRecord.Endpoint(name=listener, host="127.0.0.1", port=voter_port)],
            kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0,
                                                                   max_supported_version=1))

    log = FileReplicatedLog.open(tmp_path / f"{TOPIC_NAME}-0", LogConfig())
    log.append_as_follower(encode_control_batch(
        [KRaftVersionRecord(version=0, kraft_version=1),
         VotersRecord(version=0, voters=[voter(1, "CONTROLLER", port), voter(2, "CONTROLLER", down),
                                         voter(3, "OTHER", 9999)])],
        base_offset=0, partition_leader_epoch=1, timestamp=1_700_000_000_000), 1)
    log.close()

    async def main():
        # shutdown_timeout=0: no peer is there to wait for
        async with kraft.RaftManager(props, shutdown_timeout=0) as node:
            for _ in range(200):                      # bounded: until the driver's first round is seen
                values = node.metrics()
                if values["number-of-voters"] == 3:
                    return values
                await asyncio.sleep(0.05)
            return node.metrics()

    values = asyncio.run(asyncio.wait_for(main(), 60))
    assert values["number-of-voters"] == 3
    assert values["current-state"] in ("unattached", "prospective", "candidate", "unattached-voted")   # no majority reachable
    assert values["number-unknown-voter-connections"] == 1


def test_unknown_voter_connections_of_a_static_quorum_is_kafkas_zero():
    from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
    from kraft.server.metrics import unknown_voter_connections

    voters = VoterSet([Voter(ReplicaKey(i), Endpoints([Endpoint("CONTROLLER", "127.0.0.1", 9000 + i)]))
                       for i in (1, 2, 3)])
    assert unknown_voter_connections(voters, 1, "CONTROLLER") == 0
    assert unknown_voter_connections(voters, 1, "controller") == 0          # listener names are case-blind
    assert unknown_voter_connections(voters, 1, "OTHER") == 2               # never the node itself
    assert unknown_voter_connections(voters, 4, "OTHER") == 3               # an observer counts every voter
