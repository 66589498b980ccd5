"""A replicated key-value store on kraft, with an HTTP API (standard library only).

Three nodes, one terminal each::

    python examples/kv_store.py --id 1 --nodes 1=127.0.0.1:9093:8001,2=127.0.0.1:9094:8002,3=127.0.0.1:9095:8003 --data /tmp/kv-1
    python examples/kv_store.py --id 2 --nodes ... --data /tmp/kv-2
    python examples/kv_store.py --id 3 --nodes ... --data /tmp/kv-3

``--nodes`` lists every node as ``id=host:raft_port:http_port``.  Then, on any node::

    curl -X PUT --data-binary hello http://127.0.0.1:8002/kv/greeting   # {"offset": 5, ...}
    curl http://127.0.0.1:8003/kv/greeting                              # linearizable read
    curl 'http://127.0.0.1:8003/kv/greeting?after=5'                    # this node's copy, once it has offset 5
    curl 'http://127.0.0.1:8003/kv/greeting?local=1'                    # this node's copy, now (may be stale)
    curl -X DELETE http://127.0.0.1:8002/kv/greeting
    curl http://127.0.0.1:8001/status

What it shows of ``kraft.RaftManager``:

* writes go to the leader: a node that does not lead gets ``NotLeaderError``
  from ``append``, with the leader's address (``leader_endpoint``, its raft
  listener), and forwards the request to that node's HTTP port;
* a read is linearizable through ``read_barrier()`` on the leader (a
  follower forwards it); ``?after=OFFSET`` reads this node's copy once it
  holds the write acknowledged at ``OFFSET`` (``wait_for_committed``: read
  your writes on any node);
* the state is a :class:`kraft.StateMachine` (``apply``/``snapshot``/
  ``restore``): kraft snapshots it and restores it on restart;
* an acknowledged write (status 200) is committed on a majority: it
  survives the loss of any one node of three.  A 503 means the write may not
  have been applied: retry it (writes here are idempotent puts and deletes).

SIGTERM or Ctrl-C shuts down gracefully (a leader hands over first).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

import kraft

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           503: "Service Unavailable"}
FORWARD_TIMEOUT_S = 10


class KeyValueState:
    """The replicated state: a dict; records are JSON ``{"put": key, "value": v}`` or ``{"delete": key}``."""

    def __init__(self):
        self.data: dict[str, str] = {}

    def apply(self, record: bytes) -> None:
        op = json.loads(record)
        if "put" in op:
            self.data[op["put"]] = op["value"]
        else:
            self.data.pop(op["delete"], None)

    def snapshot(self) -> bytes:
        return json.dumps(self.data, sort_keys=True).encode()

    def restore(self, data: bytes) -> None:
        self.data = json.loads(data) if data else {}


class KeyValueStore:
    def __init__(self, node: kraft.RaftManager, state: KeyValueState, http_by_raft: dict):
        self.node = node
        self.state = state
        self.http_by_raft = http_by_raft  # (host, raft port) -> (host, http port)

    # ------------------------------------------------------------------ API
    async def dispatch(self, method: str, target: str, body: bytes, forwarded: bool) -> tuple[int, dict]:
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/status":
            current = self.node.leader_and_epoch()
            return 200, {"node": self.node.node_id, "leader": current.leader_id, "epoch": current.epoch,
                         "is_leader": self.node.is_leader, "committed": self.node.delivered_offset(),
                         "keys": len(self.state.data)}
        if not url.path.startswith("/kv/") or len(url.path) == 4:
            return 404, {"error": "use /kv/KEY or /status"}
        key = unquote(url.path[4:])
        if method == "GET":
            return await self.get(key, query, target, forwarded)
        if method == "PUT":
            try:
                value = body.decode("utf-8")
            except UnicodeDecodeError:
                return 400, {"error": "the value must be UTF-8 text"}
            return await self.write({"put": key, "value": value}, "PUT", target, body, forwarded)
        if method == "DELETE":
            return await self.write({"delete": key}, "DELETE", target, body, forwarded)
        return 405, {"error": f"{method} is not supported"}

    async def write(self, op: dict, method: str, target: str, body: bytes, forwarded: bool):
        try:
            offset = await self.node.append([json.dumps(op).encode()])
        except kraft.NotLeaderError as e:
            return await self.forward(e, method, target, body, forwarded)
        except kraft.AppendLostError as e:
            return 503, {"error": f"not applied, retry: {e}"}
        return 200, {"offset": offset, "node": self.node.node_id}

    async def get(self, key: str, query: dict, target: str, forwarded: bool):
        if "after" in query or "local" in query:  # this node's copy
            try:
                offset = await self.node.wait_for_committed(int(query.get("after", -1)), timeout=FORWARD_TIMEOUT_S)
            except ValueError:
                return 400, {"error": "after must be an offset"}
            except asyncio.TimeoutError:
                return 503, {"error": f"this node does not have offset {query['after']} yet"}
        else:  # linearizable: confirmed by the leader
            try:
                offset = await self.node.read_barrier(timeout=FORWARD_TIMEOUT_S)
            except kraft.NotLeaderError as e:
                return await self.forward(e, "GET", target, b"", forwarded)
            except asyncio.TimeoutError:
                return 503, {"error": "the leader could not confirm its leadership"}
        if key not in self.state.data:
            return 404, {"key": key, "offset": offset}
        return 200, {"key": key, "value": self.state.data[key], "offset": offset}

    async def forward(self, error: kraft.NotLeaderError, method: str, target: str, body: bytes, forwarded: bool):
        address = self.http_by_raft.get(error.leader_endpoint) if error.leader_endpoint else None
        if forwarded or address is None:
            return 503, {"error": f"no leader to forward to: {error}"}
        try:
            return await asyncio.wait_for(http_request(*address, method, target, body), FORWARD_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, ValueError) as e:
            return 503, {"error": f"forwarding to the leader at {address[0]}:{address[1]} failed: {e!r}"}

    # ----------------------------------------------------------------- HTTP
    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, target, headers, body = await read_request(reader)
            try:
                status, payload = await self.dispatch(method, target, body, "x-kv-forwarded" in headers)
            except Exception as e:  # a bug or a stopped node: one line for the client, not a hang
                logging.getLogger("kv").exception("request failed")
                status, payload = 503, {"error": repr(e)}
            data = json.dumps(payload).encode()
            writer.write(f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (ValueError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_request(reader: asyncio.StreamReader):
    line = (await reader.readline()).decode("latin-1").split()
    if len(line) != 3:
        raise ValueError("bad request line")
    headers = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return line[0].upper(), line[1], headers, body


async def http_request(host: str, port: int, method: str, target: str, body: bytes = b""):
    """One HTTP request to another node (marked as forwarded, so it is not forwarded again)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nX-KV-Forwarded: 1\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, json.loads(await reader.readexactly(length))
    finally:
        writer.close()


# ---------------------------------------------------------------------- main
def parse_nodes(text: str) -> dict[int, tuple[str, int, int]]:
    nodes = {}
    for item in text.split(","):
        node_id, _, address = item.strip().partition("=")
        host, raft_port, http_port = address.rsplit(":", 2)
        nodes[int(node_id)] = (host, int(raft_port), int(http_port))
    return nodes


async def serve(options) -> int:
    nodes = parse_nodes(options.nodes)
    host, raft_port, http_port = nodes[options.id]
    config = {
        "node.id": str(options.id),
        "listeners": f"CONTROLLER://{host}:{raft_port}",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": ",".join(f"{i}@{h}:{r}" for i, (h, r, _) in sorted(nodes.items())),
        "log.dirs": options.data,
    }
    for item in options.property:
        key, _, value = item.partition("=")
        config[key.strip()] = value.strip()
    state = KeyValueState()
    # Every node of the quorum must share the identity; an application names its own.
    node = kraft.RaftManager(config, identity=kraft.PartitionIdentity(
        cluster_id="a3Ytc3RvcmUtZXhhbXBsZQ", topic="__kv_store"), shutdown_timeout=options.shutdown_timeout)
    node.run_state_machine(state)
    await node.start()
    store = KeyValueStore(node, state, {(h, r): (h, p) for h, r, p in nodes.values()})
    server = await asyncio.start_server(store.serve_connection, host, http_port)
    print(f"node {options.id}: raft {host}:{raft_port}, http {host}:{http_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    stopped = asyncio.ensure_future(node.wait_stopped())
    await asyncio.wait([asyncio.ensure_future(stop.wait()), stopped], return_when=asyncio.FIRST_COMPLETED)
    server.close()
    await node.close()
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description="A replicated key-value store on kraft")
    parser.add_argument("--id", type=int, required=True, help="this node's id")
    parser.add_argument("--nodes", required=True, help="every node: id=host:raft_port:http_port,...")
    parser.add_argument("--data", required=True, help="this node's data directory")
    parser.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                        help="a kraft configuration key (controller.quorum.*, metadata.log.*)")
    parser.add_argument("--shutdown-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long a graceful shutdown may wait for another leader (default: 5)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[%(asctime)s] %(levelname)s %(message)s (%(name)s)")
    try:
        return asyncio.run(serve(options))
    except kraft.StartupError as e:
        print(f"kv_store: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
