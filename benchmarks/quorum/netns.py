"""Network namespaces joined by veth pairs on one bridge, for the distance runs (issue 17).

``Topology(n)`` makes ``n`` namespaces, node j (1-based) at ``10.77.0.j/24`` on its own ``eth0``,
each the end of a veth pair whose other end is a port of bridge ``br0`` in a hub namespace; every
namespace's loopback is up.  Nothing is added to the host's own namespace.  Needs root.  ``close``
(also called on exit and on SIGTERM/SIGINT) deletes every namespace it made, so the veth pairs
and the bridge go with them.  ``exec_prefix(j)`` is the argv prefix that runs a command in j's
namespace (``ip netns exec``, which execs the command: the pid is the command's).
"""
from __future__ import annotations

import atexit
import os
import signal
import subprocess

SUBNET = "10.77.0"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Topology:
    def __init__(self, n: int, tag: str | None = None):
        self.n = n
        self.tag = tag or f"kq{os.getpid() % 100000}"
        self.hub = f"{self.tag}hub"
        self.nodes = [f"{self.tag}n{j}" for j in range(1, n + 1)]
        self.made: list[str] = []
        self._closed = False

    def address(self, j: int) -> str:
        return f"{SUBNET}.{j}"

    def exec_prefix(self, j: int) -> list[str]:
        return ["ip", "netns", "exec", self.nodes[j - 1]]

    def open(self) -> "Topology":
        if os.geteuid() != 0:
            raise PermissionError("network namespaces need root")
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(sig)

            def handler(signum, frame, previous=previous):
                self.close()
                if callable(previous):
                    previous(signum, frame)
                else:
                    raise SystemExit(128 + signum)
            signal.signal(sig, handler)
        try:
            for ns in (self.hub, *self.nodes):
                _ip("netns", "add", ns)
                self.made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            for j, ns in enumerate(self.nodes, start=1):
                port = f"p{j}"
                _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("-n", self.hub, "link", "set", port, "master", "br0")
                _ip("-n", self.hub, "link", "set", port, "up")
                _ip("-n", ns, "addr", "add", f"{self.address(j)}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for ns in reversed(self.made):
            # processes still inside keep a namespace alive but unnamed; the caller kills them first
            _ip("netns", "del", ns, check=False)
        self.made.clear()

    def __enter__(self) -> "Topology":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def leftover(prefix: str = "kq") -> list[str]:
    """Namespaces of earlier runs still present (named ``<prefix><digits>...``)."""
    out = _ip("netns", "list", check=False).stdout.split()
    return [name for name in out if name.startswith(prefix) and name[len(prefix):len(prefix) + 1].isdigit()]
