"""Kafka's raft metrics: the windowed statistics, the Prometheus names, and RaftManager.metrics() on a real node."""
from __future__ import annotations

import asyncio
import math
import socket
import urllib.request

import pytest

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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
