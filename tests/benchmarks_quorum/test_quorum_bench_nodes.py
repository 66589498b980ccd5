"""The quorum benchmark's node processes, for real, in short bounded runs on loopback."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

from quorum_common import ProcessGroup, wait_until  # noqa: E402
import run_quorum_bench  # noqa: E402

pytestmark = pytest.mark.integration

WAIT_S = 60


def _last_state(node) -> dict:
    states = [json.loads(line[len("QSTATE "):]) for line in node.lines(stderr=False) if line.startswith("QSTATE ")]
    return states[-1] if states else {"applied": -1, "bytes": -1, "submitted": 0}


def test_pysyncobj_nodes_replicate_every_append_to_all_three_processes(monkeypatch):
    pytest.importorskip("pysyncobj")
    wanted = 3000
    with ProcessGroup() as group:
        cluster = run_quorum_bench.PySyncObjCluster(group, rate=5000)
        cluster.load += ["--max-records", str(wanted)]
        cluster.start()

        def replicated() -> bool:
            # A node that led briefly at the start may have submitted a few appends of its own.
            cluster.check_alive()
            states = [_last_state(node) for node in cluster.nodes]
            submitted = sum(state["submitted"] for state in states)
            return submitted >= wanted and all(state["applied"] == submitted for state in states)
        assert wait_until(replicated, WAIT_S, 0.1), cluster.diagnostics()
        states = [_last_state(node) for node in cluster.nodes]
        assert all(state["bytes"] == 256 * state["applied"] for state in states)
        assert max(state["submitted"] for state in states) == wanted  # the leader stopped at --max-records
        samples = [s for node in cluster.nodes for s in node.snapshot_samples()]
        assert sum(s.count for s in samples) == states[0]["applied"]  # one sample per committed append
        assert all(latency >= 0 for s in samples for latency in s.histogram)
        for node in cluster.nodes:
            assert node.bad_lines == []


def test_kraft_nodes_report_commit_samples_and_the_servers_summary(tmp_path):
    with ProcessGroup() as group:
        cluster = run_quorum_bench.KraftCluster(group, tmp_path, throughput=2000)
        cluster.start()
        first = cluster.wait_for_commits(WAIT_S)

        def summary_printed() -> bool:
            cluster.check_alive()
            return bool(cluster.summary_lines())
        assert wait_until(summary_printed, WAIT_S, 0.1), cluster.diagnostics()
        leader = cluster.leader()
        assert leader is not None
        samples = cluster.nodes[leader].snapshot_samples()
        committed = sum(s.count for s in samples)
        # The server's summary line comes at least 5 s after start: by then thousands of records committed.
        assert committed > 1000
        assert all(s.first_ms >= first for s in samples)
        for index, node in enumerate(cluster.nodes):
            assert node.bad_lines == []
            if index != leader:
                assert node.snapshot_samples() == []
            assert cluster.node_ready(index)
