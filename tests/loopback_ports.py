"""Loopback ports for servers that a test starts later (another process, usually), reserved so that
no other test run on the machine is handed the same ones meanwhile.

Binding port 0 and closing the socket (the usual way) leaves the port free until the node binds
it, seconds later under load, and free again whenever the test stops a node to restart it while
its peers go on calling it.  Two test runs at once on one machine (two worktrees, a CI job next to
a developer's run) were then handed the same port: one quorum's node failed to bind it (status 1),
or a node of one quorum answered the other's requests (same cluster id, same topic) and a node
stopped on a leader that its own quorum never elected.  So:

* ports come from outside the kernel's ephemeral range (``ip_local_port_range``), which port-0
  binds and outgoing connections draw from: nobody gets them without asking for them by number;
* each port is reserved by an exclusive lock on the byte at that offset of one file shared by
  every test process on the machine (``$TMPDIR/kraft-test-ports.lock``), held until the test that
  asked for it has ended (its processes killed: see the ``_loopback_ports`` fixture in
  ``conftest.py``), or until the process exits, whatever ends it (the system drops the locks of
  a process that dies).  A port that is reserved, or that something has bound, is skipped.

The locks are POSIX record locks: they belong to the process, and closing any descriptor of the
file would drop them all, so this module is the only one to open it (once, for good) and must be
imported under this one name.
"""
from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

#: Ports are drawn from here, minus the ephemeral range (below 10000: well-known services).
LOWEST, HIGHEST = 10000, 65535
LOCK_FILE = Path(tempfile.gettempdir()) / "kraft-test-ports.lock"

#: the ports this process holds, in the order reserved
_held: list[int] = []
_fd = None


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for port-0 binds and outgoing connections (Linux; else IANA's)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


#: our own generator, seeded from the system: pytest-randomly seeds the global one alike in every run
_rng = random.Random()
_candidates: list[int] = []
#: how many ports are tried for one reservation before giving up
_ATTEMPTS = 2000


def _candidate() -> int:
    if not _candidates:
        low, high = ephemeral_range()
        _candidates.extend(p for p in range(LOWEST, HIGHEST + 1) if not low <= p <= high)
    return _rng.choice(_candidates)


def _lock_file() -> int:
    global _fd
    if _fd is None:
        try:
            _fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # another user's: a file of our own (no sharing with that user's runs)
            _fd = os.open(LOCK_FILE.with_name(f"{LOCK_FILE.name}.{os.getuid()}"), os.O_RDWR | os.O_CREAT, 0o600)
    return _fd


def _lock(port: int) -> bool:
    """Take the lock of ``port``; ``False`` when another process holds it."""
    try:
        fcntl.lockf(_lock_file(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port, os.SEEK_SET)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _unlock(port: int) -> None:
    fcntl.lockf(_lock_file(), fcntl.LOCK_UN, 1, port, os.SEEK_SET)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def reserve(n: int) -> list[int]:
    """``n`` distinct loopback ports, free now and reserved for this test (see the module)."""
    taken = set(_held)
    ports: list[int] = []
    for _ in range(_ATTEMPTS):
        if len(ports) == n:
            break
        port = _candidate()
        if port in taken or not _lock(port):
            continue
        if not _bindable(port):
            _unlock(port)
            continue
        _held.append(port)
        taken.add(port)
        ports.append(port)
    if len(ports) < n:
        release_since(len(_held) - len(ports))
        raise RuntimeError(f"only {len(ports)} of {n} loopback ports could be reserved")
    return ports


def mark() -> int:
    """Where the reservations stand now (for :func:`release_since`)."""
    return len(_held)


def release_since(position: int) -> None:
    """Give back every port reserved after :func:`mark` returned ``position``."""
    while len(_held) > position:
        _unlock(_held.pop())


def held() -> list[int]:
    """The ports this process holds, oldest first."""
    return list(_held)
