"""Kafka's ``kafka-metadata-quorum`` (MetadataQuorumCommand, 3.9.2 and 4.4.0 jars) against a kraft quorum.

The tool bootstraps from a controller (KIP-919): ApiVersions, DescribeCluster
(endpoint type 2) to find the active controller, then DescribeQuorum for
``__cluster_metadata``-0.  Three kraft voters and one observer run as real
processes; what the tool prints is checked against DescribeQuorum asked
straight from the leader just before and just after it runs.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from interop.kafka_tool_util import (
    describe_quorum,
    parse_replication,
    parse_status,
    partition_of,
    run_tool,
    send_request,
    start_kafka_controller,
    stop,
)
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid
from kraft.protocol.messages import DescribeClusterRequest
from kraft.server import admin
from tools.quorum_util import NodeProcess, Quorum, free_ports

TOPIC = "__raft_performance_test"
TOOL = "org.apache.kafka.tools.MetadataQuorumCommand"
pytestmark = pytest.mark.integration


# ----------------------------------------------------------------- DescribeCluster without processes
class _Voters:
    def __init__(self, endpoints):
        self._endpoints = endpoints
        self.ids = frozenset(endpoints)

    def endpoints(self, node_id):
        from kraft.core.types import Endpoint, Endpoints
        return Endpoints(Endpoint(name, host, port) for name, host, port in self._endpoints[node_id])


class _Node:
    def __init__(self, leader):
        from kraft.core.types import LeaderAndEpoch
        self.voters = _Voters({1: [("CONTROLLER", "h1", 9001)], 2: [("CONTROLLER", "h2", 9002)],
                               3: [("OTHER", "h3", 9003)]})
        self.cluster_id = "cid"
        self._leader = LeaderAndEpoch(leader, 4)

    def leader_and_epoch(self):
        return self._leader


@pytest.mark.parametrize("version,endpoint_type,code", [
    (0, 1, Errors.INVALID_REQUEST), (1, 1, Errors.MISMATCHED_ENDPOINT_TYPE),
    (1, 7, Errors.UNSUPPORTED_ENDPOINT_TYPE), (0, 7, Errors.INVALID_REQUEST)])
def test_describe_cluster_refuses_other_endpoint_types(version, endpoint_type, code):
    response = admin.describe_cluster(_Node(1), "CONTROLLER", version,
                                      DescribeClusterRequest(endpoint_type=endpoint_type))
    assert response.error_code == code and response.error_message and response.brokers == []


def test_describe_cluster_lists_the_voters_on_the_listener_and_the_leader():
    request = DescribeClusterRequest(endpoint_type=2, include_cluster_authorized_operations=False)
    response = admin.describe_cluster(_Node(2), "controller", 1, request)
    assert response.error_code == 0 and response.endpoint_type == 2 and response.cluster_id == "cid"
    assert [(b.broker_id, b.host, b.port, b.rack) for b in response.brokers] == [(1, "h1", 9001, None),
                                                                                 (2, "h2", 9002, None)]
    assert response.controller_id == 2
    assert response.cluster_authorized_operations == -2147483648
    # a leader with no endpoint on this listener (or none known) is reported as -1, as Kafka does
    assert admin.describe_cluster(_Node(3), "CONTROLLER", 1, request).controller_id == -1
    assert admin.describe_cluster(_Node(None), "CONTROLLER", 1, request).controller_id == -1
    asked = DescribeClusterRequest(endpoint_type=2, include_cluster_authorized_operations=True)
    assert admin.describe_cluster(_Node(1), "CONTROLLER", 1, asked).cluster_authorized_operations == 8096


# ----------------------------------------------------------------- the tool against real processes
@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metadata-quorum")
    q = Quorum(tmp, 3, args=("--throughput", "20"))
    observer_port = free_ports(1)[0]
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(q.ports))
    observer_config = tmp / "kraft-4.properties"
    observer_config.write_text("\n".join([
        "node.id=4", f"listeners=PLAINTEXT://127.0.0.1:{observer_port}", "controller.listener.names=PLAINTEXT",
        f"controller.quorum.voters={voters}", f"log.dirs={tmp / 'logs-4'}"]) + "\n")
    observer = NodeProcess(4, observer_config, ("--throughput", "20"))
    try:
        q.start()
        observer.start()
        leader = _wait_for_leader_with_observer(q, observer_id=4, timeout=90)
        assert leader is not None, "no leader with the observer known within 90 s\n" + q.diagnostics()
        yield q, leader
    finally:
        observer.kill()
        q.kill_all()


def _wait_for_leader_with_observer(q: Quorum, observer_id: int, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node_id, port in zip(q.nodes, q.ports):
            try:
                partition = partition_of(describe_quorum(port, TOPIC))
            except OSError:
                continue
            if partition is not None and observer_id in [o.replica_id for o in partition.observers] \
                    and all(v.log_end_offset > 0 for v in partition.current_voters):
                return node_id
        time.sleep(0.5)
    return None


def _truth(q: Quorum, leader: int):
    partition = partition_of(describe_quorum(q.ports[leader - 1], TOPIC))
    assert partition is not None, "the leader stopped answering DescribeQuorum"
    return partition


def _run(kafka_version, q, leader, command):
    before = _truth(q, leader)
    result = run_tool(kafka_version, TOOL, "--bootstrap-controller", f"127.0.0.1:{q.ports[0]}", "describe", command)
    after = _truth(q, leader)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert not re.search(r"Exception|ERROR", result.stdout + result.stderr), result.stdout + result.stderr
    assert (before.leader_id, before.leader_epoch) == (after.leader_id, after.leader_epoch), "leader changed mid-test"
    return result.stdout, before, after


def _voter_json(state, ports, kafka_version):
    node = {"id": state.replica_id}
    if kafka_version.startswith("3."):   # 3.9 prints a zero directory id as null; 4.x leaves it out
        node["directoryId"] = None if (state.replica_directory_id == Uuid.ZERO) else str(state.replica_directory_id)
    elif not (state.replica_directory_id == Uuid.ZERO):
        node["directoryId"] = str(state.replica_directory_id)
    port = ports.get(state.replica_id)
    if port is not None:
        node["endpoints"] = [f"PLAINTEXT://127.0.0.1:{port}"]
    return node


def test_describe_status(kafka_version, quorum):
    q, leader = quorum
    out, before, after = _run(kafka_version, q, leader, "--status")
    status = parse_status(out)
    assert set(status) == {"ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
                           "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"}, out
    assert status["ClusterId"] == "AAAAAAAAAAAAAAAAAAAAAA"   # the test server's cluster id (Uuid.ZERO)
    assert int(status["LeaderId"]) == before.leader_id == leader
    assert int(status["LeaderEpoch"]) == before.leader_epoch
    assert before.high_watermark <= int(status["HighWatermark"]) <= after.high_watermark
    lag = int(status["MaxFollowerLag"])
    leader_before = next(v for v in before.current_voters if v.replica_id == leader)
    leader_after = next(v for v in after.current_voters if v.replica_id == leader)
    assert 0 <= lag <= leader_after.log_end_offset - min(v.log_end_offset for v in before.current_voters)
    assert leader_before.log_end_offset > 0
    assert int(status["MaxFollowerLagTimeMs"]) >= 0
    # the voters and observers, with the endpoints DescribeQuorum v2 names
    ports = {i + 1: p for i, p in enumerate(q.ports)}
    assert json.loads(status["CurrentVoters"]) == [_voter_json(v, ports, kafka_version) for v in before.current_voters]
    observers = json.loads(status["CurrentObservers"])
    assert observers == [_voter_json(o, {}, kafka_version) for o in before.observers]
    assert [o["id"] for o in observers] == [4]


def test_describe_replication(kafka_version, quorum):
    q, leader = quorum
    out, before, after = _run(kafka_version, q, leader, "--replication")
    rows = parse_replication(out)
    assert rows and set(rows[0]) == {"NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp",
                                     "LastCaughtUpTimestamp", "Status"}, out
    expected_status = {v.replica_id: ("Leader" if v.replica_id == leader else "Follower")
                       for v in before.current_voters}
    expected_status.update({o.replica_id: "Observer" for o in before.observers})
    assert {int(r["NodeId"]): r["Status"] for r in rows} == expected_status
    assert rows[0]["Status"] == "Leader" and [r["Status"] for r in rows[1:]] == \
        sorted((s for i, s in expected_status.items() if i != leader), key=["Follower", "Observer"].index)
    states_before = {s.replica_id: s for s in (*before.current_voters, *before.observers)}
    states_after = {s.replica_id: s for s in (*after.current_voters, *after.observers)}
    leader_end = int(rows[0]["LogEndOffset"])
    for row in rows:
        node_id = int(row["NodeId"])
        b, a = states_before[node_id], states_after[node_id]
        assert row["DirectoryId"] == str(b.replica_directory_id)
        assert b.log_end_offset <= int(row["LogEndOffset"]) <= a.log_end_offset, row
        assert int(row["Lag"]) == leader_end - int(row["LogEndOffset"])
        assert b.last_fetch_timestamp <= int(row["LastFetchTimestamp"]) <= a.last_fetch_timestamp, row
        assert b.last_caught_up_timestamp <= int(row["LastCaughtUpTimestamp"]) <= a.last_caught_up_timestamp, row


# ----------------------------------------------------------------- the same, against a real Kafka controller
# Kafka's TestRaftServer answers neither DescribeCluster nor DescribeQuorum (TestRaftRequestHandler
# handles only ApiVersions and the five Raft RPCs), so Kafka's tool times out on it ("Timed out
# waiting for a node assignment. Call: listNodes"). A Kafka controller (process.roles=controller,
# one static voter) is what the tool is for: kraft's answers are compared with its answers.
_controllers: dict = {}


@pytest.fixture
def kafka_controller(kafka_version, tmp_path_factory):
    """(port, leader id) of a running single-node Kafka controller of ``kafka_version``."""
    if kafka_version not in _controllers:
        port = free_ports(1)[0]
        process = start_kafka_controller(kafka_version, tmp_path_factory.mktemp(f"controller-{kafka_version}"),
                                         port, "AAAAAAAAAAAAAAAAAAAAAA")
        _controllers[kafka_version] = (process, port)
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"Kafka {kafka_version} controller exited with {process.returncode}"
            try:
                # elected, and its own ControllerRegistration published (DescribeCluster lists it)
                if partition_of(describe_quorum(port, "__cluster_metadata")) is not None \
                        and _describe_cluster(port, 1, 2).controller_id == 1:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Kafka controller elected no leader within 120 s"
            time.sleep(0.5)
    return _controllers[kafka_version][1]


@pytest.fixture(scope="module", autouse=True)
def _stop_controllers():
    yield
    for process, _port in _controllers.values():
        stop(process)
    _controllers.clear()


def _describe_cluster(port, version, endpoint_type, authorized=False):
    request = DescribeClusterRequest(include_cluster_authorized_operations=authorized, endpoint_type=endpoint_type)
    return send_request(port, 60, version, request)


def _comparable(response, ports):
    """A DescribeCluster answer with the addresses of the quorum at hand replaced by node ids."""
    fields = response.to_json(1)
    for broker in fields["brokers"]:
        assert ports[broker["brokerId"]] == broker["port"] and broker["host"] == "127.0.0.1"
        broker["port"] = broker["host"] = "<node's own>"
    return fields


@pytest.mark.parametrize("version,endpoint_type,authorized", [
    (1, 2, False), (1, 2, True), (1, 1, False), (1, 5, False), (0, 1, False)])
def test_describe_cluster_answers_as_a_kafka_controller(kafka_controller, quorum, version, endpoint_type, authorized):
    q, leader = quorum
    kafka = _describe_cluster(kafka_controller, version, endpoint_type, authorized)
    kraft = _describe_cluster(q.ports[leader - 1], version, endpoint_type, authorized)
    if kafka.error_code:
        assert (kraft.error_code, kraft.error_message) == (kafka.error_code, kafka.error_message)
        assert kraft.to_json(version) == kafka.to_json(version)
        return
    # Kafka's single controller is its own leader; kraft lists three voters and its leader
    assert len(kafka.brokers) == 1 and kafka.controller_id == kafka.brokers[0].broker_id == 1
    assert kraft.controller_id == leader and [b.broker_id for b in kraft.brokers] == [1, 2, 3]
    mine = _comparable(kraft, {i + 1: p for i, p in enumerate(q.ports)})
    theirs = _comparable(kafka, {1: kafka_controller})
    assert mine.pop("brokers")[0] == theirs.pop("brokers")[0]
    mine.pop("controllerId"), theirs.pop("controllerId")
    assert mine == theirs   # cluster id, endpoint type, errors, throttle time, authorized operations


def test_tool_prints_the_same_fields_for_kafka_and_kraft(kafka_version, kafka_controller, quorum):
    q, leader = quorum
    kafka = run_tool(kafka_version, TOOL, "--bootstrap-controller", f"127.0.0.1:{kafka_controller}",
                     "describe", "--status")
    kraft = run_tool(kafka_version, TOOL, "--bootstrap-controller", f"127.0.0.1:{q.ports[0]}", "describe", "--status")
    assert kafka.returncode == 0 and kraft.returncode == 0, kafka.stderr[-2000:] + kraft.stderr[-2000:]
    theirs, mine = parse_status(kafka.stdout), parse_status(kraft.stdout)
    assert list(mine) == list(theirs)
    assert mine["ClusterId"] == theirs["ClusterId"]
    kafka_voter, kraft_voter = json.loads(theirs["CurrentVoters"])[0], json.loads(mine["CurrentVoters"])[0]
    assert list(kraft_voter) == list(kafka_voter)   # id, directoryId (3.9 only), endpoints
    assert [e.split("://")[0] for e in kafka_voter["endpoints"]] == ["CONTROLLER"]
    assert [e.split("://")[0] for e in kraft_voter["endpoints"]] == ["PLAINTEXT"]   # our listener's name


# ----------------------------------------------------------------- kraft-metadata-quorum next to Kafka's tool
def _kraft_tool(addresses, *args):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "kraft-metadata-quorum"
    return subprocess.run([str(script), "--bootstrap-controller", addresses, "--timeout-ms", "5000", *args],
                          capture_output=True, text=True, timeout=120)


def _as_4x(replicas_json: str) -> list:
    """Kafka 3.9's tool prints a voter without a directory id as ``"directoryId": null``; 4.x (and
    kraft-metadata-quorum) leave the key out."""
    replicas = json.loads(replicas_json)
    for replica in replicas:
        if "directoryId" in replica and replica["directoryId"] is None:
            del replica["directoryId"]
    return replicas


def _compare_status(ours: dict, theirs: dict, before, after, kafka_version: str) -> None:
    assert list(ours) == list(theirs)
    for key in ("ClusterId", "LeaderId", "LeaderEpoch"):
        assert ours[key] == theirs[key], key
    for text in (ours, theirs):
        assert before.high_watermark <= int(text["HighWatermark"]) <= after.high_watermark
        assert int(text["MaxFollowerLag"]) >= 0 and int(text["MaxFollowerLagTimeMs"]) >= 0
    for key in ("CurrentVoters", "CurrentObservers"):
        assert '"directoryId": null' not in ours[key]
        if kafka_version.startswith("3."):   # where kraft's leaves the key out, 3.9's prints null
            assert ('"directoryId": null' in theirs[key]) == \
                any("directoryId" not in r for r in json.loads(ours[key])), (ours[key], theirs[key])
        assert json.loads(ours[key]) == _as_4x(theirs[key]), key


def test_kraft_tool_and_kafkas_tool_agree_on_a_kraft_quorum(kafka_version, quorum):
    q, leader = quorum
    addresses = ",".join(f"127.0.0.1:{p}" for p in q.ports)
    before = _truth(q, leader)
    theirs = run_tool(kafka_version, TOOL, "--bootstrap-controller", addresses, "describe", "--status")
    ours = _kraft_tool(addresses, "describe", "--status")
    theirs_rep = run_tool(kafka_version, TOOL, "--bootstrap-controller", addresses, "describe", "--replication")
    ours_rep = _kraft_tool(addresses, "describe", "--replication")
    after = _truth(q, leader)
    assert (before.leader_id, before.leader_epoch) == (after.leader_id, after.leader_epoch), "leader changed"
    for result in (theirs, ours, theirs_rep, ours_rep):
        assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-2000:]
    _compare_status(parse_status(ours.stdout), parse_status(theirs.stdout), before, after, kafka_version)
    assert parse_status(ours.stdout)["ClusterId"] == "AAAAAAAAAAAAAAAAAAAAAA"   # from DescribeCluster

    mine, kafkas = parse_replication(ours_rep.stdout), parse_replication(theirs_rep.stdout)
    assert ours_rep.stdout.splitlines()[0] == theirs_rep.stdout.splitlines()[0]      # header and padding
    assert [(r["NodeId"], r["DirectoryId"], r["Status"]) for r in mine] == \
        [(r["NodeId"], r["DirectoryId"], r["Status"]) for r in kafkas]
    states_before = {s.replica_id: s for s in (*before.current_voters, *before.observers)}
    states_after = {s.replica_id: s for s in (*after.current_voters, *after.observers)}
    for rows in (mine, kafkas):
        for row in rows:
            b, a = states_before[int(row["NodeId"])], states_after[int(row["NodeId"])]
            assert b.log_end_offset <= int(row["LogEndOffset"]) <= a.log_end_offset, row
            assert int(row["Lag"]) == int(rows[0]["LogEndOffset"]) - int(row["LogEndOffset"])
            assert b.last_fetch_timestamp <= int(row["LastFetchTimestamp"]) <= a.last_fetch_timestamp, row


def test_kraft_tool_finds_the_leader_from_a_followers_address(quorum):
    """Given only a follower, which answers DescribeQuorum with NOT_LEADER_OR_FOLLOWER, kraft-metadata-quorum
    learns the leader and its address from an observer's Fetch to that follower, then asks the leader."""
    q, leader = quorum
    follower = next(n for n in q.nodes if n != leader)
    port = q.ports[follower - 1]
    answer = describe_quorum(port, TOPIC)
    assert answer.topics[0].partitions[0].error_code == Errors.NOT_LEADER_OR_FOLLOWER   # the path under test
    status = _kraft_tool(f"127.0.0.1:{port}", "describe", "--status")
    assert status.returncode == 0, status.stderr
    fields = parse_status(status.stdout)
    assert int(fields["LeaderId"]) == leader
    assert int(fields["LeaderEpoch"]) == _truth(q, leader).leader_epoch
    replication = _kraft_tool(f"127.0.0.1:{port}", "describe", "--replication")
    assert replication.returncode == 0, replication.stderr
    assert int(parse_replication(replication.stdout)[0]["NodeId"]) == leader


def test_kraft_tool_prints_what_kafkas_tool_prints_for_a_kafka_controller(kafka_version, kafka_controller):
    """On a Kafka controller (both releases) kraft-metadata-quorum prints Kafka's tool's lines; 3.9's tool
    writes a missing directory id as ``null`` where 4.x leaves it out, and kraft's follows 4.x."""
    port = kafka_controller
    before = partition_of(describe_quorum(port, "__cluster_metadata"))
    theirs = run_tool(kafka_version, TOOL, "--bootstrap-controller", f"127.0.0.1:{port}", "describe", "--status")
    ours = _kraft_tool(f"127.0.0.1:{port}", "describe", "--status")
    after = partition_of(describe_quorum(port, "__cluster_metadata"))
    assert theirs.returncode == 0 == ours.returncode, theirs.stderr[-2000:] + ours.stderr
    mine, kafkas = parse_status(ours.stdout), parse_status(theirs.stdout)
    _compare_status(mine, kafkas, before, after, kafka_version)
    assert mine["ClusterId"] == "AAAAAAAAAAAAAAAAAAAAAA"
    assert json.loads(mine["CurrentVoters"])[0]["endpoints"] == [f"CONTROLLER://127.0.0.1:{port}"]
    # every line but the moving high watermark is Kafka 4.x's, character for character
    same = [line for line in ours.stdout.splitlines() if not line.startswith("HighWatermark")]
    if kafka_version.startswith("4."):
        assert same == [line for line in theirs.stdout.splitlines() if not line.startswith("HighWatermark")]
