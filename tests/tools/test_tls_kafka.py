"""A mixed quorum over mutual TLS: two kraft test servers and Kafka's TestRaftServer (issue 18).

Kafka's TestRaftServer binds its controller listener with the listener's
security protocol (SocketServer) and its raft client connects to the voters
with the controller listener's protocol and ``ssl.*`` settings, so the same
PEM keys configure all three nodes.  The Kafka node follows a kraft leader
over TLS; then the kraft leader is killed and the two survivors, one of each,
elect a leader over TLS and commit again.

Needs ``tests/interop/kafka_node.py`` (the mixed-quorum helper) and Kafka's
jars; behind ``slow`` (a JVM start per Kafka version).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from net.tls_certs import Pki, ssl_properties
from quorum_util import LEADER, NodeProcess, free_ports

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
kafka_node = pytest.importorskip("kafka_node", reason="needs tests/interop/kafka_node.py "
                                                               "(the mixed-quorum helper)")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAIT_S = 90
FAILED_AUTH = re.compile(r"Failed authentication")
FIRST_COMMIT = re.compile(r"First record of epoch (\d+) committed at offset")


def _wait(condition, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    return None


def _kafka_epochs(log: Path, *patterns: re.Pattern) -> list[int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [int(m.group(2)) for p in patterns for m in p.finditer(text)]


def test_kraft_and_kafka_form_a_mutual_tls_quorum(tmp_path, kafka_version):
    ca = Pki(tmp_path / "pki")
    ports = free_ports(3)
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ports))
    configs = {}
    for node_id in (1, 2, 3):
        props = {"node.id": node_id, "process.roles": "controller",
                 "listeners": f"CONTROLLER://127.0.0.1:{ports[node_id - 1]}",
                 "controller.listener.names": "CONTROLLER", "controller.quorum.voters": voters,
                 "log.dirs": tmp_path / f"logs-{node_id}", **ssl_properties(ca.issue(f"node{node_id}"), ca)}
        configs[node_id] = tmp_path / f"node-{node_id}.properties"
        configs[node_id].write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    kafka_log = tmp_path / "kafka-3.log"
    kraft = {i: NodeProcess(i, configs[i]).start() for i in (1, 2)}
    with open(kafka_log, "w") as out:
        kafka = subprocess.Popen(kafka_node.kafka_command(kafka_version, configs[3], kafka_node.new_directory_id(),
                                                          tmp_path), stdout=out, stderr=subprocess.STDOUT)
    try:
        def diagnostics():
            return "\n".join([f"--- kraft {i}\n" + "\n".join(n.stderr.lines[-15:]) for i, n in kraft.items()]
                             + ["--- kafka\n" + "\n".join(kafka_log.read_text(errors="replace").splitlines()[-15:])])

        # a kraft node leads (the first to win) and Kafka follows it over TLS, or Kafka leads them
        def first_commit_on_kafka():
            return _kafka_epochs(kafka_log, kafka_node.KAFKA_FOLLOWER_HIGH_WATERMARK, kafka_node.KAFKA_FIRST_COMMIT)
        epochs = _wait(first_commit_on_kafka)
        assert epochs, diagnostics()

        def kraft_leader():
            for node_id, node in kraft.items():
                found = node.stderr.matches(LEADER)
                if found and found[-1].group(1) in ("1", "2") and int(found[-1].group(2)) == max(epochs):
                    return int(found[-1].group(1))
            return None
        leader = _wait(kraft_leader, 30)
        if leader is None:
            # Kafka leads and the kraft nodes follow it over TLS
            assert _kafka_epochs(kafka_log, kafka_node.KAFKA_FIRST_COMMIT), diagnostics()
        else:
            # kill the kraft leader: Kafka and the other kraft node elect over TLS and commit again
            old_epoch = max(epochs)
            kraft[leader].kill()
            survivor = kraft[3 - leader]

            def committed_in_a_later_epoch():
                # the survivor leads and commits (Kafka's fetches make the majority), or Kafka does
                kraft_epochs = [int(m.group(1)) for m in survivor.stderr.matches(FIRST_COMMIT)]
                kafka_epochs = _kafka_epochs(kafka_log, kafka_node.KAFKA_FIRST_COMMIT)
                return [e for e in kraft_epochs + kafka_epochs if e > old_epoch]
            later = _wait(committed_in_a_later_epoch)
            assert later, diagnostics()
            print(f"kraft leader {leader} killed in epoch {old_epoch}; committed again in epoch {max(later)}")
        for node in kraft.values():
            assert not node.stderr.matches(FAILED_AUTH), diagnostics()
            assert "Traceback" not in "\n".join(node.stderr.lines), diagnostics()
        assert "SslAuthenticationException" not in kafka_log.read_text(errors="replace"), diagnostics()
    finally:
        for node in kraft.values():
            node.kill()
        if kafka.poll() is None:
            kafka.kill()
        kafka.wait(30)
