"""``kraft-metadata-quorum``: describe a KRaft quorum as Kafka's ``kafka-metadata-quorum`` does.

::

    kraft-metadata-quorum --bootstrap-controller HOST:PORT[,HOST:PORT...] describe --status
    kraft-metadata-quorum --bootstrap-controller HOST:PORT[,...] describe --replication [--human-readable]
    kraft-metadata-quorum --bootstrap-controller HOST:PORT[,...] --command-config FILE add-controller [--dry-run]
    kraft-metadata-quorum --bootstrap-controller HOST:PORT[,...] remove-controller -i ID -d DIRECTORY_ID [--dry-run]

The tool asks the given nodes, in order, with DescribeQuorum (at the
highest version both sides support, learnt through ApiVersions; v2 brings
directory ids and the nodes' endpoints) until one answers as the leader.  A
node that does not lead answers NOT_LEADER_OR_FOLLOWER; when every given
node does, the tool sends them an observer's Fetch (replica id -1, which no
leader counts) and follows the leader's id and endpoint the answer names
(a kraft node answers DescribeQuorum for ``__cluster_metadata`` about its own
partition, but its Fetch knows only that partition's real name, so the
observer's Fetch falls back to ``__raft_performance_test``).
The replicated partition is ``__cluster_metadata``-0 as for Kafka; a node
that does not host it (kraft's and Kafka's test servers replicate
``__raft_performance_test``-0) is asked again about that one, or about
``--topic``.

``--status`` prints Kafka's summary (the ClusterId comes from DescribeCluster,
which kraft nodes and Kafka controllers answer; ``unknown`` for a node that does not) and
``--replication`` Kafka's table: per voter and observer its log end offset,
lag behind the leader, last fetch and last caught-up time (``--human-readable``:
in ms ago).

``add-controller`` reads the controller's properties (``node.id``,
``process.roles`` with ``controller``, ``controller.listener.names`` and their
``listeners``/``advertised.listeners``, the directory id from the
``meta.properties`` of ``metadata.log.dir`` else the first of ``log.dirs``)
and sends AddRaftVoter (api 80) to the leader found as ``describe`` finds it;
``remove-controller`` sends RemoveRaftVoter (api 81).  Both print Kafka
4.4.0's line for success, and for an error answer the message Kafka's tool
prints first (``org.apache.kafka.common.errors.<Exception>: <message>``,
without its stack trace).  kraft's own leader does not handle these RPCs
yet: they work against Kafka controllers.  Unreachable nodes, protocol errors and bad options print one
line on stderr and exit with status 1 (2 for unparseable options).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import logging
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from kraft.errors import KraftError
from kraft.net.api_versions import (ADD_RAFT_VOTER, DESCRIBE_QUORUM, FETCH, REMOVE_RAFT_VOTER, VersionRange,
                                    advertised_versions)
from kraft.net.channel import PeerChannel
from kraft.net.client import ExponentialBackoff
from kraft.net.errors import NetworkError
from kraft.protocol.api_keys import DESCRIBE_CLUSTER
from kraft.protocol.errors import Errors, error_name
from kraft.protocol.messages import AddRaftVoterRequest, DescribeQuorumRequest, FetchRequest, RemoveRaftVoterRequest
from kraft.protocol.uuid import Uuid

PROG = "kraft-metadata-quorum"
DESCRIPTION = "This tool describes kraft metadata quorum status."
CLIENT_ID = "kraft-metadata-quorum"
METADATA_TOPIC = "__cluster_metadata"
TEST_TOPIC = "__raft_performance_test"
CONTROLLER_ENDPOINT_TYPE = 2


class ToolError(Exception):
    """One line for stderr, exit status 1."""


# -- what the leader said --------------------------------------------------------------------------


@dataclass
class Replica:
    replica_id: int
    directory_id: Uuid
    log_end_offset: int
    last_fetch_timestamp: int      # -1: unknown
    last_caught_up_timestamp: int  # -1: unknown


@dataclass
class QuorumInfo:
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: List[Replica]
    observers: List[Replica]
    nodes: dict = field(default_factory=dict)   # node id -> [(listener name, host, port)]
    version: int = 0
    address: str = ""
    topic: str = METADATA_TOPIC
    cluster_id: Optional[str] = None


def _replica(state) -> Replica:
    directory = getattr(state, "replica_directory_id", None)
    return Replica(state.replica_id, directory if directory is not None else Uuid.ZERO, state.log_end_offset,
                   getattr(state, "last_fetch_timestamp", -1), getattr(state, "last_caught_up_timestamp", -1))


def parse_addresses(text: str) -> List[Tuple[str, int]]:
    addresses = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ToolError(f"Invalid bootstrap address {item!r}: expected host:port")
        addresses.append((host, int(port)))
    if not addresses:
        raise ToolError("No bootstrap address given: expected host:port[,host:port...]")
    return addresses


# -- the protocol exchanges ------------------------------------------------------------------------


def _client_table() -> dict:
    table = dict(advertised_versions())
    table.setdefault(DESCRIBE_CLUSTER, VersionRange(0, 1))
    return table


class Node:
    """One bootstrap node: a channel with the ApiVersions handshake, closed by the caller."""

    def __init__(self, host: str, port: int, timeout_ms: float):
        self.host, self.port = host, port
        self.address = f"{host}:{port}"
        self.timeout_ms = timeout_ms
        self.channel = PeerChannel(host, port, client_id=CLIENT_ID, advertised=_client_table(),
                                   request_timeout_ms=timeout_ms, connection_setup_timeout_ms=int(timeout_ms),
                                   backoff=ExponentialBackoff(50, 200))

    async def describe_quorum(self, topic: str):
        request = DescribeQuorumRequest(topics=[DescribeQuorumRequest.TopicData(
            topic_name=topic, partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)])])
        return await self.channel.request(DESCRIBE_QUORUM, request)

    async def find_leader(self, topic: str) -> Tuple[int, Optional[Tuple[str, int]]]:
        """Ask as an observer (replica -1) with a Fetch; return the leader id and, if named, its address."""
        peer = self.channel.peer_versions
        version = peer.version_for(FETCH) if peer is not None else 0
        request = FetchRequest(
            replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=0, isolation_level=0,
            topics=[FetchRequest.FetchTopic(topic=topic, topic_id=_topic_id(topic), partitions=[
                FetchRequest.FetchPartition(partition=0, current_leader_epoch=-1, fetch_offset=0,
                                            last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=0)])])
        version, response = await self.channel.request(FETCH, request)
        leader_id = -1
        for topic_data in response.responses:
            for partition in topic_data.partitions:
                leader_id = partition.current_leader.leader_id
        if not response.responses and response.error_code != Errors.NONE:
            raise ToolError(f"Fetch for {topic} answered {error_name(response.error_code)}")
        for endpoint in getattr(response, "node_endpoints", None) or []:
            if endpoint.node_id == leader_id:
                return leader_id, (endpoint.host, endpoint.port)
        return leader_id, None

    async def cluster_id(self) -> Optional[str]:
        """The cluster id from DescribeCluster v1 (as a controller endpoint), if the node answers it."""
        peer = self.channel.peer_versions
        if peer is None or DESCRIBE_CLUSTER not in peer.advertised:
            return None
        if 1 not in peer.advertised[DESCRIBE_CLUSTER]:
            return None
        connection = self.channel.connection

        def encode(correlation_id: int) -> bytes:
            client = CLIENT_ID.encode()
            header = struct.pack(">hhih", DESCRIBE_CLUSTER, 1, correlation_id, len(client)) + client + b"\x00"
            body = b"\x00" + struct.pack(">b", CONTROLLER_ENDPOINT_TYPE) + b"\x00"
            payload = header + body
            return struct.pack(">i", len(payload)) + payload

        payload = await connection.send(encode, self.timeout_ms)
        return _describe_cluster_id(memoryview(payload))

    async def close(self) -> None:
        await self.channel.close()


def _topic_id(topic: str) -> Uuid:
    from kraft.server.identity import TOPIC_ID

    return TOPIC_ID if topic == TEST_TOPIC else Uuid.from_bits(0, 1)


def _uvarint(data, position: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _describe_cluster_id(payload) -> Optional[str]:
    """Read the cluster id of a DescribeCluster v1 response (header v1, then the body's first fields)."""
    position = 4                                    # correlation id
    tagged, position = _uvarint(payload, position)  # response header tagged fields
    for _ in range(tagged):
        _, position = _uvarint(payload, position)
        size, position = _uvarint(payload, position)
        position += size
    _throttle, error_code = struct.unpack_from(">ih", payload, position)
    position += 6
    size, position = _uvarint(payload, position)    # error message (compact nullable)
    message = bytes(payload[position:position + size - 1]).decode() if size else None
    position += max(size - 1, 0)
    if error_code != 0:
        raise ToolError(f"DescribeCluster failed: {error_name(error_code)}" + (f": {message}" if message else ""))
    position += 1                                   # endpoint type
    size, position = _uvarint(payload, position)
    return bytes(payload[position:position + size - 1]).decode()


async def _ask(node: Node, topic: Optional[str]):
    """(topic, version, partition) of the node's answer; asks about the test topic if the first is unknown."""
    topics = [topic] if topic else [METADATA_TOPIC, TEST_TOPIC]
    last = None
    for name in topics:
        version, response = await node.describe_quorum(name)
        if response.error_code != Errors.NONE:
            raise ToolError(f"{node.address} answered DescribeQuorum with {error_name(response.error_code)}"
                            + (f": {response.error_message}" if getattr(response, "error_message", None) else ""))
        partition = response.topics[0].partitions[0] if response.topics and response.topics[0].partitions else None
        if partition is None:
            raise ToolError(f"{node.address} answered DescribeQuorum without a partition")
        last = (name, version, response, partition)
        if partition.error_code != Errors.UNKNOWN_TOPIC_OR_PARTITION:
            return last
    return last


async def describe(addresses: Sequence[Tuple[str, int]], topic: Optional[str], timeout_ms: float,
                   want_cluster_id: bool) -> QuorumInfo:
    nodes = [Node(host, port, timeout_ms) for host, port in addresses]
    opened = list(nodes)
    problems = []
    try:
        followers = []
        for node in nodes:
            try:
                answer = await _ask(node, topic)
            except (NetworkError, OSError) as exc:
                problems.append(f"{node.address}: {exc}")
                continue
            name, version, response, partition = answer
            if partition.error_code == Errors.NONE:
                return await _result(node, name, version, response, partition, want_cluster_id)
            if partition.error_code == Errors.NOT_LEADER_OR_FOLLOWER:
                followers.append((node, name))
                continue
            problems.append(f"{node.address}: {error_name(partition.error_code)}"
                            + (f" ({partition.error_message})" if getattr(partition, "error_message", None) else ""))
        # Nobody given leads: ask the followers where the leader is, then ask it.
        for node, name in followers:
            # kraft nodes answer DescribeQuorum for __cluster_metadata about the partition they
            # replicate (as Kafka's tool expects), but their Fetch knows only that partition's name
            names = [name] if topic or name != METADATA_TOPIC else [METADATA_TOPIC, TEST_TOPIC]
            leader_id, endpoint, failures = -1, None, []
            for fetch_name in names:
                try:
                    leader_id, endpoint = await node.find_leader(fetch_name)
                except (NetworkError, OSError, KraftError, ToolError) as exc:
                    failures.append(str(exc))
                    continue
                if endpoint is not None:
                    name = fetch_name
                    break
            if endpoint is None and failures and leader_id == -1:
                problems.append(f"{node.address}: finding the leader: {'; '.join(failures)}")
                continue
            if endpoint is None:
                problems.append(f"{node.address} does not lead and names no leader endpoint "
                                f"(leader id {leader_id})")
                continue
            leader = Node(endpoint[0], endpoint[1], timeout_ms)
            opened.append(leader)
            try:
                answer = await _ask(leader, topic)
            except (NetworkError, OSError) as exc:
                problems.append(f"{leader.address} (leader {leader_id}): {exc}")
                continue
            name, version, response, partition = answer
            if partition.error_code == Errors.NONE:
                return await _result(leader, name, version, response, partition, want_cluster_id)
            problems.append(f"{leader.address} (leader {leader_id}): {error_name(partition.error_code)}")
        raise ToolError("No leader found among " + ", ".join(n.address for n in nodes)
                        + ("" if not problems else ": " + "; ".join(problems)))
    finally:
        for node in opened:
            await node.close()


async def _result(node: Node, topic: str, version: int, response, partition, want_cluster_id: bool) -> QuorumInfo:
    nodes = {}
    for entry in getattr(response, "nodes", None) or []:
        nodes[entry.node_id] = [(l.name, l.host, l.port) for l in entry.listeners]
    info = QuorumInfo(partition.leader_id, partition.leader_epoch, partition.high_watermark,
                      [_replica(v) for v in partition.current_voters], [_replica(o) for o in partition.observers],
                      nodes, version, node.address, topic)
    if want_cluster_id:
        try:
            info.cluster_id = await node.cluster_id()
        except (NetworkError, OSError, struct.error, IndexError, UnicodeDecodeError):
            info.cluster_id = None
    return info


# -- add-controller / remove-controller ------------------------------------------------------------


#: Kafka's exception class for an error code, where it is not the error's name in CamelCase.
_EXCEPTION_NAMES = {Errors.REQUEST_TIMED_OUT: "TimeoutException"}


def kafka_error_text(code: int, message: Optional[str]) -> str:
    """The message of the ExecutionException Kafka's Admin raises for an error answer (its tool prints it)."""
    name = _EXCEPTION_NAMES.get(code) or "".join(
        part.capitalize() for part in error_name(code).split("_")) + "Exception"
    return f"org.apache.kafka.common.errors.{name}: {message if message else error_name(code)}"


def _read_properties(path: Optional[str]) -> dict:
    from kraft.server import properties

    if path is None:
        raise ToolError("You must supply the configuration file of the controller you are adding when using "
                        "add-controller.")
    try:
        return properties.load(path)
    except FileNotFoundError:
        raise ToolError(f"Properties file {path} does not exists!") from None
    except (OSError, KraftError, UnicodeDecodeError) as exc:
        raise ToolError(f"cannot read {path}: {exc}") from None


def controller_to_add(props: dict):
    """(node id, directory id, [(listener, host, port)]) from a controller's properties, as Kafka's tool reads them."""
    from pathlib import Path

    from kraft.server.config import ConfigError, parse_listeners
    from kraft.storage.log_dir import META_PROPERTIES, read_meta_properties

    if "node.id" not in props:
        raise ToolError("node.id not found in configuration file. Is this a valid controller configuration file?")
    try:
        node_id = int(props["node.id"].strip())
    except ValueError:
        raise ToolError(f"node.id {props['node.id']!r} is not an integer in configuration file") from None
    if node_id < 0:
        raise ToolError("node.id was negative in configuration file. Is this a valid controller configuration file?")
    if "controller" not in props.get("process.roles", ""):
        raise ToolError("process.roles did not contain 'controller' in configuration file. Is this a valid "
                        "controller configuration file?")
    if "metadata.log.dir" in props:
        directory = props["metadata.log.dir"]
    elif "log.dirs" in props:
        directory = props["log.dirs"].strip().split(",")[0]
    else:
        raise ToolError("Neither metadata.log.dir nor log.dirs were found. Is this a valid controller "
                        "configuration file?")
    try:
        meta = read_meta_properties(Path(directory) / META_PROPERTIES)
    except KraftError:
        meta = None
    if meta is None:
        raise ToolError(f"Unable to read meta.properties from {directory}")
    if meta.directory_id is None:
        raise ToolError(f"No directory id found in {directory}")
    listeners = {}
    try:
        for key in ("listeners", "advertised.listeners"):
            for listener in parse_listeners(key, props.get(key, "")):
                listeners[listener.name] = listener
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    if "controller.listener.names" not in props:
        raise ToolError("controller.listener.names was not found. Is this a valid controller configuration file?")
    endpoints = []
    for name in props["controller.listener.names"].split(","):
        name = name.strip().upper()
        listener = listeners.get(name)
        if listener is None:
            raise ToolError(f"Cannot find information about controller listener name: {name}")
        endpoint = (listener.name, listener.host or "localhost", listener.port)
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    return node_id, meta.directory_id, endpoints


def _endpoints_text(endpoints) -> str:
    return ", ".join(f"{name}://[{host}]:{port}" if ":" in host else f"{name}://{host}:{port}"
                     for name, host, port in endpoints)


async def change_voters(addresses, topic, timeout_ms: float, api_key: int, request) -> None:
    """Send AddRaftVoter / RemoveRaftVoter to the leader found as ``describe`` finds it."""
    info = await describe(addresses, topic, timeout_ms, want_cluster_id=False)
    host, _, port = info.address.rpartition(":")
    leader = Node(host, int(port), timeout_ms)
    try:
        _, response = await leader.channel.request(api_key, request, timeout_ms=2 * timeout_ms)
    finally:
        await leader.close()
    if response.error_code != Errors.NONE:
        raise ToolError(kafka_error_text(response.error_code, getattr(response, "error_message", None)))


def add_controller(args, addresses) -> str:
    node_id, directory_id, endpoints = controller_to_add(_read_properties(args.command_config))
    if not args.dry_run:
        request = AddRaftVoterRequest(
            cluster_id=None, timeout_ms=args.timeout_ms, voter_id=node_id, voter_directory_id=directory_id,
            listeners=[AddRaftVoterRequest.Listener(name=n, host=h, port=p) for n, h, p in endpoints])
        asyncio.run(change_voters(addresses, args.topic, args.timeout_ms, ADD_RAFT_VOTER, request))
    return (f"{'DRY RUN of adding' if args.dry_run else 'Added'} controller {node_id} with directory id "
            f"{directory_id} and endpoints: {_endpoints_text(endpoints)}\n")


def remove_controller(args, addresses) -> str:
    if args.controller_id < 0:
        raise ToolError(f"Invalid negative --controller-id: {args.controller_id}")
    try:
        directory_id = Uuid.from_string(args.controller_directory_id)
    except (ValueError, KraftError) as exc:
        raise ToolError(f"Failed to parse --controller-directory-id: {exc}") from None
    if not args.dry_run:
        request = RemoveRaftVoterRequest(cluster_id=None, voter_id=args.controller_id,
                                         voter_directory_id=directory_id)
        asyncio.run(change_voters(addresses, args.topic, args.timeout_ms, REMOVE_RAFT_VOTER, request))
    # Kafka 4.3's source would print two spaces after "Removed"; Kafka 4.4.0 prints one (the test compares)
    return (f"{'DRY RUN of removing' if args.dry_run else 'Removed'} KRaft controller {args.controller_id} "
            f"with directory id {directory_id}\n")


# -- output as Kafka's tool prints it -------------------------------------------------------------


def _endpoint(name: str, host: str, port: int) -> str:
    return f"{name}://{'[' + host + ']' if ':' in host else host}:{port}"


def _replica_text(info: QuorumInfo, replica: Replica) -> str:
    text = f'{{"id": {replica.replica_id}'
    if replica.directory_id != Uuid.ZERO:
        text += f', "directoryId": "{replica.directory_id}"'
    endpoints = info.nodes.get(replica.replica_id) or []
    if endpoints:
        text += ', "endpoints": [' + ", ".join(f'"{_endpoint(*e)}"' for e in endpoints) + "]"
    return text + "}"


def _leader(info: QuorumInfo) -> Replica:
    for voter in info.voters:
        if voter.replica_id == info.leader_id:
            return voter
    raise ToolError(f"the leader {info.leader_id} is not among the voters the node described")


def status_text(info: QuorumInfo) -> str:
    leader = _leader(info)
    max_lag_follower = min(info.voters, key=lambda v: v.log_end_offset)   # the first of equals, as Java's min
    max_lag = leader.log_end_offset - max_lag_follower.log_end_offset
    if max_lag_follower is leader:
        max_lag_time = 0
    elif leader.last_caught_up_timestamp != -1 and max_lag_follower.last_caught_up_timestamp != -1:
        max_lag_time = leader.last_caught_up_timestamp - max_lag_follower.last_caught_up_timestamp
    else:
        max_lag_time = -1
    voters = "[" + ", ".join(_replica_text(info, v) for v in info.voters) + "]"
    observers = "[" + ", ".join(_replica_text(info, o) for o in info.observers) + "]"
    return (f"ClusterId:              {info.cluster_id if info.cluster_id is not None else 'unknown'}\n"
            f"LeaderId:               {info.leader_id}\n"
            f"LeaderEpoch:            {info.leader_epoch}\n"
            f"HighWatermark:          {info.high_watermark}\n"
            f"MaxFollowerLag:         {max_lag}\n"
            f"MaxFollowerLagTimeMs:   {max_lag_time}\n"
            f"CurrentVoters:          {voters}\n"
            f"CurrentObservers:       {observers}\n")


def relative_time_ms(timestamp_ms: int, what: str, now_ms: Optional[int] = None) -> int:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if not 0 < timestamp_ms <= now:
        raise ToolError(f"Error while computing relative time, possible drift in system clock. "
                        f"Current timestamp is {now}, {what} timestamp is {timestamp_ms}")
    return now - timestamp_ms


def replication_rows(info: QuorumInfo, human_readable: bool, now_ms: Optional[int] = None) -> List[List[str]]:
    leader = _leader(info)

    def when(timestamp: int, what: str) -> str:
        if timestamp == -1:
            return "-1"
        if human_readable:
            return f"{relative_time_ms(timestamp, what, now_ms)} ms ago"
        return str(timestamp)

    rows = []
    groups = ([(leader, "Leader")] + [(v, "Follower") for v in info.voters if v.replica_id != info.leader_id]
              + [(o, "Observer") for o in info.observers])
    for replica, status in groups:
        rows.append([str(replica.replica_id), str(replica.directory_id), str(replica.log_end_offset),
                     str(leader.log_end_offset - replica.log_end_offset),
                     when(replica.last_fetch_timestamp, "last fetch"),
                     when(replica.last_caught_up_timestamp, "last caught up"), status])
    return rows


HEADERS = ["NodeId", "DirectoryId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"]


def table_text(headers: List[str], rows: List[List[str]]) -> str:
    """Kafka's ``ToolsUtils.prettyPrintTable``: columns padded to their widest cell, each followed by a tab."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    out = io.StringIO()
    for row in [headers] + rows:
        out.write("".join(cell.ljust(width) + "\t" for cell, width in zip(row, widths)) + "\n")
    return out.getvalue()


# -- main ------------------------------------------------------------------------------------------


EXIT_STATUS = ("Exit status: 0 when the quorum was described or the voter added or removed; 1, with one line on stderr, when no leader "
               "could be found or asked (unreachable nodes, a port that speaks no Kafka protocol, an error "
               "answer), for a bad host:port or for conflicting options; 2 when the options do not parse.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EXIT_STATUS)
    connection = parser.add_mutually_exclusive_group(required=True)
    connection.add_argument("--bootstrap-controller", metavar="HOST:PORT[,...]",
                            help="A comma-separated list of host:port pairs of the quorum's nodes.")
    connection.add_argument("--bootstrap-server", metavar="HOST:PORT[,...]",
                            help="Accepted for Kafka compatibility: kraft nodes are controllers, so this "
                                 "means the same as --bootstrap-controller.")
    parser.add_argument("--topic", help="The replicated partition's topic (default: __cluster_metadata, "
                                        "then __raft_performance_test)")
    parser.add_argument("--timeout-ms", type=int, default=5000,
                        help="How long to wait for each node (default: 5000)")
    parser.add_argument("--command-config", metavar="FILE",
                        help="For add-controller: the properties of the controller to add (node.id, "
                             "process.roles, controller.listener.names, listeners, metadata.log.dir or "
                             "log.dirs, whose meta.properties gives the directory id).")
    commands = parser.add_subparsers(dest="command", metavar="{describe,add-controller,remove-controller}")
    commands.required = True
    describe_parser = commands.add_parser("describe", help="Describe the metadata quorum info", epilog=EXIT_STATUS,
                                          description="Describe the metadata quorum info")
    status = describe_parser.add_argument_group("Status")
    status.add_argument("--status", action="store_true",
                        help="A short summary of the quorum status and the other provides detailed "
                             "information about the status of replication.")
    replication = describe_parser.add_argument_group("Replication")
    replication.add_argument("--replication", action="store_true",
                             help="Detailed information about the status of replication")
    replication.add_argument("--human-readable", action="store_true", help="Human-readable output")
    add = commands.add_parser("add-controller", epilog=EXIT_STATUS,
                              help="Add a controller to the KRaft controller cluster",
                              description="Add the controller --command-config describes to the quorum's voters "
                                          "(AddRaftVoter to the leader).")
    add.add_argument("--dry-run", action="store_true",
                     help="True if we should print what would be done, but not do it.")
    remove = commands.add_parser("remove-controller", epilog=EXIT_STATUS,
                                 help="Remove a controller from the KRaft controller cluster",
                                 description="Remove a voter (RemoveRaftVoter to the leader).")
    remove.add_argument("--controller-id", "-i", type=int, required=True, help="The id of the controller to remove.")
    remove.add_argument("--controller-directory-id", "-d", required=True,
                        help="The directory ID of the controller to remove.")
    remove.add_argument("--dry-run", action="store_true",
                        help="True if we should print what would be done, but not do it.")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # the library's warnings (connection retries, rate-limited notes) are not the tool's output:
    # a tool reports in its own one line, so they go nowhere unless the caller configured logging
    logging.getLogger("kraft").addHandler(logging.NullHandler())
    try:
        if args.timeout_ms <= 0:
            raise ToolError(f"--timeout-ms must be positive, got {args.timeout_ms}")
        if args.command == "add-controller":
            sys.stdout.write(add_controller(args, parse_addresses(args.bootstrap_controller or args.bootstrap_server)))
            return 0
        if args.command == "remove-controller":
            sys.stdout.write(remove_controller(args, parse_addresses(args.bootstrap_controller
                                                                     or args.bootstrap_server)))
            return 0
        if args.status and args.replication:
            raise ToolError("Only one of --status or --replication should be specified with describe sub-command")
        if not args.status and not args.replication:
            raise ToolError("One of --status or --replication must be specified with describe sub-command")
        if args.status and args.human_readable:
            raise ToolError("The option --human-readable is only supported along with --replication")
        if args.timeout_ms <= 0:
            raise ToolError(f"--timeout-ms must be positive, got {args.timeout_ms}")
        addresses = parse_addresses(args.bootstrap_controller or args.bootstrap_server)
        info = asyncio.run(describe(addresses, args.topic, args.timeout_ms, want_cluster_id=args.status))
        if args.status:
            sys.stdout.write(status_text(info))
        else:
            sys.stdout.write(table_text(HEADERS, replication_rows(info, args.human_readable)))
        return 0
    except ToolError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KraftError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
