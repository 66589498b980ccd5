"""examples/kv_store.py as three real processes: writes through any node (forwarded to the leader),
the leader killed with SIGKILL, every acknowledged key on the survivors and after a restart."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loopback_ports

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kv_store.py"
WAIT_S = 60
FAST = ["controller.quorum.election.timeout.ms=300", "controller.quorum.fetch.timeout.ms=600",
        # small snapshots, so that the restart restores one
        "metadata.log.max.record.bytes.between.snapshots=2000"]


free_ports = loopback_ports.reserve


def request(port, method, path, body=b"", timeout=15):
    """(status, payload), or (None, reason) when the node cannot be reached."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, repr(e)
    finally:
        conn.close()


def until(predicate, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"not within {WAIT_S} s: {what}")


class Cluster:
    def __init__(self, tmp_path):
        ports = free_ports(6)
        self.raft = dict(zip((1, 2, 3), ports[:3]))
        self.http = dict(zip((1, 2, 3), ports[3:]))
        self.nodes = ",".join(f"{i}=127.0.0.1:{self.raft[i]}:{self.http[i]}" for i in (1, 2, 3))
        self.tmp_path = tmp_path
        self.procs = {}

    def start(self, node_id):
        args = [sys.executable, str(EXAMPLE), "--id", str(node_id), "--nodes", self.nodes,
                "--data", str(self.tmp_path / f"kv-{node_id}"), "--shutdown-timeout", "1"]
        for prop in FAST:
            args += ["--property", prop]
        log = open(self.tmp_path / f"kv-{node_id}.log", "ab")
        self.procs[node_id] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                               env={**os.environ, "PYTHONPATH": str(ROOT)})
        log.close()

    def leader(self, among):
        for i in among:
            status, payload = request(self.http[i], "GET", "/status", timeout=2)
            if status == 200 and payload["is_leader"]:
                return i
        return None

    def put(self, via, key, value):
        """Write through node ``via`` until acknowledged; the offset."""
        def attempt():
            status, payload = request(self.http[via], "PUT", f"/kv/{key}", value.encode())
            return payload["offset"] if status == 200 else None
        return until(attempt, f"PUT {key} through node {via}")

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_three_kv_stores_keep_every_acknowledged_key_when_the_leader_is_killed(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        for i in (1, 2, 3):
            cluster.start(i)
        acked = {}
        last_offset = -1
        for n in range(30):  # through every node: followers forward to the leader
            key = f"k{n}"
            last_offset = max(last_offset, cluster.put(1 + n % 3, key, f"v{n}"))
            acked[key] = f"v{n}"
        # a linearizable read through a follower sees the last write
        leader = until(lambda: cluster.leader((1, 2, 3)), "a leader")
        follower = next(i for i in (1, 2, 3) if i != leader)
        status, payload = request(cluster.http[follower], "GET", "/kv/k29")
        assert (status, payload["value"]) == (200, "v29") and payload["offset"] >= last_offset

        cluster.procs[leader].send_signal(signal.SIGKILL)
        cluster.procs[leader].wait()
        survivors = [i for i in (1, 2, 3) if i != leader]
        for n in range(30, 45):  # writes keep being acknowledged once the survivors elect a leader
            key = f"k{n}"
            last_offset = max(last_offset, cluster.put(survivors[n % 2], key, f"v{n}"))
            acked[key] = f"v{n}"

        def holds_everything(node_id):
            def caught_up():
                status, payload = request(cluster.http[node_id], "GET", "/status", timeout=2)
                return status == 200 and (payload["committed"] or 0) > last_offset
            until(caught_up, f"node {node_id} has offset {last_offset}")
            for key, value in acked.items():
                status, payload = request(cluster.http[node_id], "GET", f"/kv/{key}?after={last_offset}")
                assert (status, payload.get("value")) == (200, value), (node_id, key, status, payload)
        for i in survivors:
            holds_everything(i)
            status, payload = request(cluster.http[i], "GET", "/kv/k0")  # linearizable, via the new leader
            assert (status, payload["value"]) == (200, "v0")

        cluster.start(leader)  # the killed node restarts from its data directory and catches up
        until(lambda: request(cluster.http[leader], "GET", "/status", timeout=2)[0] == 200, "restart")
        holds_everything(leader)
        status, payload = request(cluster.http[leader], "GET", "/status")
        assert payload["keys"] == len(acked)
        assert list((tmp_path / f"kv-{leader}" / "__kv_store-0").glob("*.checkpoint")), "no snapshot written"
    finally:
        cluster.stop_all()
    for i in (1, 2, 3):  # graceful exits after SIGTERM
        assert cluster.procs[i].returncode == 0, (tmp_path / f"kv-{i}.log").read_text()
