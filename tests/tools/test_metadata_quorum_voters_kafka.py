"""``kraft-metadata-quorum add-controller`` / ``remove-controller`` against Kafka 4.4.0 controllers (issue 14).

A dynamic quorum of one Kafka controller (formatted by ``kraft-storage format
--standalone --metadata-topic __cluster_metadata``) and a second Kafka controller
formatted with ``--no-initial-controllers``, which runs as an observer.  kraft's
tool adds the second one as a voter and removes it again, then Kafka's own
MetadataQuorumCommand does the same; the two tools must print the same lines
(success and error) and leave the quorum in the same state.  kraft's own leader
does not handle AddRaftVoter / RemoveRaftVoter yet, so the quorum is Kafka's.
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


def node_config(directory: Path, node_id: int, port: int, bootstrap_port: int) -> Path:
    config = directory / f"controller{node_id}.properties"
    config.write_text(f"process.roles=controller\nnode.id={node_id}\n"
                      f"controller.quorum.bootstrap.servers=127.0.0.1:{bootstrap_port}\n"
                      f"controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://127.0.0.1:{port}\n"
                      f"log.dirs={directory / f'logs{node_id}'}\n")
    return config


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    from interop.kafka_jars import availability, classpath, java

    reason = availability("4.4.0")
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka 4.4.0 is needed in CI: {reason}")
        pytest.skip(f"Kafka 4.4.0 unavailable: {reason}")
    directory = tmp_path_factory.mktemp("kafka-dynamic")
    port1, port2 = free_ports(2)
    configs = [node_config(directory, 1, port1, port1), node_config(directory, 2, port2, port1)]
    for config, flag in zip(configs, ["--standalone", "--no-initial-controllers"]):
        formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", CLUSTER_ID, "-c", str(config),
                                    flag, "--metadata-topic", "__cluster_metadata"],
                                   capture_output=True, text=True, timeout=TIMEOUT_S)
        assert formatted.returncode == 0, formatted.stderr
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
    return subprocess.run([str(BIN / "kraft-metadata-quorum"), "--bootstrap-controller", f"127.0.0.1:{port}",
                           "--timeout-ms", "5000", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def kafka_tool(port: int, *args):
    from interop.kafka_tool_util import run_tool

    return run_tool("4.4.0", "org.apache.kafka.tools.MetadataQuorumCommand",
                    "--bootstrap-controller", f"127.0.0.1:{port}", *args, timeout=TIMEOUT_S)


def voters_and_observers(port: int):
    result = kraft_tool(port, "describe", "--replication")
    if result.returncode != 0:
        return None
    from interop.kafka_tool_util import parse_replication

    rows = parse_replication(result.stdout)
    voters = sorted(int(r["NodeId"]) for r in rows if r.get("Status") in ("Leader", "Follower"))
    observers = sorted(int(r["NodeId"]) for r in rows if r.get("Status") == "Observer")
    return voters, observers


def wait_for(port: int, processes, want, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, "a Kafka controller exited"
        seen = voters_and_observers(port)
        if seen == want:
            return
        time.sleep(0.3)
    pytest.fail(f"quorum never reached voters/observers {want}; last seen {seen}: "
                f"{kraft_tool(port, 'describe', '--replication')}")


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
    wait_for(port, processes, ([1], [2]))
    outputs = {}
    for name, tool in (("kraft", kraft_tool), ("kafka", kafka_tool)):
        added = change(tool, port, config2, directory_id, "add")
        assert added.returncode == 0, f"{name}: {added.stderr}"
        wait_for(port, processes, ([1, 2], []))
        again = change(tool, port, config2, directory_id, "add")     # already a voter: an error answer
        assert again.returncode == 1
        removed = change(tool, port, config2, directory_id, "remove")
        assert removed.returncode == 0, f"{name}: {removed.stderr}"
        wait_for(port, processes, ([1], [2]))
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
    wait_for(port, processes, ([1], [2]))
    ours = kraft_tool(port, "remove-controller", "-i", "7", "-d", "AAAAAAAAAAAAAAAAAAAAAQ")
    theirs = kafka_tool(port, "remove-controller", "-i", "7", "-d", "AAAAAAAAAAAAAAAAAAAAAQ")
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.count("\n") == 1
    assert ours.stderr.splitlines()[0] == error_line(theirs.stderr)
    assert ours.stderr.startswith("org.apache.kafka.common.errors.VoterNotFoundException: "), ours.stderr
