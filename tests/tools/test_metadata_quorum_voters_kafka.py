"""``kraft-metadata-quorum add-controller`` / ``remove-controller`` against Kafka 4.4.0 controllers (issue 14).

A dynamic quorum of one Kafka controller (formatted by ``kraft-storage format
--standalone --metadata-topic __cluster_metadata``) and a second Kafka controller
formatted with ``--no-initial-controllers``, which runs as an observer.  kraft's
tool adds the second one as a voter and removes it again, then Kafka's own
MetadataQuorumCommand does the same; the two tools must print the same lines
(success and error) and leave the quorum in the same state.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dynamic_quorum import (KAFKA_CLUSTER_ID, METADATA_TOPIC, controller_config, format_controller,  # noqa: E402
                            require_kafka, wait_for)
from dynamic_quorum import kafka_tool as kafka_quorum_tool  # noqa: E402
from dynamic_quorum import kraft_tool as kraft_quorum_tool  # noqa: E402
from quorum_util import free_ports  # noqa: E402

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    from interop.kafka_jars import classpath, java

    require_kafka("4.4.0")
    directory = tmp_path_factory.mktemp("kafka-dynamic")
    port1, port2 = free_ports(2)
    configs = [controller_config(directory, 1, port1, f"127.0.0.1:{port1}"),
               controller_config(directory, 2, port2, f"127.0.0.1:{port1}")]
    for config, flag in zip(configs, ["--standalone", "--no-initial-controllers"]):
        format_controller(config, flag, KAFKA_CLUSTER_ID, METADATA_TOPIC)
    processes, logs = [], []
    try:
        for node_id, config in enumerate(configs, 1):
            log = open(directory / f"controller{node_id}.log", "w")
            logs.append(log)
            processes.append(subprocess.Popen([java(), "-Xmx384m", "-XX:TieredStopAtLevel=1", "-cp",
                                               classpath("4.4.0"), "kafka.Kafka", str(config)],
                                              stdout=log, stderr=subprocess.STDOUT))
        yield port1, configs[1], processes
    finally:
        for process in processes:
            process.kill()
            process.wait(30)
        for log in logs:
            log.close()


def kraft_tool(port: int, *args):
    return kraft_quorum_tool(f"127.0.0.1:{port}", *args)


def kafka_tool(port: int, *args):
    return kafka_quorum_tool("4.4.0", f"127.0.0.1:{port}", *args)


def wait_until_voters(port: int, processes, want):
    """Wait until the quorum's (voters, observers) are ``want``."""
    wait_for(f"127.0.0.1:{port}", processes, None, *want)


def error_line(stderr: str) -> str:
    """The tool's message: the first stderr line that is not Kafka's own logging (``[main] INFO ...`` and the
    indented configuration dump that follows it)."""
    for line in stderr.splitlines():
        if line.strip() and not line.startswith(("[", " ", "\t")):
            return line
    return ""


def change(tool, port: int, config: Path, directory_id: str, verb: str):
    if verb == "add":
        return tool(port, "--command-config", str(config), "add-controller")
    return tool(port, "remove-controller", "--controller-id", "2", "--controller-directory-id", directory_id)


def test_add_and_remove_controller_like_kafka(quorum):
    from kraft.storage.log_dir import read_meta_properties

    port, config2, processes = quorum
    directory_id = str(read_meta_properties(config2.parent / "logs2" / "meta.properties").directory_id)
    wait_until_voters(port, processes, ([1], [2]))
    outputs = {}
    for name, tool in (("kraft", kraft_tool), ("kafka", kafka_tool)):
        added = change(tool, port, config2, directory_id, "add")
        assert added.returncode == 0, f"{name}: {added.stderr}"
        wait_until_voters(port, processes, ([1, 2], []))
        again = change(tool, port, config2, directory_id, "add")     # already a voter: an error answer
        assert again.returncode == 1
        removed = change(tool, port, config2, directory_id, "remove")
        assert removed.returncode == 0, f"{name}: {removed.stderr}"
        wait_until_voters(port, processes, ([1], [2]))
        outputs[name] = (added.stdout, removed.stdout, error_line(again.stderr))
    port2 = re.search(r"listeners=CONTROLLER://127.0.0.1:(\d+)", config2.read_text()).group(1)
    assert outputs["kraft"][0] == outputs["kafka"][0] == (
        f"Added controller 2 with directory id {directory_id} and endpoints: CONTROLLER://127.0.0.1:{port2}\n")
    assert outputs["kraft"][1] == outputs["kafka"][1] == f"Removed KRaft controller 2 with directory id {directory_id}\n"
    # the error line: Kafka prints the ExecutionException's message (then a stack trace kraft leaves out)
    assert outputs["kraft"][2] == outputs["kafka"][2], outputs
    assert outputs["kraft"][2].startswith("org.apache.kafka.common.errors.DuplicateVoterException: ")


def test_remove_unknown_voter_like_kafka(quorum):
    port, config2, processes = quorum
    wait_until_voters(port, processes, ([1], [2]))
    ours = kraft_tool(port, "remove-controller", "-i", "7", "-d", "AAAAAAAAAAAAAAAAAAAAAQ")
    theirs = kafka_tool(port, "remove-controller", "-i", "7", "-d", "AAAAAAAAAAAAAAAAAAAAAQ")
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.count("\n") == 1
    assert ours.stderr.splitlines()[0] == error_line(theirs.stderr)
    assert ours.stderr.startswith("org.apache.kafka.common.errors.VoterNotFoundException: "), ours.stderr
