"""Dynamic (KIP-853) quorums of real processes, shared by the voter-change tests.

Each node has a controller configuration that names only ``controller.quorum.bootstrap.servers``
(no static voters) and a directory formatted by ``kraft-storage format`` (``--standalone`` for the
first voter, ``--no-initial-controllers`` for one that joins later).  The quorum is watched
through DescribeQuorum, as ``kraft-metadata-quorum describe`` (or Kafka's own tool) reports it.

Every wait is bounded; the processes are started and killed by the tests' fixtures.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Optional

import pytest

BIN = Path(sys.executable).parent
#: Kafka's test server's fixed cluster id (``Uuid.ZERO_UUID``), used by test-kraft-server-start
TEST_SERVER_CLUSTER_ID = "AAAAAAAAAAAAAAAAAAAAAA"
#: a cluster id for Kafka controllers (any 16-byte id)
KAFKA_CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
METADATA_TOPIC = "__cluster_metadata"
TIMEOUT_S = 120


def require_kafka(version: str) -> None:
    """Skip the test where Kafka ``version`` cannot run here; in CI that is an error instead."""
    from interop.kafka_jars import availability

    reason = availability(version)
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka {version} is needed in CI: {reason}")
        pytest.skip(f"Kafka {version} unavailable: {reason}")


def controller_config(directory: Path, node_id: int, port: int, bootstrap: str, extra: str = "") -> Path:
    """``controller<id>.properties`` in ``directory``: a controller found through ``bootstrap``
    (``host:port,...``), its log directory ``logs<id>`` beside the file."""
    config = directory / f"controller{node_id}.properties"
    config.write_text(f"process.roles=controller\nnode.id={node_id}\n"
                      f"controller.quorum.bootstrap.servers={bootstrap}\n"
                      f"controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://127.0.0.1:{port}\n"
                      f"log.dirs={directory / f'logs{node_id}'}\n{extra}")
    return config


def log_dir(config: Path) -> Path:
    node_id = config.stem.removeprefix("controller")
    return config.parent / f"logs{node_id}"


def format_controller(config: Path, initial: str, cluster_id: str = TEST_SERVER_CLUSTER_ID,
                      metadata_topic: Optional[str] = None) -> None:
    """``kraft-storage format`` with ``initial`` (``--standalone`` or ``--no-initial-controllers``)."""
    command = [str(BIN / "kraft-storage"), "format", "-t", cluster_id, "-c", str(config), initial]
    if metadata_topic:
        command += ["--metadata-topic", metadata_topic]
    formatted = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert formatted.returncode == 0, formatted.stderr


def directory_id(config: Path) -> str:
    """The directory id ``meta.properties`` holds for the node of ``config``."""
    from kraft.storage.log_dir import read_meta_properties
    return str(read_meta_properties(log_dir(config) / "meta.properties").directory_id)


def kraft_tool(bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    """``kraft-metadata-quorum --bootstrap-controller bootstrap args...``"""
    return subprocess.run([str(BIN / "kraft-metadata-quorum"), "--bootstrap-controller", bootstrap,
                           "--timeout-ms", "10000", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def kafka_tool(version: str, bootstrap: str, *args: str) -> subprocess.CompletedProcess:
    """Kafka ``version``'s own ``kafka-metadata-quorum`` (MetadataQuorumCommand from the Maven jars)."""
    from interop.kafka_tool_util import run_tool
    return run_tool(version, "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-controller", bootstrap,
                    *args, timeout=TIMEOUT_S)


def _answered(result: subprocess.CompletedProcess, refused: Optional[str]) -> subprocess.CompletedProcess:
    if refused is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 1, result.stdout
        assert result.stderr.startswith(f"org.apache.kafka.common.errors.{refused}: "), result.stderr
    return result


def add(bootstrap: str, config: Path, refused: Optional[str] = None) -> subprocess.CompletedProcess:
    """``kraft-metadata-quorum add-controller`` for the node of ``config``: it succeeds, or is refused
    with the exception named ``refused`` (``DuplicateVoterException``...)."""
    result = _answered(kraft_tool(bootstrap, "--command-config", str(config), "add-controller"), refused)
    if refused is None:
        node_id = config.stem.removeprefix("controller")
        assert result.stdout.startswith(f"Added controller {node_id} with directory id {directory_id(config)}"), \
            result.stdout
    return result


def remove(bootstrap: str, node_id: int, config: Path, refused: Optional[str] = None) -> subprocess.CompletedProcess:
    """``kraft-metadata-quorum remove-controller`` of ``node_id`` with the directory id of ``config``."""
    result = _answered(kraft_tool(bootstrap, "remove-controller", "-i", str(node_id), "-d", directory_id(config)),
                       refused)
    if refused is None:
        assert result.stdout == f"Removed KRaft controller {node_id} with directory id {directory_id(config)}\n"
    return result


class QuorumView(NamedTuple):
    leader: int
    voters: list[int]
    observers: list[int]
    high_watermark: int
    log_ends: dict[int, int]  # node id -> log end offset, voters and observers
    epoch: int


def state(bootstrap: str, topic: str = METADATA_TOPIC) -> Optional[QuorumView]:
    """The leader, voters, observers, high watermark, log ends and epoch as the leader's
    DescribeQuorum (v2, for ``topic``-0, asked of each ``bootstrap`` address in turn) reports them,
    or None when no leader answers.  A kraft node answers for ``__cluster_metadata`` about the one
    partition it replicates, whatever its topic."""
    from interop.kafka_tool_util import describe_quorum, partition_of

    for address in bootstrap.split(","):
        try:
            partition = partition_of(describe_quorum(int(address.rsplit(":", 1)[1]), topic, timeout=5))
        except (OSError, ValueError):
            continue
        if partition is None or partition.leader_id < 0:
            continue
        voters = sorted(v.replica_id for v in partition.current_voters)
        observers = sorted(o.replica_id for o in partition.observers)
        ends = {r.replica_id: r.log_end_offset for r in (*partition.current_voters, *partition.observers)}
        return QuorumView(partition.leader_id, voters, observers, partition.high_watermark, ends,
                          partition.leader_epoch)
    return None


def _check_alive(processes: Iterable) -> None:
    for process in processes:
        alive = process.running if hasattr(process, "running") else process.poll() is None
        if not alive:
            what = f"node {process.node_id}" if hasattr(process, "node_id") else str(process.args)[:200]
            tail = process.stderr_text()[-2000:] if hasattr(process, "stderr_text") else ""
            pytest.fail(f"{what} of the quorum exited: {tail}")


def wait_until(bootstrap: str, processes: Iterable, condition: Callable, what: str,
               timeout: float = TIMEOUT_S, topic: str = METADATA_TOPIC):
    """Poll :func:`state` until ``condition(state)`` holds; returns that state."""
    processes = list(processes)
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        _check_alive(processes)
        seen = state(bootstrap, topic)
        if seen is not None and condition(seen):
            return seen
        time.sleep(0.3)
    pytest.fail(f"the quorum never reached {what}; last seen {seen}")


def wait_for(bootstrap: str, processes: Iterable, leader: Optional[int], voters: list[int],
             observers: Optional[list[int]] = None, timeout: float = TIMEOUT_S, topic: str = METADATA_TOPIC) -> int:
    """Wait until the quorum has ``leader`` (any when None) and ``voters`` (and ``observers``);
    returns its high watermark."""
    def reached(seen):
        return ((leader is None or seen.leader == leader) and seen.voters == voters
                and (observers is None or seen.observers == observers))
    return wait_until(bootstrap, processes, reached, f"leader {leader}, voters {voters}, observers {observers}",
                      timeout, topic).high_watermark


def wait_for_progress(bootstrap: str, beyond: int, processes: Iterable = (), timeout: float = TIMEOUT_S,
                      topic: str = METADATA_TOPIC) -> int:
    """The high watermark moves past ``beyond`` (the leader keeps committing); returns it."""
    return wait_until(bootstrap, processes, lambda seen: seen.high_watermark > beyond,
                      f"a high watermark above {beyond}", timeout, topic).high_watermark


@contextlib.contextmanager
def kraft_quorum(directory: Path, size: int, extra: Optional[dict] = None, args: tuple = ()):
    """``size`` test-kraft-server-start processes: node 1 formatted ``--standalone`` (the only
    voter), the others ``--no-initial-controllers`` (observers), all found through every node's
    address.  ``extra`` adds configuration lines per node id.  Yields (bootstrap, configs, nodes);
    every node still running is killed on the way out."""
    from tools.quorum_util import NodeProcess, free_ports

    ports = free_ports(size)
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
    configs = {i: controller_config(directory, i, p, bootstrap, (extra or {}).get(i, ""))
               for i, p in enumerate(ports, 1)}
    for node_id, config in configs.items():
        format_controller(config, "--standalone" if node_id == 1 else "--no-initial-controllers")
    nodes = {i: NodeProcess(i, config, args) for i, config in configs.items()}
    try:
        for node in nodes.values():
            node.start()
        yield bootstrap, configs, nodes
    finally:
        for node in nodes.values():
            node.kill()


def no_tracebacks(nodes: dict) -> None:
    for node in nodes.values():
        assert "Traceback" not in node.stderr_text(), node.stderr_text()[-3000:]
