"""Mixed quorums: Kafka's TestRaftServer and kraft's test-kraft-server-start as real processes.

Each node gets the same kind of properties file (kraft and Kafka read the same
keys).  Optionally every node is reached through a recording TCP proxy
(:class:`RecordingProxy`): the others' ``controller.quorum.voters`` name the
proxy's port, the node advertises it (``advertised.listeners``, so a leader's
endpoints in Kafka's responses name it too), and the proxy notes the client id,
API key and version of every request that passes, so a test can see which
versions each side really sends to the other.

Every wait is bounded.  :meth:`MixedQuorum.kill_all` (called by the fixtures on
teardown, whatever happened) kills every process the quorum started.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Optional

import pytest
from tools.quorum_util import free_ports

from kafka_node import (KAFKA_FIRST_COMMIT, KAFKA_FOLLOWER, KAFKA_FOLLOWER_HIGH_WATERMARK, KAFKA_LEADER,
                        kafka_command, new_directory_id, terminate)

KRAFT_SCRIPT = Path(sys.executable).parent / "test-kraft-server-start"
TOPIC_DIR = "__raft_performance_test-0"

KRAFT_LEADER = re.compile(r"Leader is now (\d+|unknown) in epoch (\d+)")
KRAFT_FIRST_COMMIT = re.compile(r"First record of epoch (\d+) committed at offset (\d+)")
KRAFT_HIGH_WATERMARK = re.compile(r"high watermark (\d+)")
STATS = re.compile(r"^Throughput \(bytes/second\): [0-9.,]+, Latency \(ms\)")

KAFKA, KRAFT = "kafka", "kraft"

#: A kraft node with another cluster id or partition: RaftManager embedded in a small program
#: (the test server always uses Kafka's test-server identity).  argv: config, cluster id, topic.
FOREIGN_KRAFT = """
import asyncio, logging, signal, sys
from kraft.protocol.uuid import Uuid
from kraft.server.raft_manager import PartitionIdentity, RaftManager
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="[%(asctime)s] %(levelname)s %(message)s (%(name)s)")
async def main():
    props = dict(l.split("=", 1) for l in open(sys.argv[1]).read().splitlines() if "=" in l)
    identity = PartitionIdentity(cluster_id=sys.argv[2], topic=sys.argv[3],
                                 topic_id=Uuid.from_bits(0, 2 if sys.argv[3] == "__raft_performance_test" else 7))
    async with RaftManager(props, identity=identity):
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("foreign node started", flush=True)
        await stop.wait()
asyncio.run(main())
"""


#: What a Kafka 4.x node logs when its pre-vote (Vote v2) cannot be written at the version a peer
#: speaks (a kraft node before it served Vote v2 did this).  Never tolerated: kraft serves v2.
PRE_VOTE_REFUSED = re.compile(r"preVote=true\)\]\)\]\).*failed due to unsupported version error|"
                              r"UnsupportedVersionException: Attempted to write a non-default preVote at version 1")
#: Kafka 4.4's TestRaftServer cannot answer the UpdateRaftVoter its own followers send it (its
#: request handler knows only the five Raft RPCs: "Unsupported api key", logged with a stack
#: trace, UNKNOWN_SERVER_ERROR to the follower, Kafka's or kraft's: a kraft follower of a Kafka
#: 4.x leader sends it too).  Tolerated only when a Kafka node gave that answer.
KAFKA_OWN_UPDATE_VOTER = re.compile(r"Unsupported api key: UPDATE_RAFT_VOTER|apiKey=UPDATE_RAFT_VOTER")
UPDATE_VOTER_ANSWER = re.compile(r"UNKNOWN_SERVER_ERROR in UPDATE_RAFT_VOTER response.*\(id: (\d+)|"
                                 r"Node (\d+) answered our UpdateRaftVoter with UNKNOWN_SERVER_ERROR")


#: A Kafka 4.x node's pre-vote to a peer without Vote v2, naming the peer (``(id: N``), and the
#: exception line that follows it.  Between a Kafka 4.x node and a Kafka 3.x node this is Kafka's own
#: behaviour (KafkaRaftClient.handleVoteResponse then stands as a candidate); tolerated only then.
PRE_VOTE_REFUSED_TO = re.compile(r"preVote=true\)\]\)\]\).*\(id: (\d+) .*failed due to unsupported version error")
PRE_VOTE_REFUSED_EXCEPTION = re.compile(r"UnsupportedVersionException: Attempted to write a non-default preVote")


def _kafka_3(quorum: "MixedQuorum", node_id: int) -> bool:
    return (quorum.kinds.get(node_id) == KAFKA
            and quorum.kafka_versions.get(node_id, quorum.kafka_version).startswith("3."))


def tolerated(quorum: "MixedQuorum", line: str) -> bool:
    """A known error line of Kafka's own making (see above); an UpdateRaftVoter failure is
    tolerated only when a Kafka node answered it, never a kraft node; a refused pre-vote only when
    it went to a Kafka 3.x node (and its exception line only when every refusal did)."""
    if KAFKA_OWN_UPDATE_VOTER.search(line):
        return True
    m = PRE_VOTE_REFUSED_TO.search(line)
    if m:
        return _kafka_3(quorum, int(m.group(1)))
    if PRE_VOTE_REFUSED_EXCEPTION.search(line):
        targets = [int(x.group(1)) for n in quorum.nodes.values() for x in map(PRE_VOTE_REFUSED_TO.search, n.lines)
                   if x]
        return bool(targets) and all(_kafka_3(quorum, t) for t in targets)
    m = UPDATE_VOTER_ANSWER.search(line)
    return bool(m) and quorum.kinds.get(int(m.group(1) or m.group(2))) == KAFKA



class Node:
    """One process (either kind); its stdout and stderr are read as one stream of lines.

    Besides the raw lines it keeps what the lines say: the latest (epoch, leader)
    the node knows, the epochs in which it led and saw its first commit, and the
    highest high watermark it reported.
    """

    def __init__(self, node_id: int, kind: str, config: Path, log_dir: Path, directory_id: str,
                 command: Callable[[], list[str]]):
        self.node_id = node_id
        self.kind = kind
        self.config = config
        self.log_dir = log_dir
        self.directory_id = directory_id
        self._command = command
        self.process: Optional[subprocess.Popen] = None
        self.lines: list[str] = []
        self.claim: tuple[int, Optional[int]] = (-1, None)  # (epoch, leader id)
        self.committed_epochs: set[int] = set()
        self.fetched_epochs: set[int] = set()  # a Kafka follower learnt the high watermark in these
        self.high_watermark = -1
        self.starts = 0
        self._cond = threading.Condition()

    # ------------------------------------------------------------------ process
    def start(self) -> "Node":
        assert not self.running, f"node {self.node_id} is already running"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self._cond:
            self.claim = (-1, None)
            self.lines.append(f"===== start {self.starts + 1} of node {self.node_id} ({self.kind})")
        self.starts += 1
        self.process = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True, errors="replace", env=env)
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        return self

    def _read(self, stream) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._parse(line)
                self._cond.notify_all()

    def _parse(self, line: str) -> None:
        if self.kind == KRAFT:
            m = KRAFT_LEADER.search(line)
            if m:
                leader = None if m.group(1) == "unknown" else int(m.group(1))
                self._set_claim(int(m.group(2)), leader)
                return
            m = KRAFT_FIRST_COMMIT.search(line)
            if m:
                self.committed_epochs.add(int(m.group(1)))
                self.high_watermark = max(self.high_watermark, int(m.group(2)) + 1)
                return
            m = KRAFT_HIGH_WATERMARK.search(line)
            if m:
                self.high_watermark = max(self.high_watermark, int(m.group(1)))
        else:
            m = KAFKA_LEADER.search(line)
            if m:
                self._set_claim(int(m.group(1)), self.node_id)
                return
            m = KAFKA_FOLLOWER.search(line)
            if m:
                self._set_claim(int(m.group(1)), int(m.group(2)))
                return
            m = KAFKA_FIRST_COMMIT.search(line)
            if m:
                self.committed_epochs.add(int(m.group(2)))
                self.high_watermark = max(self.high_watermark, int(m.group(1)))
                return
            m = KAFKA_FOLLOWER_HIGH_WATERMARK.search(line)
            if m:
                self.fetched_epochs.add(int(m.group(2)))
                self.high_watermark = max(self.high_watermark, int(m.group(1)))

    def _set_claim(self, epoch: int, leader: Optional[int]) -> None:
        if (epoch, leader is not None) >= (self.claim[0], self.claim[1] is not None):
            self.claim = (epoch, leader)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(30)

    def stop(self, timeout: float = 60) -> Optional[int]:
        """SIGTERM (kraft resigns, Kafka shuts down gracefully); SIGKILL after ``timeout``."""
        if self.process is None:
            return None
        return terminate(self.process, timeout)

    # ------------------------------------------------------------------ output
    def wait_line(self, pattern: re.Pattern, timeout: float, start: int = 0) -> Optional[re.Match]:
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    m = pattern.search(self.lines[index])
                    if m:
                        return m
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def count(self, pattern: re.Pattern) -> int:
        with self._cond:
            return sum(1 for line in self.lines if pattern.search(line))

    def tail(self, n: int = 40) -> str:
        with self._cond:
            return "\n".join(self.lines[-n:])


class RecordingProxy:
    """Forwards connections to one node and notes each request's (client id, api key, version).

    The node advertises the proxy's address and the other nodes' voter lists name it, so every
    request to the node passes here, whichever address the sender learnt.
    """

    #: at most this many requests are kept whole (see ``capture``)
    MAX_CAPTURED = 20_000

    def __init__(self, target: int, target_port: int, capture: Iterable[int] = ()):
        self.target, self.target_port = target, target_port
        self.requests: Counter = Counter()
        #: the API keys whose requests are kept whole, and those requests: (client id, payload)
        self.capture = frozenset(capture)
        self.captured: list[tuple[str, bytes]] = []
        #: requests from cut-off senders, dropped with their connection: (client id, api key, version)
        self.dropped: Counter = Counter()
        #: the target is cut off: connections to it are closed at once
        self.down = False
        #: client ids whose connections through this proxy are cut (closed at their next request)
        self.blocked: set[str] = set()
        self._pairs: list[tuple[socket.socket, socket.socket, list]] = []
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down:
                self._close_pair(client, client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            client_id: list = []  # filled in by the first request
            with self._lock:
                self._sockets += [client, upstream]
                self._pairs.append((client, upstream, client_id))
            threading.Thread(target=self._requests, args=(client, upstream, client_id), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _requests(self, src: socket.socket, dst: socket.socket, seen_id: list) -> None:
        """Client to server: frame by frame, noting each request header's client id, api key and version
        (a cut-off sender's request is noted as dropped, and its connection closed instead)."""
        buffer = b""
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                buffer += data
                while len(buffer) >= 14:
                    size = struct.unpack_from(">i", buffer)[0]
                    if len(buffer) < 4 + size:
                        break
                    api_key, version, _, id_len = struct.unpack_from(">hhih", buffer, 4)
                    client_id = buffer[14:14 + id_len].decode("utf-8", "replace") if id_len > 0 else ""
                    seen_id[:] = [client_id]
                    with self._lock:
                        if self.down or client_id in self.blocked:
                            self.dropped[(client_id, api_key, version)] += 1
                            raise OSError("cut off")
                        self.requests[(client_id, api_key, version)] += 1
                        if api_key in self.capture and len(self.captured) < self.MAX_CAPTURED:
                            self.captured.append((client_id, bytes(buffer[4:4 + size])))
                    dst.sendall(buffer[:4 + size])
                    buffer = buffer[4 + size:]
        except OSError:
            pass
        finally:
            self._close_pair(src, dst)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(src, dst)

    @staticmethod
    def _close_pair(a: socket.socket, b: socket.socket) -> None:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut(self, down: bool, blocked: Iterable[str] = ()) -> None:
        """Cut the target off (``down``) and/or the senders ``blocked`` (client ids); their open
        connections through this proxy are closed now.  ``cut(False)`` heals."""
        with self._lock:
            self.down, self.blocked = down, set(blocked)
            doomed = [(a, b) for a, b, cid in self._pairs if down or (cid and cid[0] in self.blocked)]
            self._pairs = [(a, b, cid) for a, b, cid in self._pairs if (a, b) not in doomed]
        for a, b in doomed:
            self._close_pair(a, b)

    def seen(self, source: Optional[int] = None) -> Counter:
        """(api key, version) -> count, of requests from node ``source`` (client id raft-client-<id>)."""
        with self._lock:
            out = Counter()
            for (client_id, api_key, version), n in self.requests.items():
                if source is None or client_id == f"raft-client-{source}":
                    out[(api_key, version)] += n
            return out

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.close()
                except OSError:
                    pass


class MixedQuorum:
    """Voters of both kinds on free loopback ports.

    ``kinds`` maps node id to ``"kafka"`` or ``"kraft"``.  ``extra`` adds
    properties (``{node_id: {key: value}}``, or ``{"*": {...}}`` for all).
    With ``proxies`` every node reaches its peers through a :class:`RecordingProxy`.
    Kafka nodes run ``kafka_version``, or their own from ``kafka_versions``
    (node id -> version) in a quorum of several Kafka releases.
    """

    def __init__(self, tmp_path: Path, kafka_version: str, kinds: dict[int, str], *,
                 extra: Optional[dict] = None, proxies: bool = True, kraft_throughput: int = 2000,
                 kafka_throughput: int = 2000, kafka_versions: Optional[dict[int, str]] = None,
                 capture: Iterable[int] = ()):
        self.tmp_path = tmp_path
        self.kafka_version = kafka_version
        self.kafka_versions = dict(kafka_versions or {})
        self.kinds = dict(kinds)
        self.extra = extra or {}
        self.kraft_throughput = kraft_throughput
        self.kafka_throughput = kafka_throughput
        ids = sorted(kinds)
        self.ports = dict(zip(ids, free_ports(len(ids))))
        self.proxies: dict[int, RecordingProxy] = {}
        if proxies:
            for target in ids:
                self.proxies[target] = RecordingProxy(target, self.ports[target], capture)
        self.directory_ids = {i: new_directory_id() for i in ids}
        self.nodes: dict[int, Node] = {}
        for node_id in ids:
            self.nodes[node_id] = self._make_node(node_id, kinds[node_id])

    # ------------------------------------------------------------------ set-up
    def voters_for(self, node_id: int) -> str:
        def port(target):
            if target == node_id or not self.proxies:
                return self.ports[target]
            return self.proxies[target].port
        return ",".join(f"{t}@127.0.0.1:{port(t)}" for t in sorted(self.kinds))

    def log_dir(self, node_id: int) -> Path:
        return self.tmp_path / f"logs-{node_id}"

    def partition_dir(self, node_id: int) -> Path:
        return self.log_dir(node_id) / TOPIC_DIR

    def write_config(self, node_id: int, overrides: Optional[dict] = None) -> Path:
        props = {
            "node.id": node_id,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.ports[node_id]}",
            "controller.listener.names": "PLAINTEXT",
            "controller.quorum.voters": self.voters_for(node_id),
            **({"advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.proxies[node_id].port}"}
               if self.proxies else {}),
            "log.dirs": self.log_dir(node_id),
        }
        props.update(self.extra.get("*", {}))
        props.update(self.extra.get(self.kinds[node_id], {}))
        props.update(self.extra.get(node_id, {}))
        props.update(overrides or {})
        path = self.tmp_path / f"node-{node_id}-{self.kinds[node_id]}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _make_node(self, node_id: int, kind: str, overrides: Optional[dict] = None,
                   identity: Optional[tuple[str, str]] = None) -> Node:
        config = self.write_config(node_id, overrides)
        directory_id = self.directory_ids[node_id]
        if identity is not None:
            def command():
                return [sys.executable, "-c", FOREIGN_KRAFT, str(config), *identity]
        elif kind == KAFKA:
            version = self.kafka_versions.get(node_id, self.kafka_version)

            def command():
                return kafka_command(version, config, directory_id, self.tmp_path,
                                     throughput=self.kafka_throughput)
        else:
            def command():
                return [str(KRAFT_SCRIPT), "--config", str(config), "--replica-directory-id", directory_id,
                        "--throughput", str(self.kraft_throughput)]
        return Node(node_id, kind, config, self.log_dir(node_id), directory_id, command)

    def replace(self, node_id: int, kind: str, overrides: Optional[dict] = None,
                identity: Optional[tuple[str, str]] = None) -> Node:
        """Make ``node_id`` (stopped) the other implementation, on the same log directory; with
        ``identity`` (cluster id, topic), a kraft node of another quorum."""
        old = self.nodes[node_id]
        assert not old.running
        self.kinds[node_id] = kind
        node = self._make_node(node_id, kind, overrides, identity)
        node.lines = old.lines + [f"===== node {node_id} is now {kind}"]
        node.starts = old.starts
        self.nodes[node_id] = node
        return node

    # ------------------------------------------------------------------ control
    def start(self, *node_ids: int) -> None:
        for node_id in node_ids or self.nodes:
            self.nodes[node_id].start()

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()

    def kill_all(self) -> None:
        for node in self.nodes.values():
            if node.running:
                node.process.send_signal(signal.SIGKILL)
        for node in self.nodes.values():
            node.kill()

    def close(self) -> None:
        self.kill_all()
        for proxy in self.proxies.values():
            proxy.close()

    def running(self) -> list[int]:
        return [i for i, n in self.nodes.items() if n.running]

    # ------------------------------------------------------------------ waits
    def current_leader(self) -> Optional[tuple[int, int]]:
        """(leader, epoch) if a running node leads the highest epoch any running node knows and has
        seen a commit in it."""
        running = [n for n in self.nodes.values() if n.running]
        if not running:
            return None
        top = max(n.claim[0] for n in running)
        for n in running:
            if n.claim == (top, n.node_id) and top in n.committed_epochs:
                return n.node_id, top
        return None

    def wait_leader(self, timeout: float, above_epoch: int = -1, among: Optional[Iterable[int]] = None) -> tuple[int, int]:
        """Wait for a committing leader in an epoch above ``above_epoch``; fails with the logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.current_leader()
            if found and found[1] > above_epoch and (among is None or found[0] in among):
                return found
            time.sleep(0.1)
        raise AssertionError(f"no committing leader above epoch {above_epoch} within {timeout}s\n"
                             + self.diagnostics())

    def wait_following(self, node_id: int, leader: int, epoch: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        node = self.nodes[node_id]
        while time.monotonic() < deadline:
            if node.claim[0] > epoch or node.claim == (epoch, leader):
                return
            if not node.running:
                break
            time.sleep(0.1)
        raise AssertionError(f"node {node_id} does not follow {leader} in epoch {epoch} (claims {node.claim})\n"
                             + self.diagnostics())

    def wait_high_watermark(self, node_id: int, above: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        node = self.nodes[node_id]
        while time.monotonic() < deadline:
            if node.high_watermark > above:
                return node.high_watermark
            time.sleep(0.1)
        raise AssertionError(f"node {node_id}'s high watermark stays at {node.high_watermark} (<= {above})\n"
                             + self.diagnostics())

    def wait_committed(self, above: int, timeout: float) -> int:
        """Wait until the current leader commits past ``above``; return an offset known committed.

        A kraft leader is asked with DescribeQuorum (its high watermark); under a Kafka
        leader a kraft follower's reported high watermark is used.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.current_leader()
            if found is not None:
                leader = found[0]
                if self.kinds[leader] == KRAFT:
                    try:
                        described = describe_quorum(self.ports[leader])
                    except OSError:
                        described = {"error": -1}
                    if described["error"] == 0 and described["high_watermark"] > above:
                        return described["high_watermark"]
                else:
                    for node in self.nodes.values():
                        if node.kind == KRAFT and node.running and node.high_watermark > above:
                            return node.high_watermark
            time.sleep(0.2)
        raise AssertionError(f"no commit past {above} within {timeout}s\n" + self.diagnostics())

    def compare_logs(self, committed: int, allow_stale: Iterable[int] = ()) -> tuple[int, int]:
        """:func:`compare_logs` over every node's partition directory (the nodes must be stopped)."""
        try:
            return compare_logs({i: self.partition_dir(i) for i in self.nodes}, committed, allow_stale)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.diagnostics(60)}") from None

    def isolate(self, node_id: int) -> None:
        """Cut ``node_id`` off from every other node, both ways (its proxy refuses, the others' proxies
        close its connections and drop its requests)."""
        for target, proxy in self.proxies.items():
            if target == node_id:
                proxy.cut(True)
            else:
                proxy.cut(False, {f"raft-client-{node_id}"})

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.cut(False)

    def requests_dropped(self, source: int, target: int) -> Counter:
        """(api key, version) -> count of ``source``'s requests to ``target`` dropped while cut off."""
        out = Counter()
        for (client_id, api_key, version), n in self.proxies[target].dropped.items():
            if client_id == f"raft-client-{source}":
                out[(api_key, version)] += n
        return out

    def requests_sent(self, source: int, target: int) -> Counter:
        return self.proxies[target].seen(source)

    def captured(self, source: int, target: int, api_key: int) -> list:
        """``source``'s requests of ``api_key`` to ``target`` (an API given as ``capture``), in order,
        read by kraft's protocol code: (header, message) each."""
        from kraft.protocol.frames import parse_request

        proxy = self.proxies[target]
        assert api_key in proxy.capture, f"API {api_key} is not captured"
        with proxy._lock:
            payloads = [p for client_id, p in proxy.captured if client_id == f"raft-client-{source}"]
        parsed = [parse_request(p) for p in payloads]
        return [(h, m) for h, m in parsed if h.request_api_key == api_key]

    def diagnostics(self, n: int = 25) -> str:
        out = []
        for node_id, node in self.nodes.items():
            state = "running" if node.running else f"exited {node.process.returncode if node.process else '-'}"
            out.append(f"--- node {node_id} ({node.kind}, {state}, claim {node.claim}) last {n} lines\n"
                       + node.tail(n))
        return "\n".join(out)


@pytest.fixture
def quorums(tmp_path):
    """``make(kafka_version, kinds, **kwargs)`` -> a :class:`MixedQuorum`; all killed on teardown."""
    made = []

    def make(kafka_version, kinds, **kwargs):
        quorum = MixedQuorum(tmp_path, kafka_version, kinds, **kwargs)
        made.append(quorum)
        return quorum
    yield make
    for quorum in made:
        quorum.close()


def snapshot_files(partition_dir: Path) -> list[Path]:
    """The ``<offset>-<epoch>.checkpoint`` snapshots of a partition directory, oldest first."""
    return sorted(partition_dir.glob("*.checkpoint"))


def segment_bases(partition_dir: Path) -> list[int]:
    return sorted(int(p.stem) for p in partition_dir.glob("*.log"))


# ---------------------------------------------------------------------- DescribeQuorum
def describe_quorum(port: int, version: int = 1, timeout: float = 10) -> dict:
    """Send DescribeQuorum to the node on ``port`` (kraft's own protocol code); return what it says.

    Keys: ``error`` (top-level or partition error code), ``leader``, ``epoch``, ``high_watermark``
    and ``voters`` (voter id -> log end offset).  Kafka's TestRaftServer does not serve
    DescribeQuorum (its request handler answers UNKNOWN_SERVER_ERROR); kraft's leader does.
    """
    from kraft.net import messages
    from kraft.protocol.messages import DescribeQuorumRequest

    request = DescribeQuorumRequest(topics=[DescribeQuorumRequest.TopicData(
        topic_name="__raft_performance_test", partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)])])
    frame = messages.encode_request(55, version, 1, "mixed-quorum-test", request)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(frame)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        payload = s.recv(size, socket.MSG_WAITALL)
    response = messages.decode_response(payload, 55, version)
    if response.error_code or not response.topics:
        return {"error": response.error_code}
    p = response.topics[0].partitions[0]
    return {"error": p.error_code, "leader": p.leader_id, "epoch": p.leader_epoch,
            "high_watermark": p.high_watermark,
            "voters": {v.replica_id: v.log_end_offset for v in p.current_voters}}


def api_versions(port: int, timeout: float = 10) -> dict[int, tuple[int, int]]:
    """api key -> (min, max) that the node on ``port`` advertises (ApiVersions v3)."""
    from kraft.net import messages
    from kraft.protocol.messages import ApiVersionsRequest

    frame = messages.encode_request(18, 3, 1, "mixed-quorum-test", ApiVersionsRequest(
        client_software_name="mixed-quorum-test", client_software_version="1"))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(frame)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        payload = s.recv(size, socket.MSG_WAITALL)
    response = messages.decode_response(payload, 18, 3)
    assert response.error_code == 0, f"ApiVersions to {port}: error {response.error_code}"
    return {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}


# ---------------------------------------------------------------------- logs on disk
def read_batches(partition_dir: Path) -> tuple[int, int, dict[int, bytes]]:
    """(log start, log end, base offset -> raw batch bytes) of a stopped node's log, read by kraft."""
    from kraft.records import decode_batches
    from kraft.storage.replicated_log import FileReplicatedLog

    log = FileReplicatedLog.open(partition_dir)
    try:
        raw: dict[int, bytes] = {}
        offset = log.start_offset
        while offset < log.end_offset:
            batches = decode_batches(log.read(offset, 1 << 22).records)
            for batch in batches:
                assert batch.base_offset == offset, f"{partition_dir}: gap at {offset}"
                raw[offset] = bytes(batch.buffer)
                offset = batch.last_offset + 1
        return log.start_offset, log.end_offset, raw
    finally:
        log.close()


def compare_logs(dirs: dict[int, Path], committed: int, allow_stale: Iterable[int] = ()) -> tuple[int, int]:
    """Assert the committed prefix of the logs is identical, batch by batch, byte for byte.

    ``committed`` is an offset known to be committed: a majority of the logs must reach it, and
    every batch below it that a log holds must be byte-identical to the same batch in the logs of
    that majority (a node may lag, never differ).  The one exception, for the nodes in
    ``allow_stale`` (restarted just before the end, so they may not have fetched yet): a suffix of
    batches from older epochs than the majority's at the same offsets, which Raft allows until the
    node's first fetch truncates it.  Returns (batches compared, bytes compared).
    """
    from kraft.records import decode_batches

    def epoch_of(raw: bytes) -> int:
        return next(iter(decode_batches(raw))).partition_leader_epoch

    logs = {i: read_batches(d) for i, d in dirs.items()}
    reaching = [i for i, (_, end, _) in logs.items() if end >= committed]
    assert len(reaching) * 2 > len(logs), \
        f"only nodes {reaching} reach the committed offset {committed}: " \
        f"{ {i: (s, e) for i, (s, e, _) in logs.items()} }"
    reference_id = reaching[0]
    ref_start, _, ref = logs[reference_id]
    batches = nbytes = 0
    stale_from: dict[int, int] = {}
    for offset in sorted(ref):
        if offset >= committed:
            break
        data = ref[offset]
        holders = 0
        for other, (_, _, raw) in logs.items():
            if other == reference_id or offset not in raw:
                continue
            if other in stale_from:
                assert raw[offset] != data and epoch_of(raw[offset]) < epoch_of(data), \
                    f"node {other}: batch at {offset} after its stale suffix began at {stale_from[other]}"
                continue
            if raw[offset] != data:
                assert other in allow_stale and other not in reaching[:1] and epoch_of(raw[offset]) < epoch_of(data), \
                    f"batch at {offset} differs between node {reference_id} and node {other}"
                stale_from[other] = offset
                continue
            holders += 1
        if holders:
            batches += 1
            nbytes += len(data)
    for other, (start, end, raw) in logs.items():
        extra = [o for o in raw if ref_start <= o < committed and o not in ref]
        if other in stale_from:
            extra = [o for o in extra if o < stale_from[other]]
        assert not extra, f"node {other} has batches at {extra[:5]} where node {reference_id} has none"
    assert batches > 0, "no batch to compare"
    return batches, nbytes
