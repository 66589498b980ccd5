"""The reservation of loopback ports for test servers (``loopback_ports``): two test runs at once on
one machine are never handed the same port, and none of the kernel's port-0 ports."""
from __future__ import annotations

import json
import os
import socket

import loopback_ports

def lockable_by_another_process(ports: list[int]) -> list[int]:
    """Which of ``ports`` another process (a forked child: record locks are not inherited) could lock."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe and leave without running anything of pytest's
        try:
            os.close(read)
            os.write(write, json.dumps([p for p in ports if loopback_ports._lock(p)]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        answer = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(answer)


def test_ports_are_distinct_free_and_outside_the_ephemeral_range():
    low, high = loopback_ports.ephemeral_range()
    ports = loopback_ports.reserve(6)
    assert len(set(ports)) == 6
    for port in ports:
        assert loopback_ports.LOWEST <= port <= loopback_ports.HIGHEST and not low <= port <= high, port
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free: a node can bind it


def test_another_test_run_cannot_reserve_a_port_until_the_test_that_holds_it_ends():
    position = loopback_ports.mark()
    ports = loopback_ports.reserve(3)
    assert loopback_ports.held()[-3:] == ports
    assert lockable_by_another_process(ports) == []
    loopback_ports.release_since(position)
    assert not set(ports) & set(loopback_ports.held())
    assert lockable_by_another_process(ports) == ports


def test_a_port_that_something_listens_on_is_skipped(monkeypatch):
    position = loopback_ports.mark()
    busy = loopback_ports.reserve(1)[0]
    loopback_ports.release_since(position)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", busy))
        listener.listen()
        offered = iter([busy, busy])
        real = loopback_ports._candidate
        monkeypatch.setattr(loopback_ports, "_candidate", lambda: next(offered, None) or real())
        port = loopback_ports.reserve(1)[0]
    assert port != busy
    assert busy not in loopback_ports.held()
