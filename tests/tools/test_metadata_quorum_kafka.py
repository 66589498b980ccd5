"""kraft-metadata-quorum against a real Kafka 4.4.0 KRaft controller, next to Kafka's own MetadataQuorumCommand.

Kafka's TestRaftServer does not answer DescribeQuorum (its request handler
takes only ApiVersions and the replication RPCs: TestRaftRequestHandler.scala
in kafka_2.13), so the Kafka quorum here is a one-node controller
(``kafka.Kafka`` with ``process.roles=controller``), its directory formatted
by ``kraft-storage format``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quorum_util import free_ports  # noqa: E402

BIN = Path(sys.executable).parent
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def kafka_controller(tmp_path_factory):
    from interop.kafka_jars import availability, classpath, java

    reason = availability("4.4.0")
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka 4.4.0 is needed in CI: {reason}")
        pytest.skip(f"Kafka 4.4.0 unavailable: {reason}")
    directory = tmp_path_factory.mktemp("kafka-controller")
    (port,) = free_ports(1)
    config = directory / "controller.properties"
    config.write_text("process.roles=controller\nnode.id=1\n"
                      f"controller.quorum.voters=1@127.0.0.1:{port}\ncontroller.listener.names=CONTROLLER\n"
                      f"listeners=CONTROLLER://127.0.0.1:{port}\nlog.dirs={directory / 'logs'}\n"
                      # no periodic no-op records: the high watermark stays put between the two tools
                      "metadata.max.idle.interval.ms=0\n")
    formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", CLUSTER_ID, "-c", str(config)],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    assert formatted.returncode == 0, formatted.stderr
    log = open(directory / "controller.log", "w")
    process = subprocess.Popen([java(), "-Xmx512m", "-cp", classpath("4.4.0"), "kafka.Kafka", str(config)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        yield port, process
    finally:
        process.kill()
        process.wait(30)
        log.close()


def kraft_tool(port: int, *args):
    return subprocess.run([str(BIN / "kraft-metadata-quorum"), "--bootstrap-controller", f"127.0.0.1:{port}",
                           "--timeout-ms", "2000", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def kafka_tool(port: int, *args):
    from interop.kafka_jars import classpath, java

    return subprocess.run([java(), "-cp", classpath("4.4.0"), "org.apache.kafka.tools.MetadataQuorumCommand",
                           "--bootstrap-controller", f"127.0.0.1:{port}", *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def wait_for_leader(port: int, process, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the Kafka controller exited"
        result = kraft_tool(port, "describe", "--status")
        if result.returncode == 0:
            return result
        time.sleep(0.5)
    pytest.fail(f"no leader within {timeout} s: {result.stderr}")


@pytest.mark.integration
def test_same_status_and_replication_as_kafkas_tool(kafka_controller):
    port, process = kafka_controller
    wait_for_leader(port, process)
    theirs = kafka_tool(port, "describe", "--status")
    ours = kraft_tool(port, "describe", "--status")
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == theirs.stdout.splitlines()
    assert f"ClusterId:              {CLUSTER_ID}" in ours.stdout
    assert f'CurrentVoters:          [{{"id": 1, "endpoints": ["CONTROLLER://127.0.0.1:{port}"]}}]' in ours.stdout

    theirs = kafka_tool(port, "describe", "--replication")
    before = int(time.time() * 1000)
    ours = kraft_tool(port, "describe", "--replication")
    after = int(time.time() * 1000)
    assert theirs.returncode == 0 == ours.returncode
    kafka_rows = [line.split("\t") for line in theirs.stdout.splitlines()]
    our_rows = [line.split("\t") for line in ours.stdout.splitlines()]
    assert len(our_rows) == len(kafka_rows) == 2
    assert our_rows[0] == kafka_rows[0]                      # the header, padding and tabs included
    for mine, kafkas in zip(our_rows[1:], kafka_rows[1:]):
        # the single leader's fetch and caught-up times are "now" at each answer; the rest is equal
        assert [mine[i].strip() for i in (0, 1, 2, 3, 6)] == [kafkas[i].strip() for i in (0, 1, 2, 3, 6)]
        assert before - 5000 <= int(mine[4]) <= after and before - 5000 <= int(mine[5]) <= after

    human = kraft_tool(port, "describe", "--replication", "--human-readable")
    assert human.returncode == 0
    assert re.search(r"\t\d+ ms ago\s*\t\d+ ms ago\s*\tLeader\s*\t$", human.stdout.splitlines()[1])
