"""Voter changes across implementations (issue 14): real Kafka and kraft processes, behind ``slow``.

* A Kafka TestRaftServer (3.9.2 and 4.4.0) joins a kraft-led quorum: started with only
  ``controller.quorum.bootstrap.servers`` it fetches as an observer at kraft.version 1; that
  release's own ``kafka-metadata-quorum`` (MetadataQuorumCommand, AddRaftVoter v0 from 3.9.2)
  adds it, is refused it again (DUPLICATE_VOTER), describes the quorum (``--status``,
  ``--replication``, ``--human-readable``) and removes it.  Both logs are then compared batch by
  batch, byte for byte, and Kafka's DumpLogSegments reads the Voters records in Kafka's own copy;
  Kafka's log holds no error.
* A kraft node joins a Kafka-led quorum: Kafka's TestRaftServer cannot lead a change (its request
  handler takes only the replication RPCs: "Unsupported api key" for AddRaftVoter,
  TestRaftRequestHandler.scala:52 in 4.3.1), so the leader is a Kafka 4.4.0 controller
  (``kafka.Kafka``, ``process.roles=controller``) replicating ``__cluster_metadata``, and the kraft
  node is a RaftManager on that partition.  Kafka's tool adds it and the Kafka leader removes it;
  the tool adds it again and its vote is then needed to elect a leader after the controller
  restarts; the tool removes it through whichever node leads; the logs are compared byte for byte.

Every process is killed when its test ends.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from tools.dynamic_quorum import (KAFKA_CLUSTER_ID, METADATA_TOPIC, TEST_SERVER_CLUSTER_ID, controller_config,
                                  directory_id, format_controller, kafka_tool, log_dir, state, wait_for,
                                  wait_for_progress, wait_until)
from tools.quorum_util import NodeProcess, free_ports

from kafka_jars import classpath, java
from kafka_node import kafka_command, new_directory_id, terminate
from kafka_tool_util import parse_replication, run_tool
from mixed_quorum import TOPIC_DIR, compare_logs

pytestmark = pytest.mark.slow

#: A kraft node on a Kafka controller's partition (``__cluster_metadata``-0, topic id (0, 1)):
#: RaftManager embedded with that identity.  argv: config, cluster id.
KRAFT_METADATA_NODE = """
import asyncio, logging, signal, sys
from kraft.protocol.uuid import Uuid
from kraft.server.raft_manager import PartitionIdentity, RaftManager
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="[%(asctime)s] %(levelname)s %(message)s (%(name)s)")
async def main():
    props = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines() if "=" in l)
    identity = PartitionIdentity(cluster_id=sys.argv[2], topic="__cluster_metadata", topic_id=Uuid.from_bits(0, 1))
    async with RaftManager(props, identity=identity):
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
asyncio.run(main())
"""


def dump_voters(version: str, partition_dir) -> list[dict]:
    """The Voters control records (as JSON) that Kafka's DumpLogSegments finds in a log's segments."""
    dump_class = "kafka.tools.DumpLogSegments" if version.startswith("3.") else \
        "org.apache.kafka.tools.DumpLogSegments"
    segments = sorted(partition_dir.glob("*.log"))
    dumped = run_tool(version, dump_class, "--print-data-log", "--files", ",".join(map(str, segments)))
    assert dumped.returncode == 0, dumped.stderr[-3000:]
    return [json.loads(line.split(" KRaftVoters ", 1)[1]) for line in dumped.stdout.splitlines()
            if " KRaftVoters " in line]


#: What a Kafka controller logs while a kraft node leads its quorum: its ControllerRegistrationManager
#: registers with the active controller, which it takes to be the Raft leader (ControllerRegistrationManager
#: .scala:218, 4.3.1), and kraft is no QuorumController (UNSUPPORTED_VERSION).  Tolerated only then.
CONTROLLER_REGISTRATION = re.compile(r"CONTROLLER_REGISTRATION|ControllerRegistration|RegistrationResponseHandler")


def errors_in(log: Path, tolerated: Optional[re.Pattern] = None) -> list[str]:
    """The ERROR and exception lines of a Kafka log but those ``tolerated``."""
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if re.search(r"\bERROR\b|Exception\b", line) and "RejectedExecutionException" not in line]
    return [line for line in lines if tolerated is None or not tolerated.search(line)]


def test_a_kafka_test_server_joins_and_leaves_a_kraft_led_quorum(kafka_version, tmp_path):
    ports = free_ports(2)
    bootstrap = f"127.0.0.1:{ports[0]}"
    leader_config = controller_config(tmp_path, 1, ports[0], bootstrap)
    format_controller(leader_config, "--standalone")
    kafka_config = controller_config(tmp_path, 2, ports[1], bootstrap)
    kafka_id = new_directory_id()
    # TestRaftServer neither reads nor writes meta.properties; the tool's add-controller reads the
    # directory id from there, so it is written for the tool only
    log_dir(kafka_config).mkdir()
    (log_dir(kafka_config) / "meta.properties").write_text(
        f"version=1\ncluster.id={TEST_SERVER_CLUSTER_ID}\nnode.id=2\ndirectory.id={kafka_id}\n")
    leader = NodeProcess(1, leader_config, ("--throughput", "500"))
    kafka_log = open(tmp_path / "kafka2.log", "w")
    kafka = None
    try:
        leader.start()
        kafka = subprocess.Popen(kafka_command(kafka_version, kafka_config, kafka_id, tmp_path),
                                 stdout=kafka_log, stderr=subprocess.STDOUT)
        processes = [leader, kafka]
        hw = wait_for(bootstrap, processes, 1, [1], [2])

        added = kafka_tool(kafka_version, bootstrap, "--command-config", str(kafka_config), "add-controller")
        assert added.returncode == 0, added.stderr[-3000:]
        assert added.stdout == f"Added controller 2 with directory id {kafka_id} and endpoints: " \
                               f"CONTROLLER://127.0.0.1:{ports[1]}\n"
        # two voters: the high watermark moves only with the Kafka node's fetches
        hw = wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, processes, 1, [1, 2], [])), processes)
        described = kafka_tool(kafka_version, bootstrap, "describe", "--replication")
        assert described.returncode == 0, described.stderr[-3000:]
        rows = {r["NodeId"]: r for r in parse_replication(described.stdout)}
        assert (rows["1"]["Status"], rows["2"]["Status"], rows["2"]["DirectoryId"]) == ("Leader", "Follower", kafka_id)
        readable = kafka_tool(kafka_version, bootstrap, "describe", "--replication", "--human-readable")
        assert readable.returncode == 0, readable.stderr[-3000:]
        statuses = {r["NodeId"]: r["Status"] for r in parse_replication(readable.stdout)}
        assert statuses == {"1": "Leader", "2": "Follower"}, readable.stdout
        assert " ms ago" in readable.stdout, readable.stdout
        status = kafka_tool(kafka_version, bootstrap, "describe", "--status")
        assert status.returncode == 0 and f'"id": 2, "directoryId": "{kafka_id}"' in status.stdout, status.stdout
        again = kafka_tool(kafka_version, bootstrap, "--command-config", str(kafka_config), "add-controller")
        assert again.returncode == 1 and "DuplicateVoterException: " in again.stderr, again.stderr[-3000:]

        removed = kafka_tool(kafka_version, bootstrap, "remove-controller", "--controller-id", "2",
                             "--controller-directory-id", kafka_id)
        assert removed.returncode == 0, removed.stderr[-3000:]
        # 3.9.2 prints "Removed " then " KRaft controller" (MetadataQuorumCommand.java:501): two spaces
        spaces = "  " if kafka_version.startswith("3.") else " "
        assert removed.stdout == f"Removed{spaces}KRaft controller 2 with directory id {kafka_id}\n"
        hw = wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, processes, 1, [1], [2])), processes)

        # the observer reaches an acknowledged offset; then both stop and their logs are compared
        wait_until(bootstrap, processes, lambda seen: seen.log_ends.get(2, -1) >= hw, f"node 2's log end at {hw}")
        assert leader.stop() == 0
        terminate(kafka)
        kraft_partition, kafka_partition = log_dir(leader_config) / TOPIC_DIR, log_dir(kafka_config) / TOPIC_DIR
        batches, nbytes = compare_logs({1: kraft_partition, 2: kafka_partition}, hw)
        assert batches > 0 and nbytes > 0
        # Kafka reads the two changes back from its own log: voters {1, 2}, then {1}
        records = dump_voters(kafka_version, kafka_partition)
        voters = [[(v["voterId"], v["voterDirectoryId"]) for v in r["voters"]] for r in records]
        first = (1, directory_id(leader_config))
        assert voters == [[first], [first, (2, kafka_id)], [first]], records
        kafka_log.flush()
        assert not errors_in(tmp_path / "kafka2.log"), errors_in(tmp_path / "kafka2.log")[:10]
    finally:
        leader.kill()
        if kafka is not None:
            kafka.kill()
            kafka.wait(30)
        kafka_log.close()


def test_a_kraft_node_joins_and_leaves_a_kafka_led_quorum(tmp_path):
    from tools.dynamic_quorum import require_kafka

    version = "4.4.0"
    require_kafka(version)
    ports = free_ports(2)
    bootstrap = f"127.0.0.1:{ports[0]}"
    kafka_config = controller_config(tmp_path, 1, ports[0], bootstrap)
    kraft_config = controller_config(tmp_path, 2, ports[1], bootstrap)
    format_controller(kafka_config, "--standalone", KAFKA_CLUSTER_ID, METADATA_TOPIC)
    format_controller(kraft_config, "--no-initial-controllers", KAFKA_CLUSTER_ID, METADATA_TOPIC)
    kraft_id = directory_id(kraft_config)
    both = f"{bootstrap},127.0.0.1:{ports[1]}"  # the quorum is watched at whichever node leads
    logs = {i: open(tmp_path / f"node{i}.log", "a") for i in (1, 2)}

    def start_kafka():
        return subprocess.Popen([java(), "-Xmx384m", "-XX:TieredStopAtLevel=1", "-cp", classpath(version),
                                 "kafka.Kafka", str(kafka_config)], stdout=logs[1], stderr=subprocess.STDOUT)
    processes = {}
    try:
        processes[1] = start_kafka()
        processes[2] = subprocess.Popen([sys.executable, "-c", KRAFT_METADATA_NODE, str(kraft_config),
                                         KAFKA_CLUSTER_ID], stdout=logs[2], stderr=subprocess.STDOUT)
        hw = wait_for(both, processes.values(), 1, [1], [2])

        def add():
            added = kafka_tool(version, bootstrap, "--command-config", str(kraft_config), "add-controller")
            assert added.returncode == 0, added.stderr[-3000:]
            assert added.stdout.startswith(f"Added controller 2 with directory id {kraft_id}")
            # two voters: the Kafka leader's high watermark moves only with the kraft node's fetches
            return wait_for_progress(both, max(hw, wait_for(both, processes.values(), 1, [1, 2], [])),
                                     processes.values())

        def remove(tool_bootstrap):
            removed = kafka_tool(version, tool_bootstrap, "remove-controller", "--controller-id", "2",
                                 "--controller-directory-id", kraft_id)
            assert removed.returncode == 0, removed.stderr[-3000:]
            assert removed.stdout == f"Removed KRaft controller 2 with directory id {kraft_id}\n"
            return wait_for_progress(both, max(hw, wait_for(both, processes.values(), 1, [1], [2])),
                                     processes.values())

        hw = add()
        # removed by the Kafka leader (it has led alone since its standalone format), then added again
        assert state(both).leader == 1
        hw = remove(bootstrap)
        hw = add()

        # the Kafka controller restarts: no leader can be elected without the kraft node's vote
        epoch_before = state(both).epoch
        terminate(processes[1])
        processes[1] = start_kafka()
        seen = wait_until(both, processes.values(),
                          lambda s: s.voters == [1, 2] and s.epoch > epoch_before and s.high_watermark >= 0,
                          "a leader of both voters committing in a later epoch")
        assert seen.high_watermark >= hw, f"the high watermark went back from {hw}: {seen}"
        tool_bootstrap, tolerated = bootstrap, None
        if seen.leader == 1:
            hw = wait_for_progress(both, seen.high_watermark, processes.values())
        else:
            # the kraft node won: it leads the Kafka controller (writing only its LeaderChange) and gets
            # this second RemoveRaftVoter; it removes itself, resigns once that commits, and the controller
            # leads alone.  Kafka's tool is pointed at the kraft node: a Kafka controller's DescribeCluster
            # names as controllers only those that registered (ControllerApis.scala:1074), never a kraft node
            tool_bootstrap, tolerated = f"127.0.0.1:{ports[1]}", CONTROLLER_REGISTRATION

        hw = remove(tool_bootstrap)
        wait_until(both, processes.values(), lambda seen: seen.log_ends.get(2, -1) >= hw,
                   f"node 2's log end at {hw}")
        for process in (processes[2], processes[1]):
            terminate(process)
        partition = f"{METADATA_TOPIC}-0"
        compare_logs({1: log_dir(kafka_config) / partition, 2: log_dir(kraft_config) / partition}, hw)
        logs[1].flush()
        assert not errors_in(tmp_path / "node1.log", tolerated), errors_in(tmp_path / "node1.log", tolerated)[:10]
        assert "Traceback" not in (tmp_path / "node2.log").read_text()
    finally:
        for process in processes.values():
            process.kill()
            process.wait(30)
        for log in logs.values():
            log.close()

