"""The distance runs' pieces: the delay relay forwards every byte intact and in order both ways,
and the namespaces are made and removed (root only)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loopback_ports

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"
sys.path.insert(0, str(BENCH))


def free_port() -> int:
    return loopback_ports.reserve(1)[0]


def connect(port: int, deadline_s: float = 30.0) -> socket.socket:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.parametrize("delay_ms", ["0", "2"])
def test_the_relay_forwards_every_byte_in_order_both_ways_and_passes_the_close_on(delay_ms):
    echo_port, relay_port = free_port(), free_port()
    script = str(BENCH / "delay_relay.py")
    procs = [subprocess.Popen([sys.executable, script, "echo", "--listen", f"127.0.0.1:{echo_port}"],
                              stdout=subprocess.DEVNULL),
             subprocess.Popen([sys.executable, script, "relay", "--listen", f"127.0.0.1:{relay_port}",
                               "--to", f"127.0.0.1:{echo_port}", "--delay-ms", delay_ms], stdout=subprocess.DEVNULL)]
    try:
        connect(echo_port).close()
        sock = connect(relay_port)
        sent = b"".join(i.to_bytes(4, "big") for i in range(50_000))   # 200 KB in many writes
        received = bytearray()
        for start in range(0, len(sent), 7_000):
            sock.sendall(sent[start:start + 7_000])
        while len(received) < len(sent):
            chunk = sock.recv(65536)
            assert chunk, "the relay closed early"
            received += chunk
        assert bytes(received) == sent
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""      # the echo's close came back through the relay
        sock.close()
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and ip")
def test_namespaces_are_made_joined_and_removed():
    from netns import Topology

    def names():
        return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout

    topology = Topology(2, tag=f"kqt{os.getpid() % 10000}")
    with topology:
        listed = names()
        assert all(ns in listed for ns in (topology.hub, *topology.nodes))
        out = subprocess.run([*topology.exec_prefix(1), "ip", "-4", "addr", "show", "eth0"],
                             capture_output=True, text=True).stdout
        assert "10.77.0.1/24" in out
    listed = names()
    assert not any(ns in listed for ns in (topology.hub, *topology.nodes))
