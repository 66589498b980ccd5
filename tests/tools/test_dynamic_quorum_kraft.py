"""Changing a kraft quorum's voters while its leader writes (issue 14), with real processes.

Three ``test-kraft-server-start`` processes: node 1 formatted ``--standalone`` (the only initial
voter), nodes 2 and 3 ``--no-initial-controllers`` (observers).  The leader writes the test
server's workload throughout.  ``kraft-metadata-quorum`` grows the quorum 1 -> 3, is refused a
duplicate, shrinks it to 2; Kafka 4.4.0's own ``kafka-metadata-quorum`` (MetadataQuorumCommand
from the Maven jars) adds and removes node 3 against the kraft leader; then the leader removes
itself and node 2 takes over; removing the last voter is refused.  The high watermark must keep
moving across every change.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quorum_util import NodeProcess, free_ports  # noqa: E402

BIN = Path(sys.executable).parent
#: the test server's fixed cluster id (Kafka's TestRaftServer's)
CLUSTER_ID = "AAAAAAAAAAAAAAAAAAAAAA"
TIMEOUT_S = 90


def node_config(directory: Path, node_id: int, port: int, bootstrap: str) -> Path:
    config = directory / f"controller{node_id}.properties"
    config.write_text(f"process.roles=controller\nnode.id={node_id}\n"
                      f"controller.quorum.bootstrap.servers={bootstrap}\n"
                      f"controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://127.0.0.1:{port}\n"
                      f"log.dirs={directory / f'logs{node_id}'}\n")
    return config


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kraft-dynamic")
    ports = free_ports(3)
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
    configs = {i: node_config(directory, i, p, bootstrap) for i, p in enumerate(ports, 1)}
    for node_id, config in configs.items():
        flag = "--standalone" if node_id == 1 else "--no-initial-controllers"
        formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", CLUSTER_ID, "-c", str(config), flag],
                                   capture_output=True, text=True, timeout=TIMEOUT_S)
        assert formatted.returncode == 0, formatted.stderr
    nodes = {i: NodeProcess(i, config) for i, config in configs.items()}
    try:
        for node in nodes.values():
            node.start()
        yield bootstrap, configs, nodes
    finally:
        for node in nodes.values():
            node.kill()


def kraft_tool(bootstrap: str, *args):
    return subprocess.run([str(BIN / "kraft-metadata-quorum"), "--bootstrap-controller", bootstrap,
                           "--timeout-ms", "10000", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def directory_id(config: Path) -> str:
    from kraft.storage.log_dir import read_meta_properties
    node_id = config.stem.removeprefix("controller")
    return str(read_meta_properties(config.parent / f"logs{node_id}" / "meta.properties").directory_id)


def state(bootstrap: str):
    """(leader, voters, observers, high watermark) as DescribeQuorum reports them, or None."""
    from interop.kafka_tool_util import parse_replication, parse_status
    status = kraft_tool(bootstrap, "describe", "--status")
    replication = kraft_tool(bootstrap, "describe", "--replication")
    if status.returncode != 0 or replication.returncode != 0:
        return None
    fields = parse_status(status.stdout)
    rows = parse_replication(replication.stdout)
    voters = sorted(int(r["NodeId"]) for r in rows if r.get("Status") in ("Leader", "Follower"))
    observers = sorted(int(r["NodeId"]) for r in rows if r.get("Status") == "Observer")
    return int(fields["LeaderId"]), voters, observers, int(fields["HighWatermark"])


def wait_for(bootstrap: str, nodes, leader, voters, observers=None, timeout: float = TIMEOUT_S):
    """Wait until the quorum has ``leader`` and ``voters`` (and ``observers``); returns its high watermark."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        for node in nodes.values():
            assert node.running, f"node {node.node_id} exited: {node.stderr_text()[-2000:]}"
        seen = state(bootstrap)
        if seen is not None and seen[0] == leader and seen[1] == voters and (
                observers is None or seen[2] == observers):
            return seen[3]
        time.sleep(0.3)
    pytest.fail(f"quorum never reached leader {leader}, voters {voters}, observers {observers}; last seen {seen}")


def wait_for_progress(bootstrap: str, beyond: int, timeout: float = TIMEOUT_S) -> int:
    """The high watermark moves past ``beyond`` (the leader keeps committing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = state(bootstrap)
        if seen is not None and seen[3] > beyond:
            return seen[3]
        time.sleep(0.3)
    pytest.fail(f"the high watermark stayed at or below {beyond}")


def add(bootstrap, config):
    return kraft_tool(bootstrap, "--command-config", str(config), "add-controller")


def remove(bootstrap, node_id, config):
    return kraft_tool(bootstrap, "remove-controller", "-i", str(node_id), "-d", directory_id(config))


def test_grow_shrink_and_the_leader_removes_itself_while_writing(quorum):
    bootstrap, configs, nodes = quorum
    hw = wait_for(bootstrap, nodes, 1, [1], [2, 3])
    for node_id, voters in ((2, [1, 2]), (3, [1, 2, 3])):
        added = add(bootstrap, configs[node_id])
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith(f"Added controller {node_id} with directory id {directory_id(configs[node_id])}")
        hw = wait_for_progress(bootstrap, wait_for(bootstrap, nodes, 1, voters))
    again = add(bootstrap, configs[2])
    assert again.returncode == 1
    assert again.stderr.startswith("org.apache.kafka.common.errors.DuplicateVoterException: "), again.stderr
    removed = remove(bootstrap, 3, configs[3])
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == f"Removed KRaft controller 3 with directory id {directory_id(configs[3])}\n"
    hw = wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes, 1, [1, 2], [3])))

    # the leader removes itself: it resigns once the change commits and node 2 leads alone
    removed = remove(bootstrap, 1, configs[1])
    assert removed.returncode == 0, removed.stderr
    wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes, 2, [2])))
    last = remove(bootstrap, 2, configs[2])
    assert last.returncode == 1
    assert last.stderr.startswith("org.apache.kafka.common.errors.VoterNotFoundException: "), last.stderr
    for node in nodes.values():
        assert "Traceback" not in node.stderr_text(), node.stderr_text()[-3000:]


def test_kafkas_tool_adds_and_removes_a_voter_of_a_kraft_leader(quorum):
    """Kafka 4.4.0's MetadataQuorumCommand against the kraft leader left by the test above (node 2)."""
    from interop.kafka_jars import availability
    from interop.kafka_tool_util import run_tool

    reason = availability("4.4.0")
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka 4.4.0 is needed in CI: {reason}")
        pytest.skip(f"Kafka 4.4.0 unavailable: {reason}")
    bootstrap, configs, nodes = quorum
    leader = state(bootstrap)[0]
    voters = state(bootstrap)[1]
    joining = 3
    assert joining not in voters

    def kafka(*args):
        return run_tool("4.4.0", "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-controller", bootstrap,
                        *args, timeout=TIMEOUT_S)
    added = kafka("--command-config", str(configs[joining]), "add-controller")
    assert added.returncode == 0, added.stderr[-3000:]
    assert f"Added controller {joining} with directory id {directory_id(configs[joining])}" in added.stdout
    hw = wait_for(bootstrap, nodes, leader, sorted(voters + [joining]))
    removed = kafka("remove-controller", "--controller-id", str(joining), "--controller-directory-id",
                    directory_id(configs[joining]))
    assert removed.returncode == 0, removed.stderr[-3000:]
    assert removed.stdout.strip() == f"Removed KRaft controller {joining} with directory id " \
                                     f"{directory_id(configs[joining])}"
    wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes, leader, voters)))


def test_two_observers_auto_join_and_a_moved_voter_updates_its_entry(tmp_path):
    """``controller.quorum.auto.join.enable``: two observers add themselves (one change at a time: the
    second is refused until the first commits, and tries again a fetch timeout later).  Then node 3
    restarts on another port: it sends UpdateRaftVoter and the Voters record takes its new listener.
    Then node 2's disk is replaced (a new directory id): it removes its old key and adds the new one."""
    ports = free_ports(4)
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports[:3])
    configs = {i: node_config(tmp_path, i, p, bootstrap) for i, p in enumerate(ports[:3], 1)}
    for node_id in (2, 3):
        configs[node_id].write_text(configs[node_id].read_text() + "controller.quorum.auto.join.enable=true\n")
    for node_id, config in configs.items():
        flag = "--standalone" if node_id == 1 else "--no-initial-controllers"
        formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", CLUSTER_ID, "-c", str(config), flag],
                                   capture_output=True, text=True, timeout=TIMEOUT_S)
        assert formatted.returncode == 0, formatted.stderr
    nodes = {i: NodeProcess(i, config) for i, config in configs.items()}
    try:
        for node in nodes.values():
            node.start()
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes, 1, [1, 2, 3], []))

        nodes[3].stop()
        configs[3].write_text(configs[3].read_text().replace(f"127.0.0.1:{ports[2]}\n", f"127.0.0.1:{ports[3]}\n"))
        nodes[3] = NodeProcess(3, configs[3]).start()
        deadline = time.monotonic() + TIMEOUT_S
        moved = f"CONTROLLER://127.0.0.1:{ports[3]}"
        while time.monotonic() < deadline:
            status = kraft_tool(bootstrap, "describe", "--status")
            if moved in status.stdout:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"node 3's new listener never reached the voter set: {status.stdout}")
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes, 1, [1, 2, 3], []))

        # node 2's disk is replaced: a new directory id.  Auto-join removes the old key, then adds the new.
        old_id = directory_id(configs[2])
        nodes[2].stop()
        import shutil
        shutil.rmtree(tmp_path / "logs2")
        formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", CLUSTER_ID, "-c", str(configs[2]),
                                    "--no-initial-controllers"], capture_output=True, text=True, timeout=TIMEOUT_S)
        assert formatted.returncode == 0, formatted.stderr
        new_id = directory_id(configs[2])
        assert new_id != old_id
        nodes[2] = NodeProcess(2, configs[2]).start()
        from interop.kafka_tool_util import parse_replication
        deadline = time.monotonic() + TIMEOUT_S
        rows = []
        while time.monotonic() < deadline:
            rows = parse_replication(kraft_tool(bootstrap, "describe", "--replication").stdout)
            if any(r.get("NodeId") == "2" and r.get("DirectoryId") == new_id and r.get("Status") == "Follower"
                   for r in rows):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"node 2 never became a voter again with its new directory id {new_id}: {rows}")
        # the old key is no voter: at most an observer row, kept (as Kafka keeps it) until 5 minutes idle
        assert all(r.get("Status") == "Observer" for r in rows if r.get("DirectoryId") == old_id), rows
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes, 1, [1, 2, 3]))
        for node in nodes.values():
            assert "Traceback" not in node.stderr_text(), node.stderr_text()[-3000:]
    finally:
        for node in nodes.values():
            node.kill()
